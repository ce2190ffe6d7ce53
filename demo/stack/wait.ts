import { setTimeout as sleep } from 'node:timers/promises';
import type { StackChild } from './child.ts';
import { StackError } from './errors.ts';

/**
 * Polls `probe` until it holds, `child` exits, or `timeoutMs` passes (every wait in the demo is bounded).
 * Throws a StackError naming the process and its log.
 */
export async function waitUntilReady(
  child: StackChild,
  probe: () => Promise<boolean>,
  timeoutMs: number,
): Promise<void> {
  let exited = false;
  void child.exited.then(() => (exited = true));
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline && !exited) {
    if (await probe().catch(() => false)) return;
    await sleep(50);
  }
  throw new StackError(
    'not_ready',
    `${child.name} ${exited ? 'exited during start-up' : `was not ready within ${timeoutMs / 1000} s`}; see ${child.logPath}`,
    child.logPath,
  );
}

/** An HTTP GET that answered with one of `statuses`. */
export function answers(url: string, statuses: readonly number[] = [200]): () => Promise<boolean> {
  return async () => {
    const response = await fetch(url, { signal: AbortSignal.timeout(1_000) });
    await response.body?.cancel();
    return statuses.includes(response.status);
  };
}
