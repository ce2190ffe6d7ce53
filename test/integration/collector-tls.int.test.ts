import { auditedBillingYaml } from '../fixtures/audited-billing.ts';
import { execFile } from 'node:child_process';
import { copyFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect, type PeerCertificate } from 'node:tls';
import { X509Certificate } from 'node:crypto';
import { Agent, Client, fetch as undiciFetch } from 'undici';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { AuditEvent } from '../../api/audit/v1/event.ts';
import { runCli, type CliIo } from '../../cli/run.ts';
import { jwksOf, signingKey, signToken, type SigningKey } from '../fixtures/auth/signing-keys.ts';
import { startJsonServer, type JsonServer } from '../fixtures/auth/json-server.ts';
import {
  adminKubeConfig,
  createNamespace,
  sidecarToken,
  startCollector,
  type CollectorUnderTest,
} from '../harness/collector.ts';
import { waitFor } from '../harness/operator-e2e.ts';
import { startRecordingUpstream, type RecordingUpstream } from '../harness/recording-upstream.ts';
import { createCa, issueServingCert, type ServingCert, type TestCa } from '../harness/serving-certs.ts';
import { rawToolCall } from '../harness/sidecar-clients.ts';
import { sidecarProcess, type SidecarProcess } from '../harness/sidecar-process.ts';
import { parseSamples, sampleValue } from '../harness/prometheus-text.ts';
import { projectedVolume, type ProjectedVolume } from '../harness/projected-volume.ts';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * The collector over HTTPS (--tls-cert-file/--tls-key-file), with real certificates and real sidecar
 * processes shipping through --collector-ca-file: events arrive over TLS, a rotated certificate serves
 * new connections without dropping open ones, a half-written rotation never replaces the good pair,
 * and a sidecar that trusts another CA ships nothing.
 */
const ISSUER = 'https://id.example.com/realms/tls';
const AUDIENCE = 'https://billing.tls.example.com/mcp';

function policyYaml(namespace: string): string {
  return auditedBillingYaml({ namespace, issuer: ISSUER, audience: AUDIENCE, policyName: 'tls' });
}

/** The leaf certificate a fresh TLS connection to `url` is served (trusting `ca`). */
async function servedCertificate(url: string, ca: string): Promise<PeerCertificate> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect({ host: hostname, port: Number(port), ca, servername: undefined }, () => {
      const peer = socket.getPeerCertificate();
      socket.end();
      resolve(peer);
    });
    socket.once('error', reject);
    socket.setTimeout(5_000, () => socket.destroy(new Error('TLS handshake timed out')));
  });
}

const fingerprintOf = (pem: string) => new X509Certificate(pem).fingerprint256;

function quietIo(): { io: CliIo; err: () => string } {
  const err: string[] = [];
  return {
    io: {
      out: () => undefined,
      err: (text) => void err.push(text),
      env: {},
      childEnv: {},
      untilShutdown: () => Promise.resolve(),
    },
    err: () => err.join(''),
  };
}

describe('collector TLS', () => {
  let dir: string;
  let namespace: string;
  let caA: TestCa;
  let caB: TestCa;
  let first: ServingCert;
  let rotated: ServingCert;
  let certFile: string;
  let keyFile: string;
  let collector: CollectorUnderTest;
  let httpsUrl: string;
  let trustA: Agent;
  let key: SigningKey;
  let jwks: JsonServer;
  let upstream: RecordingUpstream;
  let token: string;
  const sidecars: SidecarProcess[] = [];

  /** A sidecar process shipping to the collector over HTTPS, trusting `ca`. */
  async function shippingSidecar(name: string, ca: TestCa): Promise<SidecarProcess> {
    const own = mkdtempSync(join(dir, `${name}-`));
    const tokenFile = join(own, 'collector-token');
    writeFileSync(tokenFile, await sidecarToken(adminKubeConfig(), namespace, 'billing'));
    const policyFile = join(own, 'policy.yaml');
    writeFileSync(policyFile, policyYaml(namespace));
    const sidecar = await sidecarProcess({
      args: [
        ...['--policy', policyFile, '--upstream', upstream.url, '--jwks-uri', `${jwks.origin}/jwks`],
        ...['--audit-wal', join(own, 'wal'), '--collector-url', httpsUrl],
        ...['--collector-token-file', tokenFile, '--collector-ca-file', ca.certFile],
        ...['--log-level', 'warn'],
      ],
    });
    sidecars.push(sidecar);
    await sidecar.start();
    return sidecar;
  }

  /** Events of the namespace through the query API, over HTTPS, trusting CA a. */
  async function stored(): Promise<AuditEvent[]> {
    const query = new URLSearchParams({ namespace, order: 'asc', limit: '1000' });
    const response = await undiciFetch(`${httpsUrl}/v1/events?${query}`, { dispatcher: trustA });
    expect(response.status).toBe(200);
    return ((await response.json()) as { events: AuditEvent[] }).events;
  }

  async function call(sidecar: SidecarProcess, nonce: string): Promise<void> {
    const { status } = await rawToolCall(sidecar.url, token, 'read_invoice', { nonce });
    expect(status).toBe(200);
  }

  const hasNonce = (events: AuditEvent[], nonce: string) => JSON.stringify(events).includes(nonce);

  beforeAll(async () => {
    dir = mkdtempSync(join(inject('scratchDir'), 'collector-tls-'));
    namespace = await createNamespace(adminKubeConfig(), 'collector-tls');
    [caA, caB] = await Promise.all([createCa(dir, 'audit-ca-a'), createCa(dir, 'audit-ca-b')]);
    [first, rotated] = await Promise.all([
      issueServingCert(caA, dir, 'collector-1'),
      issueServingCert(caA, dir, 'collector-2'),
    ]);
    // The mounted Secret: the collector reads these two paths; rotation rewrites them.
    const mounted = mkdtempSync(join(dir, 'mounted-'));
    certFile = join(mounted, 'tls.crt');
    keyFile = join(mounted, 'tls.key');
    copyFileSync(first.certFile, certFile);
    copyFileSync(first.keyFile, keyFile);
    collector = await startCollector({
      flags: { 'query-auth': 'none', 'tls-cert-file': certFile, 'tls-key-file': keyFile },
    });
    httpsUrl = collector.running!.url;
    trustA = new Agent({ connect: { ca: caA.certPem } });

    key = await signingKey('ES256', 'tls-1');
    jwks = await startJsonServer();
    jwks.serve('/jwks', jwksOf(key));
    upstream = await startRecordingUpstream();
    const now = Math.floor(Date.now() / 1000);
    token = await signToken(key, {
      iss: ISSUER,
      aud: AUDIENCE,
      sub: 'alice',
      client_id: 'tls-agent',
      iat: now,
      exp: now + 3600,
    });
  });

  afterAll(async () => {
    for (const sidecar of sidecars) await sidecar.kill();
    await collector?.stop();
    await trustA?.close();
    await upstream?.close();
    await jwks?.close();
  });

  it('serves ingest and query over HTTPS; a real sidecar with --collector-ca-file ships to it', async () => {
    expect(httpsUrl).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const served = await servedCertificate(httpsUrl, caA.certPem);
    expect(served.fingerprint256).toBe(fingerprintOf(first.certPem));

    const sidecar = await shippingSidecar('trusting', caA);
    await call(sidecar, 'over-tls-1');
    await waitFor('the event shipped over TLS', stored, (events) => hasNonce(events, 'over-tls-1'), 20_000);
  });

  it('answers no plain HTTP on the TLS port', async () => {
    const plain = await fetch(`${collector.url}/v1/sidecars`).then(
      (response) => response.status,
      () => 'refused',
    );
    expect(plain).not.toBe(200);
  });

  it('refuses a client that trusts another CA, and such a sidecar ships nothing', async () => {
    await expect(servedCertificate(httpsUrl, caB.certPem)).rejects.toThrow(/certificate/i);

    const distrusting = await shippingSidecar('distrusting', caB);
    await call(distrusting, 'wrong-ca-1');
    await waitFor(
      'the sidecar to fail shipping',
      () => fetch(`${distrusting.adminUrl}/metrics`).then((r) => r.text()),
      (text) => /^portcullis_audit_batches_total\{result="unavailable"\} [1-9]/m.test(text),
      20_000,
    );
    const metrics = await fetch(`${distrusting.adminUrl}/metrics`).then((r) => r.text());
    expect(metrics).not.toMatch(/^portcullis_audit_batches_total\{result="ok"\} [1-9]/m);
    expect(metrics).toMatch(/^portcullis_audit_shipped_events_total 0$/m);
    expect(hasNonce(await stored(), 'wrong-ca-1')).toBe(false);
  });

  it('serves a rotated certificate to new connections without dropping open ones', async () => {
    const origin = new URL(httpsUrl).origin;
    const open = new Client(origin, { connect: { ca: caA.certPem }, keepAliveTimeout: 60_000 });
    let connections = 0;
    open.on('connect', () => connections++);
    try {
      expect((await open.request({ path: '/v1/sidecars', method: 'GET' })).statusCode).toBe(200);
      expect(connections).toBe(1);

      // A rotation caught half-way (new key, old certificate) does not load: the good pair stays.
      copyFileSync(rotated.keyFile, keyFile);
      await waitFor(
        'the collector to notice the mismatched pair',
        () => Promise.resolve(collector.logs().join('\n')),
        (logs) => logs.includes('do not load'),
        5_000,
      );
      expect((await servedCertificate(httpsUrl, caA.certPem)).fingerprint256).toBe(
        fingerprintOf(first.certPem),
      );

      copyFileSync(rotated.certFile, certFile);
      const started = Date.now();
      await waitFor(
        'new connections to get the rotated certificate',
        () => servedCertificate(httpsUrl, caA.certPem),
        (peer) => peer.fingerprint256 === fingerprintOf(rotated.certPem),
        5_000,
        100,
      );
      const reloadMs = Date.now() - started;
      expect(reloadMs).toBeLessThan(3_000);

      // The connection opened before the rotation still works, and it is the same connection.
      const again = await open.request({ path: '/v1/sidecars', method: 'GET' });
      expect(again.statusCode).toBe(200);
      await again.body.text();
      expect(connections).toBe(1);
    } finally {
      await open.close();
    }

    // A sidecar that starts now (new connections) trusts the rotated certificate through the same CA.
    const late = await shippingSidecar('after-rotation', caA);
    await call(late, 'after-rotation-1');
    await waitFor(
      'the event shipped after the rotation',
      stored,
      (events) => hasNonce(events, 'after-rotation-1'),
      20_000,
    );
  });

  it('is readable by plain fetch with NODE_EXTRA_CA_CERTS, how the chart runs the operator', async () => {
    // The operator reads GET /v1/sidecars with the global fetch; the chart mounts the CA and sets this.
    const read = (env: Record<string, string>) =>
      new Promise<string>((resolve) => {
        execFile(
          process.execPath,
          [
            '-e',
            `fetch(process.argv[1] + '/v1/sidecars').then((r) => console.log(r.status), (e) => console.log(e.cause?.code ?? e.message))`,
            httpsUrl,
          ],
          { env: { PATH: process.env['PATH'] ?? '', ...env }, timeout: 15_000 },
          (_error, stdout) => resolve(stdout.trim()),
        );
      });
    expect(await read({ NODE_EXTRA_CA_CERTS: caA.certFile })).toBe('200');
    expect(await read({})).toMatch(/CERT|SIGNATURE|self-signed/i);
    expect(await read({ NODE_EXTRA_CA_CERTS: caB.certFile })).toMatch(/CERT|SIGNATURE|self-signed/i);
  });

  it('refuses at start a key that does not match the certificate, or half a pair (exit 2)', async () => {
    const cases: { args: string[]; says: RegExp }[] = [
      {
        args: ['--tls-cert-file', first.certFile, '--tls-key-file', rotated.keyFile],
        says: /does not match/,
      },
      { args: ['--tls-cert-file', first.certFile], says: /--tls-cert-file and --tls-key-file go together/ },
      { args: ['--tls-key-file', first.keyFile], says: /go together/ },
      {
        args: ['--tls-cert-file', first.keyFile, '--tls-key-file', first.keyFile],
        says: /is not a PEM certificate/,
      },
      {
        args: ['--tls-cert-file', join(dir, 'missing.crt'), '--tls-key-file', first.keyFile],
        says: /cannot read --tls-cert-file/,
      },
    ];
    for (const { args, says } of cases) {
      const { io, err } = quietIo();
      const code = await runCli(
        ['collector', '--listen', '127.0.0.1:0', '--metrics-listen', '127.0.0.1:0', ...args],
        io,
      );
      expect({ args, code }).toEqual({ args, code: 2 });
      expect(err()).toMatch(says);
    }
  });
});

/**
 * A CA rotation end to end, with a collector process and a sidecar process, both reading their TLS files
 * from kubelet-style volumes (test/harness/projected-volume.ts) that are updated by `..data` swaps, while a
 * client calls a tool every 100 ms throughout: the sidecar's CA goes to a bundle of old and new, the
 * collector's certificate to one of the new CA (its expiry gauge follows), the sidecar's CA to the new one
 * alone, then to a file that is not PEM (refused, counted, the new CA stays). Then the collector restarts,
 * which drops every open connection as a pod roll or an idle timeout would: from here on only a sidecar
 * that re-read its CA file can ship. Every call's events must be stored, each exactly once.
 */
describe('collector TLS: a CA rotation without restarting the sidecar', () => {
  let dir: string;
  let namespace: string;
  let caA: TestCa;
  let caB: TestCa;
  let certA: ServingCert;
  let certB: ServingCert;
  let collectorTls: ProjectedVolume;
  let sidecarCa: ProjectedVolume;
  let collector: CollectorUnderTest;
  let httpsUrl: string;
  let sidecar: SidecarProcess;
  let trustBoth: Agent;
  let key: SigningKey;
  let jwks: JsonServer;
  let upstream: RecordingUpstream;
  let token: string;

  const notAfterSeconds = (pem: string) => Date.parse(new X509Certificate(pem).validTo) / 1000;
  const metricsOf = async (url: string) => parseSamples(await fetch(`${url}/metrics`).then((r) => r.text()));
  const expiryGauge = async () =>
    sampleValue(await metricsOf(collector.metricsUrl), 'portcullis_collector_tls_certificate_expiry_seconds');
  const caReloads = async (result: 'loaded' | 'invalid') =>
    sampleValue(await metricsOf(sidecar.adminUrl), 'portcullis_audit_collector_ca_reloads_total', { result });

  async function stored(): Promise<AuditEvent[]> {
    const query = new URLSearchParams({ namespace, order: 'asc', limit: '1000' });
    const response = await undiciFetch(`${httpsUrl}/v1/events?${query}`, { dispatcher: trustBoth });
    expect(response.status).toBe(200);
    return ((await response.json()) as { events: AuditEvent[] }).events;
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(inject('scratchDir'), 'collector-ca-rotation-'));
    namespace = await createNamespace(adminKubeConfig(), 'collector-ca-rotation');
    [caA, caB] = await Promise.all([createCa(dir, 'rotation-ca-a'), createCa(dir, 'rotation-ca-b')]);
    // Different lifetimes, so the expiry gauge tells which certificate is in force.
    [certA, certB] = await Promise.all([
      issueServingCert(caA, dir, 'collector-a', undefined, 7),
      issueServingCert(caB, dir, 'collector-b', undefined, 5),
    ]);
    collectorTls = await projectedVolume(join(dir, 'collector-tls'), {
      'tls.crt': certA.certPem,
      'tls.key': certA.keyPem,
    });
    sidecarCa = await projectedVolume(join(dir, 'sidecar-ca'), { 'ca.crt': caA.certPem });
    collector = await startCollector({
      mode: 'child',
      flags: {
        'query-auth': 'none',
        'tls-cert-file': collectorTls.path('tls.crt'),
        'tls-key-file': collectorTls.path('tls.key'),
      },
    });
    httpsUrl = collector.url.replace(/^http:/, 'https:');
    trustBoth = new Agent({ connect: { ca: [caA.certPem, caB.certPem] } });

    key = await signingKey('ES256', 'rotation-1');
    jwks = await startJsonServer();
    jwks.serve('/jwks', jwksOf(key));
    upstream = await startRecordingUpstream();
    const now = Math.floor(Date.now() / 1000);
    token = await signToken(key, {
      iss: ISSUER,
      aud: AUDIENCE,
      sub: 'alice',
      client_id: 'tls-agent',
      iat: now,
      exp: now + 3600,
    });

    const own = mkdtempSync(join(dir, 'sidecar-'));
    const tokenFile = join(own, 'collector-token');
    writeFileSync(tokenFile, await sidecarToken(adminKubeConfig(), namespace, 'billing'));
    const policyFile = join(own, 'policy.yaml');
    writeFileSync(policyFile, policyYaml(namespace));
    sidecar = await sidecarProcess({
      args: [
        ...['--policy', policyFile, '--upstream', upstream.url, '--jwks-uri', `${jwks.origin}/jwks`],
        ...['--audit-wal', join(own, 'wal'), '--collector-url', httpsUrl],
        ...['--collector-token-file', tokenFile, '--collector-ca-file', sidecarCa.path('ca.crt')],
        ...['--log-level', 'warn'],
      ],
    });
    await sidecar.start();
  }, 120_000);

  afterAll(async () => {
    await sidecar?.kill();
    await collector?.stop();
    await trustBoth?.close();
    await upstream?.close();
    await jwks?.close();
  });

  it('keeps auditing every call, once, through the rotation; the expiry gauge follows the certificate', async () => {
    expect(await expiryGauge()).toBe(notAfterSeconds(certA.certPem));
    expect(await caReloads('loaded')).toBe(1);

    // Calls throughout, each with its own nonce; the WAL holds their events while shipping cannot.
    const answered: string[] = [];
    const refused: string[] = [];
    let calling = true;
    const caller = (async () => {
      for (let i = 1; calling; i++) {
        const nonce = `rotation-${String(i).padStart(5, '0')}`;
        const { status } = await rawToolCall(sidecar.url, token, 'read_invoice', { nonce });
        (status === 200 ? answered : refused).push(nonce);
        await sleep(100);
      }
    })();
    const calledSince = async (count: number) => {
      const target = answered.length + count;
      await waitFor(
        'more calls',
        () => Promise.resolve(answered.length),
        (n) => n >= target,
        20_000,
      );
    };

    try {
      await calledSince(3);
      // 1. The sidecar trusts old and new.
      await sidecarCa.publish({ 'ca.crt': `${caA.certPem}${caB.certPem}` });
      await waitFor(
        'the sidecar to load the bundle',
        () => caReloads('loaded'),
        (n) => n === 2,
        10_000,
      );
      await calledSince(3);

      // 2. The collector serves a certificate of the new CA; the gauge says when it expires.
      await collectorTls.publish({ 'tls.crt': certB.certPem, 'tls.key': certB.keyPem });
      await waitFor(
        'the gauge to show the new certificate',
        expiryGauge,
        (seconds) => seconds === notAfterSeconds(certB.certPem),
        10_000,
      );
      expect((await servedCertificate(httpsUrl, caB.certPem)).fingerprint256).toBe(
        fingerprintOf(certB.certPem),
      );
      await calledSince(3);

      // 3. The sidecar trusts the new CA alone.
      await sidecarCa.publish({ 'ca.crt': caB.certPem });
      await waitFor(
        'the sidecar to load the new CA',
        () => caReloads('loaded'),
        (n) => n === 3,
        10_000,
      );
      await calledSince(3);

      // 4. A CA file that is not PEM: refused and counted; the new CA stays in force.
      await sidecarCa.publish({ 'ca.crt': 'not a certificate\n' });
      await waitFor(
        'the refusal to be counted',
        () => caReloads('invalid'),
        (n) => n === 1,
        10_000,
      );
      expect(await caReloads('loaded')).toBe(3);
      await calledSince(3);

      // 5. Every connection dropped: the sidecar must now verify the new certificate with the CA it re-read.
      await collector.restart();
      expect(await expiryGauge()).toBe(notAfterSeconds(certB.certPem));
      await calledSince(5);
    } finally {
      calling = false;
      await caller;
    }

    expect(refused).toEqual([]);
    const countsOf = (events: AuditEvent[]) => {
      const text = events.map((event) => JSON.stringify(event));
      return answered.map((nonce) => text.filter((line) => line.includes(nonce)).length);
    };
    // A call's decision and outcome can ship in different batches, so wait until every call has as many
    // events as the first: a lost or doubled event never gets there, and the assertions below say which.
    const events = await waitFor(
      'every call to be stored whole',
      stored,
      (all) => {
        const counts = countsOf(all);
        return counts.every((n) => n > 0 && n === counts[0]);
      },
      40_000,
      250,
    ).catch(async () => stored());
    // The same number of events for every call (decision and outcome): none lost, none stored twice.
    const counts = countsOf(events);
    expect(counts[0]).toBeGreaterThan(0);
    expect(new Set(counts)).toEqual(new Set([counts[0]]));
    await waitFor(
      'the WAL to be drained',
      async () => sampleValue(await metricsOf(sidecar.adminUrl), 'portcullis_audit_wal_pending_events'),
      (pending) => pending === 0,
      10_000,
    );
    const gaps = (await metricsOf(collector.metricsUrl)).filter(
      (s) => s.name === 'portcullis_collector_gap_events' && s.value > 0,
    );
    expect(gaps).toEqual([]);
  }, 90_000);
});
