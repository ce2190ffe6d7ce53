import { describe, expect, it } from 'vitest';
import { lazyModule } from './lazy-module.ts';

describe('lazyModule', () => {
  it('imports once, on the first load, and then holds the value', async () => {
    let imports = 0;
    const lazy = lazyModule(async () => ({ n: ++imports }));
    expect(lazy.value).toBeUndefined();
    expect(imports).toBe(0);
    const [a, b] = await Promise.all([lazy.load(), lazy.load()]);
    expect(a).toBe(b);
    expect(lazy.value).toBe(a);
    await lazy.load();
    expect(imports).toBe(1);
  });

  it('forgets a failed load, so the next one tries again', async () => {
    let attempts = 0;
    const lazy = lazyModule(async () => {
      if (++attempts === 1) throw new Error('not there');
      return 'loaded';
    });
    await expect(lazy.load()).rejects.toThrow('not there');
    expect(lazy.value).toBeUndefined();
    await expect(lazy.load()).resolves.toBe('loaded');
    expect(attempts).toBe(2);
  });
});
