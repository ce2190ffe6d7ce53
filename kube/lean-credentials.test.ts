import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { describe, expect, it } from 'vitest';
import { loadKubeCredentials } from './lean-credentials.ts';

const dir = () => mkdtempSync(join(tmpdir(), 'portcullis-creds-'));
const b64 = (text: string) => Buffer.from(text).toString('base64');

function kubeconfig(
  at: string,
  user: Record<string, unknown>,
  cluster: Record<string, unknown> = {},
  extra: Record<string, unknown> = {},
): string {
  const path = join(at, 'config');
  writeFileSync(
    path,
    stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [
        {
          name: 'c',
          cluster: { server: 'https://10.0.0.1:6443', 'certificate-authority-data': b64('CA'), ...cluster },
        },
      ],
      users: [{ name: 'u', user }],
      contexts: [
        { name: 'ctx', context: { cluster: 'c', user: 'u' } },
        { name: 'other', context: { cluster: 'c', user: 'v' } },
      ],
      'current-context': 'ctx',
      ...extra,
    }),
  );
  return path;
}

describe('lean Kubernetes credentials', () => {
  it('reads a token kubeconfig: server, CA and bearer token', async () => {
    const path = kubeconfig(dir(), { token: 's3cret' });
    const creds = (await loadKubeCredentials({ kubeconfig: path, env: {} }))!;
    expect(creds.server).toBe('https://10.0.0.1:6443');
    expect(creds.tls.ca?.toString()).toBe('CA');
    expect(await creds.headers()).toEqual({ authorization: 'Bearer s3cret' });
  });

  it('resolves certificate and key files relative to the kubeconfig', async () => {
    const at = dir();
    writeFileSync(join(at, 'ca.pem'), 'CAFILE');
    writeFileSync(join(at, 'client.pem'), 'CERT');
    writeFileSync(join(at, 'client.key'), 'KEY');
    const path = kubeconfig(
      at,
      { 'client-certificate': 'client.pem', 'client-key': 'client.key' },
      {
        'certificate-authority-data': undefined,
        'certificate-authority': 'ca.pem',
        'tls-server-name': 'api',
      },
    );
    const creds = (await loadKubeCredentials({ kubeconfig: path, env: {} }))!;
    expect(creds.tls.ca?.toString()).toBe('CAFILE');
    expect(creds.tls.cert?.toString()).toBe('CERT');
    expect(creds.tls.key?.toString()).toBe('KEY');
    expect(creds.tls.servername).toBe('api');
    expect(await creds.headers()).toEqual({});
  });

  it('re-reads a token file once its minute is up (rotation)', async () => {
    const at = dir();
    writeFileSync(join(at, 'token'), 'first\n');
    let now = 0;
    const creds = (await loadKubeCredentials({
      kubeconfig: kubeconfig(at, { tokenFile: 'token' }),
      env: {},
      clock: () => now,
    }))!;
    expect(await creds.headers()).toEqual({ authorization: 'Bearer first' });
    writeFileSync(join(at, 'token'), 'second\n');
    now = 59_000;
    expect(await creds.headers()).toEqual({ authorization: 'Bearer first' });
    now = 60_000;
    expect(await creds.headers()).toEqual({ authorization: 'Bearer second' });
  });

  it('uses $KUBECONFIG when no --kubeconfig is given, and --context over current-context', async () => {
    const at = dir();
    const path = kubeconfig(
      at,
      { token: 't' },
      {},
      {
        users: [
          { name: 'u', user: { token: 't' } },
          { name: 'v', user: { token: 'v' } },
        ],
      },
    );
    expect((await loadKubeCredentials({ env: { KUBECONFIG: path } }))?.server).toBe('https://10.0.0.1:6443');
    expect(await loadKubeCredentials({ kubeconfig: path, context: 'nope', env: {} })).toBeUndefined();
  });

  it('leaves to the full KubeConfig what it does not handle', async () => {
    const at = dir();
    const cases: [string, string | undefined][] = [
      [
        'exec plugin',
        kubeconfig(at, { exec: { command: 'aws', apiVersion: 'client.authentication.k8s.io/v1' } }),
      ],
      ['auth provider', kubeconfig(dir(), { 'auth-provider': { name: 'oidc' } })],
      ['basic auth', kubeconfig(dir(), { username: 'a', password: 'b' })],
      ['a proxy', kubeconfig(dir(), { token: 't' }, { 'proxy-url': 'http://proxy:3128' })],
    ];
    for (const [what, path] of cases)
      expect(await loadKubeCredentials({ kubeconfig: path, env: {} }), what).toBeUndefined();
    const list = `${kubeconfig(dir(), { token: 't' })}:${kubeconfig(dir(), { token: 'u' })}`;
    expect(await loadKubeCredentials({ env: { KUBECONFIG: list } }), 'a $KUBECONFIG list').toBeUndefined();
  });

  it("uses the pod's ServiceAccount when there is no kubeconfig", async () => {
    const sa = dir();
    writeFileSync(join(sa, 'token'), 'pod-token\n');
    writeFileSync(join(sa, 'ca.crt'), 'CLUSTERCA');
    const env = { KUBERNETES_SERVICE_HOST: 'fd00::1', KUBERNETES_SERVICE_PORT: '443', HOME: dir() };
    const creds = (await loadKubeCredentials({ env, serviceAccountDir: sa }))!;
    expect(creds.server).toBe('https://[fd00::1]:443');
    expect(creds.tls.ca?.toString()).toBe('CLUSTERCA');
    expect(await creds.headers()).toEqual({ authorization: 'Bearer pod-token' });
    expect(await loadKubeCredentials({ env: { HOME: dir() }, serviceAccountDir: sa })).toBeUndefined();
  });
});
