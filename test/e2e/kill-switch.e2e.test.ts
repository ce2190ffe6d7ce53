// The kill switch on real pods: `portcullis kill` against the cluster with the operator scaled to zero
// (the sidecars watch their McpServer themselves), timed from the PATCH to the first call a client pod saw
// refused (when that call left the pod: the gate refuses on arrival, before the answer travels back),
// and `portcullis release` to its first success again. 30 trials each; the figures go to
// bench/results/cluster-kill-switch.json and docs/performance.md.
import { mkdirSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runKill } from '../../cli/commands/kill.ts';
import type { SwitchDeps } from '../../cli/commands/kill-run.ts';
import { runRelease } from '../../cli/commands/release.ts';
import { kubeApi } from '../../cli/kube-api.ts';
import type { CliIo } from '../../cli/run.ts';
import { kubectl, waitForPodPhase } from './kube.ts';
import { followLogs, type LogFollower } from './log-follower.ts';
import { BILLING_NAMESPACE, CALLERS, ensurePlatform, startClient, SYSTEM_NAMESPACE } from './platform.ts';
import { waitFor } from '../cluster/wait.ts';
import { cluster } from './context.ts';

const TRIALS = 30;
/**
 * The assertion is a regression guard, not issue #13's target (p99 ≤ 100 ms): measured p99 ranges from 78
 * to 119 ms across runs on this 2-core node (p50 20–53 ms), so holding 100 ms reliably is open work (#14).
 */
const P99_GUARD_MS = 250;
/** Untimed rounds first: the first switches pay for module loading and JIT in the test and the sidecars. */
const WARM_UP = 3;
const RESULTS = resolve(import.meta.dirname, '../../bench/results/cluster-kill-switch.json');

function cliIo(): CliIo & { text(): string } {
  let text = '';
  return {
    out: (chunk) => (text += chunk),
    err: (chunk) => (text += chunk),
    env: { KUBECONFIG: cluster().kubeconfig },
    childEnv: {},
    untilShutdown: () => new Promise(() => {}),
    text: () => text,
  };
}

/**
 * `portcullis kill` or `release`, in this process, through the real command and API client; resolves
 * with the wall-clock time its PATCH left (the clock the client pod's lines carry: one host).
 */
async function portcullis(command: 'kill' | 'release', ...args: string[]): Promise<number> {
  const io = cliIo();
  let patchedAt = Number.NaN;
  const deps: SwitchDeps = {
    api: (kube) => {
      const api = kubeApi(kube);
      return {
        ...api,
        mergePatch: (ref, patch) => {
          patchedAt = Date.now();
          return api.mergePatch(ref, patch);
        },
      };
    },
  };
  const run = command === 'kill' ? runKill : runRelease;
  const code = await run(args, io, deps);
  if (code !== 0) throw new Error(`portcullis ${command} ${args.join(' ')} exited ${code}: ${io.text()}`);
  return patchedAt;
}

/** Nearest-rank percentile of a sample. */
function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/** The client's outcome as last reported: allowed or refused. */
let lastState: boolean | undefined;

/**
 * Waits until the client reports nothing new for `quietMs` while on `allowed`: calls spread over both
 * replicas, so the first refusal may be followed by a success from the other one for a moment.
 */
async function settle(follower: LogFollower, allowed: boolean, quietMs = 400): Promise<void> {
  await waitFor(`the client to settle on allowed=${allowed}`, 15_000, async () => {
    await new Promise((resolve) => setTimeout(resolve, quietMs));
    const lines = follower.pending();
    if (lines.length > 0) lastState = lines.at(-1)!.allowed;
    return lines.length === 0 && lastState === allowed;
  });
}

describe('the kill switch on real pods, operator at zero replicas', () => {
  let follower: LogFollower;

  beforeAll(async () => {
    await ensurePlatform();
    kubectl(['-n', SYSTEM_NAMESPACE, 'scale', 'deployment/portcullis-operator', '--replicas=0']);
    await waitFor(
      'the operator pods to be gone',
      60_000,
      () =>
        kubectl([
          '-n',
          SYSTEM_NAMESPACE,
          'get',
          'pods',
          '-l',
          'app.kubernetes.io/component=operator',
          '-o',
          'name',
        ]).trim() === '',
    );
    startClient('client-watch', {
      caller: CALLERS.watcher,
      mode: 'watch',
      tool: 'list_invoices',
      args: { customer_id: 'acme' },
    });
    await waitForPodPhase(BILLING_NAMESPACE, 'client-watch', ['Running'], 60_000);
    follower = followLogs(BILLING_NAMESPACE, 'client-watch');
    const first = await follower.next(
      (line) => line.allowed !== undefined || line.failed !== undefined,
      30_000,
    );
    expect(first.allowed, JSON.stringify(first)).toBe(true);
    lastState = true;
  });

  afterAll(async () => {
    follower?.stop();
    await portcullis('release', 'mcpserver/billing', '-n', BILLING_NAMESPACE).catch(() => 0);
    kubectl(['-n', BILLING_NAMESPACE, 'delete', 'pod', 'client-watch', '--ignore-not-found', '--wait=false']);
    kubectl(['-n', SYSTEM_NAMESPACE, 'scale', 'deployment/portcullis-operator', '--replicas=2']);
    kubectl([
      '-n',
      SYSTEM_NAMESPACE,
      'rollout',
      'status',
      'deployment/portcullis-operator',
      '--timeout=120s',
    ]);
  });

  it(`bites and lets go within ${P99_GUARD_MS} ms at p99 (${TRIALS} trials each; the target is 100 ms)`, async () => {
    const kill: number[] = [];
    const release: number[] = [];
    for (let trial = 1 - WARM_UP; trial <= TRIALS; trial += 1) {
      follower.pending();
      const killedAt = Date.now();
      await portcullis(
        'kill',
        'mcpserver/billing',
        '-n',
        BILLING_NAMESPACE,
        '--reason',
        `e2e trial ${trial}`,
      );
      const refused = await follower.next((line) => line.allowed === false);
      expect(refused.error?.data?.portcullis?.code).toBe('killed');
      if (trial > 0) kill.push((refused.sentAt ?? refused.at) - killedAt);
      lastState = false;
      await settle(follower, false);

      const releasedAt = await portcullis('release', 'mcpserver/billing', '-n', BILLING_NAMESPACE);
      const allowed = await follower.next((line) => line.allowed === true);
      if (trial > 0) release.push((allowed.sentAt ?? allowed.at) - releasedAt);
      lastState = true;
      await settle(follower, true);
    }
    const summary = (sample: number[]) => ({
      p50: percentile(sample, 50),
      p99: percentile(sample, 99),
      max: Math.max(...sample),
      samples: sample,
    });
    const results = { trials: TRIALS, unit: 'ms', kill: summary(kill), release: summary(release) };
    mkdirSync(resolve(RESULTS, '..'), { recursive: true });
    writeFileSync(RESULTS, `${JSON.stringify(results, null, 2)}\n`);
    console.log(
      `kill switch on real pods: kill p50 ${results.kill.p50} ms p99 ${results.kill.p99} ms; release p50 ${results.release.p50} ms p99 ${results.release.p99} ms`,
    );
    expect(results.kill.p99).toBeLessThanOrEqual(P99_GUARD_MS);
    expect(results.release.p99).toBeLessThanOrEqual(P99_GUARD_MS);
  });
});
