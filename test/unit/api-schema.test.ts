import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { describe, expect, it } from 'vitest';
import { invalidObjects, validMcpServer, validToolPolicy } from '../fixtures/invalid-objects.ts';
import {
  isKillSwitchEngaged,
  killedTools,
  KILL_SWITCH,
  KILLED_TOOLS,
} from '../../api/v1alpha1/annotations.ts';
import { mcpServer, toolPolicy } from '../../api/v1alpha1/resources.ts';

const examplesDir = join(import.meta.dirname, '../../examples');

function parseResource(object: Record<string, unknown>) {
  return object['kind'] === 'McpServer' ? mcpServer.safeParse(object) : toolPolicy.safeParse(object);
}

describe('runtime schemas', () => {
  // Every YAML under examples/, subfolders too (cookbook, demo): documentation that does not parse is a bug.
  const documents = readdirSync(examplesDir, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.yaml'))
    .flatMap((file) =>
      parseAllDocuments(readFileSync(join(examplesDir, file), 'utf8')).map((d) => ({
        file,
        object: d.toJS(),
      })),
    )
    .filter(({ object }) => object.apiVersion === 'portcullis.dev/v1alpha1');

  it('finds the examples', () => expect(documents.length).toBeGreaterThanOrEqual(8));

  it.each(documents.map((d) => [`${d.file}: ${d.object.kind}/${d.object.metadata.name}`, d.object]))(
    'accepts example %s',
    (_name, object) => {
      const result = parseResource(object);
      expect(result.error?.issues ?? []).toEqual([]);
    },
  );

  it('applies the documented defaults', () => {
    const server = mcpServer.parse(validMcpServer());
    expect(server.spec.transport.type).toBe('StreamableHTTP');
    expect(server.spec.upstreamAuth.mode).toBe('None');
    expect(server.spec.resilience.failurePolicy).toBe('Closed');
    expect(server.spec.auth.algorithms).toEqual(['RS256', 'ES256']);
    expect(server.spec.auth.claims.user).toBe('sub');
    expect(server.spec.workload.replicas).toBe(1);
    expect(toolPolicy.parse(validToolPolicy()).spec.mode).toBe('Enforce');
    expect(toolPolicy.parse(validToolPolicy()).spec.rules[0]?.effect).toBe('Allow');
  });

  it('refuses unknown fields, which the API server would drop silently without strict validation', () => {
    const object = validMcpServer();
    (object['spec'] as Record<string, unknown>)['workloads'] = {};
    expect(mcpServer.safeParse(object).success).toBe(false);
  });

  it.each(invalidObjects.map((c) => [c.name, c]))('refuses %s with a clear message', (_name, c) => {
    const result = parseResource(c.object);
    expect(result.success).toBe(false);
    const text = JSON.stringify(result.error?.issues);
    for (const fragment of c.expect) expect(text).toContain(fragment);
  });
});

describe('kill-switch annotations', () => {
  it.each([
    [undefined, false],
    [{}, false],
    [{ [KILL_SWITCH]: 'false' }, false],
    [{ [KILL_SWITCH]: ' false ' }, false],
    [{ [KILL_SWITCH]: 'true' }, true],
    [{ [KILL_SWITCH]: '' }, true],
    [{ [KILL_SWITCH]: 'flase' }, true],
    [{ [KILL_SWITCH]: 'False' }, true],
  ])('%j engaged: %s (fails closed on anything but "false")', (annotations, engaged) => {
    expect(isKillSwitchEngaged(annotations)).toBe(engaged);
  });

  it('parses killed tool lists', () => {
    expect(killedTools({ [KILLED_TOOLS]: ' b, a ,,a, c' })).toEqual(['a', 'b', 'c']);
    expect(killedTools({})).toEqual([]);
  });
});
