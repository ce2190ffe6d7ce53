import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { controlPlaneBinaries, defaultBinDir } from './binaries.ts';
import { writeCredentials } from './credentials.ts';
import { etcdArgs, etcdClientUrl } from './etcd.ts';
import { freeLoopbackPorts } from './free-port.ts';
import { apiserverUrl, kubeApiserverArgs } from './kube-apiserver.ts';
import { kubeControllerManagerArgs } from './kube-controller-manager.ts';
import { reapAbandonedControlPlanes, reapControlPlane, readState, writeState } from './leftovers.ts';
import { describeLog } from './log-tail.ts';
import type { ControlPlanePki } from './pki.ts';
import { isRunning } from './processes.ts';
import { waitForOk } from './readiness.ts';
import { issueClientCert, type ServingCert } from './serving-certs.ts';
import type { TokenUser } from './static-tokens.ts';
import {
  ProcessExitedError,
  startSupervised,
  type SupervisedProcess,
  type SupervisedProcessSpec,
} from './supervised-process.ts';

/** Prefix of the temporary data directories, so a later run can find and reap abandoned ones. */
const TEMP_DIR_PREFIX = 'portcullis-cp-';

export interface ControlPlaneOptions {
  /** Directory holding etcd, kube-apiserver and kube-controller-manager; defaults to build.sh's cache. */
  readonly binDir?: string;
  /** Where data, keys, kubeconfigs and logs go; a fresh temporary directory by default. */
  readonly dataDir?: string;
  /** Also run kube-controller-manager, so garbage collection and namespace deletion happen. */
  readonly controllerManager?: boolean;
  /**
   * Runs once kube-apiserver is ready, before kube-controller-manager starts; gets the admin
   * kubeconfig path. Install CRDs here: the garbage collector rediscovers resource types only every
   * 30 s, so dependents of custom resources defined later are collected up to that much late.
   */
  readonly beforeControllers?: (adminKubeconfigPath: string) => Promise<void>;
  /** Budget for every server to become ready. */
  readonly readyTimeoutMs?: number;
  /**
   * A control plane a node joins (test/cluster): the API server listens on this address and port, with
   * these extra certificate names, Node authorization and a kubelet client certificate; the token
   * file also holds the node components' users; kube-controller-manager runs its default controllers.
   */
  readonly node?: ControlPlaneNodeOptions;
}

export interface ControlPlaneNodeOptions {
  readonly address: string;
  readonly apiserverPort: number;
  readonly extraSans: readonly string[];
  readonly users: readonly TokenUser[];
}

export interface ControlPlaneProcess {
  readonly name: string;
  readonly pid: number;
  readonly watchdogPid: number;
  readonly logPath: string;
}

/** A running etcd + kube-apiserver (+ kube-controller-manager) on 127.0.0.1. */
export interface ControlPlane {
  readonly serverUrl: string;
  /** Contexts for both users; the admin's is current. */
  readonly kubeconfigPath: string;
  readonly adminKubeconfigPath: string;
  /** The unprivileged user's; RBAC grants it only the defaults any authenticated user gets. */
  readonly userKubeconfigPath: string;
  readonly userName: string;
  readonly tokens: { readonly admin: string; readonly user: string };
  readonly caFile: string;
  readonly serviceAccountKeyFile: string;
  readonly serviceAccountPublicKeyFile: string;
  readonly dataDir: string;
  readonly binDir: string;
  /** The servers running now (kube-apiserver's entry changes when it is restarted). */
  readonly processes: readonly ControlPlaneProcess[];
  /** Settles when a server exits without stop() or stopApiserver() having asked it to; stays pending otherwise. */
  readonly crashed: Promise<ProcessExitedError>;
  /**
   * Stops kube-apiserver alone (SIGTERM), as an API-server restart or outage looks to clients: etcd and
   * kube-controller-manager keep running. Resolves once it has exited.
   */
  stopApiserver(): Promise<void>;
  /** Starts kube-apiserver again after stopApiserver(): same port, keys, tokens and etcd; resolves once ready. */
  startApiserver(): Promise<void>;
  /** Stops every process (SIGTERM, SIGKILL after a grace period) and removes dataDir. Idempotent. */
  stop(): Promise<void>;
}

export class ControlPlaneStartError extends Error {
  readonly dataDir: string;

  constructor(cause: unknown, started: readonly SupervisedProcess[], dataDir: string) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    // An exited process already quotes its own log; otherwise every log may hold the reason.
    const logs =
      cause instanceof ProcessExitedError ? [] : started.map((p) => describeLog(p.name, p.logPath));
    const kept = `(data and logs kept in ${dataDir})`;
    super([`the test control plane did not start: ${reason}`, ...logs, kept].join('\n'), { cause });
    this.name = 'ControlPlaneStartError';
    this.dataDir = dataDir;
  }
}

export async function startControlPlane(options: ControlPlaneOptions = {}): Promise<ControlPlane> {
  const binaries = controlPlaneBinaries(options.binDir ?? defaultBinDir());
  const readyTimeoutMs = options.readyTimeoutMs ?? 60_000;
  const dataDir = await prepareDataDir(options.dataDir);

  const started: SupervisedProcess[] = [];
  const recordState = (): void =>
    writeState(dataDir, {
      ownerPid: process.pid,
      processes: started.map(({ name, pid, watchdogPid }) => ({ name, pid, watchdogPid })),
    });
  recordState();
  let stopRequested = false;
  /** Servers stopped on purpose while the rest keeps running (stopApiserver). */
  const stoppedOnPurpose = new Set<SupervisedProcess>();
  let reportCrash: (error: ProcessExitedError) => void = () => {};
  const crashed = new Promise<ProcessExitedError>((resolve) => (reportCrash = resolve));
  // Start-up races every readiness wait against this, so it fails fast with the crashed server's log.
  const unexpectedExit = crashed.then((error) => Promise.reject(error));
  unexpectedExit.catch(() => {}); // after start-up, `crashed` is how callers learn of it
  const launch = async (spec: SupervisedProcessSpec): Promise<SupervisedProcess> => {
    const server = await startSupervised(spec);
    started.push(server);
    recordState();
    void server.exited.then((exit) => {
      if (!stopRequested && !stoppedOnPurpose.has(server))
        reportCrash(new ProcessExitedError(spec.name, exit, spec.logPath));
    });
    return server;
  };
  const stopAll = (): Promise<void> => {
    stopRequested = true;
    return stopInOrder(started);
  };

  try {
    const { node } = options;
    const ports = await freeLoopbackPorts(['etcdClient', 'etcdPeer', 'apiserver']);
    const apiserverPort = node?.apiserverPort ?? ports.apiserver;
    const serverUrl = apiserverUrl(apiserverPort, node?.address);
    const credentials = await writeCredentials(dataDir, serverUrl, {
      sans: node === undefined ? undefined : ['IP:127.0.0.1', 'DNS:localhost', ...node.extraSans],
      extraUsers: node?.users,
    });
    const { pki } = credentials;
    const kubeletClient =
      node === undefined ? undefined : await issueKubeletClientCert(pki, dirname(pki.caCertFile));

    const etcdPorts = { client: ports.etcdClient, peer: ports.etcdPeer };
    await launch({
      name: 'etcd',
      command: binaries.etcd,
      args: etcdArgs(dataDir, etcdPorts),
      logPath: join(dataDir, 'etcd.log'),
    });
    // etcd first: should it fail, the error names it instead of an apiserver that never gets ready.
    await waitForOk('etcd', { url: `${etcdClientUrl(etcdPorts)}/health` }, readyTimeoutMs, unexpectedExit);

    const apiserverSpec: SupervisedProcessSpec = {
      name: 'kube-apiserver',
      command: binaries.kubeApiserver,
      args: kubeApiserverArgs({
        dataDir,
        port: apiserverPort,
        etcdUrl: etcdClientUrl(etcdPorts),
        pki,
        tokenAuthFile: credentials.tokenAuthFile,
        address: node?.address,
        node:
          kubeletClient === undefined
            ? undefined
            : {
                clientCaFile: pki.caCertFile,
                kubeletClientCertFile: kubeletClient.certFile,
                kubeletClientKeyFile: kubeletClient.keyFile,
              },
      }),
      logPath: join(dataDir, 'kube-apiserver.log'),
    };
    let apiserver = await launch(apiserverSpec);
    const asAdmin = { ca: credentials.caPem, bearerToken: credentials.admin.token };
    const apiserverReady = () =>
      waitForOk('kube-apiserver', { url: `${serverUrl}/readyz`, ...asAdmin }, readyTimeoutMs, unexpectedExit);
    await apiserverReady();

    await options.beforeControllers?.(credentials.adminKubeconfigPath);
    if (options.controllerManager === true) {
      await launch({
        name: 'kube-controller-manager',
        command: binaries.kubeControllerManager,
        args: kubeControllerManagerArgs({
          kubeconfigPath: credentials.adminKubeconfigPath,
          pki,
          controllers: node === undefined ? undefined : ['*'],
        }),
        logPath: join(dataDir, 'kube-controller-manager.log'),
      });
      // It serves no health endpoint; the default ServiceAccount appearing shows its controllers run.
      const defaultServiceAccount = `${serverUrl}/api/v1/namespaces/default/serviceaccounts/default`;
      await waitForOk(
        'kube-controller-manager',
        { url: defaultServiceAccount, ...asAdmin },
        readyTimeoutMs,
        unexpectedExit,
      );
    }

    let stopping: Promise<void> | undefined;
    return {
      serverUrl,
      kubeconfigPath: credentials.kubeconfigPath,
      adminKubeconfigPath: credentials.adminKubeconfigPath,
      userKubeconfigPath: credentials.userKubeconfigPath,
      userName: credentials.unprivileged.name,
      tokens: { admin: credentials.admin.token, user: credentials.unprivileged.token },
      caFile: pki.caCertFile,
      serviceAccountKeyFile: pki.serviceAccountKeyFile,
      serviceAccountPublicKeyFile: pki.serviceAccountPublicKeyFile,
      dataDir,
      binDir: binaries.dir,
      get processes() {
        return started
          .filter((p) => !stoppedOnPurpose.has(p))
          .map(({ name, pid, watchdogPid, logPath }) => ({ name, pid, watchdogPid, logPath }));
      },
      crashed,
      async stopApiserver() {
        if (stoppedOnPurpose.has(apiserver)) return;
        stoppedOnPurpose.add(apiserver);
        await apiserver.stop();
        // Gone: stop() and the reaper of abandoned control planes must not signal its PID again.
        if (started.includes(apiserver)) started.splice(started.indexOf(apiserver), 1);
        recordState();
      },
      async startApiserver() {
        if (stopping !== undefined) throw new Error('the control plane is stopped');
        if (!stoppedOnPurpose.has(apiserver)) return;
        apiserver = await launch(apiserverSpec);
        await apiserverReady();
      },
      stop: () => (stopping ??= stopAll().then(() => rmSync(dataDir, { recursive: true, force: true }))),
    };
  } catch (error) {
    await stopAll();
    // The data directory stays for a post-mortem; the next start in another process reaps it.
    throw new ControlPlaneStartError(error, started, dataDir);
  }
}

/** The certificate the API server presents to the kubelet (logs, exec); system:masters, as kubeadm's. */
function issueKubeletClientCert(pki: ControlPlanePki, dir: string): Promise<ServingCert> {
  const ca = { name: 'ca', certFile: pki.caCertFile, keyFile: pki.caKeyFile, certPem: '' };
  return issueClientCert(ca, dir, 'apiserver-kubelet-client', {
    commonName: 'kube-apiserver-kubelet-client',
    organization: 'system:masters',
  });
}

/**
 * Clients first, etcd last: etcd waits for its clients' streams to drain, and kube-apiserver
 * retries a vanished etcd, so stopping both at once takes seconds instead of one.
 */
async function stopInOrder(started: readonly SupervisedProcess[]): Promise<void> {
  const etcd = started.filter((p) => p.name === 'etcd');
  await Promise.all(started.filter((p) => !etcd.includes(p)).map((p) => p.stop()));
  await Promise.all(etcd.map((p) => p.stop()));
}

async function prepareDataDir(requested: string | undefined): Promise<string> {
  if (requested === undefined) {
    await reapAbandonedControlPlanes(tmpdir(), TEMP_DIR_PREFIX);
    return mkdtempSync(join(tmpdir(), TEMP_DIR_PREFIX));
  }
  const owner = readState(requested)?.ownerPid;
  if (owner !== undefined && owner !== process.pid && isRunning(owner)) {
    throw new Error(`${requested} belongs to a control plane that process ${owner} still runs`);
  }
  await reapControlPlane(requested);
  mkdirSync(requested, { recursive: true, mode: 0o700 });
  return requested;
}
