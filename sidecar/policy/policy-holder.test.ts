import { describe, expect, it } from 'vitest';
import type { McpServer } from '../../api/v1alpha1/resources.ts';
import { compile } from '../../policy/compile.ts';
import { loadBundle, type LoadedPolicy } from '../../policy/load.ts';
import { loadExample } from '../../test/fixtures/examples.ts';
import type { Rejection } from '../reject.ts';
import { PolicyHolder } from './policy-holder.ts';
import { cel } from '../../policy/cel.ts';

/** The billing example with the given resilience settings (and an optional edit to tell versions apart). */
function billing(resilience: McpServer['spec']['resilience'], replicas = 2): LoadedPolicy {
  const { servers, policies } = loadExample('billing.yaml');
  const server = servers[0]!;
  server.spec.resilience = resilience;
  server.spec.workload.replicas = replicas;
  const result = compile({ server, policies, conditions: cel });
  if (!result.ok) throw new Error(JSON.stringify(result.errors));
  return loadBundle(result.bundle, cel);
}

const closed = billing({ failurePolicy: 'Closed', maxStalenessSeconds: 5 });
const open = billing({ failurePolicy: 'Open', maxStalenessSeconds: 5 });

function clock(start = 1_700_000_000_000) {
  const state = { now: start };
  return { state, read: () => state.now };
}

function refusal(gated: LoadedPolicy | Rejection): Rejection {
  if (!('code' in gated)) throw new Error('expected a refusal, got a policy');
  return gated;
}

describe('PolicyHolder.gate', () => {
  it('refuses everything before any policy, retryably, and says why when a load failed', () => {
    const holder = new PolicyHolder(clock().read);
    expect(refusal(holder.gate())).toMatchObject({ code: 'policy_unavailable', retryAfter: 5 });
    expect(refusal(holder.gate())).not.toHaveProperty('policyHash');
    holder.fail('invalid policy objects: server.yaml#1 (McpServer): spec.auth: required');
    const gated = refusal(holder.gate());
    expect(gated.reason).toContain('no valid policy loaded: invalid policy objects: server.yaml#1');
    expect(gated.reason).toContain('every call is refused');
  });

  it('decides with a fresh policy', () => {
    const holder = new PolicyHolder(clock().read);
    holder.install(closed);
    expect(holder.gate()).toBe(closed);
  });

  it('under Closed, refuses once the policy is unconfirmed for longer than maxStalenessSeconds', () => {
    const time = clock();
    const holder = new PolicyHolder(time.read);
    holder.install(closed);
    time.state.now += 5000;
    expect(holder.gate()).toBe(closed); // exactly at the bound: still fresh
    time.state.now += 1;
    const gated = refusal(holder.gate());
    expect(gated).toMatchObject({ code: 'policy_unavailable', policyHash: closed.hash, retryAfter: 5 });
    expect(gated.reason).toContain('unconfirmed for 5 s (bound 5 s) and failurePolicy is Closed');
  });

  it('is fresh again after a confirmation, which restarts the staleness clock', () => {
    const time = clock();
    const holder = new PolicyHolder(time.read);
    holder.install(closed);
    time.state.now += 60_000;
    expect('code' in holder.gate()).toBe(true);
    holder.confirm();
    expect(holder.gate()).toBe(closed);
    time.state.now += 5001;
    expect('code' in holder.gate()).toBe(true);
  });

  it('does not count a failed update as a confirmation', () => {
    const time = clock();
    const holder = new PolicyHolder(time.read);
    holder.install(closed);
    time.state.now += 4000;
    holder.fail('cannot read policy files');
    time.state.now += 2000;
    expect(refusal(holder.gate()).code).toBe('policy_unavailable');
    expect(holder.current).toBe(closed);
  });

  it('under Open, keeps deciding with the last good policy however stale', () => {
    const time = clock();
    const holder = new PolicyHolder(time.read);
    holder.install(open);
    time.state.now += 86_400_000;
    expect(holder.gate()).toBe(open);
  });
});

describe('PolicyHolder status and listeners', () => {
  it('tells listeners about a new policy only when its hash changes', () => {
    const time = clock();
    const holder = new PolicyHolder(time.read);
    const seen: [string, string | undefined][] = [];
    holder.onChange((policy, previous) => seen.push([policy.hash, previous?.hash]));
    holder.install(closed);
    time.state.now += 1000;
    holder.install(closed);
    const next = billing({ failurePolicy: 'Closed', maxStalenessSeconds: 5 }, 3);
    expect(next.hash).not.toBe(closed.hash);
    holder.install(next);
    expect(seen).toEqual([
      [closed.hash, undefined],
      [next.hash, closed.hash],
    ]);
  });

  it('reports when the policy was loaded and last confirmed, and the last error while it lasts', () => {
    const time = clock(1000);
    const holder = new PolicyHolder(time.read);
    expect(holder.status()).toEqual({});
    holder.install(closed);
    time.state.now = 2000;
    holder.install(closed); // the same policy again: confirmed, not reloaded
    expect(holder.status()).toEqual({ hash: closed.hash, loadedAt: 1000, confirmedAt: 2000 });

    time.state.now = 3000;
    holder.fail('policy does not compile');
    expect(holder.status()).toEqual({
      hash: closed.hash,
      loadedAt: 1000,
      confirmedAt: 2000,
      lastError: 'policy does not compile',
    });
    // The files were fixed back to the policy in force: the error is over.
    time.state.now = 4000;
    holder.confirm();
    expect(holder.status()).toEqual({ hash: closed.hash, loadedAt: 1000, confirmedAt: 4000 });
  });
});
