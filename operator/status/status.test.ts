import { describe, expect, it } from 'vitest';
import type { Condition } from '../../api/v1alpha1/common.ts';
import { setCondition } from './conditions.ts';
import { conditionEvents } from './transitions.ts';

const at = (status: 'True' | 'False', type = 'Killed', message = 'm'): Condition => ({
  type,
  status,
  reason: 'R',
  message,
  lastTransitionTime: '2026-01-01T00:00:00.000Z',
});

describe('conditions', () => {
  it('keeps lastTransitionTime while the status holds, and moves it when the status changes', () => {
    const same = setCondition(
      [at('True')],
      { type: 'Killed', status: 'True', reason: 'Other', message: 'x' },
      4,
      '2026-02-02T00:00:00.000Z',
    );
    expect(same[0]).toMatchObject({
      lastTransitionTime: '2026-01-01T00:00:00.000Z',
      reason: 'Other',
      observedGeneration: 4,
    });
    const changed = setCondition(
      [at('True')],
      { type: 'Killed', status: 'False', reason: 'R', message: 'x' },
      4,
      '2026-02-02T00:00:00.000Z',
    );
    expect(changed[0]?.lastTransitionTime).toBe('2026-02-02T00:00:00.000Z');
  });

  it('emits an Event once per policy transition, and none for the Killed condition (kill-switch-events.ts does)', () => {
    expect(conditionEvents([at('False')], [at('True', 'Killed', 'SEC-1')])).toEqual([]);
    expect(conditionEvents([at('True')], [at('False')])).toEqual([]);
    expect(conditionEvents(undefined, [at('False')])).toEqual([]);
    expect(conditionEvents([at('True', 'PolicyReady')], [at('False', 'PolicyReady', 'bad CEL')])).toEqual([
      { type: 'Warning', reason: 'PolicyCompileFailed', message: 'bad CEL' },
    ]);
  });
});
