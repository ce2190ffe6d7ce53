/**
 * Polls `probe` until `accept` says yes or the deadline passes, and returns the last value either way,
 * so the test's own assertion reports what was seen. A probe that throws (a 404 before an object exists)
 * counts as "not yet"; on timeout the error is returned as the value.
 */
export async function eventually<T>(
  probe: () => Promise<T>,
  accept: (value: T) => boolean,
  timeoutMs = 10_000,
  intervalMs = 20,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch((error: unknown) => error as T);
    if (accept(value) || Date.now() > deadline) return value;
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
