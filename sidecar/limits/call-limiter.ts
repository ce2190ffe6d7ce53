import type { RuleLimits, Verdict } from '../../policy/decision.ts';
import type { LoadedPolicy } from '../../policy/load.ts';
import type { Principal } from '../../policy/principal.ts';
import type { SidecarMetrics } from '../observability/metrics.ts';
import { reject, type Rejection } from '../reject.ts';
import {
  acquireAll,
  realTimers,
  type AdmissionRefusal,
  type Held,
  type Step,
  type Timers,
} from './admission.ts';
import { KeyedState } from './keyed.ts';
import { Semaphore } from './semaphore.ts';
import { retryAfterSeconds, TokenBucket } from './token-bucket.ts';

/**
 * The blast-radius limits of one sidecar, applied to the tool calls policy has allowed:
 *
 * 1. call budgets (rule `maxCallsPerSession`; per MCP session, or per user for requests without one),
 * 2. rate (token buckets: the server's `spec.limits.rate`; a rule's `rate` per rule, tool, user, or
 *    (user, tool) as its `rateKey` says),
 * 3. concurrency (the rule's `maxConcurrency`, then the server's `maxConcurrency`, with the server's
 *    bounded FIFO queue and queue timeout).
 *
 * Cheapest and non-blocking first; a later refusal gives back what the earlier steps took (a call
 * refused for concurrency spends no rate token and no budget). All state is keyed by what it limits,
 * not by policy version, so a policy update that leaves a limit alone leaves its state alone, and one
 * that changes a limit adapts the state in place (see TokenBucket.reconfigure, Semaphore.setLimits).
 * Per-key state is bounded (KeyedState): a flood of distinct users or sessions cannot grow memory.
 */
export type LimitKind = 'rate' | 'budget' | 'queue_full' | 'queue_timeout' | 'cancelled';
export type LimitScope = 'server' | 'rule' | 'tool' | 'subject' | 'subject_tool' | 'session';

export interface LimitObserver {
  /** A call was refused (or gave up waiting) because of this limit. */
  limited(kind: LimitKind, scope: LimitScope): void;
}

export interface CallLimiterOptions {
  /** Monotonic milliseconds (default performance.now). */
  readonly now?: () => number;
  readonly timers?: Timers;
  /** Per-key entries kept for each kind of state (rate buckets, session budgets, user budgets). */
  readonly maxKeys?: number;
  /** Budget counters not used for this long are forgotten (default one hour, the session idle time). */
  readonly budgetIdleMs?: number;
  readonly observer?: LimitObserver;
}

export interface LimitedCall {
  readonly tool: string;
  readonly verdict?: Verdict;
}

export interface LimitRequest {
  readonly policy: LoadedPolicy;
  readonly principal: Principal;
  readonly sessionId: string | undefined;
  /** The request's tool calls, every one allowed by policy. */
  readonly calls: readonly LimitedCall[];
}

/** Waiting for a concurrency slot: settles held or refused; cancel() when the client goes away. */
export interface LimitWaiting {
  readonly waiting: true;
  readonly result: Promise<Held | Rejection>;
  cancel(): void;
}

export type LimitOutcome = Held | LimitWaiting | Rejection;

interface CompiledRule {
  readonly key: string;
  readonly label: string;
  readonly ref: { readonly policy: string; readonly rule: string };
  readonly limits: RuleLimits;
}

interface Counter {
  n: number;
}

const RATE_SCOPE = { Rule: 'rule', Tool: 'tool', Subject: 'subject', SubjectTool: 'subject_tool' } as const;
const RATE_PER = { Rule: '', Tool: ' per tool', Subject: ' per user', SubjectTool: ' per (user, tool)' };
const DEFAULT_MAX_KEYS = 10_000;
/** Rule semaphores are few (rules of the policy in force), but renamed rules leave idle ones behind. */
const MAX_RULE_SEMAPHORES = 4096;

/** Length-prefixed, so no pair of (user, tool) values can spell another pair's key. */
const part = (value: string) => `${value.length}:${value}`;

export class CallLimiter {
  readonly #now: () => number;
  readonly #timers: Timers;
  readonly #observer: LimitObserver | undefined;
  /** Compiled once per rule limits object (stable for the life of a loaded policy). */
  readonly #rules = new WeakMap<RuleLimits, CompiledRule>();
  #serverBucket: TokenBucket | undefined;
  #serverSemaphore: Semaphore | undefined;
  readonly #ruleSemaphores = new KeyedState<Semaphore>({
    maxKeys: MAX_RULE_SEMAPHORES,
    evictable: (s) => s.idle,
  });
  readonly #buckets: KeyedState<TokenBucket>;
  readonly #sessionBudgets: KeyedState<Counter>;
  readonly #subjectBudgets: KeyedState<Counter>;

  constructor(options: CallLimiterOptions = {}) {
    this.#now = options.now ?? (() => performance.now());
    this.#timers = options.timers ?? realTimers;
    this.#observer = options.observer;
    const maxKeys = options.maxKeys ?? DEFAULT_MAX_KEYS;
    const idleMs = options.budgetIdleMs ?? 60 * 60 * 1000;
    this.#buckets = new KeyedState({ maxKeys });
    this.#sessionBudgets = new KeyedState({ maxKeys, idleMs });
    this.#subjectBudgets = new KeyedState({ maxKeys, idleMs });
  }

  /** Limits for one request's tool calls: held (release when the exchange ends), waiting, or refused. */
  admit(request: LimitRequest): LimitOutcome {
    const now = this.#now();
    const { policy, calls } = request;
    const rules: (CompiledRule | undefined)[] = calls.map((call) => this.#rule(call.verdict));

    // Each step undoes its own partial work when it refuses; later refusals undo the earlier steps.
    const taken: Taken = { counters: [], buckets: [], weights: [] };
    const overBudget = this.#takeBudgets(request, rules, now, taken);
    if (overBudget) return overBudget;
    const overRate = this.#takeRate(request, rules, now, taken);
    if (overRate) {
      undoBudgets(taken);
      return overRate;
    }

    const steps = this.#concurrencySteps(policy, rules, now);
    const timeoutMs = policy.bundle.spec.limits.queueTimeoutSeconds * 1000;
    const outcome = acquireAll(steps, timeoutMs, this.#timers);
    if (outcome.refused !== undefined) {
      undoAll(taken);
      return this.#concurrencyRejection(policy, rules, steps, outcome);
    }
    if (!outcome.waiting) return outcome;
    const result = outcome.result.then((settled): Held | Rejection => {
      if (settled.refused === undefined) return settled;
      undoAll(taken);
      return this.#concurrencyRejection(policy, rules, steps, settled);
    });
    return { waiting: true, result, cancel: () => outcome.cancel() };
  }

  #rule(verdict: Verdict | undefined): CompiledRule | undefined {
    const decision = verdict?.decision;
    if (!decision?.allowed || decision.limits === undefined) return undefined;
    const { policy, rule: name } = decision.rule;
    let rule = this.#rules.get(decision.limits);
    // (Two rules could share one limits object, e.g. through a YAML alias: then the names tell them apart.)
    if (rule === undefined || rule.ref.rule !== name || rule.ref.policy !== policy) {
      rule = {
        key: `${policy}/${name}`,
        label: `rule ${name} of ToolPolicy ${policy}`,
        ref: { policy, rule: name },
        limits: decision.limits,
      };
      this.#rules.set(decision.limits, rule);
    }
    return rule;
  }

  #takeBudgets(
    request: LimitRequest,
    rules: readonly (CompiledRule | undefined)[],
    now: number,
    taken: Taken,
  ): Rejection | undefined {
    const { sessionId, principal } = request;
    for (const rule of rules) {
      const max = rule?.limits.maxCallsPerSession;
      if (rule === undefined || max === undefined) continue;
      const state = sessionId === undefined ? this.#subjectBudgets : this.#sessionBudgets;
      const key = `${rule.key}\u0000${sessionId ?? principal.user}`;
      const counter = state.get(key, now, () => ({ n: 0 }));
      if (counter.n >= max) {
        undoBudgets(taken);
        const per = sessionId === undefined ? 'per user (requests without a session)' : 'per session';
        this.#observer?.limited('budget', sessionId === undefined ? 'subject' : 'session');
        return reject(
          'budget_exhausted',
          `call budget exhausted: ${rule.label} allows ${max} calls ${per}; ` +
            (sessionId === undefined ? 'the budget is spent' : 'a new session starts a new budget'),
          { policyHash: request.policy.hash, rule: rule.ref },
        );
      }
      counter.n++;
      taken.counters.push(counter);
    }
    return undefined;
  }

  #takeRate(
    request: LimitRequest,
    rules: readonly (CompiledRule | undefined)[],
    now: number,
    taken: Taken,
  ): Rejection | undefined {
    const { policy, calls, principal } = request;
    const serverRate = policy.bundle.spec.limits.rate;
    if (serverRate === undefined) this.#serverBucket = undefined;
    else {
      const burst = serverRate.burst ?? serverRate.requestsPerSecond;
      const bucket = this.#serverBucket;
      if (bucket === undefined)
        this.#serverBucket = new TokenBucket(serverRate.requestsPerSecond, burst, now);
      else if (!bucket.hasSettings(serverRate.requestsPerSecond, burst))
        bucket.reconfigure(serverRate.requestsPerSecond, burst, now);
      const server = this.#serverBucket!;
      const wait = server.take(now, calls.length);
      if (wait > 0) {
        this.#observer?.limited('rate', 'server');
        return this.#rateRejection(policy, `server ${serverName(policy)}`, server, wait, calls.length);
      }
      taken.buckets.push(server);
      taken.weights.push(calls.length);
    }
    for (let i = 0; i < rules.length; i++) {
      const rule = rules[i];
      const rate = rule?.limits.rate;
      if (rule === undefined || rate === undefined) continue;
      const burst = rate.burst ?? rate.requestsPerSecond;
      const rateKey = rule.limits.rateKey;
      const key = rateKeyOf(rule, rateKey, principal.user, calls[i]!.tool);
      const bucket = this.#buckets.get(key, now, () => new TokenBucket(rate.requestsPerSecond, burst, now));
      if (!bucket.hasSettings(rate.requestsPerSecond, burst))
        bucket.reconfigure(rate.requestsPerSecond, burst, now);
      const wait = bucket.take(now, 1);
      if (wait > 0) {
        undoRate(taken);
        this.#observer?.limited('rate', RATE_SCOPE[rateKey]);
        const rejection = this.#rateRejection(policy, `${rule.label}${RATE_PER[rateKey]}`, bucket, wait, 1);
        return { ...rejection, rule: rule.ref };
      }
      taken.buckets.push(bucket);
      taken.weights.push(1);
    }
    return undefined;
  }

  #rateRejection(
    policy: LoadedPolicy,
    what: string,
    bucket: TokenBucket,
    waitMs: number,
    count: number,
  ): Rejection {
    const allows = `allows ${bucket.ratePerSecond} calls/s (burst ${bucket.burst})`;
    if (waitMs === Infinity) {
      return reject('rate_limited', `rate limit: ${what} ${allows}; a batch of ${count} calls never fits`, {
        policyHash: policy.hash,
      });
    }
    const retryAfter = retryAfterSeconds(waitMs);
    return reject('rate_limited', `rate limit: ${what} ${allows}; retry in ${retryAfter} s`, {
      policyHash: policy.hash,
      retryAfter,
    });
  }

  /** Rule semaphores (sorted by key: one global order, no wait cycles), then the server's. */
  #concurrencySteps(policy: LoadedPolicy, rules: readonly (CompiledRule | undefined)[], now: number): Step[] {
    const spec = policy.bundle.spec.limits;
    const steps: Step[] = [];
    if (rules.length === 1) {
      const rule = rules[0];
      if (rule?.limits.maxConcurrency !== undefined)
        steps.push({ semaphore: this.#ruleSemaphore(rule, spec.maxQueue, now), weight: 1 });
    } else {
      const weights = new Map<CompiledRule, number>();
      for (const rule of rules)
        if (rule?.limits.maxConcurrency !== undefined) weights.set(rule, (weights.get(rule) ?? 0) + 1);
      const sorted = [...weights].sort(([a], [b]) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
      for (const [rule, weight] of sorted)
        steps.push({ semaphore: this.#ruleSemaphore(rule, spec.maxQueue, now), weight });
    }
    let server = this.#serverSemaphore;
    if (server === undefined)
      server = this.#serverSemaphore = new Semaphore(spec.maxConcurrency, spec.maxQueue);
    else if (server.capacity !== spec.maxConcurrency || server.maxQueue !== spec.maxQueue)
      server.setLimits(spec.maxConcurrency, spec.maxQueue);
    steps.push({ semaphore: server, weight: rules.length });
    return steps;
  }

  #ruleSemaphore(rule: CompiledRule, maxQueue: number, now: number): Semaphore {
    const capacity = rule.limits.maxConcurrency!;
    const semaphore = this.#ruleSemaphores.get(rule.key, now, () => new Semaphore(capacity, maxQueue));
    if (semaphore.capacity !== capacity || semaphore.maxQueue !== maxQueue)
      semaphore.setLimits(capacity, maxQueue);
    return semaphore;
  }

  #concurrencyRejection(
    policy: LoadedPolicy,
    rules: readonly (CompiledRule | undefined)[],
    steps: readonly Step[],
    refusal: AdmissionRefusal,
  ): Rejection {
    const { semaphore, weight } = steps[refusal.step]!;
    const isServer = refusal.step === steps.length - 1;
    const rule = isServer
      ? undefined
      : rules.find((r) => r && this.#ruleSemaphores.peek(r.key) === semaphore);
    const what = rule ? rule.label : `server ${serverName(policy)}`;
    const allows = `allows ${semaphore.capacity} calls in flight`;
    const spec = policy.bundle.spec.limits;
    const why =
      refusal.refused === 'timeout'
        ? `no slot freed within ${spec.queueTimeoutSeconds} s`
        : refusal.refused === 'cancelled'
          ? 'the client went away while the call waited for a slot'
          : weight > semaphore.capacity
            ? `a batch of ${weight} calls never fits`
            : spec.queueTimeoutSeconds === 0 || semaphore.maxQueue === 0
              ? 'all are taken and calls do not wait'
              : `all are taken and the wait queue (${semaphore.maxQueue}) is full`;
    this.#observer?.limited(
      refusal.refused === 'timeout' ? 'queue_timeout' : refusal.refused,
      isServer ? 'server' : 'rule',
    );
    return reject('concurrency_limited', `concurrency limit: ${what} ${allows}; ${why}`, {
      policyHash: policy.hash,
      ...(rule ? { rule: rule.ref } : {}),
      retryAfter: 1,
    });
  }

  /** Semaphores in use or known, for the in-flight and queue-depth gauges (read at scrape time). */
  *concurrency(): IterableIterator<{
    readonly scope: 'server' | 'rule';
    readonly name: string;
    readonly inFlight: number;
    readonly queued: number;
  }> {
    const server = this.#serverSemaphore;
    if (server) yield { scope: 'server', name: '', inFlight: server.inFlight, queued: server.queued };
    for (const [name, s] of this.#ruleSemaphores.entries())
      yield { scope: 'rule', name, inFlight: s.inFlight, queued: s.queued };
  }

  /** How many per-key entries each kind of state holds (bounded by maxKeys). */
  trackedKeys(): { readonly rate: number; readonly budget: number; readonly concurrency: number } {
    return {
      rate: this.#buckets.size,
      budget: this.#sessionBudgets.size + this.#subjectBudgets.size,
      concurrency: this.#ruleSemaphores.size,
    };
  }
}

/** What the budget and rate steps took for one request, to give back if a later step refuses it. */
interface Taken {
  readonly counters: Counter[];
  readonly buckets: TokenBucket[];
  readonly weights: number[];
}

function undoBudgets(taken: Taken): void {
  for (const counter of taken.counters) counter.n--;
  taken.counters.length = 0;
}

function undoRate(taken: Taken): void {
  for (let i = 0; i < taken.buckets.length; i++) taken.buckets[i]!.refund(taken.weights[i]);
  taken.buckets.length = 0;
  taken.weights.length = 0;
}

function undoAll(taken: Taken): void {
  undoBudgets(taken);
  undoRate(taken);
}

function rateKeyOf(rule: CompiledRule, rateKey: RuleLimits['rateKey'], user: string, tool: string): string {
  switch (rateKey) {
    case 'Rule':
      return rule.key;
    case 'Tool':
      return `${rule.key}\u0000t${part(tool)}`;
    case 'Subject':
      return `${rule.key}\u0000u${part(user)}`;
    case 'SubjectTool':
      return `${rule.key}\u0000u${part(user)}t${part(tool)}`;
  }
}

function serverName(policy: LoadedPolicy): string {
  const { namespace, name } = policy.bundle.server;
  return `${namespace}/${name}`;
}

/** The sidecar's limiter: refusals counted, semaphores exposed as gauges (read at scrape time). */
export function createCallLimiter(
  metrics: Pick<SidecarMetrics, 'limited' | 'watchLimits'>,
  options: Omit<CallLimiterOptions, 'observer'> = {},
): CallLimiter {
  const limiter = new CallLimiter({
    ...options,
    observer: { limited: (limit, scope) => metrics.limited.inc({ limit, scope }) },
  });
  metrics.watchLimits(limiter);
  return limiter;
}
