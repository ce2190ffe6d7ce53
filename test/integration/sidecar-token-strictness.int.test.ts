import { readFile, writeFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signRaw } from '../fixtures/auth/signing-keys.ts';
import { startHttpFixture, type HttpFixture } from '../fixtures/mcp/http-fixture.ts';
import { eventually } from '../harness/eventually.ts';
import { ISSUER, startSidecarUnderTest, type SidecarUnderTest } from '../harness/sidecar-under-test.ts';

/**
 * Token strictness through a real sidecar and real HTTP requests: tokens two JSON readers could read
 * differently, tokens issued in the future, tokens shared with other resources, and a second token in
 * another place. Each is refused with its stable code, and no token text reaches the answer, the log or
 * the audit trail.
 */
const AUDIENCE = 'https://billing.mcp.example.com/mcp';
const support = {
  sub: 'alice',
  azp: 'support-copilot',
  tenant_id: 'acme',
  groups: ['support'],
  scope: 'billing billing:invoices:read',
};

interface RawResponse {
  readonly status: number;
  readonly body: string;
}

/** One POST; header values given as arrays go out as that many header lines. */
function post(
  url: string,
  path: string,
  headers: Record<string, string | string[]>,
  body: string,
): Promise<RawResponse> {
  const target = new URL(url);
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: target.hostname, port: target.port, method: 'POST', path }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }),
      );
    });
    for (const [name, value] of Object.entries(headers)) req.setHeader(name, value);
    req.on('error', reject);
    req.end(body);
  });
}

function refusal(response: RawResponse): { code: string; message: string } {
  const parsed = JSON.parse(response.body) as {
    error: { message: string; data: { portcullis: { code: string } } };
  };
  return { code: parsed.error.data.portcullis.code, message: parsed.error.message };
}

const readInvoice = (customer: string) =>
  JSON.stringify({
    jsonrpc: '2.0',
    id: 1,
    method: 'tools/call',
    params: { name: 'read_invoice', arguments: { customer_id: customer, invoice_id: 'I-1' } },
  });

describe('token strictness through a running sidecar', () => {
  let upstream: HttpFixture;
  let gate: SidecarUnderTest;
  let host: string;
  const seenTokens: string[] = [];
  const answers: string[] = [];
  const base = () => ({
    host,
    'content-type': 'application/json',
    accept: 'application/json, text/event-stream',
  });
  const call = async (authorization: string | string[] | undefined, customer = 'acme', path = '/mcp') => {
    for (const value of [authorization ?? []].flat()) seenTokens.push(value.replace(/^Bearer /, ''));
    const response = await post(
      gate.url,
      path,
      { ...base(), ...(authorization === undefined ? {} : { authorization }) },
      readInvoice(customer),
    );
    answers.push(response.body);
    return response;
  };
  const now = () => Math.floor(Date.now() / 1000);
  /** Claims as exact JSON text, signed with the key the sidecar trusts. */
  const rawToken = (claimsText: string) =>
    signRaw(gate.signingKey, { alg: 'ES256', kid: gate.signingKey.kid, typ: 'at+jwt' }, claimsText);
  const claimsJson = (extra: Record<string, unknown> = {}) =>
    JSON.stringify({ iss: ISSUER, aud: AUDIENCE, iat: now(), exp: now() + 300, ...support, ...extra });

  beforeAll(async () => {
    upstream = await startHttpFixture('billing', { jsonResponse: true, stateless: true });
    gate = await startSidecarUnderTest({
      policyFixture: 'billing',
      upstream: { upstreamUrl: upstream.url },
      audience: AUDIENCE,
    });
    host = new URL(gate.url).host;
  });
  afterAll(async () => {
    await gate?.stop();
    await upstream?.close();
  });

  it('forwards a call with a well-formed token (control)', async () => {
    expect((await call(`Bearer ${await gate.token(support)}`)).status).toBe(200);
    // The same claims as hand-written JSON text pass too, so the refusals below are about the one change.
    expect((await call(`Bearer ${rawToken(claimsJson())}`)).status).toBe(200);
  });

  it('refuses a token with two tenant claims (the last would have bound customer_id to "evil")', async () => {
    const text = claimsJson().replace(/\}$/, ',"tenant_id":"evil"}');
    const response = await call(`Bearer ${rawToken(text)}`, 'evil');
    expect(response.status).toBe(401);
    expect(refusal(response)).toMatchObject({
      code: 'invalid_token',
      message: expect.stringMatching(/repeats a member name/),
    });
  });

  it('refuses a token issued in the future beyond the clock skew', async () => {
    const response = await call(`Bearer ${await gate.token({ ...support, iat: now() + 3600 })}`);
    expect(response.status).toBe(401);
    expect(refusal(response).message).toMatch(/"iat" is in the future/);
  });

  it('refuses a token shared with another resource until spec.auth.allowSharedAudience is set', async () => {
    const shared = `Bearer ${await gate.token({ ...support, aud: ['https://crm.mcp.example.com/mcp', AUDIENCE] })}`;
    const refused = await call(shared);
    expect(refused.status).toBe(401);
    expect(refusal(refused).message).toMatch(/allowSharedAudience/);

    // The setting travels: YAML -> API schema -> compiled bundle -> a new authenticator.
    const file = join(gate.policyDir, 'server.yaml');
    const yaml = await readFile(file, 'utf8');
    await writeFile(file, yaml.replace('  auth:\n', '  auth:\n    allowSharedAudience: true\n'));
    const accepted = await eventually(
      () => call(shared),
      (r) => r.status === 200,
    );
    expect(accepted.status).toBe(200);
    await writeFile(file, yaml);
    expect(
      (
        await eventually(
          () => call(shared),
          (r) => r.status === 401,
        )
      ).status,
    ).toBe(401);
  });

  it.each([
    ['valid first, garbage second', (valid: string) => [`Bearer ${valid}`, 'Bearer not.a-token.at-all']],
    ['garbage first, valid second', (valid: string) => ['Bearer not.a-token.at-all', `Bearer ${valid}`]],
    ['the same valid token twice', (valid: string) => [`Bearer ${valid}`, `Bearer ${valid}`]],
  ])('refuses two Authorization headers (%s) with 400 invalid_request', async (_name, headers) => {
    const valid = await gate.token(support);
    const response = await call(headers(valid));
    expect(response.status).toBe(400);
    expect(refusal(response)).toMatchObject({
      code: 'invalid_request',
      message: expect.stringMatching(/2 Authorization headers/),
    });
  });

  it.each([
    ['with an Authorization header', true],
    ['without an Authorization header', false],
  ])('refuses access_token in the URL query %s with 400 invalid_request', async (_name, withHeader) => {
    const valid = await gate.token(support);
    const response = await call(
      withHeader ? `Bearer ${valid}` : undefined,
      'acme',
      `/mcp?access_token=${encodeURIComponent(valid)}`,
    );
    seenTokens.push(valid);
    expect(response.status).toBe(400);
    expect(refusal(response)).toMatchObject({
      code: 'invalid_request',
      message: expect.stringMatching(/access_token/),
    });
  });

  it('never echoed a token in an answer, a log line or an audit event', () => {
    const evidence = [...answers, ...gate.logs, JSON.stringify(gate.audit.events)].join('\n');
    // The signature segment is unique per real token; a token split or re-encoded would still show it.
    const signatures = seenTokens.map((t) => t.split('.').at(-1)!).filter((s) => s.length >= 40);
    expect(signatures.length).toBeGreaterThan(5);
    for (const signature of signatures) expect(evidence).not.toContain(signature);
  });
});
