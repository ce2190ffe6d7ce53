import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { resolveAccess } from './audit-credentials.ts';
import { AuditError } from './audit-errors.ts';
import type { AuditOptions } from './audit-flags.ts';

const dir = mkdtempSync(join(tmpdir(), 'portcullis-audit-credentials-'));

function kubeconfig(
  name: string,
  users: Record<string, object>,
  contexts: Record<string, { user: string; namespace?: string }>,
  current: string,
): string {
  const path = join(dir, name);
  writeFileSync(
    path,
    stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'c', cluster: { server: 'https://127.0.0.1:6443' } }],
      users: Object.entries(users).map(([user, spec]) => ({ name: user, user: spec })),
      contexts: Object.entries(contexts).map(([context, spec]) => ({
        name: context,
        context: { cluster: 'c', ...spec },
      })),
      'current-context': current,
    }),
  );
  return path;
}

const tokens = kubeconfig(
  'tokens',
  { alice: { token: 'alice-token' }, bob: { token: 'bob-token' } },
  { work: { user: 'alice', namespace: 'finance' }, other: { user: 'bob' } },
  'work',
);
const certs = kubeconfig(
  'certs',
  { root: { 'client-certificate-data': 'AAAA', 'client-key-data': 'AAAA' } },
  { admin: { user: 'root' } },
  'admin',
);

const defaults: Pick<AuditOptions, 'credentials' | 'namespace'> = {
  credentials: {},
  namespace: { kind: 'default' },
};

async function refused(options: Partial<typeof defaults>, env: Record<string, string> = {}): Promise<string> {
  const error = await resolveAccess({ ...defaults, ...options }, env).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(AuditError);
  expect((error as AuditError).exitCode).toBe(1);
  return (error as AuditError).message;
}

describe('resolveAccess', () => {
  it("takes the current kubeconfig user's token and context namespace, as kubectl does", async () => {
    expect(await resolveAccess(defaults, { KUBECONFIG: tokens })).toEqual({
      token: 'alice-token',
      namespace: 'finance',
    });
    expect(await resolveAccess({ ...defaults, credentials: { kubeconfig: tokens } }, {})).toEqual({
      token: 'alice-token',
      namespace: 'finance',
    });
  });

  it('uses --context, and "default" when the context names no namespace', async () => {
    expect(
      await resolveAccess({ ...defaults, credentials: { kubeconfig: tokens, context: 'other' } }, {}),
    ).toEqual({
      token: 'bob-token',
      namespace: 'default',
    });
    expect(await refused({ credentials: { kubeconfig: tokens, context: 'nope' } })).toContain(
      'context "nope"',
    );
  });

  it('puts -n and -A over the context namespace', async () => {
    const env = { KUBECONFIG: tokens };
    expect(
      (await resolveAccess({ ...defaults, namespace: { kind: 'named', name: 'ops' } }, env)).namespace,
    ).toBe('ops');
    expect((await resolveAccess({ ...defaults, namespace: { kind: 'all' } }, env)).namespace).toBeUndefined();
  });

  it('reads $KUBECONFIG as a list, skipping missing files, and ~/.kube/config without it', async () => {
    const env = { KUBECONFIG: `${join(dir, 'missing')}:${tokens}:${certs}` };
    expect(await resolveAccess(defaults, env)).toEqual({ token: 'alice-token', namespace: 'finance' });
    const home = mkdtempSync(join(dir, 'home-'));
    const kubeDir = join(home, '.kube');
    mkdirSync(kubeDir);
    writeFileSync(join(kubeDir, 'config'), readFileSync(tokens));
    expect(await resolveAccess(defaults, { HOME: home })).toEqual({
      token: 'alice-token',
      namespace: 'finance',
    });
  });

  it('prefers a token given outright, and then needs no kubeconfig', async () => {
    expect(
      await resolveAccess({ ...defaults, credentials: { token: 'given' } }, { KUBECONFIG: tokens }),
    ).toEqual({
      token: 'given',
      namespace: 'finance',
    });
    expect(
      await resolveAccess(
        { ...defaults, credentials: { token: 'given' } },
        { KUBECONFIG: join(dir, 'missing') },
      ),
    ).toEqual({
      token: 'given',
      namespace: 'default',
    });
    const file = join(dir, 'token');
    writeFileSync(file, 'from-file\n');
    expect(await resolveAccess({ credentials: { tokenFile: file }, namespace: { kind: 'all' } }, {})).toEqual(
      {
        token: 'from-file',
        namespace: undefined,
      },
    );
  });

  it('says why --token-file cannot be used', async () => {
    expect(await refused({ credentials: { tokenFile: join(dir, 'none') } })).toContain(
      `cannot read --token-file`,
    );
    const empty = join(dir, 'empty');
    writeFileSync(empty, '\n');
    expect(await refused({ credentials: { tokenFile: empty } })).toContain('is empty');
  });

  it('goes without a token when the kubeconfig user has none, and says why (for a collector that wants one)', async () => {
    const access = await resolveAccess(defaults, { KUBECONFIG: certs });
    expect(access).toEqual({
      noToken: 'kubeconfig user root authenticates with a client certificate',
      namespace: 'default',
    });
  });

  it('goes without a token and without a kubeconfig, and says why', async () => {
    const access = await resolveAccess(defaults, { HOME: mkdtempSync(join(dir, 'empty-home-')) });
    expect(access.token).toBeUndefined();
    expect(access.noToken).toMatch(/^no token given, and no kubeconfig found/);
    expect(access.namespace).toBe('default');
  });

  it('goes without a token when the exec plugin fails, naming the user and the failure', async () => {
    const failing = kubeconfig(
      'exec',
      {
        cloud: {
          exec: { apiVersion: 'client.authentication.k8s.io/v1', command: join(dir, 'no-such-plugin') },
        },
      },
      { cloud: { user: 'cloud' } },
      'cloud',
    );
    const access = await resolveAccess(defaults, { KUBECONFIG: failing });
    expect(access.token).toBeUndefined();
    expect(access.noToken).toMatch(/^cannot get a token for kubeconfig user cloud: /);
  });

  it('still refuses a kubeconfig or context the caller named that does not load', async () => {
    expect(await refused({ credentials: { kubeconfig: join(dir, 'named-but-missing') } })).toContain(
      'named-but-missing',
    );
    expect(await refused({ credentials: { kubeconfig: certs, context: 'nope' } })).toContain(
      'context "nope"',
    );
  });
});
