/**
 * What a minted upstream token costs per call, per key type: the sidecar's signer (node:crypto) beside
 * jose's SignJWT (WebCrypto) producing the same token, and the credential as the forward stage gets it;
 * and what the event loop's own thread pays per token (an RSA key signs on the thread pool, minter.ts).
 * Run: node bench/micro/mint.ts  (best of 7 rounds; the machine's load shows).
 */
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { SignJWT } from 'jose';
import { mintToken, type MintRequest } from '../../sidecar/upstream-identity/minter.ts';
import { parseSigningKey } from '../../sidecar/upstream-identity/signing-key.ts';

const request: MintRequest = {
  issuer: 'https://billing.mcp.example.com/mcp',
  audience: 'https://billing-api.internal.example.com',
  ttlSeconds: 30,
  principal: {
    user: 'alice',
    agent: 'support-copilot',
    tenant: 'acme',
    groups: ['support'],
    scopes: ['billing', 'billing:invoices:read'],
    claims: { sub: 'alice', azp: 'support-copilot', tenant_id: 'acme' },
  },
  scopes: ['tool:read_invoice', 'invoices:read'],
};

/**
 * Per call, one at a time, best of 7 rounds: the wall time, and the CPU of the event loop's own thread
 * (what the other calls of a sidecar wait for; an RSA signature runs on the pool beside it).
 */
async function costPerCall(
  run: () => unknown,
  iterations: number,
): Promise<{ wallMicros: number; loopCpuMicros: number }> {
  for (let i = 0; i < iterations / 10; i++) await run();
  let wallMicros = Infinity;
  let loopCpuMicros = Infinity;
  for (let round = 0; round < 7; round++) {
    const start = performance.now();
    const cpuBefore = process.threadCpuUsage();
    for (let i = 0; i < iterations; i++) {
      const result = run();
      if (result instanceof Promise) await result;
    }
    const cpu = process.threadCpuUsage(cpuBefore);
    wallMicros = Math.min(wallMicros, ((performance.now() - start) * 1000) / iterations);
    loopCpuMicros = Math.min(loopCpuMicros, (cpu.user + cpu.system) / iterations);
  }
  return { wallMicros, loopCpuMicros };
}

const generate = generateKeyPairSync as (type: string, options: object) => { privateKey: KeyObject };
for (const [name, type, options] of [
  ['EC P-256 (ES256)', 'ec', { namedCurve: 'P-256' }],
  ['Ed25519 (EdDSA)', 'ed25519', {}],
  ['RSA 2048 (RS256)', 'rsa', { modulusLength: 2048 }],
] as const) {
  const key = await parseSigningKey(
    generate(type, options).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
  );
  const now = Date.now();
  const ours = await costPerCall(() => mintToken(key, request, now), 2000);
  const viaJose = await costPerCall(
    () =>
      new SignJWT({ sub: 'alice', act: { sub: 'support-copilot' }, scope: 'tool:read_invoice' })
        .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'at+jwt' })
        .setIssuer(request.issuer)
        .setAudience(request.audience)
        .setIssuedAt()
        .setExpirationTime('30s')
        .setJti(crypto.randomUUID())
        .sign(key.privateKey),
    2000,
  );
  console.log(
    `${name.padEnd(18)} mintToken ${ours.wallMicros.toFixed(1)} µs (event loop's CPU ${ours.loopCpuMicros.toFixed(1)} µs)   jose SignJWT ${viaJose.wallMicros.toFixed(1)} µs`,
  );
}
