import { mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startJsonServer, type JsonServer } from '../fixtures/auth/json-server.ts';
import { jwksOf, signingKey, signToken } from '../fixtures/auth/signing-keys.ts';
import { eventually } from '../harness/eventually.ts';
import { recordPackageLoads } from '../harness/package-loads.ts';
import { startRecordingUpstream, type RecordingUpstream } from '../harness/recording-upstream.ts';
import { sidecarProcess, type SidecarProcess } from '../harness/sidecar-process.ts';

/**
 * Issue #14: a sidecar process loads CEL (~18 MiB at rest) only once a policy has a `when` condition, and
 * Ajv (~4 MiB) only once a policy turns tool pinning on; the YAML parser, which file mode needs, is there
 * from the start. Checked with Node's module hooks in a real `portcullis sidecar` process whose policy file
 * is edited while it runs; conditions then decide calls as before, and fail closed.
 */
const ISSUER = 'https://id.example.com/realms/lazy';
const AUDIENCE = 'https://billing.lazy.example.com/mcp';
const MODERN = '2026-07-28';

function policyYaml(options: { when?: string; pinning?: 'Record' }): string {
  return `apiVersion: portcullis.dev/v1alpha1
kind: McpServer
metadata: { name: billing, namespace: lazy }
spec:
  workload: { image: registry.example.com/billing:1 }
  auth: { issuer: ${ISSUER}, publicUrl: ${AUDIENCE}, algorithms: [ES256] }
${options.pinning ? `  tools: { pinning: ${options.pinning} }\n` : ''}---
apiVersion: portcullis.dev/v1alpha1
kind: ToolPolicy
metadata: { name: read, namespace: lazy }
spec:
  targets: { servers: [billing] }
  rules:
    - name: read
      tools: [read_invoice]
${options.when ? `      when: '${options.when}'\n` : ''}`;
}

describe('a sidecar process loads CEL and Ajv only when its policy needs them', () => {
  let upstream: RecordingUpstream;
  let jwks: JsonServer;
  let sidecar: SidecarProcess;
  let token: string;
  let policyFile: string;
  let loads: ReturnType<typeof recordPackageLoads>;

  const readInvoice = (args: Record<string, unknown>, id: string) =>
    fetch(sidecar.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        authorization: `Bearer ${token}`,
        'mcp-protocol-version': MODERN,
        'mcp-method': 'tools/call',
        'mcp-name': 'read_invoice',
      },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id,
        method: 'tools/call',
        params: {
          name: 'read_invoice',
          arguments: args,
          _meta: { 'io.modelcontextprotocol/protocolVersion': MODERN },
        },
      }),
    }).then(async (response) => ({ status: response.status, body: await response.text() }));

  /** Did the call reach the server? (Refused calls never do.) */
  const reaches = async (args: Record<string, unknown>, id: string) => {
    const before = upstream.requests.length;
    await readInvoice(args, id);
    return upstream.requests.slice(before).some((r) => (r.body as { id?: string }).id === id);
  };

  const policyHash = async () =>
    ((await (await fetch(`${sidecar.adminUrl}/readyz`)).json()) as { policy: { hash?: string } }).policy.hash;

  /** Rewrites the policy file and waits until the sidecar serves another policy. */
  const install = async (text: string) => {
    const before = await policyHash();
    writeFileSync(policyFile, text);
    const after = await eventually(policyHash, (hash) => hash !== undefined && hash !== before);
    expect(after).not.toBe(before);
  };

  beforeAll(async () => {
    upstream = await startRecordingUpstream();
    const key = await signingKey('ES256', 'lazy-1');
    jwks = await startJsonServer();
    jwks.serve('/jwks', jwksOf(key));
    const dir = mkdtempSync(join(inject('scratchDir'), 'lazy-engines-'));
    policyFile = join(dir, 'policy.yaml');
    writeFileSync(policyFile, policyYaml({}));
    loads = recordPackageLoads(dir);
    sidecar = await sidecarProcess({
      env: loads.env,
      args: [
        ...['--policy', policyFile, '--upstream', upstream.url],
        ...['--jwks-uri', `${jwks.origin}/jwks`, '--log-level', 'warn'],
      ],
    });
    await sidecar.start();
    const now = Math.floor(Date.now() / 1000);
    token = await signToken(key, {
      iss: ISSUER,
      aud: AUDIENCE,
      sub: 'alice',
      client_id: 'lazy-agent',
      iat: now,
      exp: now + 3600,
    });
  });

  afterAll(async () => {
    await sidecar?.stop();
    await upstream?.close();
    await jwks?.close();
  });

  it('starts and serves a policy without conditions or pinning with neither loaded', async () => {
    expect(await reaches({ invoice_id: 'INV-1' }, 'plain-1')).toBe(true);
    const packages = loads.packages();
    expect(packages.has('yaml'), 'file mode reads YAML').toBe(true);
    expect([...packages].filter((name) => name.startsWith('@bufbuild/') || name.startsWith('ajv'))).toEqual(
      [],
    );
  });

  it('loads CEL once a policy with a condition is installed; the condition decides and fails closed', async () => {
    await install(policyYaml({ when: 'args.invoice_id == "INV-1"' }));
    expect(loads.packages().has('@bufbuild/cel')).toBe(true);
    expect(await reaches({ invoice_id: 'INV-1' }, 'cel-1')).toBe(true);
    expect(await reaches({ invoice_id: 'INV-2' }, 'cel-2')).toBe(false);
    // No invoice_id: the condition cannot be evaluated, and the Allow rule does not hold.
    expect(await reaches({}, 'cel-3')).toBe(false);
    expect((await readInvoice({}, 'cel-4')).body).toContain('"code":"condition_error"');
    expect(loads.packages().has('ajv')).toBe(false);
  });

  it('keeps the last good policy when a condition does not compile', async () => {
    const before = await policyHash();
    writeFileSync(policyFile, policyYaml({ when: 'args.invoice_id ==' }));
    const lastError = async () =>
      ((await (await fetch(`${sidecar.adminUrl}/readyz`)).json()) as { policy: { lastError?: string } })
        .policy.lastError;
    expect(await eventually(lastError, (error) => error !== undefined)).toContain('CEL syntax error');
    expect(await policyHash()).toBe(before);
    expect(await reaches({ invoice_id: 'INV-2' }, 'bad-1')).toBe(false);
  });

  it('loads Ajv once a policy turns tool pinning on', async () => {
    await install(policyYaml({ pinning: 'Record' }));
    expect(loads.packages().has('ajv')).toBe(true);
    expect(await reaches({ invoice_id: 'INV-2' }, 'pin-1')).toBe(true);
  });
});
