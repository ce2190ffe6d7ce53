import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CoreV1Api, type KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { stringify } from 'yaml';
import { startOperator, type RunningOperator } from '../../operator/manager.ts';
import { operatorSettingsSchema } from '../../operator/settings.ts';
import { startJsonServer, type JsonServer } from '../fixtures/auth/json-server.ts';
import { jwksOf, signingKey, signToken, type SigningKey } from '../fixtures/auth/signing-keys.ts';
import { startHttpFixture, type HttpFixture } from '../fixtures/mcp/http-fixture.ts';
import { eventually } from '../harness/eventually.ts';
import { kubeConfigFor, kubectl } from '../harness/kube.ts';
import { createAll, fixtureObjects } from '../harness/operator-e2e.ts';
import { recordPackageLoads } from '../harness/package-loads.ts';
import { BILLING_AUDIENCE, probeToolCall, supportAgent } from '../harness/sidecar-clients.ts';
import { sidecarProcess, type SidecarProcess } from '../harness/sidecar-process.ts';
import { ISSUER } from '../harness/sidecar-under-test.ts';

/**
 * Issue #14: a `portcullis sidecar --policy-source kubernetes` process reads its credentials the lean way
 * (kube/load-source.ts), so @kubernetes/client-node (~55 MiB at rest) is never loaded. Here the process
 * gets a kubeconfig whose user is the server's ServiceAccount token in a file, as a pod's projected token
 * is; Node's module hooks show what it loaded. Its watches must work as before: a kill switch on its
 * McpServer and an edit of a ToolPolicy (which the operator recompiles) both reach it.
 */
const namespace = `skl-${randomBytes(3).toString('hex')}`;

describe('a kubernetes-mode sidecar process never loads @kubernetes/client-node', () => {
  let admin: KubeConfig;
  let operator: RunningOperator | undefined;
  let upstream: HttpFixture;
  let jwks: JsonServer;
  let key: SigningKey;
  let sidecar: SidecarProcess;
  let loads: ReturnType<typeof recordPackageLoads>;

  const token = () => {
    const now = Math.floor(Date.now() / 1000);
    return signToken(key, { iss: ISSUER, aud: BILLING_AUDIENCE, iat: now, exp: now + 300, ...supportAgent });
  };
  const whoami = async () => probeToolCall(sidecar.url, await token(), 'whoami');
  const becomes = async (expected: (outcome: string) => boolean) => eventually(whoami, expected, 5000);

  /** The server's ServiceAccount token in a file, behind a kubeconfig that names the file (tokenFile). */
  const podKubeconfig = async (dir: string) => {
    const core = admin.makeApiClient(CoreV1Api);
    const issued = await core.createNamespacedServiceAccountToken({
      namespace,
      name: 'billing-mcp',
      body: { spec: { audiences: [], expirationSeconds: 3600 } },
    });
    writeFileSync(join(dir, 'token'), issued.status?.token ?? '');
    const cluster = admin.getCurrentCluster()!;
    const path = join(dir, 'kubeconfig');
    writeFileSync(
      path,
      stringify({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [
          { name: 'test', cluster: { server: cluster.server, 'certificate-authority-data': cluster.caData } },
        ],
        users: [{ name: 'billing-mcp', user: { tokenFile: 'token' } }],
        contexts: [{ name: 'pod', context: { cluster: 'test', user: 'billing-mcp' } }],
        'current-context': 'pod',
      }),
    );
    return path;
  };

  beforeAll(async () => {
    admin = kubeConfigFor('admin');
    await admin.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name: namespace } } });
    await createAll(
      admin,
      await fixtureObjects('billing', ['server.yaml', 'policies.yaml', 'diagnostics.yaml'], namespace),
    );
    operator = await startOperator({
      kube: admin,
      settings: operatorSettingsSchema.parse({}),
      namespace,
      workers: 2,
    });
    // The bundle ConfigMap and the ServiceAccount's Role are the operator's: wait for both.
    const core = admin.makeApiClient(CoreV1Api);
    await eventually(
      () => core.readNamespacedConfigMap({ namespace, name: 'billing-mcp-policy' }).catch(() => undefined),
      (m) => m?.data !== undefined,
      20_000,
    );

    upstream = await startHttpFixture('billing', { stateless: true, jsonResponse: true });
    key = await signingKey('ES256', 'lean-1');
    jwks = await startJsonServer();
    jwks.serve('/jwks', jwksOf(key));
    const dir = mkdtempSync(join(inject('scratchDir'), 'kube-lean-'));
    loads = recordPackageLoads(dir);
    sidecar = await sidecarProcess({
      // HOME elsewhere: no ~/.kube/config of the machine's may stand in for the pod's credentials.
      env: { ...loads.env, KUBECONFIG: await podKubeconfig(dir), HOME: dir },
      args: [
        ...['--policy-source', 'kubernetes', '--server', `${namespace}/billing`],
        ...['--upstream', upstream.url, '--jwks-uri', `${jwks.origin}/jwks`, '--log-level', 'warn'],
      ],
    });
    await sidecar.start();
  }, 60_000);

  afterAll(async () => {
    await operator?.stop();
    await sidecar?.stop();
    await upstream?.close();
    await jwks?.close();
    await admin
      ?.makeApiClient(CoreV1Api)
      .deleteNamespace({ name: namespace })
      .catch(() => undefined);
  });

  it('serves the bundle the operator compiled without loading the Kubernetes client', async () => {
    expect(await whoami()).toBe('allowed');
    const packages = loads.packages();
    expect(packages.has('undici'), 'the lean client connected through undici').toBe(true);
    expect(packages.has('@kubernetes/client-node')).toBe(false);
  });

  it('obeys a kill switch on its McpServer, and its release', async () => {
    const annotate = (...args: string[]) =>
      kubectl(['annotate', '-n', namespace, 'mcpserver', 'billing', ...args]);
    expect(
      (await annotate('portcullis.dev/kill-switch=true', 'portcullis.dev/kill-reason=lean test')).code,
    ).toBe(0);
    expect(await becomes((outcome) => outcome === 'killed')).toBe('killed');
    expect((await annotate('portcullis.dev/kill-switch-')).code).toBe(0);
    expect(await becomes((outcome) => outcome === 'allowed')).toBe('allowed');
  });

  it('follows a ToolPolicy edit the operator recompiles, still without the Kubernetes client', async () => {
    const patch = (tools: string[]) =>
      kubectl([
        ...['patch', '-n', namespace, 'toolpolicy', 'diagnostics', '--type=json'],
        ...['-p', JSON.stringify([{ op: 'replace', path: '/spec/rules/0/tools', value: tools }])],
      ]);
    expect((await patch(['list_invoices'])).code).toBe(0);
    expect(await becomes((outcome) => outcome.includes('no_matching_rule'))).toMatch(
      /^403 .*no_matching_rule/,
    );
    expect((await patch(['whoami'])).code).toBe(0);
    expect(await becomes((outcome) => outcome === 'allowed')).toBe('allowed');
    expect(loads.packages().has('@kubernetes/client-node')).toBe(false);
  });
});
