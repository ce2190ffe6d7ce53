import { describe, expect, it } from 'vitest';
import { mcpServer, toolPolicy } from '../../api/v1alpha1/resources.ts';
import { authorize } from '../../policy/authorize.ts';
import { compile } from '../../policy/compile.ts';
import { loadBundle, type LoadedPolicy } from '../../policy/load.ts';
import type { Principal } from '../../policy/principal.ts';
import { principal } from '../../test/fixtures/principals.ts';
import type { Rejection } from '../reject.ts';
import type { Held } from './admission.ts';
import {
  CallLimiter,
  type LimitKind,
  type LimitOutcome,
  type LimitScope,
  type LimitWaiting,
} from './call-limiter.ts';
import { cel } from '../../policy/cel.ts';

/** A policy for server `s` with these server limits and Allow rules (all tools, everyone). */
function policy(
  serverLimits: Record<string, unknown>,
  rules: readonly Record<string, unknown>[],
  extraRule = false,
): LoadedPolicy {
  const server = mcpServer.parse({
    apiVersion: 'portcullis.dev/v1alpha1',
    kind: 'McpServer',
    metadata: { name: 's', namespace: 'ns' },
    spec: {
      workload: { image: 'example.com/s:1' },
      auth: { issuer: 'https://id.example.com', publicUrl: 'https://s.example.com/mcp' },
      limits: serverLimits,
    },
  });
  const allRules = extraRule ? [...rules, { name: 'unrelated', tools: ['never_called'] }] : rules;
  const result = compile({
    server,
    policies: [
      toolPolicy.parse({
        apiVersion: 'portcullis.dev/v1alpha1',
        kind: 'ToolPolicy',
        metadata: { name: 'p', namespace: 'ns' },
        spec: { targets: { servers: ['s'] }, rules: allRules },
      }),
    ],
    conditions: cel,
  });
  if (!result.ok) throw new Error(JSON.stringify(result.errors));
  return loadBundle(result.bundle, cel);
}

const alice = principal({ user: 'alice' });
const bob = principal({ user: 'bob' });

class Clock {
  now = 0;
  readonly read = () => this.now;
}

function harness(options: { maxKeys?: number } = {}) {
  const clock = new Clock();
  const limited: [LimitKind, LimitScope][] = [];
  const limiter = new CallLimiter({
    now: clock.read,
    ...options,
    observer: { limited: (kind, scope) => limited.push([kind, scope]) },
  });
  const admit = (
    loaded: LoadedPolicy,
    tools: string | readonly string[],
    who: Principal = alice,
    sessionId?: string,
  ): LimitOutcome => {
    const calls = (typeof tools === 'string' ? [tools] : tools).map((tool) => {
      const verdict = authorize(loaded, { principal: who, tool, args: {} });
      expect(verdict.decision.allowed).toBe(true);
      return { tool, verdict };
    });
    return limiter.admit({ policy: loaded, principal: who, sessionId, calls });
  };
  return { clock, limiter, limited, admit };
}

const isHeld = (o: LimitOutcome): o is Held => !('code' in o) && !o.waiting;
const isWaiting = (o: LimitOutcome): o is LimitWaiting => !('code' in o) && o.waiting;
function rejection(o: LimitOutcome): Rejection {
  if (!('code' in o)) throw new Error('expected a refusal');
  return o;
}
/** Admits and releases at once (a call that finished); returns the refusal code or 'ok'. */
function call(o: LimitOutcome): string {
  if ('code' in o) return o.code;
  if (!isHeld(o)) throw new Error('unexpected wait');
  o.release();
  return 'ok';
}

describe('CallLimiter: rates', () => {
  it('limits the server rate and says when to retry, rounded up', () => {
    const { admit, clock, limited } = harness();
    const p = policy({ rate: { requestsPerSecond: 2, burst: 2 } }, [{ name: 'all', tools: ['*'] }]);
    expect([call(admit(p, 'a')), call(admit(p, 'b'))]).toEqual(['ok', 'ok']);
    const refused = rejection(admit(p, 'c'));
    expect(refused).toMatchObject({ code: 'rate_limited', retryAfter: 1, policyHash: p.hash });
    expect(refused.reason).toContain('server ns/s allows 2 calls/s (burst 2)');
    expect(limited).toEqual([['rate', 'server']]);
    clock.now = 500; // one token back
    expect(call(admit(p, 'c'))).toBe('ok');
  });

  it('counts a Subject rate per user: one noisy user does not spend the others’ tokens', () => {
    const { admit } = harness();
    const p = policy({}, [
      { name: 'all', tools: ['*'], limits: { rate: { requestsPerSecond: 1, burst: 3 }, rateKey: 'Subject' } },
    ]);
    const noisy = Array.from({ length: 10 }, () => call(admit(p, 'x', alice)));
    expect(noisy.filter((c) => c === 'ok')).toHaveLength(3);
    expect(noisy.slice(3).every((c) => c === 'rate_limited')).toBe(true);
    expect(call(admit(p, 'x', bob))).toBe('ok');
  });

  it('counts a Tool rate per tool across callers, and names rule and scope in the refusal', () => {
    const { admit, limited } = harness();
    const p = policy({}, [
      { name: 'all', tools: ['*'], limits: { rate: { requestsPerSecond: 1, burst: 1 }, rateKey: 'Tool' } },
    ]);
    expect(call(admit(p, 'x', alice))).toBe('ok');
    const refused = rejection(admit(p, 'x', bob));
    expect(refused.reason).toContain('rule all of ToolPolicy p per tool allows 1 calls/s');
    expect(refused.rule).toEqual({ policy: 'p', rule: 'all' });
    expect(limited).toEqual([['rate', 'tool']]);
    expect(call(admit(p, 'y', bob))).toBe('ok');
  });

  it('counts SubjectTool per (user, tool) and Rule for everyone together', () => {
    const { admit } = harness();
    const p = policy({}, [
      {
        name: 'pair',
        tools: ['x', 'y'],
        limits: { rate: { requestsPerSecond: 1, burst: 1 }, rateKey: 'SubjectTool' },
      },
      { name: 'shared', tools: ['z'], limits: { rate: { requestsPerSecond: 1, burst: 1 }, rateKey: 'Rule' } },
    ]);
    expect([call(admit(p, 'x', alice)), call(admit(p, 'y', alice)), call(admit(p, 'x', bob))]).toEqual([
      'ok',
      'ok',
      'ok',
    ]);
    expect(call(admit(p, 'x', alice))).toBe('rate_limited');
    expect(call(admit(p, 'z', alice))).toBe('ok');
    expect(call(admit(p, 'z', bob))).toBe('rate_limited');
  });

  it('takes one token per call of a batch, all or none', () => {
    const { admit } = harness();
    const p = policy({ rate: { requestsPerSecond: 3, burst: 3 } }, [{ name: 'all', tools: ['*'] }]);
    expect(call(admit(p, ['a', 'b']))).toBe('ok');
    expect(rejection(admit(p, ['a', 'b'])).code).toBe('rate_limited');
    expect(call(admit(p, 'a'))).toBe('ok'); // the refused batch took nothing
    expect(rejection(admit(p, ['a', 'b', 'c', 'd'])).reason).toContain('never fits');
  });
});

describe('CallLimiter: budgets', () => {
  const p = policy({}, [{ name: 'budgeted', tools: ['*'], limits: { maxCallsPerSession: 3 } }]);

  it('spends a budget per session; a new session starts a new one', () => {
    const { admit, limited } = harness();
    for (let i = 0; i < 3; i++) expect(call(admit(p, 'x', alice, 'session-1'))).toBe('ok');
    const refused = rejection(admit(p, 'x', alice, 'session-1'));
    expect(refused).toMatchObject({ code: 'budget_exhausted', rule: { policy: 'p', rule: 'budgeted' } });
    expect(refused.retryAfter).toBeUndefined();
    expect(refused.reason).toContain('allows 3 calls per session');
    expect(limited).toEqual([['budget', 'session']]);
    expect(call(admit(p, 'x', alice, 'session-2'))).toBe('ok');
  });

  it('keys requests without a session by user', () => {
    const { admit, limited } = harness();
    for (let i = 0; i < 3; i++) expect(call(admit(p, 'x', alice))).toBe('ok');
    expect(rejection(admit(p, 'x', alice)).reason).toContain('per user (requests without a session)');
    expect(call(admit(p, 'x', bob))).toBe('ok');
    expect(limited).toEqual([['budget', 'subject']]);
  });
});

describe('CallLimiter: concurrency', () => {
  it('queues beyond the cap, grants in order on release, refuses a full queue', async () => {
    const { admit, limited } = harness();
    const p = policy({ maxConcurrency: 1, maxQueue: 1, queueTimeoutSeconds: 5 }, [
      { name: 'all', tools: ['*'] },
    ]);
    const first = admit(p, 'a');
    expect(isHeld(first)).toBe(true);
    const second = admit(p, 'b');
    expect(isWaiting(second)).toBe(true);
    const third = rejection(admit(p, 'c'));
    expect(third).toMatchObject({ code: 'concurrency_limited', retryAfter: 1 });
    expect(third.reason).toContain(
      'server ns/s allows 1 calls in flight; all are taken and the wait queue (1) is full',
    );
    expect(limited).toEqual([['queue_full', 'server']]);
    (first as Held).release();
    const granted = await (second as LimitWaiting).result;
    expect('code' in granted).toBe(false);
    (granted as Held).release();
  });

  it('caps a rule below the server; a waiting call holds no server slot', () => {
    const { admit, limiter } = harness();
    const p = policy({ maxConcurrency: 4, maxQueue: 4 }, [
      { name: 'slow', tools: ['slow'], limits: { maxConcurrency: 1 } },
      { name: 'fast', tools: ['fast'] },
    ]);
    const slow = admit(p, 'slow');
    const queued = admit(p, 'slow');
    expect(isWaiting(queued)).toBe(true);
    const snapshot = [...limiter.concurrency()];
    expect(snapshot).toEqual([
      { scope: 'server', name: '', inFlight: 1, queued: 0 },
      { scope: 'rule', name: 'p/slow', inFlight: 1, queued: 1 },
    ]);
    // The other tool still has three server slots.
    const fast = [admit(p, 'fast'), admit(p, 'fast'), admit(p, 'fast')];
    expect(fast.every(isHeld)).toBe(true);
    for (const f of fast) (f as Held).release();
    (queued as LimitWaiting).cancel();
    (slow as Held).release();
    expect([...limiter.concurrency()].every((s) => s.inFlight === 0 && s.queued === 0)).toBe(true);
  });

  it('refunds rate tokens and budget when concurrency refuses', () => {
    const { admit } = harness();
    const p = policy({ maxConcurrency: 1, maxQueue: 0, rate: { requestsPerSecond: 1, burst: 2 } }, [
      { name: 'all', tools: ['*'], limits: { maxCallsPerSession: 2 } },
    ]);
    const held = admit(p, 'a', alice, 's1');
    expect(rejection(admit(p, 'a', alice, 's1')).code).toBe('concurrency_limited');
    (held as Held).release();
    // The refused call spent neither the second token nor the second call of the budget.
    expect(call(admit(p, 'a', alice, 's1'))).toBe('ok');
    expect(call(admit(p, 'a', alice, 's1'))).toBe('budget_exhausted');
  });

  it('times out a wait, and a cancelled wait gives everything back', async () => {
    const { admit, limited, limiter } = harness();
    const p = policy({ maxConcurrency: 1, maxQueue: 5, queueTimeoutSeconds: 1 }, [
      { name: 'all', tools: ['*'], limits: { maxCallsPerSession: 10 } },
    ]);
    const held = admit(p, 'a', alice, 's') as Held;
    const cancelled = admit(p, 'b', alice, 's') as LimitWaiting;
    cancelled.cancel();
    const outcome = rejection(await cancelled.result);
    expect(outcome.reason).toContain('the client went away');
    expect(limited).toEqual([['cancelled', 'server']]);
    expect([...limiter.concurrency()][0]).toMatchObject({ inFlight: 1, queued: 0 });
    held.release();
    expect([...limiter.concurrency()][0]).toMatchObject({ inFlight: 0, queued: 0 });
  });
});

describe('CallLimiter: policy updates', () => {
  const rules = (rate: number, burst: number, maxConcurrency = 2) => [
    { name: 'all', tools: ['*'], limits: { rate: { requestsPerSecond: rate, burst }, maxConcurrency } },
  ];

  it('keeps bucket state across an update that leaves the limit alone', () => {
    const { admit } = harness();
    const before = policy({}, rules(1, 2));
    const after = policy({}, rules(1, 2), true);
    expect(after.hash).not.toBe(before.hash);
    expect([call(admit(before, 'x')), call(admit(before, 'x'))]).toEqual(['ok', 'ok']);
    expect(call(admit(after, 'x'))).toBe('rate_limited'); // not a fresh burst
  });

  it('adapts when the limit changes: a lower burst bites at once, a higher rate refills faster', () => {
    const { admit, clock } = harness();
    const loose = policy({}, rules(1, 10));
    expect(call(admit(loose, 'x'))).toBe('ok');
    const tight = policy({}, rules(1, 1));
    expect(call(admit(tight, 'x'))).toBe('ok');
    expect(call(admit(tight, 'x'))).toBe('rate_limited');
    // The new rate applies from the first call decided under the new policy.
    const fast = policy({}, rules(100, 100));
    expect(call(admit(fast, 'x'))).toBe('rate_limited');
    clock.now = 10; // 1 token at 100/s (it would take a second at 1/s)
    expect(call(admit(fast, 'x'))).toBe('ok');
  });

  it('applies a changed concurrency cap to new calls, keeping the running ones counted', () => {
    const { admit, limiter } = harness();
    const two = policy({ maxConcurrency: 10 }, rules(1000, 1000, 2));
    const a = admit(two, 'x') as Held;
    const b = admit(two, 'x') as Held;
    const one = policy({ maxConcurrency: 10 }, rules(1000, 1000, 1));
    expect(isWaiting(admit(one, 'x'))).toBe(true);
    a.release();
    b.release();
    expect([...limiter.concurrency()].find((s) => s.scope === 'rule')).toMatchObject({
      inFlight: 1,
      queued: 0,
    });
  });
});

describe('CallLimiter: bounded memory', () => {
  it('holds at most maxKeys buckets and budgets under a flood of distinct users', () => {
    const { admit, limiter } = harness({ maxKeys: 500 });
    const p = policy({}, [
      {
        name: 'all',
        tools: ['*'],
        limits: { rate: { requestsPerSecond: 1, burst: 1 }, rateKey: 'SubjectTool', maxCallsPerSession: 5 },
      },
    ]);
    for (let i = 0; i < 50_000; i++)
      call(admit(p, `tool-${i % 7}`, principal({ user: `user-${i}` }), `session-${i}`));
    const keys = limiter.trackedKeys();
    expect(keys.rate).toBeLessThanOrEqual(500);
    expect(keys.budget).toBeLessThanOrEqual(1000);
    expect(keys.concurrency).toBeLessThanOrEqual(1);
  });
});
