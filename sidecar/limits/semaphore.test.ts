import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Semaphore, type Waiter } from './semaphore.ts';

/**
 * The semaphore against a model: a plain FIFO list and a counter. Random sequences of acquire, release,
 * cancel and limit changes must leave the real one exactly where the model is (same grants, in the same
 * order), and the invariants must hold after every step.
 */
type Op =
  | { readonly op: 'acquire'; readonly weight: number }
  | { readonly op: 'release'; readonly pick: number }
  | { readonly op: 'cancel'; readonly pick: number }
  | { readonly op: 'limits'; readonly capacity: number; readonly maxQueue: number };

const ops: fc.Arbitrary<Op[]> = fc.array(
  fc.oneof(
    {
      weight: 4,
      arbitrary: fc.record({ op: fc.constant('acquire' as const), weight: fc.integer({ min: 1, max: 4 }) }),
    },
    { weight: 3, arbitrary: fc.record({ op: fc.constant('release' as const), pick: fc.nat() }) },
    { weight: 2, arbitrary: fc.record({ op: fc.constant('cancel' as const), pick: fc.nat() }) },
    {
      weight: 1,
      arbitrary: fc.record({
        op: fc.constant('limits' as const),
        capacity: fc.integer({ min: 1, max: 6 }),
        maxQueue: fc.integer({ min: 0, max: 5 }),
      }),
    },
  ),
  { maxLength: 120 },
);

interface Model {
  capacity: number;
  maxQueue: number;
  inFlight: number;
  queue: { id: number; weight: number }[];
  held: Map<number, number>;
}

function drainModel(model: Model, granted: number[]): void {
  while (model.queue.length > 0 && model.inFlight + model.queue[0]!.weight <= model.capacity) {
    const head = model.queue.shift()!;
    model.inFlight += head.weight;
    model.held.set(head.id, head.weight);
    granted.push(head.id);
  }
}

describe('Semaphore', () => {
  it('behaves like the FIFO model under random acquire/release/cancel/limit changes', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 0, max: 5 }),
        ops,
        (capacity, maxQueue, script) => {
          const semaphore = new Semaphore(capacity, maxQueue);
          const model: Model = { capacity, maxQueue, inFlight: 0, queue: [], held: new Map() };
          const realGrants: number[] = [];
          const modelGrants: number[] = [];
          const waiters = new Map<number, Waiter>();
          const realHeld = new Map<number, number>();
          let nextId = 0;
          // Lowered limits bind new grants and new waiters only: holders and waiters keep their places.
          let capacityLowered = false;
          let queueLowered = false;

          for (const step of script) {
            switch (step.op) {
              case 'acquire': {
                const id = nextId++;
                const outcome = semaphore.acquire(step.weight, () => {
                  realGrants.push(id);
                  realHeld.set(id, step.weight);
                });
                if (outcome === true) realHeld.set(id, step.weight);
                else if (outcome !== undefined) {
                  waiters.set(id, outcome);
                  expect(semaphore.queued).toBeLessThanOrEqual(semaphore.maxQueue);
                }
                // Model
                if (model.queue.length === 0 && model.inFlight + step.weight <= model.capacity) {
                  model.inFlight += step.weight;
                  model.held.set(id, step.weight);
                  expect(outcome).toBe(true);
                } else if (model.queue.length >= model.maxQueue || step.weight > model.capacity) {
                  expect(outcome).toBeUndefined();
                } else {
                  model.queue.push({ id, weight: step.weight });
                  expect(typeof outcome).toBe('object');
                }
                break;
              }
              case 'release': {
                const ids = [...model.held.keys()];
                if (ids.length === 0) break;
                const id = ids[step.pick % ids.length]!;
                const weight = model.held.get(id)!;
                model.held.delete(id);
                model.inFlight -= weight;
                drainModel(model, modelGrants);
                expect(realHeld.get(id)).toBe(weight);
                realHeld.delete(id);
                semaphore.release(weight);
                break;
              }
              case 'cancel': {
                const ids = [...waiters.keys()];
                if (ids.length === 0) break;
                const id = ids[step.pick % ids.length]!;
                const removed = semaphore.cancel(waiters.get(id)!);
                waiters.delete(id);
                const index = model.queue.findIndex((w) => w.id === id);
                expect(removed).toBe(index >= 0);
                if (index >= 0) {
                  model.queue.splice(index, 1);
                  drainModel(model, modelGrants);
                }
                break;
              }
              case 'limits': {
                if (step.capacity < model.capacity) capacityLowered = true;
                if (step.maxQueue < model.maxQueue) queueLowered = true;
                model.capacity = step.capacity;
                model.maxQueue = step.maxQueue;
                semaphore.setLimits(step.capacity, step.maxQueue);
                drainModel(model, modelGrants);
                break;
              }
            }
            // The real semaphore is where the model is, and the invariants hold.
            expect(realGrants).toEqual(modelGrants);
            expect(semaphore.inFlight).toBe(model.inFlight);
            expect(semaphore.queued).toBe(model.queue.length);
            expect([...realHeld.values()].reduce((a, b) => a + b, 0)).toBe(semaphore.inFlight);
            if (!capacityLowered) expect(semaphore.inFlight).toBeLessThanOrEqual(semaphore.capacity);
            if (!queueLowered) expect(semaphore.queued).toBeLessThanOrEqual(semaphore.maxQueue);
          }

          // Give everything back: nothing leaks, nobody is left waiting forever behind a released unit.
          for (const waiter of waiters.values()) semaphore.cancel(waiter);
          for (const weight of realHeld.values()) semaphore.release(weight);
          expect(semaphore.idle).toBe(true);
        },
      ),
    );
  });

  it('grants in order: a heavy waiter at the head is not overtaken by light ones', () => {
    const semaphore = new Semaphore(3, 10);
    expect(semaphore.acquire(2, () => {})).toBe(true);
    const order: string[] = [];
    semaphore.acquire(3, () => order.push('heavy'));
    semaphore.acquire(1, () => order.push('light'));
    expect(semaphore.tryAcquire(1)).toBe(false); // one unit is free, but someone is queued
    semaphore.release(2);
    expect(order).toEqual(['heavy']);
    semaphore.release(3);
    expect(order).toEqual(['heavy', 'light']);
  });

  it('lets the next waiter in when the head leaves the queue', () => {
    const semaphore = new Semaphore(2, 10);
    semaphore.acquire(1, () => {});
    const heavy = semaphore.acquire(2, () => {}) as Waiter;
    let light = false;
    semaphore.acquire(1, () => (light = true));
    expect(light).toBe(false);
    expect(semaphore.cancel(heavy)).toBe(true);
    expect(light).toBe(true);
    expect(semaphore.cancel(heavy)).toBe(false);
  });

  it('refuses at once when the queue is full or the weight can never fit', () => {
    const semaphore = new Semaphore(1, 1);
    expect(semaphore.acquire(1, () => {})).toBe(true);
    expect(semaphore.acquire(1, () => {})).toBeTypeOf('object');
    expect(semaphore.acquire(1, () => {})).toBeUndefined();
    expect(new Semaphore(2, 5).acquire(3, () => {})).toBeUndefined();
  });

  it('throws on a release of units nobody holds (a double release is a defect)', () => {
    const semaphore = new Semaphore(2, 0);
    semaphore.tryAcquire(1);
    semaphore.release(1);
    expect(() => semaphore.release(1)).toThrow(/only 0 held/);
  });

  it('stays consistent when a grant callback re-enters (cancels or releases)', () => {
    const semaphore = new Semaphore(1, 10);
    semaphore.tryAcquire(1);
    const granted: string[] = [];
    const later: { second?: Waiter } = {};
    semaphore.acquire(1, () => {
      granted.push('a');
      // Re-entrant: a gives its unit straight back and cancels b.
      semaphore.cancel(later.second!);
      semaphore.release(1);
    });
    later.second = semaphore.acquire(1, () => granted.push('b')) as Waiter;
    semaphore.acquire(1, () => granted.push('c'));
    semaphore.release(1);
    expect(granted).toEqual(['a', 'c']);
    expect(semaphore.inFlight).toBe(1);
    expect(semaphore.queued).toBe(0);
  });
});
