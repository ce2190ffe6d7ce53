import { performance } from 'node:perf_hooks';

/** Nanoseconds per call of `run`: a warm-up of a tenth, then the best of 7 rounds of `iterations` calls. */
export function nanosecondsPerCall(run: () => unknown, iterations: number): number {
  for (let i = 0; i < iterations / 10; i++) run();
  let best = Infinity;
  for (let round = 0; round < 7; round++) {
    const start = performance.now();
    for (let i = 0; i < iterations; i++) run();
    best = Math.min(best, ((performance.now() - start) * 1e6) / iterations);
  }
  return best;
}
