import { auditedBillingYaml } from '../fixtures/audited-billing.ts';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { afterEach, describe, expect, inject, it, vi } from 'vitest';
import type { AuditEvent } from '../../api/audit/v1/event.ts';
import { jwksOf, signingKey, signToken } from '../fixtures/auth/signing-keys.ts';
import { startJsonServer, type JsonServer } from '../fixtures/auth/json-server.ts';
import {
  adminKubeConfig,
  createNamespace,
  storedEvents,
  sidecarToken,
  startCollector,
  type CollectorUnderTest,
} from '../harness/collector.ts';
import { startRecordingUpstream, type RecordingUpstream } from '../harness/recording-upstream.ts';
import { sidecarProcess, type SidecarProcess } from '../harness/sidecar-process.ts';
import { rawToolCall } from '../harness/sidecar-clients.ts';

/**
 * The audit pipeline under pressure, each with its stated behaviour:
 * - a full WAL (the collector unreachable for long) refuses calls with audit_unavailable, takes the
 *   pod out of readiness, forwards nothing it could not record, and recovers once the collector drains it;
 * - a collector whose store is locked (acks that are slow, then fail) costs callers nothing: the WAL
 *   absorbs the backlog and every event arrives exactly once after the store is free again.
 */
const ISSUER = 'https://id.example.com/realms/pressure';
const AUDIENCE = 'https://billing.pressure.example.com/mcp';

function policyYaml(namespace: string): string {
  return auditedBillingYaml({ namespace, issuer: ISSUER, audience: AUDIENCE, policyName: 'pressure' });
}

interface Rig {
  readonly namespace: string;
  readonly collector: CollectorUnderTest;
  readonly sidecar: SidecarProcess;
  readonly upstream: RecordingUpstream;
  readonly jwks: JsonServer;
  call(nonce: string, padding?: number): Promise<{ status: number; body: string }>;
}

async function rig(walMaxBytes: string): Promise<Rig> {
  const admin = adminKubeConfig();
  const namespace = await createNamespace(admin, 'audit-pressure');
  const dir = mkdtempSync(join(inject('scratchDir'), 'audit-pressure-'));
  const tokenFile = join(dir, 'collector-token');
  writeFileSync(tokenFile, await sidecarToken(admin, namespace, 'billing'));
  writeFileSync(join(dir, 'policy.yaml'), policyYaml(namespace));
  const key = await signingKey('ES256', 'pressure-1');
  const jwks = await startJsonServer();
  jwks.serve('/jwks', jwksOf(key));
  const upstream = await startRecordingUpstream();
  const collector = await startCollector({ mode: 'child', flags: { 'query-auth': 'none' } });
  const sidecar = await sidecarProcess({
    args: [
      ...[
        '--policy',
        join(dir, 'policy.yaml'),
        '--upstream',
        upstream.url,
        '--jwks-uri',
        `${jwks.origin}/jwks`,
      ],
      ...['--audit-wal', join(dir, 'wal'), '--audit-wal-max-bytes', walMaxBytes],
      ...['--collector-url', collector.url, '--collector-token-file', tokenFile, '--log-level', 'warn'],
    ],
  });
  const now = Math.floor(Date.now() / 1000);
  const token = await signToken(key, {
    iss: ISSUER,
    aud: AUDIENCE,
    sub: 'alice',
    client_id: 'pressure-agent',
    iat: now,
    exp: now + 3600,
  });
  return {
    namespace,
    collector,
    sidecar,
    upstream,
    jwks,
    async call(nonce, padding = 0) {
      return rawToolCall(sidecar.url, token, 'read_invoice', { nonce, padding: 'x'.repeat(padding) });
    },
  };
}

function forwardedNonces(upstream: RecordingUpstream): Set<string> {
  return new Set(
    upstream.requests
      .map((r) => (r.body as { params?: { arguments?: { nonce?: string } } }).params?.arguments?.nonce)
      .filter((n): n is string => n !== undefined),
  );
}

/** Decisions and outcomes of tool calls (the sidecar also records the policy it loaded). */
function cstoredEvents(events: readonly AuditEvent[]): AuditEvent[] {
  return events.filter((e) => e.kind === 'call' || e.kind === 'outcome');
}

function expectExactlyOnce(events: readonly AuditEvent[]): void {
  const seqs = events.map((e) => e.seq).sort((a, b) => a - b);
  expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => i + 1));
  expect(new Set(events.map((e) => e.id)).size).toBe(events.length);
}

describe('audit pipeline under pressure', () => {
  let current: Rig | undefined;
  afterEach(async () => {
    await current?.sidecar.kill();
    await current?.collector.stop();
    await current?.upstream.close();
    await current?.jwks.close();
    current = undefined;
  });

  it('refuses calls it cannot record when the WAL is full, forwards none of them, and recovers', async () => {
    const stack = (current = await rig('1Mi'));
    await stack.collector.stop(); // unreachable from now on: nothing leaves the WAL
    await stack.sidecar.start();
    const refused: string[] = [];
    const answered: string[] = [];
    for (let i = 0; i < 2000 && refused.length < 5; i++) {
      const { status, body } = await stack.call(`full-${i}`, 8 * 1024);
      if (status === 200) answered.push(`full-${i}`);
      else {
        expect(status).toBe(503);
        expect(body).toContain('audit_unavailable');
        refused.push(`full-${i}`);
      }
    }
    expect(refused).toHaveLength(5);
    expect(answered.length).toBeGreaterThan(10);
    const forwarded = forwardedNonces(stack.upstream);
    for (const nonce of refused) expect(forwarded.has(nonce)).toBe(false);
    const ready = await fetch(`${stack.sidecar.adminUrl}/readyz`);
    expect(ready.status).toBe(503);
    expect(await ready.text()).toContain('audit log is full');

    await stack.collector.start(); // the backlog drains, calls are admitted again
    await vi.waitFor(async () => expect((await fetch(`${stack.sidecar.adminUrl}/readyz`)).status).toBe(200), {
      timeout: 30_000,
      interval: 200,
    });
    expect((await stack.call('after-drain')).status).toBe(200);
    await vi.waitFor(
      async () => {
        const events = await storedEvents(stack.collector.url, stack.namespace);
        const nonces = new Set(events.map((e) => (e.arguments as { nonce?: string } | undefined)?.nonce));
        for (const nonce of [...answered, 'after-drain']) expect(nonces.has(nonce)).toBe(true);
        for (const nonce of refused) {
          // The refusal itself is evidence too (decision denied, code audit_unavailable), never an allowed call.
          const own = events.filter((e) => (e.arguments as { nonce?: string } | undefined)?.nonce === nonce);
          expect(own.every((e) => e.decision !== 'allowed')).toBe(true);
        }
        expectExactlyOnce(events);
      },
      { timeout: 30_000, interval: 200 },
    );
  }, 120_000);

  it('keeps serving while the collector store is locked, then delivers every event exactly once', async () => {
    const stack = (current = await rig('64Mi'));
    await stack.sidecar.start();
    for (let i = 0; i < 20; i++) expect((await stack.call(`before-${i}`)).status).toBe(200);
    await vi.waitFor(
      async () =>
        expect(cstoredEvents(await storedEvents(stack.collector.url, stack.namespace))).toHaveLength(40),
      { timeout: 20_000, interval: 200 },
    );

    // Another writer holds the database: the collector's inserts wait, time out and fail; acks stall.
    const blocker = new DatabaseSync(stack.collector.sqlitePath);
    blocker.exec('BEGIN EXCLUSIVE');
    const during: number[] = [];
    const lockedUntil = Date.now() + 12_000;
    let i = 0;
    while (Date.now() < lockedUntil) {
      const started = performance.now();
      expect((await stack.call(`during-${i++}`)).status).toBe(200);
      during.push(performance.now() - started);
      await new Promise((r) => setTimeout(r, 50));
    }
    const metrics = await fetch(`${stack.sidecar.adminUrl}/metrics`).then((r) => r.text());
    expect(metrics).toMatch(/portcullis_audit_batches_total\{result="unavailable"\} [1-9]/);
    blocker.exec('COMMIT');
    blocker.close();

    await vi.waitFor(
      async () => {
        const events = await storedEvents(stack.collector.url, stack.namespace);
        expect(cstoredEvents(events)).toHaveLength(40 + 2 * i); // a decision and an outcome per call
        expectExactlyOnce(events);
      },
      { timeout: 60_000, interval: 200 },
    );
    // Callers did not wait for the collector: no call took anywhere near the lock's duration.
    expect(Math.max(...during)).toBeLessThan(2_000);
  }, 120_000);
});
