import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { lazyModule } from '../../lib/lazy-module.ts';
import { authorize } from '../../policy/authorize.ts';
import { cel } from '../../policy/cel.ts';
import type { ConditionLanguage } from '../../policy/condition.ts';
import { principal } from '../../test/fixtures/principals.ts';
import { schemaCompilerModule } from '../contracts/schema-validators.ts';
import { EngineLoadError, enginesNeeded, loadMissingEngines, type PolicyEngines } from './engines.ts';
import { startFileSource, type PolicySource } from './file-source.ts';
import { PolicyHolder } from './policy-holder.ts';

const server = `apiVersion: portcullis.dev/v1alpha1
kind: McpServer
metadata: { name: docs, namespace: team }
spec:
  workload: { image: registry.example.com/docs:1 }
  auth: { issuer: https://id.example.com, publicUrl: https://docs.example.com/mcp }
`;
const policy = (when?: string) => `apiVersion: portcullis.dev/v1alpha1
kind: ToolPolicy
metadata: { name: read, namespace: team }
spec:
  targets: { servers: [docs] }
  rules:
    - name: search
      tools: [search]
${when === undefined ? '' : `      when: '${when}'\n`}`;

/** Engines whose imports are counted, and fail while `failing` is set. */
function countedEngines() {
  const imports = { conditions: 0, schemas: 0 };
  let failing = false;
  const engines: PolicyEngines = {
    conditions: lazyModule<ConditionLanguage>(async () => {
      imports.conditions++;
      if (failing) throw new Error('module not found');
      return cel;
    }),
    schemas: lazyModule(async () => {
      imports.schemas++;
      return schemaCompilerModule.load();
    }),
  };
  return { engines, imports, fail: (value: boolean) => (failing = value) };
}

describe('enginesNeeded', () => {
  it('asks for CEL only for a condition and for Ajv only when pinning is on', () => {
    const rules = (when?: string) => [{ rules: [{ ...(when ? { when } : {}) }] }];
    expect([...enginesNeeded(rules(), {})]).toEqual([]);
    expect([...enginesNeeded(rules('true'), {})]).toEqual(['conditions']);
    expect([...enginesNeeded(rules(), { tools: { pinning: 'Record' } })]).toEqual(['schemas']);
    expect([...enginesNeeded(rules(), { tools: { pins: [{ name: 'a', digest: 'sha256:0' }] } })]).toEqual([
      'schemas',
    ]);
    expect([...enginesNeeded(rules(), { tools: { pinning: 'Disabled' } })]).toEqual([]);
  });
});

describe('loadMissingEngines', () => {
  it('is synchronous (undefined) when nothing is missing, and loads each engine once', async () => {
    const { engines, imports } = countedEngines();
    expect(loadMissingEngines(new Set(), engines)).toBeUndefined();
    await loadMissingEngines(new Set(['conditions']), engines);
    expect(loadMissingEngines(new Set(['conditions']), engines)).toBeUndefined();
    expect(imports).toEqual({ conditions: 1, schemas: 0 });
  });

  it('names the engine that could not be loaded, with a stable code', async () => {
    const { engines, fail } = countedEngines();
    fail(true);
    const error = await loadMissingEngines(new Set(['conditions']), engines)!.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(EngineLoadError);
    expect(error).toMatchObject({ code: 'policy_engine_unavailable', engine: 'conditions' });
    expect((error as Error).message).toBe(
      'cannot load the CEL engine, which when conditions need: module not found',
    );
  });
});

describe('the file source and the engines', () => {
  let dir: string | undefined;
  let source: PolicySource | undefined;
  afterEach(async () => {
    source?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  async function start(text: string, engines: PolicyEngines) {
    dir = await mkdtemp(join(tmpdir(), 'portcullis-engines-'));
    await writeFile(join(dir, 'policy.yaml'), text);
    const holder = new PolicyHolder(Date.now);
    const errors: string[] = [];
    source = startFileSource({
      paths: [dir],
      holder,
      engines,
      pollIntervalMs: 3_600_000,
      onError: (m) => errors.push(m),
    });
    await source.ready;
    return { holder, errors, dir };
  }

  it('installs a policy without conditions without loading CEL', async () => {
    const { engines, imports } = countedEngines();
    const { holder } = await start(`${server}---\n${policy()}`, engines);
    expect(holder.current).toBeDefined();
    expect(imports).toEqual({ conditions: 0, schemas: 0 });
  });

  it('loads CEL for a policy with a condition, and the condition decides', async () => {
    const { engines, imports } = countedEngines();
    const { holder } = await start(`${server}---\n${policy('args.q == "ok"')}`, engines);
    expect(imports.conditions).toBe(1);
    const decide = (q: unknown) =>
      authorize(holder.current!, { principal: principal(), tool: 'search', args: { q } }).decision.allowed;
    expect(decide('ok')).toBe(true);
    expect(decide('no')).toBe(false);
  });

  it('fails closed when CEL cannot be loaded: no policy, every call refused, and a later edit retries', async () => {
    const { engines, imports, fail } = countedEngines();
    fail(true);
    const { holder, errors, dir } = await start(`${server}---\n${policy('true')}`, engines);
    expect(holder.current).toBeUndefined();
    expect(holder.gate()).toMatchObject({ code: 'policy_unavailable' });
    expect(errors).toEqual(['cannot load the CEL engine, which when conditions need: module not found']);
    fail(false);
    await writeFile(join(dir, 'policy.yaml'), `${server}---\n${policy('false')}`);
    await source!.reload();
    expect(holder.current).toBeDefined();
    expect(imports.conditions).toBe(2);
  });
});
