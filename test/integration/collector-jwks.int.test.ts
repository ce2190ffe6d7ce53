import { generateKeyPair, decodeJwt, decodeProtectedHeader, importPKCS8, SignJWT } from 'jose';
import { randomUUID } from 'node:crypto';
import type { KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditEvent } from '../../api/audit/v1/event.ts';
import {
  adminKubeConfig,
  createNamespace,
  getJson,
  postBatch,
  serviceAccountSigningKeyPem,
  sidecarToken,
  startCollector,
  type CollectorUnderTest,
  sidecarEvents,
} from '../harness/collector.ts';

/**
 * --auth jwks: sidecar tokens verified locally against the keys the real API server publishes at
 * /openid/v1/jwks (fetched with the collector's own ServiceAccount), the issuer from its discovery document.
 */
let admin: KubeConfig;
let namespace: string;
let collector: CollectorUnderTest;
let podToken: string;

const events = (sidecar: string, server = 'docs'): AuditEvent[] =>
  sidecarEvents(sidecar, 1, 2, { namespace, name: server });

async function stored(sidecar: string): Promise<number> {
  const page = await getJson(collector.url, `/v1/events?limit=10000`);
  return (page.body as { events: AuditEvent[] }).events.filter((e) => e.sidecar === sidecar).length;
}

const now = () => Math.floor(Date.now() / 1000);

async function resign(
  token: string,
  changes: Record<string, unknown>,
  alg = 'RS256',
  key?: Awaited<ReturnType<typeof importPKCS8>>,
): Promise<string> {
  const signingKey = key ?? (await importPKCS8(serviceAccountSigningKeyPem(), 'RS256'));
  const { kid } = decodeProtectedHeader(token);
  return new SignJWT({ ...decodeJwt(token), ...changes })
    .setProtectedHeader({ alg, ...(kid ? { kid } : {}) })
    .sign(signingKey);
}

beforeAll(async () => {
  admin = adminKubeConfig();
  namespace = await createNamespace(admin, 'collector-jwks');
  collector = await startCollector({ flags: { auth: 'jwks', 'query-auth': 'none' } });
  podToken = await sidecarToken(admin, namespace, 'docs', { pod: true });
});

afterAll(async () => {
  await collector?.stop();
});

describe('--auth jwks', () => {
  it('accepts a projected token bound to a pod of the server', async () => {
    const result = await postBatch(collector.url, podToken, events('jwks-ok'));
    expect(result).toEqual({ status: 200, body: { accepted: 2, duplicates: 0, throughSeq: 2 } });
  });

  it('refuses the binding to another server with 403, storing nothing', async () => {
    const result = await postBatch(collector.url, podToken, events('jwks-forge', 'billing'));
    expect(result.status).toBe(403);
    expect(await stored('jwks-forge')).toBe(0);
  });

  const refused = async (token: string) => {
    const sidecar = `jwks-${randomUUID().slice(0, 8)}`;
    const result = await postBatch(collector.url, token, events(sidecar));
    expect(result).toMatchObject({ status: 401, body: { error: { code: 'invalid_token' } } });
    expect(await stored(sidecar)).toBe(0);
  };

  it('refuses a token for another audience', async () =>
    refused(await sidecarToken(admin, namespace, 'docs', { pod: true, audiences: ['vault'] })));

  it('refuses a token not bound to a pod (not a projected volume token)', async () =>
    refused(await sidecarToken(admin, namespace, 'docs')));

  it('refuses an expired token signed with the cluster key', async () =>
    refused(await resign(podToken, { exp: now() - 120, iat: now() - 720, nbf: now() - 720 })));

  it('refuses a token that is not valid yet', async () =>
    refused(await resign(podToken, { nbf: now() + 600 })));

  it('refuses a token of another issuer, even signed with the cluster key', async () =>
    refused(await resign(podToken, { iss: 'https://evil.example' })));

  it('refuses a token whose subject and kubernetes.io claim disagree', async () =>
    refused(await resign(podToken, { sub: `system:serviceaccount:${namespace}:billing-mcp` })));

  it('refuses a token signed with a key that is not the cluster key', async () => {
    const { privateKey } = await generateKeyPair('RS256');
    await refused(await resign(podToken, {}, 'RS256', privateKey));
  });

  it('refuses an unsigned token (alg none) and HMAC tokens', async () => {
    const payload = Buffer.from(JSON.stringify(decodeJwt(podToken))).toString('base64url');
    await refused(`${Buffer.from('{"alg":"none"}').toString('base64url')}.${payload}.`);
    const hmac = new TextEncoder().encode(serviceAccountSigningKeyPem());
    const forged = await new SignJWT(decodeJwt(podToken)).setProtectedHeader({ alg: 'HS256' }).sign(hmac);
    await refused(forged);
  });

  it('refuses garbage', () => refused('a.b.c'));
});
