/**
 * A work queue in the controller-runtime mould: a key is queued at most once (de-duplicated), handled
 * by one worker at a time (a key re-added while being handled is handled again afterwards), retried with
 * per-key exponential backoff on error, never retried on a TerminalError, and requeued after a delay
 * when the handler asks.
 */
export class TerminalError extends Error {
  readonly terminal = true;
}

export interface ReconcileResult {
  readonly requeueAfterMs?: number;
}

export type Handler = (key: string) => Promise<ReconcileResult | void>;

export interface WorkQueueOptions {
  readonly baseDelayMs?: number;
  readonly maxDelayMs?: number;
  readonly onError?: (key: string, error: unknown, retryInMs: number | undefined) => void;
  readonly onProcessed?: (key: string, durationMs: number, outcome: 'ok' | 'error' | 'terminal') => void;
}

export class WorkQueue {
  readonly #queue: string[] = [];
  readonly #queued = new Set<string>();
  readonly #processing = new Set<string>();
  readonly #dirty = new Set<string>();
  readonly #failures = new Map<string, number>();
  readonly #timers = new Map<string, NodeJS.Timeout>();
  readonly #waiters: (() => void)[] = [];
  readonly #baseDelayMs: number;
  readonly #maxDelayMs: number;
  readonly #options: WorkQueueOptions;
  #stopped = false;

  constructor(options: WorkQueueOptions = {}) {
    this.#baseDelayMs = options.baseDelayMs ?? 10;
    this.#maxDelayMs = options.maxDelayMs ?? 5 * 60_000;
    this.#options = options;
  }

  get depth(): number {
    return this.#queue.length;
  }

  add(key: string): void {
    if (this.#stopped) return;
    if (this.#processing.has(key)) {
      this.#dirty.add(key);
      return;
    }
    if (this.#queued.has(key)) return;
    this.#queued.add(key);
    this.#queue.push(key);
    this.#waiters.shift()?.();
  }

  addAfter(key: string, delayMs: number): void {
    if (this.#stopped) return;
    clearTimeout(this.#timers.get(key));
    const timer = setTimeout(() => {
      this.#timers.delete(key);
      this.add(key);
    }, delayMs);
    timer.unref();
    this.#timers.set(key, timer);
  }

  #backoff(key: string): number {
    const failures = (this.#failures.get(key) ?? 0) + 1;
    this.#failures.set(key, failures);
    return Math.min(this.#maxDelayMs, this.#baseDelayMs * 2 ** Math.min(failures - 1, 30));
  }

  async #next(): Promise<string | undefined> {
    while (!this.#stopped && this.#queue.length === 0)
      await new Promise<void>((resolve) => this.#waiters.push(resolve));
    const key = this.#queue.shift();
    if (key === undefined) return undefined;
    this.#queued.delete(key);
    this.#processing.add(key);
    return key;
  }

  async #work(handler: Handler): Promise<void> {
    for (;;) {
      const key = await this.#next();
      if (key === undefined) return;
      const started = performance.now();
      let outcome: 'ok' | 'error' | 'terminal' = 'ok';
      try {
        const result = await handler(key);
        this.#failures.delete(key);
        if (result?.requeueAfterMs !== undefined) this.addAfter(key, result.requeueAfterMs);
      } catch (error) {
        const terminal = error instanceof TerminalError;
        outcome = terminal ? 'terminal' : 'error';
        const retryIn = terminal ? undefined : this.#backoff(key);
        if (retryIn !== undefined) this.addAfter(key, retryIn);
        this.#options.onError?.(key, error, retryIn);
      } finally {
        this.#processing.delete(key);
        this.#options.onProcessed?.(key, performance.now() - started, outcome);
        if (this.#dirty.delete(key)) this.add(key);
      }
    }
  }

  /** Runs `workers` concurrent workers until stop(); resolves when they have all finished. */
  run(workers: number, handler: Handler): Promise<void> {
    return Promise.all(Array.from({ length: workers }, () => this.#work(handler))).then(() => undefined);
  }

  stop(): void {
    this.#stopped = true;
    for (const timer of this.#timers.values()) clearTimeout(timer);
    for (const wake of this.#waiters.splice(0)) wake();
  }
}
