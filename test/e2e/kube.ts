// kubectl against the e2e cluster, as the tests use it: a failed command throws with kubectl's message.
import { execFileSync } from 'node:child_process';
import { stringify } from 'yaml';
import { waitFor } from '../cluster/wait.ts';
import { cluster } from './context.ts';

export function kubectl(args: readonly string[], input?: string): string {
  try {
    return execFileSync(cluster().kubectl, [`--kubeconfig=${cluster().kubeconfig}`, ...args], {
      encoding: 'utf8',
      input,
      stdio: ['pipe', 'pipe', 'pipe'],
      maxBuffer: 64 * 1024 * 1024,
    });
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr ?? '';
    throw new Error(`kubectl ${args.join(' ')}: ${stderr.trim() || String(error)}`, { cause: error });
  }
}

export function kubectlJson<T>(args: readonly string[]): T {
  return JSON.parse(kubectl([...args, '-o', 'json'])) as T;
}

/** Server-side apply of objects (or YAML text), owned by the e2e tests. */
export function apply(objects: readonly object[] | string): string {
  const text =
    typeof objects === 'string' ? objects : objects.map((object) => stringify(object)).join('---\n');
  return kubectl(
    ['apply', '--server-side', '--force-conflicts', '--field-manager=portcullis-e2e', '-f', '-'],
    text,
  );
}

export function ensureNamespace(name: string, labels: Record<string, string> = {}): void {
  apply([{ apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels } }]);
}

/** Waits for `kubectl rollout status` of a Deployment (or other kind) to succeed. */
export function rolloutStatus(namespace: string, target: string, timeoutSeconds = 180): void {
  kubectl(['-n', namespace, 'rollout', 'status', target, `--timeout=${timeoutSeconds}s`]);
}

/** A pod as the tests read it. */
export interface PodInfo {
  metadata: { name: string; uid: string };
  status: {
    phase?: string;
    podIP?: string;
    containerStatuses?: { name: string; ready: boolean; containerID?: string; restartCount: number }[];
  };
}

/** The pods matching `selector` in `namespace` (only Running ones when asked). */
export function pods(namespace: string, selector: string, options: { running?: boolean } = {}): PodInfo[] {
  const running = options.running === true ? ['--field-selector=status.phase=Running'] : [];
  return kubectlJson<{ items: PodInfo[] }>(['-n', namespace, 'get', 'pods', '-l', selector, ...running])
    .items;
}

export function podPhase(namespace: string, pod: string): string {
  return kubectl(['-n', namespace, 'get', 'pod', pod, '-o', 'jsonpath={.status.phase}']);
}

/** Waits until the pod is in one of `phases`; resolves with that phase. */
export async function waitForPodPhase(
  namespace: string,
  pod: string,
  phases: readonly string[],
  timeoutMs = 120_000,
): Promise<string> {
  let phase = '';
  await waitFor(`pod ${namespace}/${pod} to be ${phases.join(' or ')}`, timeoutMs, () => {
    phase = podPhase(namespace, pod);
    return phases.includes(phase);
  });
  return phase;
}
