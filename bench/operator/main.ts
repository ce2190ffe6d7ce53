// make bench-operator: kill-switch propagation (WATCHERS policy sources + one real sidecar, repeated flips)
// and convergence of SERVERS McpServers (operator as its own process) plus a full resync on restart,
// against a real etcd + kube-apiserver on loopback (test/harness). Writes bench/results/operator.json.
// Every loop is bounded in count and time; traffic stays on loopback.
import { readdir, readFile, mkdir, writeFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { KubeConfig, type KubernetesObject, KubernetesObjectApi } from '@kubernetes/client-node';
import { parse as parseYaml } from 'yaml';
import { kubeRequest } from '../../kube/rest.ts';
import { startControlPlane } from '../../test/harness/controlplane.ts';
import { convergencePhase } from './convergence.ts';
import { killSwitchPhase } from './kill-switch.ts';
import { sleep } from './stats.ts';

const root = join(import.meta.dirname, '../..');
const env = (name: string, fallback: number) => Number(process.env[name] ?? fallback);
const WATCHERS = env('BENCH_WATCHERS', 100);
const FLIPS = env('BENCH_FLIPS', 30);
const SERVERS = env('BENCH_SERVERS', 1000);
const WORKERS = env('BENCH_WORKERS', 16);
const PHASES = (process.env['BENCH_PHASES'] ?? 'kill,convergence').split(',');
// The operator runs with the NODE_OPTIONS its Helm chart's Deployment sets (read from the chart's
// values.yaml, one source), so what is measured here is what runs in a cluster. Without a small young
// generation V8 lets it grow to 64 MiB of mostly garbage, and the operator's RSS roughly doubles.
// Override to experiment.
const CHART_NODE_OPTIONS = String(
  parseYaml(await readFile(join(root, 'charts/portcullis/values.yaml'), 'utf8')).operator.nodeOptions,
);
const OPERATOR_NODE_OPTIONS = process.env['BENCH_OPERATOR_NODE_OPTIONS'] ?? CHART_NODE_OPTIONS;

// kube-controller-manager runs too: the test control plane's Service range is a /24 (~250 ClusterIPs), so
// the benchmark adds a ServiceCIDR, which becomes usable once the controller manager marks it Ready.
const plane = await startControlPlane({ controllerManager: true });
// A hard bound on the whole run: whatever hangs, the control plane is stopped and the process ends.
const watchdog = setTimeout(() => {
  console.error('bench-operator: over its 15-minute budget; stopping');
  void plane.stop().finally(() => process.exit(1));
}, 15 * 60_000);
watchdog.unref();

try {
  const admin = new KubeConfig();
  admin.loadFromFile(plane.adminKubeconfigPath);
  const objects = KubernetesObjectApi.makeApiClient(admin);
  for (const file of await readdir(join(root, 'crds'))) {
    // Raw JSON: the typed client's serializer drops the schema's x-kubernetes-int-or-string fields.
    const crd = parseYaml(await readFile(join(root, 'crds', file), 'utf8')) as unknown;
    await kubeRequest(admin, 'POST', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions', crd);
  }
  for (let i = 0; i < 100; i++) {
    const crd = await objects.read<
      KubernetesObject & { status?: { conditions?: { type: string; status: string }[] } }
    >({
      apiVersion: 'apiextensions.k8s.io/v1',
      kind: 'CustomResourceDefinition',
      metadata: { name: 'mcpservers.portcullis.dev' },
    });
    if (crd.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True')) break;
    await sleep(100);
  }
  await sleep(1000); // discovery of the new group
  await kubeRequest(admin, 'POST', '/apis/networking.k8s.io/v1/servicecidrs', {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'ServiceCIDR',
    metadata: { name: 'bench-extra' },
    spec: { cidrs: ['10.1.0.0/20'] },
  });
  for (let i = 0; i < 100; i++) {
    const cidr = (await kubeRequest(admin, 'GET', '/apis/networking.k8s.io/v1/servicecidrs/bench-extra')) as {
      status?: { conditions?: { type: string; status: string }[] };
    };
    if (cidr.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')) break;
    await sleep(100);
  }

  const results: Record<string, unknown> = {
    benchmark: 'operator',
    date: new Date().toISOString(),
    machine: { cpus: cpus().length, node: process.version },
    controlPlane: 'kube-apiserver v1.34.4 + etcd v3.6.5 on loopback, sharing the cores with everything else',
    targets: {
      killSwitchP99Ms: 100,
      convergenceSeconds: 60,
      operatorRssMiB: 256,
      resyncReconcilesPerSecond: 200,
    },
  };
  if (PHASES.includes('kill')) {
    results['killSwitch'] = await killSwitchPhase({
      admin,
      watchers: WATCHERS,
      flips: FLIPS,
      pollGapMs: 2,
      flipTimeoutMs: 5000,
    });
    console.error(JSON.stringify(results['killSwitch'], null, 2));
  }
  if (PHASES.includes('convergence')) {
    results['convergence'] = await convergencePhase({
      admin,
      adminKubeconfigPath: plane.adminKubeconfigPath,
      servers: SERVERS,
      namespaces: 4,
      workers: WORKERS,
      createConcurrency: 16,
      timeoutMs: 180_000,
      nodeOptions: OPERATOR_NODE_OPTIONS,
    });
    console.error(JSON.stringify(results['convergence'], null, 2));
  }
  await mkdir(join(root, 'bench/results'), { recursive: true });
  await writeFile(join(root, 'bench/results/operator.json'), `${JSON.stringify(results, null, 2)}\n`);
  console.log(JSON.stringify(results, null, 2));
} finally {
  await plane.stop();
}
process.exit(0);
