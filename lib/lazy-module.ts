/**
 * A module imported the first time something needs it, and then kept: `value` is there, synchronously, once
 * a load has succeeded. A failed load is not remembered, so the next need tries again.
 */
export interface LazyModule<T> {
  readonly value: T | undefined;
  load(): Promise<T>;
}

export function lazyModule<T>(importer: () => Promise<T>): LazyModule<T> {
  let value: T | undefined;
  let pending: Promise<T> | undefined;
  return {
    get value() {
      return value;
    },
    load() {
      if (value !== undefined) return Promise.resolve(value);
      pending ??= importer().then(
        (loaded) => (value = loaded),
        (error: unknown) => {
          pending = undefined;
          throw error;
        },
      );
      return pending;
    },
  };
}
