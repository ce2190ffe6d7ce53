import { createServer, type Server } from 'node:http';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryAuditSink } from '../../sidecar/audit/sink.ts';
import { sidecarConfigSchema, type SidecarConfigInput } from '../../sidecar/config.ts';
import { startSidecar, type RunningSidecar } from '../../sidecar/start.ts';
import { startOidcIssuer, type OidcIssuer } from '../fixtures/auth/oidc-issuer.ts';
import { startHttpFixture, type HttpFixture } from '../fixtures/mcp/http-fixture.ts';
import { eventually } from '../harness/eventually.ts';
import { freeLoopbackPorts } from '../harness/free-port.ts';
import { createCa, issueServingCert, type TestCa } from '../harness/serving-certs.ts';

/**
 * Issue #13: an identity provider behind a private CA, and a sidecar that cannot reach its keys. A real
 * OpenID provider (oidc-provider) serves discovery, JWKS and tokens over https with a certificate of a
 * throwaway CA. Without that CA the sidecar cannot fetch the keys; with --idp-ca-file it can. A sidecar
 * without keys answers 503 auth_unavailable (retryable, no WWW-Authenticate, nothing about the identity
 * provider's URL or TLS), keeps the cause in its log, metrics and audit event, and serves again once
 * the keys come back.
 */
const AUDIENCE = 'https://research.mcp.example.com/mcp';

interface Answer {
  readonly status: number;
  readonly headers: Headers;
  readonly body: string;
}

interface Gate {
  readonly sidecar: RunningSidecar;
  readonly audit: MemoryAuditSink;
  readonly logs: string[];
  /** Moves the sidecar's clock forward (past the 10 s refetch cooldown) without waiting. */
  advance(ms: number): void;
  stop(): Promise<void>;
}

let dir: string;
let ca: TestCa;
let otherCa: TestCa;
let idp: OidcIssuer;
let upstream: HttpFixture;
const gates: Gate[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'portcullis-idp-ca-'));
  ca = await createCa(dir, 'corp-idp-ca');
  otherCa = await createCa(dir, 'some-other-ca');
  const leaf = await issueServingCert(ca, dir, 'idp', ['IP:127.0.0.1']);
  idp = await startOidcIssuer([AUDIENCE], ['mcp:call'], {
    tls: { cert: leaf.certPem, key: leaf.keyPem, ca: ca.certPem },
  });
  upstream = await startHttpFixture('billing', { jsonResponse: true });
});

afterAll(async () => {
  await Promise.all(gates.map((g) => g.stop()));
  await idp?.close();
  await upstream?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function startGate(config: Partial<SidecarConfigInput>): Promise<Gate> {
  const policyDir = await mkdtemp(join(dir, 'policy-'));
  await writeFile(
    join(policyDir, 'server.yaml'),
    [
      'apiVersion: portcullis.dev/v1alpha1',
      'kind: McpServer',
      'metadata: { name: research, namespace: lab }',
      'spec:',
      '  workload: { image: registry.example.com/lab/research-mcp:1.0.0 }',
      '  auth:',
      `    issuer: ${idp.issuer}`,
      `    publicUrl: ${AUDIENCE}`,
      '    algorithms: [ES256]',
      '',
    ].join('\n'),
  );
  const logs: string[] = [];
  const log = pino(
    { level: 'debug' },
    new Writable({
      write(chunk: Buffer, _encoding, done) {
        logs.push(chunk.toString('utf8'));
        done();
      },
    }),
  );
  let offset = 0;
  const audit = new MemoryAuditSink();
  const sidecar = await startSidecar(
    sidecarConfigSchema.parse({
      listen: '127.0.0.1:0',
      adminListen: '127.0.0.1:0',
      egressListen: '127.0.0.1:0',
      policyFiles: [policyDir],
      upstreamUrl: upstream.url,
      ...config,
    }),
    { log, audit, clock: () => Date.now() + offset },
  );
  const gate: Gate = {
    sidecar,
    audit,
    logs,
    advance: (ms) => {
      offset += ms;
    },
    stop: () => sidecar.stop({ drainMs: 0 }),
  };
  gates.push(gate);
  return gate;
}

async function initialize(gate: Gate, token: string): Promise<Answer> {
  const response = await fetch(gate.sidecar.url, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${token}`,
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
    },
    body: JSON.stringify({
      jsonrpc: '2.0',
      id: 1,
      method: 'initialize',
      params: {
        protocolVersion: '2025-06-18',
        capabilities: {},
        clientInfo: { name: 'idp-ca-test', version: '1.0.0' },
      },
    }),
  });
  return { status: response.status, headers: response.headers, body: await response.text() };
}

async function keyFetches(gate: Gate, result: string): Promise<number> {
  const text = await (await fetch(`${gate.sidecar.adminUrl}/metrics`)).text();
  const line = text
    .split('\n')
    .find((l) => l.startsWith(`portcullis_auth_key_fetches_total{result="${result}"}`));
  return line === undefined ? 0 : Number(line.split(' ').at(-1));
}

/** A 503 auth_unavailable that tells the caller to retry, and nothing about the identity provider. */
function expectUnavailable(answer: Answer): void {
  expect(answer.status).toBe(503);
  expect(answer.headers.get('www-authenticate')).toBeNull();
  expect(Number(answer.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
  const body = JSON.parse(answer.body) as {
    id: unknown;
    error: { code: number; message: string; data: { portcullis: { code: string } } };
  };
  expect(body).toMatchObject({
    jsonrpc: '2.0',
    id: 1,
    error: { code: -31004, data: { portcullis: { code: 'auth_unavailable' } } },
  });
  for (const secret of [
    '127.0.0.1',
    new URL(idp.issuer).port,
    'certificate',
    'ECONN',
    'TLS',
    'https',
    'jwks',
  ])
    expect(answer.body).not.toContain(secret);
}

describe('an identity provider behind a private CA', () => {
  it('without the CA: every call is 503 auth_unavailable, the TLS cause only in log, metrics and audit', async () => {
    const gate = await startGate({});
    const answer = await initialize(gate, await idp.token({ resource: AUDIENCE, scope: 'mcp:call' }));
    expectUnavailable(answer);
    expect(await keyFetches(gate, 'tls')).toBe(1);
    expect(gate.logs.join('\n')).toMatch(
      /signing keys could not be fetched.*certificate|certificate.*signing keys could not be fetched/,
    );
    const event = gate.audit.events.find((e) => e.code === 'auth_unavailable');
    expect(event).toMatchObject({ decision: 'errored', outcome: 'refused' });
    expect(event?.reason).toMatch(/signing keys unavailable: issuer discovery failed .*certificate/);
  });

  it('with --idp-ca-file: discovery, JWKS and the call succeed (system roots still apply besides it)', async () => {
    const gate = await startGate({ idpCaFile: ca.certFile });
    const answer = await initialize(gate, await idp.token({ resource: AUDIENCE, scope: 'mcp:call' }));
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.body)).toMatchObject({
      jsonrpc: '2.0',
      id: 1,
      result: { protocolVersion: expect.any(String) },
    });
    expect(await keyFetches(gate, 'ok')).toBe(1);
    expect(gate.logs.join('\n')).toContain('identity provider CA loaded');
  });

  it('picks up a replaced CA file (a rotated ConfigMap) without a restart', async () => {
    const file = join(dir, 'rotating-ca.crt');
    await writeFile(file, otherCa.certPem);
    const gate = await startGate({ idpCaFile: file });
    const token = await idp.token({ resource: AUDIENCE, scope: 'mcp:call' });
    expectUnavailable(await initialize(gate, token));
    await writeFile(file, `${otherCa.certPem}\n${ca.certPem}`);
    // The file is re-read every 5 s; each try moves the clock past the refetch cooldown.
    const status = await eventually(
      async () => {
        gate.advance(11_000);
        return (await initialize(gate, token)).status;
      },
      (s) => s === 200,
      15_000,
      500,
    );
    expect(status).toBe(200);
  });
});

describe('a sidecar that cannot reach its keys', () => {
  let jwks: Server;
  let port: number;
  let document: string;
  const listen = () => new Promise<void>((resolve) => jwks.listen(port, '127.0.0.1', resolve));

  beforeAll(async () => {
    document = JSON.stringify(await idp.get('/jwks'));
    ({ jwks: port } = await freeLoopbackPorts(['jwks']));
    jwks = createServer((_req, res) =>
      res.writeHead(200, { 'content-type': 'application/json' }).end(document),
    );
  });
  afterAll(() => new Promise<void>((resolve) => (jwks.listening ? jwks.close(() => resolve()) : resolve())));

  it('answers 503 auth_unavailable while the JWKS port is closed, then 200 once the keys are back', async () => {
    const gate = await startGate({ idpCaFile: ca.certFile, jwksUri: `http://127.0.0.1:${port}/jwks` });
    const token = await idp.token({ resource: AUDIENCE, scope: 'mcp:call' });

    const down = await initialize(gate, token);
    expectUnavailable(down);
    expect(Number(down.headers.get('retry-after'))).toBeLessThanOrEqual(10);
    expect(await keyFetches(gate, 'unreachable')).toBe(1);
    const event = gate.audit.events.find((e) => e.code === 'auth_unavailable');
    expect(event?.reason).toMatch(/ECONNREFUSED/);
    expect(gate.logs.join('\n')).toMatch(/ECONNREFUSED/);

    // Within the cooldown no fetch is tried: clients retrying in a loop do not hammer the provider.
    expectUnavailable(await initialize(gate, token));
    expect(await keyFetches(gate, 'unreachable')).toBe(1);

    await listen();
    gate.advance(11_000);
    const back = await initialize(gate, token);
    expect(back.status).toBe(200);
    expect(await keyFetches(gate, 'ok')).toBe(1);
  });
});
