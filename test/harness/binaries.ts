import { accessSync, constants, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const versionsFile = fileURLToPath(new URL('../controlplane/versions.env', import.meta.url));

export class MissingBinaryError extends Error {
  constructor(what: string, hint: string) {
    super(`${what} not found; ${hint}`);
    this.name = 'MissingBinaryError';
  }
}

/** The executables of the test control plane, as built by test/controlplane/build.sh. */
export interface ControlPlaneBinaries {
  readonly dir: string;
  readonly etcd: string;
  readonly kubeApiserver: string;
  readonly kubeControllerManager: string;
}

/** The Kubernetes version the control plane is built from (test/controlplane/versions.env). */
export function kubernetesVersion(): string {
  const match = /^KUBERNETES_VERSION=(\S+)$/m.exec(readFileSync(versionsFile, 'utf8'));
  if (match?.[1] === undefined) throw new Error(`no KUBERNETES_VERSION in ${versionsFile}`);
  return match[1];
}

/** Where build.sh caches the binaries: $PORTCULLIS_CACHE/k8s/<version>, ~/.cache/portcullis by default. */
export function defaultBinDir(env: NodeJS.ProcessEnv = process.env): string {
  const cache = env['PORTCULLIS_CACHE'] || join(homedir(), '.cache', 'portcullis');
  return join(cache, 'k8s', kubernetesVersion());
}

export function controlPlaneBinaries(dir: string): ControlPlaneBinaries {
  const binaries = {
    dir,
    etcd: join(dir, 'etcd'),
    kubeApiserver: join(dir, 'kube-apiserver'),
    kubeControllerManager: join(dir, 'kube-controller-manager'),
  };
  for (const path of [binaries.etcd, binaries.kubeApiserver, binaries.kubeControllerManager]) {
    if (!isExecutable(path)) {
      throw new MissingBinaryError(path, 'run `make controlplane` (test/controlplane/build.sh) first');
    }
  }
  return binaries;
}

/** The kubectl in `binDir` (build.sh makes one only when PATH has none), else the one on PATH. */
export function kubectlPath(binDir: string, env: NodeJS.ProcessEnv = process.env): string {
  const candidates = [binDir, ...(env['PATH'] ?? '').split(delimiter).filter((dir) => dir !== '')];
  const found = candidates.map((dir) => join(dir, 'kubectl')).find(isExecutable);
  if (found === undefined) {
    throw new MissingBinaryError('kubectl', 'install one or run `make controlplane`, which builds one');
  }
  return found;
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}
