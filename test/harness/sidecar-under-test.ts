import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import type { KubeConfig } from '@kubernetes/client-node';
import { MemoryAuditSink } from '../../sidecar/audit/sink.ts';
import { sidecarConfigSchema, type SidecarConfigInput } from '../../sidecar/config.ts';
import { startSidecar, type RunningSidecar, type StartOptions } from '../../sidecar/start.ts';
import { jwksOf, signingKey, signToken, type SigningKey } from '../fixtures/auth/signing-keys.ts';
import { startJsonServer, type JsonServer } from '../fixtures/auth/json-server.ts';

/**
 * A real sidecar in this process, in front of a real upstream, with a real JWKS on loopback. Its policy
 * lives in a temporary copy of a fixture directory so tests can edit it (hot reload) without touching
 * the repository. Logs and audit events are captured so tests can look for what must never appear.
 */
export interface SidecarUnderTest {
  readonly sidecar: RunningSidecar;
  readonly url: string;
  readonly policyDir: string;
  readonly audit: MemoryAuditSink;
  /** The JWKS the client tokens are signed with (an identity provider trusting this issuer fetches it). */
  readonly jwksUri: string;
  /** The key client tokens are signed with, for tests that hand-craft token text (signRaw). */
  readonly signingKey: SigningKey;
  /** Every log line the sidecar wrote. */
  readonly logs: string[];
  token(claims: Record<string, unknown>): Promise<string>;
  stop(): Promise<void>;
}

export const ISSUER = 'https://id.example.com/realms/acme';

export async function startSidecarUnderTest(options: {
  readonly policyFixture: string;
  readonly upstream: Pick<SidecarConfigInput, 'upstreamUrl' | 'upstreamCommand' | 'upstreamSocket'>;
  readonly audience: string;
  readonly config?: Partial<SidecarConfigInput>;
  /** Credentials for `policySource: 'kubernetes'` (e.g. the server's service-account token). */
  readonly kube?: KubeConfig;
  /** The egress proxy's DNS resolver and dialer (tests: loopback only, no real DNS). */
  readonly egress?: StartOptions['egress'];
  /** The sidecar's wall clock (policy staleness, token expiry, sessions); tokens are signed in real time. */
  readonly clock?: () => number;
  /** The least level captured in `logs`: 'debug' (default) keeps everything; long runs keep only errors. */
  readonly logLevel?: 'debug' | 'error';
}): Promise<SidecarUnderTest> {
  const policyDir = await mkdtemp(join(tmpdir(), 'portcullis-policy-'));
  await cp(join(import.meta.dirname, '../fixtures/policies', options.policyFixture), policyDir, {
    recursive: true,
  });
  const key: SigningKey = await signingKey('ES256', 'test-key-1');
  const jwks: JsonServer = await startJsonServer();
  jwks.serve('/jwks', jwksOf(key));
  const logs: string[] = [];
  const log = pino(
    { level: options.logLevel ?? 'debug' },
    new Writable({
      write(chunk: Buffer, _encoding, done) {
        logs.push(chunk.toString('utf8'));
        done();
      },
    }),
  );
  const audit = new MemoryAuditSink();
  const config = sidecarConfigSchema.parse({
    listen: '127.0.0.1:0',
    adminListen: '127.0.0.1:0',
    egressListen: '127.0.0.1:0',
    policyFiles: [policyDir],
    jwksUri: `${jwks.origin}/jwks`,
    ...options.upstream,
    ...options.config,
  });
  const sidecar = await startSidecar(config, {
    log,
    audit,
    childEnv: { PATH: process.env['PATH'] ?? '' },
    ...(options.clock ? { clock: options.clock } : {}),
    ...(options.kube ? { kube: options.kube } : {}),
    ...(options.egress ? { egress: options.egress } : {}),
  });
  const now = () => Math.floor(Date.now() / 1000);
  return {
    sidecar,
    url: sidecar.url,
    policyDir,
    audit,
    jwksUri: `${jwks.origin}/jwks`,
    signingKey: key,
    logs,
    token: (claims) =>
      signToken(key, { iss: ISSUER, aud: options.audience, iat: now(), exp: now() + 300, ...claims }),
    async stop() {
      await sidecar.stop();
      await jwks.close();
      await rm(policyDir, { recursive: true, force: true });
    },
  };
}
