import { describe, expect, it } from 'vitest';
import { ByteBudget } from './byte-budget.ts';

describe('ByteBudget', () => {
  it('admits up to its limit, refuses beyond, and admits again once released', () => {
    const budget = new ByteBudget(100);
    expect(budget.tryReserve(60)).toBe(true);
    expect(budget.tryReserve(40)).toBe(true);
    expect(budget.tryReserve(1)).toBe(false);
    budget.release(60);
    expect(budget.tryReserve(50)).toBe(true);
    expect(budget.reserved).toBe(90);
  });

  it('lets one request larger than the whole budget through when nothing else is in flight', () => {
    const budget = new ByteBudget(100);
    expect(budget.tryReserve(500)).toBe(true);
    expect(budget.tryReserve(1)).toBe(false);
    budget.release(500);
    expect(budget.reserved).toBe(0);
  });
});
