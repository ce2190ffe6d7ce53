import { describe, expect, it } from 'vitest';
import type { AuditEventDraft } from '../../../api/audit/v1/event.ts';
import { WalInvalidEventError } from './errors.ts';
import { EventStamper } from './stamp.ts';
import { draft } from './test-support.ts';

const stamper = new EventStamper('sidecar-a.1_b');
/** What the WAL wrote before it stamped the text: the JSON of a stamped copy. */
const copied = (d: object, seq: number) => JSON.stringify({ ...d, sidecar: 'sidecar-a.1_b', seq });

describe('EventStamper', () => {
  it('writes byte for byte the JSON of the stamped copy, without making it', () => {
    const drafts: object[] = [
      draft(1),
      draft(2, 50),
      { ...draft(3), arguments: { b: [1, { '}': '"sidecar"' }], a: null }, reason: undefined },
      { ...draft(4), clientInfo: { name: 'ünïcødé \u2028', version: undefined } },
      {},
    ];
    for (const [i, d] of drafts.entries())
      for (const seq of [1, 9_007_199_254_740_991])
        expect(stamper.json(d as AuditEventDraft, seq + i)).toBe(copied(d, seq + i));
  });

  it('overrides a sidecar or seq the draft carries in place, never writing the key twice', () => {
    for (const forged of [{ sidecar: 'forged' }, { seq: 99 }, { seq: 99, sidecar: 'forged' }]) {
      const d = { ...draft(1), ...forged } as AuditEventDraft;
      const json = stamper.json(d, 7);
      expect(json).toBe(copied(d, 7));
      expect(json.match(/"seq":/g)).toHaveLength(1);
      expect(json.match(/"sidecar":/g)).toHaveLength(1);
      expect(JSON.parse(json)).toMatchObject({ sidecar: 'sidecar-a.1_b', seq: 7 });
    }
  });

  it('refuses (typed) what does not serialise to a JSON object', () => {
    const cyclic: Record<string, unknown> = {};
    cyclic['self'] = cyclic;
    const bad = [
      { ...draft(1), arguments: { amount: 10n } },
      { ...draft(1), arguments: cyclic },
      { ...draft(1), toJSON: () => 'text' },
      { ...draft(1), toJSON: () => undefined },
    ];
    for (const d of bad) expect(() => stamper.json(d as AuditEventDraft, 1)).toThrow(WalInvalidEventError);
  });
});
