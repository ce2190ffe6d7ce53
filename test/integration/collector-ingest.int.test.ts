import { randomUUID } from 'node:crypto';
import { CoreV1Api, type KubeConfig } from '@kubernetes/client-node';
import { decodeJwt, decodeProtectedHeader, importPKCS8, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditEvent } from '../../api/audit/v1/event.ts';
import {
  adminKubeConfig,
  createNamespace,
  getJson,
  postBatch,
  postHeartbeat,
  requestToken,
  serviceAccountSigningKeyPem,
  sidecarToken,
  startCollector,
  type CollectorUnderTest,
  sidecarEvents,
} from '../harness/collector.ts';

/**
 * Ingest and sidecar authentication (TokenReview) against the real API server: what is accepted, and
 * every way a token or a batch is refused, with nothing stored when it is.
 */
let admin: KubeConfig;
let namespace: string;
let otherNamespace: string;
let collector: CollectorUnderTest;
let docsToken: string;
let billingToken: string;

const events = (sidecar: string, from: number, to: number, server = 'docs', ns = namespace): AuditEvent[] =>
  sidecarEvents(sidecar, from, to, { namespace: ns, name: server });

async function storedSeqs(sidecar: string): Promise<number[]> {
  const page = await getJson(collector.url, `/v1/events?order=asc&limit=10000`);
  return (page.body as { events: AuditEvent[] }).events
    .filter((e) => e.sidecar === sidecar)
    .map((e) => e.seq);
}

beforeAll(async () => {
  admin = adminKubeConfig();
  namespace = await createNamespace(admin, 'collector-ingest');
  otherNamespace = await createNamespace(admin, 'collector-ingest-other');
  collector = await startCollector({ flags: { 'query-auth': 'none' } });
  docsToken = await sidecarToken(admin, namespace, 'docs');
  billingToken = await sidecarToken(admin, namespace, 'billing');
});

afterAll(async () => {
  await collector?.stop();
});

describe('ingest with a valid sidecar token', () => {
  it('stores the batch and acknowledges it only after the store committed', async () => {
    const batch = events('docs-a', 1, 3);
    const result = await postBatch(collector.url, docsToken, batch);
    expect(result).toEqual({ status: 200, body: { accepted: 3, duplicates: 0, throughSeq: 3 } });
    expect(await storedSeqs('docs-a')).toEqual([1, 2, 3]);
  });

  it('acknowledges a retried batch as duplicates without storing it twice', async () => {
    const batch = events('docs-b', 1, 2);
    await postBatch(collector.url, docsToken, batch);
    const retried = await postBatch(collector.url, docsToken, [...batch, ...events('docs-b', 3, 3)]);
    expect(retried).toEqual({ status: 200, body: { accepted: 1, duplicates: 2, throughSeq: 3 } });
    expect(await storedSeqs('docs-b')).toEqual([1, 2, 3]);
  });

  it('keeps fields it does not know (the schema is additive)', async () => {
    const [event] = events('docs-c', 1, 1);
    await postBatch(collector.url, docsToken, [{ ...event, fromTheFuture: { v: 2 } }]);
    const page = await getJson(collector.url, `/v1/events?user=alice&limit=10000`);
    const stored = (page.body as { events: (AuditEvent & { fromTheFuture?: unknown })[] }).events.find(
      (e) => e.id === event!.id,
    );
    expect(stored?.fromTheFuture).toEqual({ v: 2 });
  });

  it('records heartbeats of the bound server', async () => {
    await postBatch(collector.url, docsToken, events('docs-hb', 1, 2));
    const beat = await postHeartbeat(collector.url, docsToken, {
      sidecar: 'docs-hb',
      server: { namespace, name: 'docs' },
      lastSeq: 5,
      ackedSeq: 2,
    });
    expect(beat.status).toBe(204);
    const sidecars = await getJson(collector.url, `/v1/sidecars?namespace=${namespace}`);
    expect((sidecars.body as { sidecars: unknown[] }).sidecars).toContainEqual(
      expect.objectContaining({ sidecar: 'docs-hb', highestSeq: 2, reportedSeq: 5 }),
    );
  });
});

describe('sidecar authentication (adversarial)', () => {
  const refusedWith = async (token: string | undefined, status: number, code: string) => {
    const sidecar = `attack-${randomUUID().slice(0, 8)}`;
    const result = await postBatch(collector.url, token, events(sidecar, 1, 2));
    expect(result).toEqual({ status, body: { error: { code, message: expect.any(String) } } });
    expect(await storedSeqs(sidecar)).toEqual([]);
  };

  it('refuses a request without a token', () => refusedWith(undefined, 401, 'missing_token'));

  it('refuses a garbage token', () => refusedWith('not-a-jwt', 401, 'invalid_token'));

  it("refuses the same account's token for the API server's audience instead of the collector's", async () => {
    const apiToken = await sidecarToken(admin, namespace, 'docs', { audiences: [] });
    await refusedWith(apiToken, 401, 'invalid_token');
  });

  it('refuses a token for another audience', async () => {
    const other = await sidecarToken(admin, namespace, 'docs', { audiences: ['vault'] });
    await refusedWith(other, 401, 'invalid_token');
  });

  it('refuses an expired token signed with the cluster key', async () => {
    const fresh = await sidecarToken(admin, namespace, 'docs');
    await refusedWith(
      await resign(fresh, { exp: now() - 120, iat: now() - 720, nbf: now() - 720 }),
      401,
      'invalid_token',
    );
  });

  it('refuses a token whose signature does not match (claims edited)', async () => {
    const [header, , signature] = docsToken.split('.');
    const payload = { ...decodeJwt(docsToken), sub: `system:serviceaccount:${namespace}:billing-mcp` };
    const edited = `${header}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}.${signature}`;
    await refusedWith(edited, 401, 'invalid_token');
  });

  it('refuses an unsigned token (alg none)', async () => {
    const header = Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url');
    const payload = Buffer.from(JSON.stringify(decodeJwt(docsToken))).toString('base64url');
    await refusedWith(`${header}.${payload}.`, 401, 'invalid_token');
  });

  it('refuses the token of a deleted ServiceAccount', async () => {
    const token = await sidecarToken(admin, namespace, 'gone');
    await admin.makeApiClient(CoreV1Api).deleteNamespacedServiceAccount({ namespace, name: 'gone-mcp' });
    const result = await postBatch(collector.url, token, events('gone-a', 1, 1, 'gone'));
    expect(result.status).toBe(401);
    expect(await storedSeqs('gone-a')).toEqual([]);
  });
});

describe('identity binding (adversarial)', () => {
  it("refuses a sidecar token carrying another server's events, storing nothing", async () => {
    const result = await postBatch(collector.url, docsToken, events('forge-a', 1, 3, 'billing'));
    expect(result.status).toBe(403);
    expect(result.body).toMatchObject({ error: { code: 'identity_mismatch' } });
    expect(await storedSeqs('forge-a')).toEqual([]);
  });

  it('refuses the whole batch when only its last event is of another server', async () => {
    const batch = [...events('forge-b', 1, 2), ...events('forge-b', 3, 3, 'billing')];
    const result = await postBatch(collector.url, docsToken, batch);
    expect(result.status).toBe(403);
    expect(result.body).toMatchObject({
      error: { code: 'identity_mismatch', message: expect.stringMatching(/^line 3/) },
    });
    expect(await storedSeqs('forge-b')).toEqual([]);
  });

  it('refuses events of a server of the same name in another namespace', async () => {
    const result = await postBatch(collector.url, docsToken, events('forge-c', 1, 1, 'docs', otherNamespace));
    expect(result.status).toBe(403);
    expect(await storedSeqs('forge-c')).toEqual([]);
  });

  it('refuses a token of an account that is not a sidecar account (no -mcp suffix)', async () => {
    await admin
      .makeApiClient(CoreV1Api)
      .createNamespacedServiceAccount({ namespace, body: { metadata: { name: 'docs' } } });
    const token = await requestToken(admin, namespace, 'docs');
    const result = await postBatch(collector.url, token, events('forge-d', 1, 1));
    expect(result.status).toBe(403);
    expect(await storedSeqs('forge-d')).toEqual([]);
  });

  it("refuses shipping under another server's sidecar id (pre-empting its seqs)", async () => {
    await postBatch(collector.url, docsToken, events('docs-owned', 1, 1));
    const hijack = await postBatch(collector.url, billingToken, events('docs-owned', 2, 5, 'billing'));
    expect(hijack.status).toBe(403);
    expect(hijack.body).toMatchObject({ error: { code: 'identity_mismatch' } });
    // The real sidecar's next events are stored, not swallowed as duplicates.
    const next = await postBatch(collector.url, docsToken, events('docs-owned', 2, 3));
    expect(next.body).toEqual({ accepted: 2, duplicates: 0, throughSeq: 3 });
  });

  it("refuses a heartbeat for another server's sidecar", async () => {
    const beat = await postHeartbeat(collector.url, docsToken, {
      sidecar: 'billing-x',
      server: { namespace, name: 'billing' },
    });
    expect(beat.status).toBe(403);
  });
});

describe('batch validation', () => {
  it('refuses a batch with one malformed line, naming it, and stores none of it', async () => {
    const lines = events('bad-a', 1, 3).map((e) => JSON.stringify(e));
    lines[1] = lines[1]!.replace('"decision":"allowed"', '"decision":"perhaps"');
    const result = await postBatch(collector.url, docsToken, [], {
      sidecar: 'bad-a',
      body: lines.join('\n'),
    });
    expect(result.status).toBe(400);
    expect(result.body).toMatchObject({
      error: { code: 'malformed_batch', message: expect.stringMatching(/^line 2: /) },
    });
    expect(await storedSeqs('bad-a')).toEqual([]);
  });

  it('refuses a batch whose events are not of the sidecar the header names', async () => {
    const result = await postBatch(collector.url, docsToken, events('bad-b', 1, 1), { sidecar: 'bad-other' });
    expect(result).toMatchObject({ status: 400, body: { error: { code: 'sidecar_mismatch' } } });
  });

  it('refuses descending seqs', async () => {
    const batch = [...events('bad-c', 2, 2), ...events('bad-c', 1, 1)];
    expect((await postBatch(collector.url, docsToken, batch)).body).toMatchObject({
      error: { code: 'seq_order' },
    });
    expect(await storedSeqs('bad-c')).toEqual([]);
  });

  it('refuses another media type', async () => {
    const result = await postBatch(collector.url, docsToken, events('bad-d', 1, 1), {
      contentType: 'application/json',
    });
    expect(result.status).toBe(415);
  });

  it('refuses a batch above the size limit with 413', async () => {
    const big = Buffer.alloc(9 * 1024 * 1024, 0x20);
    const result = await postBatch(collector.url, docsToken, [], { sidecar: 'bad-e', body: big });
    expect(result).toMatchObject({ status: 413, body: { error: { code: 'body_too_large' } } });
  });

  it('authenticates before reading the body: no token and a huge body is a 401', async () => {
    const result = await postBatch(collector.url, undefined, [], {
      sidecar: 'bad-f',
      body: Buffer.alloc(9 * 1024 * 1024, 0x20),
    });
    expect(result.status).toBe(401);
  });
});

describe('store unavailable', () => {
  it('answers 503 store_unavailable (the shipper retries) and acknowledges nothing', async () => {
    const separate = await startCollector({ flags: { 'query-auth': 'none' } });
    try {
      await separate.running!.store.close();
      const result = await postBatch(separate.url, docsToken, events('down-a', 1, 2));
      expect(result).toMatchObject({ status: 503, body: { error: { code: 'store_unavailable' } } });
      const ready = await fetch(`${separate.metricsUrl}/readyz`);
      expect(ready.status).toBe(503);
    } finally {
      await separate.stop().catch(() => {});
    }
  });
});

describe('logs', () => {
  it('never contain a token', () => {
    const logs = collector.logs().join('\n');
    expect(logs).toContain('request refused');
    for (const token of [docsToken, billingToken]) {
      expect(logs).not.toContain(token);
      expect(logs).not.toContain(token.split('.')[2]);
    }
  });
});

const now = () => Math.floor(Date.now() / 1000);

/** The token's claims with `changes`, signed with the cluster's own service-account key and key id. */
async function resign(token: string, changes: Record<string, unknown>): Promise<string> {
  const key = await importPKCS8(serviceAccountSigningKeyPem(), 'RS256');
  const { kid } = decodeProtectedHeader(token);
  return new SignJWT({ ...decodeJwt(token), ...changes })
    .setProtectedHeader({ alg: 'RS256', ...(kid ? { kid } : {}) })
    .sign(key);
}
