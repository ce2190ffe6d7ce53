import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { afterAll, describe, expect, it } from 'vitest';
import { mcpServer, toolPolicy } from '../../api/v1alpha1/resources.ts';
import { readServedServer } from '../../demo/stack/served-server.ts';
import { kubectl } from '../harness/kube.ts';

const demoDir = join(import.meta.dirname, '../../examples/demo');
const documents = readdirSync(demoDir)
  .filter((file) => file.endsWith('.yaml'))
  .flatMap((file) =>
    parseAllDocuments(readFileSync(join(demoDir, file), 'utf8')).map((document) => ({
      file,
      object: document.toJS() as {
        apiVersion: string;
        kind: string;
        metadata: { name: string; namespace?: string };
      },
    })),
  );
const portcullisObjects = documents.filter(({ object }) => object.apiVersion === 'portcullis.dev/v1alpha1');

async function run(args: string[]) {
  const result = await kubectl(args);
  return { ...result, stderr: result.stderr.replace(/^WARNING: version difference.*\n/m, '') };
}

describe('examples/demo: the demo policies are valid cluster YAML', () => {
  afterAll(async () => {
    await run(['delete', 'namespace', 'demo', '--wait=false', '--ignore-not-found']);
  });

  it('holds one McpServer and its ToolPolicies, which the runtime schemas accept', () => {
    expect(portcullisObjects.map(({ object }) => `${object.kind}/${object.metadata.name}`).sort()).toEqual([
      'McpServer/billing',
      'ToolPolicy/ops-exports-statements',
      'ToolPolicy/refunds-need-finance-lead',
      'ToolPolicy/support-reads-own-tenant',
    ]);
    for (const { object } of portcullisObjects) {
      const parsed = object.kind === 'McpServer' ? mcpServer.safeParse(object) : toolPolicy.safeParse(object);
      expect(parsed.error?.issues ?? []).toEqual([]);
    }
    expect(readServedServer(demoDir)).toEqual({
      namespace: 'demo',
      name: 'billing',
      issuer: 'https://id.demo.example',
      audience: 'https://billing.demo.example/mcp',
      path: '/mcp',
    });
  });

  it('is accepted by kubectl apply against a real kube-apiserver (CRD schemas and CEL rules)', async () => {
    // The namespace first: kubectl applies a directory's files in name order, but waits for nothing.
    const namespace = await run(['apply', '-f', join(demoDir, '00-namespace.yaml')]);
    expect(namespace.stderr).toBe('');
    const applied = await run(['apply', '-f', demoDir]);
    expect(applied.stderr).toBe('');
    expect(applied.code).toBe(0);
    expect(applied.stdout).toContain('mcpserver.portcullis.dev/billing');
    expect(applied.stdout).toContain('toolpolicy.portcullis.dev/support-reads-own-tenant');
    // The server stores what the runtime schema makes of the files, defaults included.
    for (const { object } of portcullisObjects) {
      const kind = object.kind === 'McpServer' ? 'mcpserver' : 'toolpolicy';
      const got = await run(['get', kind, '-n', 'demo', object.metadata.name, '-o', 'json']);
      expect(got.code).toBe(0);
      const parsed = object.kind === 'McpServer' ? mcpServer.parse(object) : toolPolicy.parse(object);
      expect(JSON.parse(got.stdout).spec).toEqual(parsed.spec);
    }
  });
});
