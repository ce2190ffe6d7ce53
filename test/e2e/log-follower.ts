// `kubectl logs -f` of a client pod as a stream of JSON lines the test can wait on, one at a time.
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { ClientLine } from './platform.ts';
import { cluster } from './context.ts';

export interface LogFollower {
  /** The next line (after those already taken) that satisfies `match`; earlier ones are dropped. */
  next(match: (line: ClientLine) => boolean, timeoutMs?: number): Promise<ClientLine>;
  /** Lines received since the last next() and not yet taken. */
  pending(): ClientLine[];
  stop(): void;
}

export function followLogs(namespace: string, pod: string): LogFollower {
  const child: ChildProcess = spawn(
    cluster().kubectl,
    [`--kubeconfig=${cluster().kubeconfig}`, '-n', namespace, 'logs', '-f', pod],
    { stdio: ['ignore', 'pipe', 'ignore'] },
  );
  const queue: ClientLine[] = [];
  let wake: (() => void) | undefined;
  createInterface({ input: child.stdout! }).on('line', (text) => {
    if (!text.startsWith('{')) return;
    queue.push(JSON.parse(text) as ClientLine);
    wake?.();
  });
  return {
    async next(match, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        while (queue.length > 0) {
          const line = queue.shift()!;
          if (match(line)) return line;
        }
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`no matching line from ${namespace}/${pod} within ${timeoutMs} ms`);
        await new Promise<void>((resolve) => {
          wake = resolve;
          setTimeout(resolve, left);
        });
        wake = undefined;
      }
    },
    pending: () => queue.splice(0),
    stop: () => child.kill(),
  };
}
