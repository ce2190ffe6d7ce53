import { describe, expect, it } from 'vitest';
import { TerminalError, WorkQueue } from './workqueue.ts';

const tick = (ms = 5) => new Promise((r) => setTimeout(r, ms));

describe('WorkQueue', () => {
  it('de-duplicates keys and never runs one key twice at once', async () => {
    const queue = new WorkQueue();
    let running = 0;
    let maxRunning = 0;
    const seen: string[] = [];
    const done = queue.run(4, async (key) => {
      running += 1;
      maxRunning = Math.max(maxRunning, running);
      seen.push(key);
      await tick(20);
      running -= 1;
    });
    queue.add('a');
    queue.add('a');
    queue.add('a');
    await tick(5);
    queue.add('a'); // while a is being handled: handled again afterwards, once
    queue.add('a');
    await tick(80);
    queue.stop();
    await done;
    expect(seen).toEqual(['a', 'a']);
    expect(maxRunning).toBe(1);
  });

  it('retries errors with growing backoff and stops on a terminal error', async () => {
    const queue = new WorkQueue({ baseDelayMs: 5 });
    const attempts: number[] = [];
    const errors: (number | undefined)[] = [];
    const q2 = new WorkQueue({ baseDelayMs: 5, onError: (_k, _e, retry) => errors.push(retry) });
    const started = Date.now();
    const done = queue.run(1, async () => {
      attempts.push(Date.now() - started);
      if (attempts.length < 4) throw new Error('not yet');
    });
    const done2 = q2.run(1, async () => {
      throw new TerminalError('bad spec');
    });
    queue.add('k');
    q2.add('t');
    await tick(150);
    queue.stop();
    q2.stop();
    await Promise.all([done, done2]);
    expect(attempts).toHaveLength(4);
    expect(errors).toEqual([undefined]);
  });

  it('requeues after the delay a handler asks for', async () => {
    const queue = new WorkQueue();
    let runs = 0;
    const done = queue.run(1, async () => {
      runs += 1;
      return runs < 3 ? { requeueAfterMs: 10 } : undefined;
    });
    queue.add('r');
    await tick(100);
    queue.stop();
    await done;
    expect(runs).toBe(3);
  });
});
