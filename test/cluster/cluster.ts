// A real single-node Kubernetes cluster on this host: the test control plane (etcd, kube-apiserver,
// kube-controller-manager) plus kube-scheduler, containerd + runc, the bridge CNI, the kubelet,
// kube-proxy (iptables), kube-router's NetworkPolicy firewall and the add-ons (CoreDNS, the local-path
// StorageClass).
// Every process is supervised by the calling Node process (test/harness/supervised-process.ts).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { defaultBinDir, kubectlPath } from '../harness/binaries.ts';
import { startControlPlane, type ControlPlane } from '../harness/controlplane.ts';
import { renderKubeconfig } from '../harness/kubeconfig.ts';
import { writeState } from '../harness/leftovers.ts';
import { issueServingCert } from '../harness/serving-certs.ts';
import type { TokenUser } from '../harness/static-tokens.ts';
import { startSupervised, type SupervisedProcess } from '../harness/supervised-process.ts';
import { addonManifests, KUBE_ROUTER_USER } from './addons.ts';
import {
  applyHostChanges,
  revertHostChanges,
  snapshotHost,
  mountsBelow,
  unmountBelow,
  type HostSnapshot,
} from './host-changes.ts';
import {
  containerdConfig,
  cniConfList,
  kubeletConfig,
  kubeProxyConfig,
  type NodePaths,
} from './node-configs.ts';
import { addonArchives, importImages } from './node-images.ts';
import { stopPodProcesses } from './pod-processes.ts';
import {
  APISERVER_PORT,
  CLUSTER_DOMAIN,
  HOST_ADDRESS,
  KUBERNETES_SERVICE_IP,
  NODE_NAME,
} from './topology.ts';
import { waitFor } from './wait.ts';

export interface ClusterOptions {
  /** Everything the cluster writes lives below it (removed by stop, but for the host snapshot). */
  readonly stateDir: string;
  /** Where test/cluster/build.sh put the add-on images. */
  readonly imagesDir: string;
}

export interface Cluster {
  readonly controlPlane: ControlPlane;
  readonly serverUrl: string;
  readonly kubeconfigPath: string;
  readonly containerdSocket: string;
  readonly processes: readonly { name: string; pid: number; watchdogPid: number; logPath: string }[];
  /** Settles when a server exits without stop() having asked it to. */
  readonly crashed: Promise<Error>;
  stop(): Promise<string[]>;
}

const SNAPSHOT_FILE = 'host-snapshot.json';

/** A user kube-apiserver authenticates by bearer token: the node components' identities. */
function nodeUser(name: string, groups: string[] = []): TokenUser {
  return {
    name,
    token: execFileSync('openssl', ['rand', '-hex', '24'], { encoding: 'utf8' }).trim(),
    groups,
  };
}

export function nodePaths(stateDir: string): NodePaths {
  const node = join(stateDir, 'node');
  return {
    containerdRoot: join(node, 'containerd', 'root'),
    containerdState: join(node, 'containerd', 'state'),
    containerdSocket: join(node, 'containerd.sock'),
    runcRoot: join(node, 'runc'),
    cniConfDir: join(node, 'cni', 'net.d'),
    cniBinDir: '/usr/lib/cni',
    cniDataDir: join(node, 'cni', 'ipam'),
    kubeletRoot: join(node, 'kubelet'),
    kubeletKubeconfig: join(node, 'kubelet.kubeconfig'),
    kubeletCertFile: join(node, 'kubelet.crt'),
    kubeletKeyFile: join(node, 'kubelet.key'),
    clientCaFile: join(stateDir, 'control-plane', 'pki', 'ca.crt'),
    resolvConf: join(node, 'resolv.conf'),
    kubeProxyKubeconfig: join(node, 'kube-proxy.kubeconfig'),
    podLogsDir: join(node, 'pod-logs'),
  };
}

/** The kube-router version test/cluster/versions.env pins (build.sh names the binary after it). */
function kubeRouterVersion(): string {
  const versions = readFileSync(new URL('./versions.env', import.meta.url), 'utf8');
  const version = /^KUBE_ROUTER_VERSION=(\S+)$/m.exec(versions)?.[1];
  if (version === undefined) throw new Error('test/cluster/versions.env pins no KUBE_ROUTER_VERSION');
  return version;
}

/** Writes `content` unless the file holds it already (kube-proxy exits when its config is rewritten). */
function writeIfChanged(path: string, content: string, mode = 0o644): void {
  if (existsSync(path) && readFileSync(path, 'utf8') === content) return;
  writeFileSync(path, content, { mode });
}

export async function startCluster(options: ClusterOptions): Promise<Cluster> {
  const { stateDir } = options;
  const paths = nodePaths(stateDir);
  const binDir = defaultBinDir();
  const kubectl = kubectlPath(binDir);
  const started: SupervisedProcess[] = [];
  const archives = addonArchives(options.imagesDir);

  // 1. Record the host as it is, then change it (sysctls, the API server's address, the forward guard).
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  const snapshotPath = join(stateDir, SNAPSHOT_FILE);
  if (!existsSync(snapshotPath)) writeFileSync(snapshotPath, JSON.stringify(snapshotHost(), null, 2));
  applyHostChanges();

  const users = {
    kubelet: nodeUser(`system:node:${NODE_NAME}`, ['system:nodes']),
    kubeProxy: nodeUser('system:kube-proxy'),
    scheduler: nodeUser('system:kube-scheduler'),
    kubeRouter: nodeUser(KUBE_ROUTER_USER),
  };
  let controlPlane: ControlPlane | undefined;
  let stopping = false;
  let reportCrash: (error: Error) => void = () => {};
  const crashed = new Promise<Error>((resolve) => (reportCrash = resolve));
  // Start-up races every wait against this, so a component that exits fails it at once, naming itself.
  const unlessCrashed = <T>(step: Promise<T>): Promise<T> =>
    Promise.race([step, crashed.then((error) => Promise.reject(error))]);
  const stop = async (): Promise<string[]> => {
    stopping = true;
    await Promise.all(started.filter((p) => p.name !== 'containerd').map((p) => p.stop()));
    const killed = stopPodProcesses(paths.containerdSocket);
    await Promise.all(started.filter((p) => p.name === 'containerd').map((p) => p.stop()));
    await controlPlane?.stop();
    return [`${killed} container processes`, ...teardownHost(stateDir)];
  };

  try {
    // 2. The control plane, serving on the host address pods reach, with Node authorization.
    controlPlane = await startControlPlane({
      dataDir: join(stateDir, 'control-plane'),
      controllerManager: true,
      readyTimeoutMs: 120_000,
      node: {
        address: HOST_ADDRESS,
        apiserverPort: APISERVER_PORT,
        extraSans: [
          `IP:${HOST_ADDRESS}`,
          `IP:${KUBERNETES_SERVICE_IP}`,
          'DNS:kubernetes',
          'DNS:kubernetes.default',
          'DNS:kubernetes.default.svc',
          `DNS:kubernetes.default.svc.${CLUSTER_DOMAIN}`,
        ],
        users: Object.values(users),
      },
    });
    const { serverUrl, adminKubeconfigPath } = controlPlane;
    void controlPlane.crashed.then((error) => {
      if (!stopping) reportCrash(error);
    });
    const caPem = readFileSync(controlPlane.caFile, 'utf8');
    const logDir = join(stateDir, 'logs');
    for (const dir of [logDir, paths.cniConfDir, paths.cniDataDir, paths.kubeletRoot, paths.podLogsDir]) {
      mkdirSync(dir, { recursive: true });
    }
    const launch = async (name: string, command: string, args: string[]): Promise<void> => {
      const logPath = join(logDir, `${name}.log`);
      const server = await startSupervised({ name, command, args, logPath });
      started.push(server);
      // By PID, for a cluster-down after this process died (the watchdogs cover most such deaths).
      writeState(join(stateDir, 'node'), {
        ownerPid: process.pid,
        processes: started.map(({ name: n, pid, watchdogPid }) => ({ name: n, pid, watchdogPid })),
      });
      void server.exited.then((exit) => {
        if (!stopping) reportCrash(new Error(`${name} exited (${JSON.stringify(exit)}); see ${logPath}`));
      });
    };

    // 3. Node configuration and credentials.
    const ca = {
      name: 'ca',
      certFile: controlPlane.caFile,
      keyFile: join(controlPlane.dataDir, 'pki', 'ca.key'),
      certPem: caPem,
    };
    await issueServingCert(
      ca,
      join(stateDir, 'node'),
      'kubelet',
      [`IP:${HOST_ADDRESS}`, `DNS:${NODE_NAME}`],
      365,
    );
    writeIfChanged(paths.kubeletKubeconfig, renderKubeconfig(serverUrl, caPem, [users.kubelet]), 0o600);
    writeIfChanged(paths.kubeProxyKubeconfig, renderKubeconfig(serverUrl, caPem, [users.kubeProxy]), 0o600);
    const schedulerKubeconfig = join(stateDir, 'node', 'kube-scheduler.kubeconfig');
    writeIfChanged(schedulerKubeconfig, renderKubeconfig(serverUrl, caPem, [users.scheduler]), 0o600);
    const kubeRouterKubeconfig = join(stateDir, 'node', 'kube-router.kubeconfig');
    writeIfChanged(kubeRouterKubeconfig, renderKubeconfig(serverUrl, caPem, [users.kubeRouter]), 0o600);
    writeIfChanged(
      paths.resolvConf,
      '# No upstream resolver: DNS in the test cluster never leaves the machine.\n',
    );
    writeIfChanged(join(paths.cniConfDir, '10-portcullis.conflist'), cniConfList(paths));
    const containerdToml = join(stateDir, 'node', 'containerd.toml');
    writeIfChanged(containerdToml, containerdConfig(paths));
    const kubeletYaml = join(stateDir, 'node', 'kubelet.yaml');
    writeIfChanged(kubeletYaml, kubeletConfig(paths));
    const kubeProxyYaml = join(stateDir, 'node', 'kube-proxy.yaml');
    writeIfChanged(kubeProxyYaml, kubeProxyConfig(paths));

    // 4. containerd, and the images the node runs (there is no registry to pull from).
    await launch('containerd', '/usr/bin/containerd', ['--config', containerdToml]);
    await waitFor('containerd', 30_000, () => {
      execFileSync('ctr', ['--address', paths.containerdSocket, 'version'], { stdio: 'ignore' });
      return true;
    });
    importImages(paths.containerdSocket, archives.all);

    // 5. The node: scheduler, kubelet, kube-proxy.
    await launch('kube-scheduler', join(binDir, 'kube-scheduler'), [
      `--kubeconfig=${schedulerKubeconfig}`,
      `--authentication-kubeconfig=${schedulerKubeconfig}`,
      `--authorization-kubeconfig=${schedulerKubeconfig}`,
      '--leader-elect=false',
      '--bind-address=127.0.0.1',
      '--secure-port=0',
    ]);
    await launch('kubelet', join(binDir, 'kubelet'), [
      `--config=${kubeletYaml}`,
      `--kubeconfig=${paths.kubeletKubeconfig}`,
      `--root-dir=${paths.kubeletRoot}`,
      `--hostname-override=${NODE_NAME}`,
      `--node-ip=${HOST_ADDRESS}`,
      '--v=1',
    ]);
    await launch('kube-proxy', join(binDir, 'kube-proxy'), [`--config=${kubeProxyYaml}`, '--v=1']);
    const kube = (...args: string[]): string =>
      execFileSync(kubectl, [`--kubeconfig=${adminKubeconfigPath}`, ...args], {
        encoding: 'utf8',
        stdio: ['pipe', 'pipe', 'pipe'],
      });
    await unlessCrashed(
      waitFor(
        'the node to be Ready',
        120_000,
        () =>
          kube('get', 'node', NODE_NAME, '-o', 'jsonpath={.status.conditions[?(@.type=="Ready")].status}') ===
          'True',
      ),
    );

    // 6. Add-ons: DNS, the NetworkPolicy firewall (kube-router, iptables + ipset, on the host like
    //    kube-proxy; docs/DESIGN.md says why this one), and the default StorageClass.
    const volumesDir = join(stateDir, 'volumes');
    mkdirSync(volumesDir, { recursive: true });
    const manifests = addonManifests(archives.addons, volumesDir);
    execFileSync(kubectl, [`--kubeconfig=${adminKubeconfigPath}`, 'apply', '--server-side', '-f', '-'], {
      input: manifests.map((manifest) => stringify(manifest)).join('---\n'),
      stdio: ['pipe', 'ignore', 'pipe'],
    });
    await launch('kube-router', join(options.imagesDir, `kube-router-${kubeRouterVersion()}`), [
      `--kubeconfig=${kubeRouterKubeconfig}`,
      `--hostname-override=${NODE_NAME}`,
      '--run-firewall=true',
      '--run-router=false',
      '--run-service-proxy=false',
      '--health-port=0',
      '--metrics-port=0',
      '--v=1',
    ]);
    for (const [namespace, kind, name] of [
      ['kube-system', 'deployment', 'coredns'],
      ['local-path-storage', 'deployment', 'local-path-provisioner'],
    ] as const) {
      await unlessCrashed(
        waitFor(`${kind} ${namespace}/${name}`, 180_000, () => {
          kube('-n', namespace, 'rollout', 'status', `${kind}/${name}`, '--timeout=5s');
          return true;
        }),
      );
    }

    return {
      controlPlane,
      serverUrl,
      kubeconfigPath: controlPlane.kubeconfigPath,
      containerdSocket: paths.containerdSocket,
      get processes() {
        return [...(controlPlane?.processes ?? []), ...started].map(
          ({ name, pid, watchdogPid, logPath }) => ({
            name,
            pid,
            watchdogPid,
            logPath,
          }),
        );
      },
      crashed,
      stop,
    };
  } catch (error) {
    const logs = started.map((p) => p.logPath).join(', ');
    await stop().catch(() => []);
    throw new Error(
      `the test cluster did not start: ${error instanceof Error ? error.message : String(error)} (logs: ${logs})`,
      { cause: error },
    );
  }
}

/**
 * What is left once every process is gone: mounts below the state directory, the host changes, then
 * the directory itself. Never removes anything while a mount remains below it: a pod's hostPath
 * volume is the host's own directory, and removing through it would delete that.
 */
export function teardownHost(stateDir: string): string[] {
  const done: string[] = [];
  const unmounted = unmountBelow(stateDir);
  if (unmounted > 0) done.push(`${unmounted} mounts`);
  const snapshotPath = join(stateDir, SNAPSHOT_FILE);
  if (existsSync(snapshotPath)) {
    const snapshot = JSON.parse(readFileSync(snapshotPath, 'utf8')) as HostSnapshot;
    done.push(...revertHostChanges(snapshot));
  }
  const remaining = mountsBelow(stateDir);
  if (remaining.length > 0) {
    throw new Error(
      `${remaining.length} mounts remain below ${stateDir} (first: ${remaining[0]}); not removing it`,
    );
  }
  for (const entry of ['node', 'volumes', 'logs', 'control-plane', SNAPSHOT_FILE]) {
    rmSync(join(stateDir, entry), { recursive: true, force: true });
  }
  return done;
}
