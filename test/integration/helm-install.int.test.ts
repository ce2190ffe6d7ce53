import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  CoreV1Api,
  CustomObjectsApi,
  type KubeConfig,
  type KubernetesObject,
  type V1Deployment,
  type V1NetworkPolicy,
} from '@kubernetes/client-node';
import { parseAllDocuments, stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startControlPlane, type ControlPlane } from '../harness/controlplane.ts';
import {
  findObject,
  helm,
  CHART_DIR,
  renderChartText,
  parseManifests,
  renderedSettings,
} from '../harness/helm.ts';
import { kubectl, loadKubeConfig } from '../harness/kube.ts';
import { serviceAccountKubeConfig, waitFor } from '../harness/operator-e2e.ts';
import { freeLoopbackPorts } from '../harness/free-port.ts';
import { describeLog } from '../harness/log-tail.ts';
import { startSupervised, type SupervisedProcess } from '../harness/supervised-process.ts';

/**
 * The chart installed for real, then the operator started as a local process with exactly the chart's
 * arguments and settings, authenticated as the chart's ServiceAccount (a TokenRequest token): the
 * examples/ reconcile, which proves the chart's RBAC is enough. Once cluster-wide, once in namespaced
 * mode, where a server in an unlisted namespace must stay untouched. Then `helm install` / `upgrade`:
 * the generated collector CA survives an upgrade (lookup).
 *
 * A control plane of its own: a cluster-wide operator would otherwise reconcile every other test
 * file's McpServers in the shared one.
 */
const repoRoot = join(import.meta.dirname, '../..');
const EXAMPLES = join(repoRoot, 'examples');

interface Server extends KubernetesObject {
  metadata: { name: string; namespace: string; generation?: number };
  status?: { observedGeneration?: number; conditions?: { type: string; status: string; reason?: string }[] };
}

/** The top-level examples/*.yaml, with every namespace name given a prefix. */
function examples(prefix: string): { objects: KubernetesObject[]; text: string } {
  const rename = (ns: string) => `${prefix}${ns}`;
  const objects = readdirSync(EXAMPLES)
    .filter((f) => f.endsWith('.yaml'))
    .sort()
    .flatMap((f) =>
      parseAllDocuments(readFileSync(join(EXAMPLES, f), 'utf8')).map((d) => d.toJS() as KubernetesObject),
    )
    .filter((o) => o !== null)
    .map((o) => {
      const metadata = { ...o.metadata };
      if (o.kind === 'Namespace') metadata.name = rename(metadata.name!);
      else if (metadata.namespace) metadata.namespace = rename(metadata.namespace);
      return { ...o, metadata };
    });
  return { objects, text: objects.map((o) => `---\n${stringify(o)}`).join('') };
}

describe('helm chart installed, operator running with its RBAC', () => {
  let controlPlane: ControlPlane;
  let admin: KubeConfig;
  let dir: string;
  const operators: SupervisedProcess[] = [];

  const kubectlHere = (args: string[], input?: string) =>
    kubectl(args, {
      kubeconfig: controlPlane.adminKubeconfigPath,
      timeoutMs: 60_000,
      ...(input ? { input } : {}),
    });

  async function apply(manifest: string): Promise<void> {
    const result = await kubectlHere(
      ['apply', '--server-side', '--field-manager=helm-install-test', '-f', '-'],
      manifest,
    );
    expect(result.code, result.stderr).toBe(0);
  }

  async function createNamespaces(...names: string[]): Promise<void> {
    await apply(
      names
        .map((name) => `---\n${stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } })}`)
        .join(''),
    );
  }

  /** Applies the rendered chart for real and starts its operator as a local process; returns its log path. */
  async function installAndStartOperator(
    values: object,
    release: string,
    namespace: string,
  ): Promise<{ objects: KubernetesObject[]; operator: SupervisedProcess; serviceAccount: string }> {
    await createNamespaces(namespace);
    const manifest = await renderChartText(values, { release, namespace });
    await apply(manifest);
    const objects = parseManifests(manifest);
    const crds = objects
      .filter((o) => o.kind === 'CustomResourceDefinition')
      .map((o) => `crd/${o.metadata!.name}`);
    if (crds.length > 0) {
      const established = await kubectlHere([
        'wait',
        '--for=condition=Established',
        '--timeout=30s',
        ...crds,
      ]);
      expect(established.code, established.stderr).toBe(0);
    }

    const deployment = findObject<V1Deployment>(objects, 'Deployment', '-operator');
    const pod = deployment.spec!.template.spec!;
    const serviceAccount = pod.serviceAccountName!;
    const own = mkdtempSync(join(dir, `${release}-`));
    const kubeconfigPath = join(own, 'kubeconfig');
    writeFileSync(
      kubeconfigPath,
      (await serviceAccountKubeConfig(admin, namespace, serviceAccount)).exportConfig(),
      { mode: 0o600 },
    );
    const settingsPath = join(own, 'settings.yaml');
    writeFileSync(settingsPath, renderedSettings(objects));
    const { metrics } = await freeLoopbackPorts(['metrics']);
    // The container's own arguments; only the file paths and the listen address are local.
    const args = pod.containers[0]!.args!.map((arg) =>
      arg.startsWith('--settings=')
        ? `--settings=${settingsPath}`
        : arg.startsWith('--metrics-listen=')
          ? `--metrics-listen=127.0.0.1:${metrics}`
          : arg,
    );
    const operator = await startSupervised({
      name: `operator-${release}`,
      command: 'env',
      args: [
        `POD_NAMESPACE=${namespace}`,
        process.execPath,
        join(repoRoot, 'cli/main.ts'),
        ...args,
        `--kubeconfig=${kubeconfigPath}`,
      ],
      logPath: join(own, 'operator.log'),
      stopGraceSeconds: 10,
    });
    operators.push(operator);
    return { objects, operator, serviceAccount };
  }

  const custom = () => admin.makeApiClient(CustomObjectsApi);
  const readServer = (namespace: string, name: string) =>
    custom().getNamespacedCustomObject({
      group: 'portcullis.dev',
      version: 'v1alpha1',
      namespace,
      plural: 'mcpservers',
      name,
    }) as Promise<Server>;

  /** Children made and status written: what reconciling an McpServer means. */
  async function expectReconciled(
    namespace: string,
    name: string,
    operator: SupervisedProcess,
  ): Promise<void> {
    // An operator that exits (settings refused, credentials refused) fails at once, with its log.
    const exited = operator.exited.then((exit) => {
      throw new Error(
        `the operator exited (${exit.code ?? exit.signal})\n${describeLog('operator', operator.logPath)}`,
      );
    });
    const server = await Promise.race([
      waitFor(
        `McpServer ${namespace}/${name} to get a status`,
        () => readServer(namespace, name),
        (s) =>
          s.status?.observedGeneration === s.metadata.generation && (s.status?.conditions?.length ?? 0) > 0,
        60_000,
        200,
      ).catch((error: Error) => {
        throw new Error(`${error.message}\n${describeLog('operator', operator.logPath)}`);
      }),
      exited,
    ]);
    expect(server.status?.conditions?.map((c) => c.type)).toEqual(
      expect.arrayContaining(['Ready', 'PolicyReady']),
    );
    const child = `${name}-mcp`;
    for (const [kind, childName] of [
      ['deployment', child],
      ['service', child],
      ['serviceaccount', child],
      ['role', child],
      ['rolebinding', child],
      ['networkpolicy', child],
      ['configmap', `${name}-mcp-policy`],
    ] as const) {
      const result = await kubectlHere(['get', '-n', namespace, kind, childName, '-o', 'name']);
      expect(result.code, `${kind} ${namespace}/${childName}: ${result.stderr}`).toBe(0);
    }
  }

  /** RBAC refusals the operator logged: none, if the chart grants what it needs. */
  function forbidden(operator: SupervisedProcess): string[] {
    return readFileSync(operator.logPath, 'utf8')
      .split('\n')
      .filter((line) => /forbidden|\b403\b/i.test(line));
  }

  beforeAll(async () => {
    controlPlane = await startControlPlane({});
    admin = loadKubeConfig(controlPlane.adminKubeconfigPath);
    dir = mkdtempSync(join(inject('scratchDir'), 'helm-install-'));
  }, 120_000);

  afterAll(async () => {
    for (const operator of operators) await operator.stop();
    await controlPlane?.stop();
  });

  it('cluster-wide: the examples reconcile, as the chart ServiceAccount, with no RBAC refusal', async () => {
    const namespace = 'portcullis-system';
    // The kubernetes Service has no EndpointSlice on this API server (it advertises 127.0.0.1): one as
    // a real cluster has, for the operator to discover at start.
    await apply(
      stringify({
        apiVersion: 'discovery.k8s.io/v1',
        kind: 'EndpointSlice',
        metadata: {
          name: 'kubernetes-test',
          namespace: 'default',
          labels: { 'kubernetes.io/service-name': 'kubernetes' },
        },
        addressType: 'IPv4',
        endpoints: [{ addresses: ['192.0.2.1'] }],
        ports: [{ name: 'https', port: 6443, protocol: 'TCP' }],
      }),
    );
    const { operator, serviceAccount } = await installAndStartOperator({}, 'portcullis', namespace);
    expect(serviceAccount).toBe('portcullis-operator');

    const { objects, text } = examples('');
    await apply(text);
    const servers = objects.filter((o) => o.kind === 'McpServer');
    expect(servers.length).toBeGreaterThanOrEqual(2);
    for (const server of servers)
      await expectReconciled(server.metadata!.namespace!, server.metadata!.name!, operator);

    const lease = await waitFor(
      'the operator to hold its Lease',
      () =>
        kubectlHere([
          'get',
          'lease',
          'portcullis-operator',
          '-n',
          namespace,
          '-o',
          'jsonpath={.spec.holderIdentity}',
        ]),
      (r) => r.code === 0 && r.stdout !== '',
    );
    expect(lease.stdout).not.toBe('');

    // The API server's endpoints, read as the chart ServiceAccount (a Role in default, list only), are in
    // the server pods' NetworkPolicy.
    const as = `--as=system:serviceaccount:${namespace}:${serviceAccount}`;
    const can = async (...args: string[]) =>
      (await kubectlHere(['auth', 'can-i', ...args, as])).stdout.trim();
    expect(await can('list', 'endpointslices.discovery.k8s.io', '-n', 'default')).toBe('yes');
    expect(await can('get', 'endpointslices.discovery.k8s.io', '-n', 'default')).toBe('no');
    expect(await can('watch', 'endpointslices.discovery.k8s.io', '-n', 'default')).toBe('no');
    expect(await can('list', 'endpointslices.discovery.k8s.io', '-n', 'kube-system')).toBe('no');
    const server = servers[0]!;
    const policy = await kubectlHere([
      ...['get', 'networkpolicy', `${server.metadata!.name!}-mcp`, '-n', server.metadata!.namespace!],
      ...['-o', 'json'],
    ]);
    expect(policy.code, policy.stderr).toBe(0);
    expect((JSON.parse(policy.stdout) as V1NetworkPolicy).spec?.egress).toContainEqual({
      to: [{ ipBlock: { cidr: '192.0.2.1/32' } }],
      ports: [{ protocol: 'TCP', port: 6443 }],
    });
    expect(forbidden(operator)).toEqual([]);
    await operator.stop();
  }, 180_000);

  it('namespaced: only the listed namespaces, with Roles there and nothing cluster-wide', async () => {
    const namespace = 'pcns-system';
    const prefix = 'ns-';
    const { objects: exampleObjects, text } = examples(prefix);
    const all = exampleObjects.filter((o) => o.kind === 'Namespace').map((o) => o.metadata!.name!);
    const watched = all.filter((n) => n !== `${prefix}knowledge`);
    expect(watched).toHaveLength(2);
    await createNamespaces(...all);
    const { operator, serviceAccount } = await installAndStartOperator(
      { operator: { watchNamespaces: watched } },
      'pcns',
      namespace,
    );

    // What the chart granted: lists in the watched namespaces, nothing across the cluster.
    const can = async (...args: string[]) =>
      (
        await kubectlHere([
          'auth',
          'can-i',
          ...args,
          `--as=system:serviceaccount:${namespace}:${serviceAccount}`,
        ])
      ).stdout.trim();
    expect(await can('list', 'mcpservers.portcullis.dev', '-n', watched[0]!)).toBe('yes');
    expect(await can('list', 'mcpservers.portcullis.dev', '-n', `${prefix}knowledge`)).toBe('no');
    expect(await can('list', 'mcpservers.portcullis.dev', '--all-namespaces')).toBe('no');
    expect(await can('list', 'namespaces')).toBe('no');
    expect(await can('create', 'deployments.apps', '-n', `${prefix}knowledge`)).toBe('no');
    // The kubernetes Service's EndpointSlices (for server pods' API server rule), in default only.
    expect(await can('list', 'endpointslices.discovery.k8s.io', '-n', 'default')).toBe('yes');
    expect(await can('list', 'endpointslices.discovery.k8s.io', '-n', watched[0]!)).toBe('no');

    await apply(text);
    const servers = exampleObjects.filter((o) => o.kind === 'McpServer');
    const inWatched = servers.filter((s) => watched.includes(s.metadata!.namespace!));
    const outside = servers.filter((s) => !watched.includes(s.metadata!.namespace!));
    expect(inWatched.length).toBeGreaterThanOrEqual(1);
    expect(outside.length).toBeGreaterThanOrEqual(1);
    for (const server of inWatched)
      await expectReconciled(server.metadata!.namespace!, server.metadata!.name!, operator);

    // The servers in watched namespaces are done; give the unlisted one as long again, then look.
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    for (const server of outside) {
      const live = await readServer(server.metadata!.namespace!, server.metadata!.name!);
      expect(live.status).toBeUndefined();
      const children = await kubectlHere([
        ...['get', 'deployments,services,serviceaccounts,roles,configmaps,networkpolicies'],
        ...[
          '-n',
          server.metadata!.namespace!,
          '-l',
          'app.kubernetes.io/managed-by=portcullis-operator',
          '-o',
          'name',
        ],
      ]);
      expect(children.stdout.trim()).toBe('');
    }
    expect(forbidden(operator)).toEqual([]);
    await operator.stop();
  }, 180_000);

  it('helm install, then upgrade: the generated collector CA is kept (lookup), and the settings carry it', async () => {
    const namespace = 'pchelm-system';
    const flags = [
      ...['--namespace', namespace, '--kubeconfig', controlPlane.adminKubeconfigPath],
      // The CRDs and the people's ClusterRoles belong to the release installed above.
      ...['--set', 'crds.install=false', '--set', 'rbac.userRoles.create=false'],
    ];
    const install = await helm(['install', 'pchelm', CHART_DIR, '--create-namespace', ...flags]);
    expect(install.code, install.stderr).toBe(0);
    expect(install.stdout).toContain('Next steps');

    const core = admin.makeApiClient(CoreV1Api);
    const tls = async () =>
      (await core.readNamespacedSecret({ namespace, name: 'pchelm-portcullis-collector-tls' })).data!;
    const caBundle = async () =>
      (await core.readNamespacedConfigMap({ namespace, name: 'pchelm-portcullis-operator-settings' })).data![
        'settings.yaml'
      ]!;
    const first = await tls();
    const firstCa = Buffer.from(first['ca.crt']!, 'base64').toString('utf8');
    expect(await caBundle()).toContain(firstCa.trim().split('\n')[1]);

    const upgrade = await helm([
      'upgrade',
      'pchelm',
      CHART_DIR,
      '--reuse-values',
      ...flags,
      '--set',
      'operator.workers=8',
    ]);
    expect(upgrade.code, upgrade.stderr).toBe(0);
    const second = await tls();
    expect(second).toEqual(first);
    expect(await caBundle()).toContain(firstCa.trim().split('\n')[1]);

    // Without the Secret (or without a cluster, as in `helm template`) a new CA is generated.
    await core.deleteNamespacedSecret({ namespace, name: 'pchelm-portcullis-collector-tls' });
    const regenerate = await helm(['upgrade', 'pchelm', CHART_DIR, '--reuse-values', ...flags]);
    expect(regenerate.code, regenerate.stderr).toBe(0);
    const third = await tls();
    expect(third['ca.crt']).not.toBe(first['ca.crt']);
    expect(await caBundle()).toContain(
      Buffer.from(third['ca.crt']!, 'base64').toString('utf8').trim().split('\n')[1],
    );

    const uninstall = await helm([
      'uninstall',
      'pchelm',
      '--namespace',
      namespace,
      '--kubeconfig',
      controlPlane.adminKubeconfigPath,
    ]);
    expect(uninstall.code, uninstall.stderr).toBe(0);
    // The audit volume claim is kept: the trail outlives the release.
    const claim = await kubectlHere([
      'get',
      'pvc',
      '-n',
      namespace,
      'pchelm-portcullis-collector-data',
      '-o',
      'name',
    ]);
    expect(claim.code, claim.stderr).toBe(0);
  }, 180_000);
});
