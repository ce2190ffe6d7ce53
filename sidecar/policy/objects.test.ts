import { describe, expect, it } from 'vitest';
import { parsePolicyObjects, type ObjectsResult } from './objects.ts';

/** What file mode reads: the YAML one would `kubectl apply`. Errors name the file, document and field. */
const SERVER = `apiVersion: portcullis.dev/v1alpha1
kind: McpServer
metadata: { name: billing, namespace: finance }
spec:
  workload: { image: registry.example.com/billing:1 }
  auth: { issuer: https://id.example.com, publicUrl: https://billing.example.com/mcp }
`;
const POLICY = `apiVersion: portcullis.dev/v1alpha1
kind: ToolPolicy
metadata: { name: reads }
spec:
  targets: { servers: [billing] }
  rules:
    - name: read
      tools: [read_invoice]
`;

function errorsOf(result: ObjectsResult): string[] {
  if (result.ok) throw new Error('expected errors, got objects');
  return result.errors;
}

describe('parsePolicyObjects', () => {
  it('reads servers, policies and namespace annotations, defaulting the namespace', () => {
    const result = parsePolicyObjects([
      { name: 'server.yaml', text: SERVER },
      {
        name: 'more.yaml',
        text: `# leading comment\n---\n${POLICY}---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: finance\n  annotations: { portcullis.dev/kill-switch: "true" }\n---\n`,
      },
    ]);
    if (!result.ok) throw new Error(result.errors.join('\n'));
    expect(result.objects.servers.map((s) => s.metadata)).toEqual([
      { name: 'billing', namespace: 'finance' },
    ]);
    expect(result.objects.policies.map((p) => p.metadata)).toEqual([{ name: 'reads', namespace: 'default' }]);
    expect(result.objects.namespaces.get('finance')).toEqual({ 'portcullis.dev/kill-switch': 'true' });
  });

  it("ignores other APIs' objects that share the files", () => {
    const deployment = 'apiVersion: apps/v1\nkind: Deployment\nmetadata: { name: billing }\n';
    const result = parsePolicyObjects([{ name: 'all.yaml', text: `${deployment}---\n${SERVER}` }]);
    expect(result.ok && result.objects.servers.length).toBe(1);
  });

  it('names the file, the document and the field of a schema error', () => {
    const broken = POLICY.replace(
      '      tools: [read_invoice]',
      '      tools: [read_invoice]\n      effect: Maybe',
    );
    expect(errorsOf(parsePolicyObjects([{ name: 'p.yaml', text: `${SERVER}---\n${broken}` }]))).toEqual([
      'p.yaml#2 (ToolPolicy): spec.rules.0.effect: Invalid option: expected one of "Allow"|"Deny"',
    ]);
  });

  it('names a missing required field by its path', () => {
    const noAuth = SERVER.replace(/ {2}auth: .*\n/, '');
    const [error] = errorsOf(parsePolicyObjects([{ name: 'server.yaml', text: noAuth }]));
    expect(error).toMatch(/^server\.yaml#1 \(McpServer\): spec\.auth: /);
  });

  it('reports YAML syntax errors and duplicate keys with their line', () => {
    const [syntax] = errorsOf(
      parsePolicyObjects([{ name: 'bad.yaml', text: `${SERVER}---\nkind: [unclosed\n` }]),
    );
    expect(syntax).toMatch(/^bad\.yaml#2: .*line 9/);
    const [duplicate] = errorsOf(
      parsePolicyObjects([{ name: 'dup.yaml', text: 'kind: ToolPolicy\nkind: McpServer\n' }]),
    );
    expect(duplicate).toMatch(/^dup\.yaml#1: Map keys must be unique at line 2/);
  });

  it('refuses an unknown kind of our API', () => {
    const text = SERVER.replace('kind: McpServer', 'kind: McpServr');
    expect(errorsOf(parsePolicyObjects([{ name: 's.yaml', text }]))).toEqual([
      's.yaml#1: unknown kind McpServr',
    ]);
  });

  it('refuses our group in a version it does not know, instead of silently skipping the object', () => {
    const text = POLICY.replace('portcullis.dev/v1alpha1', 'portcullis.dev/v1beta1');
    expect(errorsOf(parsePolicyObjects([{ name: 'p.yaml', text }]))).toEqual([
      'p.yaml#1: unsupported apiVersion portcullis.dev/v1beta1; expected portcullis.dev/v1alpha1',
    ]);
  });

  it('refuses a document that is not an object, instead of silently skipping it', () => {
    expect(
      errorsOf(
        parsePolicyObjects([
          { name: 'a.yaml', text: 'just a sentence\n' },
          { name: 'b.yaml', text: `${SERVER}---\n- a\n- list\n` },
        ]),
      ),
    ).toEqual([
      'a.yaml#1: expected an object (a YAML mapping), found string',
      'b.yaml#2: expected an object (a YAML mapping), found a list',
    ]);
  });

  it('collects every error of every file, in order, and returns no objects', () => {
    const result = parsePolicyObjects([
      { name: 'a.yaml', text: SERVER.replace('kind: McpServer', 'kind: Nope') },
      { name: 'b.yaml', text: POLICY },
      { name: 'c.yaml', text: POLICY.replace('  targets: { servers: [billing] }\n', '') },
    ]);
    const errors = errorsOf(result);
    expect(errors).toHaveLength(2);
    expect(errors[0]).toBe('a.yaml#1: unknown kind Nope');
    expect(errors[1]).toMatch(/^c\.yaml#1 \(ToolPolicy\): spec\.targets: /);
    expect(result).not.toHaveProperty('objects');
  });

  it('accepts files with nothing in them', () => {
    expect(
      parsePolicyObjects([
        { name: 'empty.yaml', text: '' },
        { name: 'c.yaml', text: '# c\n' },
      ]),
    ).toEqual({
      ok: true,
      objects: { servers: [], policies: [], namespaces: new Map() },
    });
  });
});
