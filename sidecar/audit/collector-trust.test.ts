import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { request, type Dispatcher } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { projectedVolume, type ProjectedVolume } from '../../test/harness/projected-volume.ts';
import { createCa, issueServingCert, type TestCa } from '../../test/harness/serving-certs.ts';
import { createCollectorTrust, CollectorTrustError, type CollectorTrust } from './collector-trust.ts';

// Two real https servers, each with a certificate of its own throwaway CA: the collector before (CA a)
// and after (CA b) a CA rotation. The poll is set to a minute, so what follows a swap within seconds
// followed the directory watch.
let dir: string;
let caA: TestCa;
let caB: TestCa;
let serverA: Server;
let serverB: Server;
let originA: string;
let originB: string;
/** Answers of serverA wait for this long (a batch in flight during a swap). */
let delayMs = 0;

async function httpsServer(ca: TestCa, name: string): Promise<{ server: Server; origin: string }> {
  const leaf = await issueServingCert(ca, dir, name, ['IP:127.0.0.1']);
  const server = createServer({ cert: leaf.certPem, key: leaf.keyPem }, (_req, res) => {
    setTimeout(() => res.writeHead(200).end(name), name === 'a' ? delayMs : 0);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, origin: `https://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'portcullis-collector-trust-'));
  [caA, caB] = await Promise.all([createCa(dir, 'ca-a'), createCa(dir, 'ca-b')]);
  ({ server: serverA, origin: originA } = await httpsServer(caA, 'a'));
  ({ server: serverB, origin: originB } = await httpsServer(caB, 'b'));
});
afterAll(async () => {
  for (const server of [serverA, serverB]) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
  await rm(dir, { recursive: true, force: true });
});

/** 'ok', or 'tls' when the handshake refused the server's certificate. */
async function reach(origin: string, dispatcher: Dispatcher): Promise<string> {
  try {
    const response = await request(origin, { dispatcher, headersTimeout: 5_000 });
    await response.body.text();
    return response.statusCode === 200 ? 'ok' : String(response.statusCode);
  } catch (error) {
    const code = (error as { code?: string }).code ?? '';
    return /CERT|SIGNATURE|SELF_SIGNED|UNABLE_TO/.test(code) ? 'tls' : `error ${code}`;
  }
}

async function until(what: string, check: () => boolean, timeoutMs = 3_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

describe('the collector trust', () => {
  let volume: ProjectedVolume;
  let trust: CollectorTrust | undefined;
  let loaded: string[][];
  let invalid: string[];

  const start = async (caFile: string) => {
    loaded = [];
    invalid = [];
    trust = await createCollectorTrust({
      caFile,
      pollMs: 60_000,
      onLoaded: (certificates) => loaded.push(certificates.map((c) => c.subject)),
      onInvalid: (message) => invalid.push(message),
      onWatchError: (message) => invalid.push(`watch: ${message}`),
    });
    return trust;
  };

  afterEach(async () => {
    delayMs = 0;
    await trust?.close();
    trust = undefined;
  });

  it('trusts the file alone: its CA, not the other', async () => {
    volume = await projectedVolume(await mkdtemp(join(dir, 'vol-')), { 'ca.crt': caA.certPem });
    const t = await start(volume.path('ca.crt'));
    expect(loaded).toEqual([['CN=ca-a']]);
    expect(await reach(originA, t.dispatcher())).toBe('ok');
    expect(await reach(originB, t.dispatcher())).toBe('tls');
  });

  it('follows a kubelet ..data swap at once (no poll), for new connections', async () => {
    volume = await projectedVolume(await mkdtemp(join(dir, 'vol-')), { 'ca.crt': caA.certPem });
    const t = await start(volume.path('ca.crt'));
    expect(await reach(originA, t.dispatcher())).toBe('ok');

    await volume.publish({ 'ca.crt': caB.certPem });
    await until('the new CA', () => loaded.length === 2);
    expect(loaded[1]).toEqual(['CN=ca-b']);
    expect(await reach(originB, t.dispatcher())).toBe('ok');
    expect(await reach(originA, t.dispatcher())).toBe('tls');

    // Again: the watch outlives the first swap.
    await volume.publish({ 'ca.crt': `${caB.certPem}${caA.certPem}` });
    await until('the bundle of both', () => loaded.length === 3);
    expect(await reach(originA, t.dispatcher())).toBe('ok');
    expect(invalid).toEqual([]);
  });

  it('lets a request in flight finish on the old connection when the CA changes under it', async () => {
    volume = await projectedVolume(await mkdtemp(join(dir, 'vol-')), { 'ca.crt': caA.certPem });
    const t = await start(volume.path('ca.crt'));
    delayMs = 500;
    const inFlight = reach(originA, t.dispatcher());
    await sleep(100);
    await volume.publish({ 'ca.crt': caB.certPem });
    await until('the new CA', () => loaded.length === 2);
    expect(await inFlight).toBe('ok');
  });

  it('keeps the last good CA when the new file is not a bundle, and reports it once', async () => {
    volume = await projectedVolume(await mkdtemp(join(dir, 'vol-')), { 'ca.crt': caA.certPem });
    const t = await start(volume.path('ca.crt'));
    const before = t.dispatcher();
    await volume.publish({
      'ca.crt': '-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n',
    });
    await until('the refusal', () => invalid.length === 1);
    expect(invalid[0]).toMatch(/does not parse/);
    await t.reload();
    expect(invalid).toHaveLength(1);
    expect(t.dispatcher()).toBe(before);
    expect(await reach(originA, t.dispatcher())).toBe('ok');

    await volume.publish({ 'ca.crt': caB.certPem });
    await until('the good CA after the bad one', () => loaded.length === 2);
    expect(await reach(originB, t.dispatcher())).toBe('ok');
  });

  it('follows a plain file rewritten in place too (not a mounted volume)', async () => {
    const file = join(dir, 'plain-ca.crt');
    await writeFile(file, caA.certPem);
    loaded = [];
    invalid = [];
    trust = await createCollectorTrust({
      caFile: file,
      pollMs: 60_000,
      onLoaded: (certificates) => loaded.push(certificates.map((c) => c.subject)),
      onInvalid: (message) => invalid.push(message),
      onWatchError: () => undefined,
    });
    await writeFile(file, caB.certPem);
    await until('the new CA', () => loaded.length === 2);
    expect(await reach(originB, trust.dispatcher())).toBe('ok');
  });

  it('refuses to start without a usable file: missing, or not PEM (a typed error)', async () => {
    for (const [file, says] of [
      [join(dir, 'missing.crt'), /cannot read/],
      [join(dir, 'garbage.crt'), /no PEM certificate/],
    ] as const) {
      await writeFile(join(dir, 'garbage.crt'), 'not a certificate');
      const error = await start(file).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(CollectorTrustError);
      expect((error as Error).message).toMatch(says);
    }
  });
});
