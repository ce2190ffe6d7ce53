import { request as httpRequest } from 'node:http';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { INGEST_PATH, SIDECAR_HEADER } from '../../api/audit/v1/ingest.ts';
import { eventually } from '../harness/eventually.ts';
import {
  adminKubeConfig,
  createNamespace,
  postBatch,
  sidecarEvents,
  sidecarToken,
  startCollector,
  type CollectorUnderTest,
} from '../harness/collector.ts';
import { parseSamples, sampleValue } from '../harness/prometheus-text.ts';

/**
 * Amplification and noise (issue 16), against a collector process and the real API server's TokenReview:
 * a client hammering with one bad token used to cost a TokenReview and a warning line per request
 * (32 connections: ~24,000 of each in 15 s), and a client that aborted its upload was logged as an
 * internal error and counted as internal_error.
 */
const CONNECTIONS = 32;
const REQUESTS_PER_CONNECTION = 40;
const TOTAL = CONNECTIONS * REQUESTS_PER_CONNECTION;

let collector: CollectorUnderTest;
let namespace: string;
let token: string;

beforeAll(async () => {
  const admin = adminKubeConfig();
  namespace = await createNamespace(admin, 'collector-noise');
  token = await sidecarToken(admin, namespace, 'docs');
  collector = await startCollector({ mode: 'child', flags: { 'query-auth': 'none' } });
});

afterAll(async () => {
  await collector?.stop();
});

async function metric(name: string, labels: Record<string, string>): Promise<number> {
  const text = await (await fetch(`${collector.metricsUrl}/metrics`)).text();
  return sampleValue(parseSamples(text), name, labels) ?? 0;
}

describe('a flood of one bad token', () => {
  it('is refused every time, with a handful of TokenReviews and warning lines, not one per request', async () => {
    // Well-formed and unexpired, signed by the cluster, but its claims edited: only the API server can tell.
    const [header, , signature] = token.split('.');
    const payload = { ...decodeJwt(token), sub: `system:serviceaccount:${namespace}:billing-mcp` };
    const forged = `${header}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}.${signature}`;
    const batch = sidecarEvents('noise-a', 1, 1, { namespace, name: 'docs' });
    const statuses = await Promise.all(
      Array.from({ length: CONNECTIONS }, async () => {
        const seen: number[] = [];
        for (let i = 0; i < REQUESTS_PER_CONNECTION; i++) {
          seen.push((await postBatch(collector.url, forged, batch)).status);
        }
        return seen;
      }),
    );
    expect(statuses.flat().filter((status) => status === 401)).toHaveLength(TOTAL);
    expect(
      await metric('portcullis_collector_requests_total', { endpoint: 'events', code: 'invalid_token' }),
    ).toBe(TOTAL);
    const reviews = await metric('portcullis_collector_token_verifications_total', {
      purpose: 'ingest',
      result: 'refused',
    });
    expect(reviews).toBeGreaterThanOrEqual(1);
    expect(reviews).toBeLessThan(TOTAL / 10);
    const warnings = collector
      .logs()
      .filter((line) => line.includes('"msg":"request refused"') && line.includes('invalid_token'));
    expect(warnings.length, collector.logs().slice(-5).join('\n')).toBeGreaterThanOrEqual(1);
    expect(warnings.length).toBeLessThan(TOTAL / 10);
  });

  it('refuses a token that is not a JWT without asking the API server', async () => {
    const before = await metric('portcullis_collector_token_verifications_total', {
      purpose: 'ingest',
      result: 'refused',
    });
    for (let i = 0; i < 20; i++) {
      const result = await postBatch(
        collector.url,
        `garbage-${i}`,
        sidecarEvents('noise-b', 1, 1, { namespace, name: 'docs' }),
      );
      expect(result.status).toBe(401);
    }
    expect(
      await metric('portcullis_collector_token_verifications_total', {
        purpose: 'ingest',
        result: 'refused',
      }),
    ).toBe(before);
  });
});

describe('an upload the client aborts', () => {
  it('is counted as client_aborted, not internal_error, and logged as no internal error', async () => {
    const url = new URL(INGEST_PATH, collector.url);
    const req = httpRequest(url, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${token}`,
        'content-type': 'application/x-ndjson',
        'content-length': 1024 * 1024,
        [SIDECAR_HEADER]: 'noise-abort',
      },
    });
    req.on('error', () => {});
    req.write(Buffer.alloc(128 * 1024, 0x20));
    // Once the collector has taken the request (authenticated: a TokenReview), the client goes away.
    await eventually(
      () => metric('portcullis_collector_token_verifications_total', { purpose: 'ingest', result: 'ok' }),
      (value) => value >= 1,
    );
    req.destroy();
    const aborted = await eventually(
      () => metric('portcullis_collector_requests_total', { endpoint: 'events', code: 'client_aborted' }),
      (value) => value >= 1,
    );
    expect(aborted).toBe(1);
    expect(
      await metric('portcullis_collector_requests_total', { endpoint: 'events', code: 'internal_error' }),
    ).toBe(0);
    expect(collector.logs().filter((line) => line.includes('"msg":"internal error"'))).toEqual([]);
  });
});
