import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCa, issueServingCert, type TestCa } from '../../test/harness/serving-certs.ts';
import { createTokenExchanger } from '../upstream-identity/token-exchange.ts';
import { SubjectToken } from '../upstream-identity/subject-token.ts';
import { fetchFailureKind, fetchJson } from './http-json.ts';
import { parseCaBundle } from '../ca-bundle.ts';
import { createIdpTrust } from './idp-trust.ts';

// The identity provider's CA, against a real https server whose certificate a throwaway CA signs.
let dir: string;
let ca: TestCa;
let other: TestCa;
let server: Server;
let origin: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'portcullis-idp-trust-'));
  ca = await createCa(dir, 'idp-ca');
  other = await createCa(dir, 'other-ca');
  const leaf = await issueServingCert(ca, dir, 'idp', ['IP:127.0.0.1']);
  server = createServer({ cert: leaf.certPem, key: leaf.keyPem }, (req, res) => {
    if (req.url === '/token') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ access_token: 'exchanged', token_type: 'Bearer', expires_in: 60 }));
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"keys":[]}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  await rm(dir, { recursive: true, force: true });
});

const get = (dispatcher?: ReturnType<ReturnType<typeof createIdpTrust>['dispatcher']>) =>
  fetchJson(`${origin}/jwks`, { timeoutMs: 2_000, maxBytes: 1024, ...(dispatcher ? { dispatcher } : {}) });

describe('the identity provider trust', () => {
  it('is needed: with the system roots alone the certificate is not trusted (a tls failure)', async () => {
    const error = await get().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
    expect(fetchFailureKind(error)).toBe('tls');
  });

  it('trusts the CA file in addition to the system roots, and follows a replaced file', async () => {
    const file = join(dir, 'ca.crt');
    await writeFile(file, other.certPem);
    const errors: string[] = [];
    const trust = createIdpTrust({ caFile: file, pollMs: 60_000, onError: (m) => errors.push(m) });
    try {
      await trust.ready;
      expect(fetchFailureKind(await get(trust.dispatcher()).catch((e: unknown) => e))).toBe('tls');
      await writeFile(file, `${other.certPem}${ca.certPem}`);
      await trust.reload();
      expect(await get(trust.dispatcher())).toEqual({ keys: [] });
      // A broken file is reported and the last good trust stays.
      await writeFile(file, 'not a certificate');
      await trust.reload();
      expect(errors.at(-1)).toMatch(/no PEM certificate/);
      expect(await get(trust.dispatcher())).toEqual({ keys: [] });
    } finally {
      trust.close();
    }
  });

  it('leaves the default dispatcher in place when the file cannot be read', async () => {
    const errors: string[] = [];
    const trust = createIdpTrust({ caFile: join(dir, 'missing.crt'), onError: (m) => errors.push(m) });
    await trust.ready;
    expect(trust.dispatcher()).toBeUndefined();
    expect(errors[0]).toMatch(/cannot read/);
    trust.close();
  });

  it('refuses a bundle with no certificate or one that does not parse', () => {
    expect(() => parseCaBundle('')).toThrow(/no PEM certificate/);
    expect(() =>
      parseCaBundle('-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----'),
    ).toThrow(/certificate 1 does not parse/);
    expect(parseCaBundle(`${ca.certPem}\n${other.certPem}`)).toHaveLength(2);
  });

  it('is used for the token exchange too', async () => {
    const file = join(dir, 'exchange-ca.crt');
    await writeFile(file, ca.certPem);
    const trust = createIdpTrust({ caFile: file });
    await trust.ready;
    const exchange = (dispatcher?: typeof trust.dispatcher) =>
      createTokenExchanger({
        settings: {
          tokenEndpoint: `${origin}/token`,
          clientId: 'sidecar',
          audience: 'https://api.example.com',
        },
        clientSecret: () => 'secret',
        clock: Date.now,
        ...(dispatcher ? { dispatcher } : {}),
      });
    const request = {
      subject: SubjectToken.seal('Bearer subject-token', Date.now() + 60_000)!,
      principal: { user: 'alice', agent: 'agent', groups: [], scopes: [], claims: {} },
      scopes: ['tool:read'],
    };
    try {
      const without = exchange();
      expect(await without.exchange(request)).toMatchObject({ ok: false, retryable: true });
      await without.close();
      const withTrust = exchange(trust.dispatcher);
      expect(await withTrust.exchange(request)).toMatchObject({ ok: true, token: 'exchanged' });
      await withTrust.close();
    } finally {
      trust.close();
    }
  });
});
