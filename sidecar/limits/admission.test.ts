import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { acquireAll, type Step, type Timers } from './admission.ts';
import { Semaphore } from './semaphore.ts';

/**
 * Concurrency caps under fast-check's scheduler: many requests acquire a rule's and the server's slots,
 * wait in queues, time out, are cancelled by their clients, finish or fail upstream, and release
 * (sometimes twice, as a `finally` might), in random interleavings. After every semaphore operation:
 * in flight <= cap and queued <= maxQueue. At the end: every unit given back, every queue empty, every
 * request settled exactly once.
 */
class CheckedSemaphore extends Semaphore {
  readonly violations: string[] = [];
  #check(what: string): void {
    if (this.inFlight > this.capacity)
      this.violations.push(`${what}: ${this.inFlight} in flight > ${this.capacity}`);
    if (this.queued > this.maxQueue)
      this.violations.push(`${what}: ${this.queued} queued > ${this.maxQueue}`);
    if (this.inFlight < 0 || this.queued < 0) this.violations.push(`${what}: negative`);
  }
  override tryAcquire(weight = 1): boolean {
    const ok = super.tryAcquire(weight);
    this.#check('tryAcquire');
    return ok;
  }
  override acquire(weight: number, onGrant: () => void) {
    const outcome = super.acquire(weight, () => {
      this.#check('grant');
      onGrant();
    });
    this.#check('acquire');
    return outcome;
  }
  override release(weight = 1): void {
    super.release(weight);
    this.#check('release');
  }
  override cancel(waiter: Parameters<Semaphore['cancel']>[0]): boolean {
    const removed = super.cancel(waiter);
    this.#check('cancel');
    return removed;
  }
}

interface Plan {
  /** Which rule (0..2) the call belongs to; -1: a rule without a cap. */
  readonly rule: number;
  /** A batch takes several units at once. */
  readonly weight: number;
  /** The client goes away while queued (if it queues). */
  readonly cancels: boolean;
  /** The upstream answers with an error instead of a result. */
  readonly fails: boolean;
  /** The pipeline's finally releases twice (idempotence). */
  readonly releasesTwice: boolean;
}

const plan = fc.record({
  rule: fc.integer({ min: -1, max: 2 }),
  weight: fc.integer({ min: 1, max: 3 }),
  cancels: fc.boolean(),
  fails: fc.boolean(),
  releasesTwice: fc.boolean(),
});

describe('acquireAll under random interleavings', () => {
  it('never exceeds a cap or a queue bound, and leaks nothing', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.scheduler(),
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 0, max: 3 }),
        fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 3, maxLength: 3 }),
        fc.array(plan, { minLength: 1, maxLength: 24 }),
        async (s, serverCap, maxQueue, ruleCaps, plans) => {
          const server = new CheckedSemaphore(serverCap, maxQueue);
          const rules = ruleCaps.map((cap) => new CheckedSemaphore(cap, maxQueue));
          // Timers are scheduler tasks: a deadline fires at any point the scheduler picks.
          const timers: Timers = {
            set(callback) {
              const timer = { cleared: false };
              void s.schedule(Promise.resolve(), 'timeout').then(() => {
                if (!timer.cleared) callback();
              });
              return timer;
            },
            clear(handle) {
              if (handle) (handle as { cleared: boolean }).cleared = true;
            },
          };
          const outcomes: string[] = [];

          const request = async (p: Plan, index: number) => {
            const steps: Step[] = [];
            if (p.rule >= 0) steps.push({ semaphore: rules[p.rule]!, weight: p.weight });
            steps.push({ semaphore: server, weight: p.weight });
            await s.schedule(Promise.resolve(), `arrive ${index}`);
            let outcome = acquireAll(steps, 1000, timers);
            if (outcome.refused !== undefined) return outcomes.push(`refused:${outcome.refused}`);
            if (outcome.waiting) {
              const waiting = outcome;
              if (p.cancels)
                void s.schedule(Promise.resolve(), `client ${index} goes away`).then(() => waiting.cancel());
              const settled = await waiting.result;
              if (settled.refused !== undefined) return outcomes.push(`refused:${settled.refused}`);
              outcome = settled;
            }
            const held = outcome;
            try {
              await s.schedule(
                p.fails ? Promise.reject(new Error('upstream failed')) : Promise.resolve(),
                `upstream ${index}`,
              );
              outcomes.push('done');
            } catch {
              outcomes.push('failed');
            } finally {
              held.release();
              if (p.releasesTwice) held.release();
            }
          };

          await s.waitFor(Promise.all(plans.map(request)));
          // Settle anything still scheduled (stray deadlines of settled waits).
          await s.waitIdle();

          const all = [server, ...rules];
          expect(all.flatMap((x) => x.violations)).toEqual([]);
          for (const semaphore of all) expect([semaphore.inFlight, semaphore.queued]).toEqual([0, 0]);
          expect(outcomes).toHaveLength(plans.length);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('holds no rule slot after a refusal by the server queue', () => {
    const rule = new Semaphore(5, 5);
    const server = new Semaphore(1, 0);
    expect(server.tryAcquire(1)).toBe(true);
    const outcome = acquireAll(
      [
        { semaphore: rule, weight: 1 },
        { semaphore: server, weight: 1 },
      ],
      1000,
    );
    expect(outcome).toEqual({ refused: 'queue_full', step: 1 });
    expect(rule.inFlight).toBe(0);
  });

  it('takes the fast path without a promise or a timer', () => {
    const server = new Semaphore(2, 2);
    const timers: Timers = {
      set: () => {
        throw new Error('no timer on the fast path');
      },
      clear: () => {},
    };
    const outcome = acquireAll([{ semaphore: server, weight: 1 }], 1000, timers);
    expect(outcome.refused).toBeUndefined();
    expect(outcome.refused === undefined && outcome.waiting).toBe(false);
    if (outcome.refused === undefined && !outcome.waiting) outcome.release();
    expect(server.idle).toBe(true);
  });

  it('refuses instead of queueing when waiting is off (timeout 0)', () => {
    const server = new Semaphore(1, 10);
    server.tryAcquire(1);
    expect(acquireAll([{ semaphore: server, weight: 1 }], 0)).toEqual({ refused: 'queue_full', step: 0 });
    expect(server.queued).toBe(0);
  });

  it('times out with real timers and leaves the queue', async () => {
    const server = new Semaphore(1, 10);
    server.tryAcquire(1);
    const outcome = acquireAll([{ semaphore: server, weight: 1 }], 20);
    expect(outcome.refused === undefined && outcome.waiting).toBe(true);
    if (outcome.refused !== undefined || !outcome.waiting) return;
    expect(server.queued).toBe(1);
    expect(await outcome.result).toEqual({ refused: 'timeout', step: 0 });
    expect(server.queued).toBe(0);
    server.release(1);
    expect(server.idle).toBe(true);
  });
});
