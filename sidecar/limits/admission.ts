import type { Semaphore, Waiter } from './semaphore.ts';

/**
 * Takes units from several semaphores (a rule's cap, then the server's) for one request, or none.
 *
 * - Always in the caller's order (narrowest first, the server last), so no two requests wait for each
 *   other in a cycle; and a call waiting for its rule's slot holds no server slot meanwhile, so a
 *   noisy rule queues behind itself instead of starving every other tool of server slots.
 * - One deadline for the whole wait; a wait may also be cancelled (the client went away). Either way
 *   the request leaves every queue it is in and gives back every unit it took: nothing leaks.
 * - The fast path (every unit free) takes no timer, no promise and no closure; the returned Slots
 *   object is the only allocation.
 * - `release()` is idempotent: the pipeline may call it from its `finally` whatever happened before.
 */
export interface Step {
  readonly semaphore: Semaphore;
  readonly weight: number;
}

export interface Timers {
  set(callback: () => void, ms: number): unknown;
  clear(handle: unknown): void;
}

export const realTimers: Timers = {
  set: (callback, ms) => setTimeout(callback, ms),
  clear: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

export type RefusalReason = 'queue_full' | 'timeout' | 'cancelled';

export interface AdmissionRefusal {
  readonly refused: RefusalReason;
  /** Index of the step whose semaphore refused (or was being waited for). */
  readonly step: number;
}

/** Units held for one request; give them back with release(), once or many times. */
export interface Held {
  readonly refused?: undefined;
  readonly waiting: false;
  release(): void;
}

/** A request in some queue: it ends held, or refused (full queue, deadline, cancel). */
export interface Waiting {
  readonly refused?: undefined;
  readonly waiting: true;
  readonly result: Promise<Held | AdmissionRefusal>;
  /** The client went away: leave the queue, give back what was taken. No-op once settled. */
  cancel(): void;
}

/** Both faces of one acquisition: `waiting` says which one the caller got. */
class Slots {
  readonly refused = undefined;
  waiting = false;
  result: Promise<Held | AdmissionRefusal> | undefined;
  readonly #steps: readonly Step[];
  readonly #timers: Timers;
  /** Steps [0, held) hold their units. */
  #held = 0;
  #waiter: Waiter | undefined;
  #timer: unknown;
  #settled = false;
  #released = false;
  #resolve: ((value: Held | AdmissionRefusal) => void) | undefined;

  constructor(steps: readonly Step[], timers: Timers) {
    this.#steps = steps;
    this.#timers = timers;
  }

  /** Steps held so far; after a failed tryAll, the index of the step that had no room. */
  get held(): number {
    return this.#held;
  }

  /** Takes what is free now; true when every step is held. */
  tryAll(): boolean {
    const steps = this.#steps;
    while (this.#held < steps.length) {
      const step = steps[this.#held]!;
      if (!step.semaphore.tryAcquire(step.weight)) return false;
      this.#held++;
    }
    return true;
  }

  /** Slow path: queue for the rest, within timeoutMs. */
  wait(timeoutMs: number): Waiting | AdmissionRefusal {
    const refusal = this.#advance();
    if (refusal !== undefined) return refusal;
    this.waiting = true;
    if (this.#held === this.#steps.length) {
      this.#settled = true;
      this.result = Promise.resolve(this as Held);
      return this as Waiting;
    }
    this.result = new Promise((resolve) => (this.#resolve = resolve));
    this.#timer = this.#timers.set(() => this.#abort('timeout'), timeoutMs);
    return this as Waiting;
  }

  /** Acquires or queues for the steps still missing; a refusal gives everything back. */
  #advance(): AdmissionRefusal | undefined {
    const steps = this.#steps;
    while (this.#held < steps.length) {
      const step = steps[this.#held]!;
      const outcome = step.semaphore.acquire(step.weight, this.#granted);
      if (outcome === true) {
        this.#held++;
        continue;
      }
      if (outcome === undefined) {
        const refusal: AdmissionRefusal = { refused: 'queue_full', step: this.#held };
        this.#giveBack();
        return refusal;
      }
      this.#waiter = outcome;
      return undefined;
    }
    return undefined;
  }

  /**
   * Runs inside another request's release(): the units are ours from this moment (counted in #held),
   * but the rest of the work waits for a microtask, so one release never recurses through a chain of
   * waiters.
   */
  readonly #granted = (): void => {
    this.#waiter = undefined;
    this.#held++;
    queueMicrotask(this.#continue);
  };

  readonly #continue = (): void => {
    if (this.#settled) return;
    const refusal = this.#advance();
    if (refusal !== undefined) return this.#settle(refusal);
    if (this.#held === this.#steps.length) this.#settle(this as Held);
  };

  #settle(outcome: Held | AdmissionRefusal): void {
    this.#settled = true;
    this.#timers.clear(this.#timer);
    this.#resolve!(outcome);
  }

  #abort(reason: RefusalReason): void {
    if (this.#settled) return;
    const refusal: AdmissionRefusal = { refused: reason, step: this.#held };
    // Leave the queue; when the grant already happened, #held counts it and #giveBack returns it.
    if (this.#waiter !== undefined) this.#steps[this.#held]!.semaphore.cancel(this.#waiter);
    this.#waiter = undefined;
    this.#giveBack();
    this.#settle(refusal);
  }

  cancel(): void {
    this.#abort('cancelled');
  }

  #giveBack(): void {
    const steps = this.#steps;
    const held = this.#held;
    this.#held = 0;
    for (let i = held - 1; i >= 0; i--) steps[i]!.semaphore.release(steps[i]!.weight);
  }

  release(): void {
    // Released while still queued (it should not be: the stage awaits the result): leave the queue too.
    if (this.waiting && !this.#settled) this.#abort('cancelled');
    if (this.#released) return;
    this.#released = true;
    this.#giveBack();
  }
}

/**
 * Held when every step's units are free now; otherwise Waiting (queued, settles within timeoutMs) or
 * a refusal (a queue is full, a weight exceeds a capacity, or waiting is off: timeoutMs <= 0).
 */
export function acquireAll(
  steps: readonly Step[],
  timeoutMs: number,
  timers: Timers = realTimers,
): Held | Waiting | AdmissionRefusal {
  const slots = new Slots(steps, timers);
  if (slots.tryAll()) return slots as Held;
  if (timeoutMs <= 0) {
    const refusal: AdmissionRefusal = { refused: 'queue_full', step: slots.held };
    slots.release();
    return refusal;
  }
  return slots.wait(timeoutMs);
}
