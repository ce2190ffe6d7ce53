import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { mcpServer, toolPolicy } from '../../api/v1alpha1/resources.ts';
import { invalidObjects } from '../fixtures/invalid-objects.ts';
import { kubectl } from '../harness/kube.ts';

const root = join(import.meta.dirname, '../..');
const kubeconfig = () => inject('kubeconfig');

async function run(args: string[], input?: string) {
  const result = await kubectl(args, { kubeconfig: kubeconfig(), input });
  return { ...result, stderr: result.stderr.replace(/^WARNING: version difference.*\n/m, '') };
}

describe('the v1alpha1 API on a real kube-apiserver', () => {
  beforeAll(async () => {
    const applied = await run(['apply', '--server-side', '-f', join(root, 'crds')]);
    expect(applied.stderr).toBe('');
    expect(applied.code).toBe(0);
    const established = await run([
      'wait',
      '--for=condition=Established',
      '--timeout=30s',
      'crd/mcpservers.portcullis.dev',
      'crd/toolpolicies.portcullis.dev',
    ]);
    expect(established.code).toBe(0);
  });

  it('accepts every example (and the cookbook) with kubectl apply', async () => {
    const result = await run(['apply', '-f', join(root, 'examples'), '-f', join(root, 'examples/cookbook')]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('mcpserver.portcullis.dev/billing');
    expect(result.stdout).toContain('toolpolicy.portcullis.dev/destructive-repository-ops');
    expect(result.stdout).toContain('mcpserver.portcullis.dev/docs-search');
  });

  it('defaults on the server exactly as the runtime schema does (one source of truth)', async () => {
    const documents = ['billing.yaml', 'cookbook/code-hosting.yaml', 'stdio-docs.yaml'].flatMap((file) =>
      parseAllDocuments(readFileSync(join(root, 'examples', file), 'utf8')).map((d) => d.toJS()),
    );
    for (const local of documents) {
      const kind = local.kind === 'McpServer' ? 'mcpserver' : 'toolpolicy';
      const got = await run(['get', kind, '-n', local.metadata.namespace, local.metadata.name, '-o', 'json']);
      expect(got.code).toBe(0);
      const stored = JSON.parse(got.stdout);
      const parsed = local.kind === 'McpServer' ? mcpServer.parse(local) : toolPolicy.parse(local);
      expect(stored.spec).toEqual(parsed.spec);
    }
  });

  it('shows the printer columns', async () => {
    const result = await run(['get', 'mcps', '-A']);
    expect(result.code).toBe(0);
    expect(result.stdout.split('\n')[0]).toMatch(
      /NAMESPACE\s+NAME\s+READY\s+KILLED\s+TOOLS\s+POLICY\s+TRANSPORT\s+AGE/,
    );
    const policies = await run(['get', 'portcullis', '-A']);
    expect(policies.stdout).toContain('toolpolicy.portcullis.dev/everyone-searches');
  });

  it('teaches the API through kubectl explain', async () => {
    const result = await run(['explain', 'mcpserver.spec.auth']);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('Canonical resource URI (RFC 8707)');
    const rules = await run(['explain', 'toolpolicy.spec.rules.arguments']);
    expect(rules.stdout).toContain('Binds a call argument to the verified identity');
  });

  it.each(invalidObjects.map((c) => [c.name, c]))(
    'refuses %s with a message a person understands',
    async (_n, c) => {
      const result = await run(['apply', '-f', '-'], JSON.stringify(c.object));
      expect(result.code).not.toBe(0);
      expect(result.stderr).toMatch(/is invalid/);
      for (const fragment of c.expect) expect(result.stderr).toContain(fragment);
    },
  );
});
