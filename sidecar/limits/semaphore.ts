/**
 * A counting semaphore with a bounded FIFO wait queue: at most `capacity` units in flight, at most
 * `maxQueue` waiters. Weighted (a JSON-RPC batch of n calls takes n units at once, so it never holds
 * some while waiting for others), strictly first in, first out (a heavy waiter at the head is not
 * overtaken by light ones behind it, so it cannot starve), and cancellable (a waiter leaves the queue
 * in O(1) when its client goes away or its wait times out).
 *
 * It knows no time and no I/O: callers bring timers and signals. Invariants, which the property
 * tests check after every step of random interleavings:
 *  - inFlight never exceeds capacity (while capacity is unchanged; a lowered capacity grants nothing
 *    until inFlight drops below it);
 *  - queued never exceeds maxQueue;
 *  - every granted unit is released exactly once (release of more than is held throws: a defect).
 */
export interface Waiter {
  readonly weight: number;
  /** Called at most once, synchronously from release() or setLimits(), when the units are granted. */
  readonly onGrant: () => void;
  prev: Waiter | undefined;
  next: Waiter | undefined;
  state: 'queued' | 'granted' | 'cancelled';
}

export class Semaphore {
  #capacity: number;
  #maxQueue: number;
  #inFlight = 0;
  #queued = 0;
  #head: Waiter | undefined;
  #tail: Waiter | undefined;

  constructor(capacity: number, maxQueue: number) {
    Semaphore.#check(capacity, maxQueue);
    this.#capacity = capacity;
    this.#maxQueue = maxQueue;
  }

  static #check(capacity: number, maxQueue: number): void {
    if (!Number.isInteger(capacity) || capacity < 1)
      throw new RangeError(`semaphore capacity must be a positive integer, got ${capacity}`);
    if (!Number.isInteger(maxQueue) || maxQueue < 0)
      throw new RangeError(`semaphore maxQueue must be a non-negative integer, got ${maxQueue}`);
  }

  get capacity(): number {
    return this.#capacity;
  }
  get maxQueue(): number {
    return this.#maxQueue;
  }
  get inFlight(): number {
    return this.#inFlight;
  }
  get queued(): number {
    return this.#queued;
  }
  /** Nothing held and nobody waiting: the semaphore can be forgotten without changing anything. */
  get idle(): boolean {
    return this.#inFlight === 0 && this.#queued === 0;
  }

  /** Takes `weight` units now if they are free and nobody is queued ahead (FIFO); no allocation. */
  tryAcquire(weight = 1): boolean {
    if (this.#head !== undefined || this.#inFlight + weight > this.#capacity) return false;
    this.#inFlight += weight;
    return true;
  }

  /**
   * Takes the units now (true, and `onGrant` is not called), or joins the queue (the Waiter; `onGrant`
   * runs when the units are granted), or refuses (undefined): the queue is full, or the weight can never
   * fit (more than the capacity).
   */
  acquire(weight: number, onGrant: () => void): true | Waiter | undefined {
    if (this.tryAcquire(weight)) return true;
    if (this.#queued >= this.#maxQueue || weight > this.#capacity) return undefined;
    const waiter: Waiter = { weight, onGrant, prev: this.#tail, next: undefined, state: 'queued' };
    if (this.#tail) this.#tail.next = waiter;
    else this.#head = waiter;
    this.#tail = waiter;
    this.#queued++;
    return waiter;
  }

  /** Leaves the queue; false when the waiter was already granted (then the caller holds the units). */
  cancel(waiter: Waiter): boolean {
    if (waiter.state !== 'queued') return false;
    this.#unlink(waiter);
    waiter.state = 'cancelled';
    // The head leaving may let the next (lighter) waiter in.
    this.#drain();
    return true;
  }

  release(weight = 1): void {
    if (weight > this.#inFlight)
      throw new Error(`semaphore released ${weight} units with only ${this.#inFlight} held`);
    this.#inFlight -= weight;
    this.#drain();
  }

  /** New limits from a policy update; holders keep their units, waiters keep their places. */
  setLimits(capacity: number, maxQueue: number): void {
    Semaphore.#check(capacity, maxQueue);
    this.#capacity = capacity;
    this.#maxQueue = maxQueue;
    this.#drain();
  }

  #unlink(waiter: Waiter): void {
    if (waiter.prev) waiter.prev.next = waiter.next;
    else this.#head = waiter.next;
    if (waiter.next) waiter.next.prev = waiter.prev;
    else this.#tail = waiter.prev;
    waiter.prev = waiter.next = undefined;
    this.#queued--;
  }

  #drain(): void {
    // Re-reads the head each turn: onGrant may cancel or release (re-entering) and stay consistent.
    for (;;) {
      const head = this.#head;
      if (head === undefined || this.#inFlight + head.weight > this.#capacity) return;
      this.#unlink(head);
      head.state = 'granted';
      this.#inFlight += head.weight;
      head.onGrant();
    }
  }
}
