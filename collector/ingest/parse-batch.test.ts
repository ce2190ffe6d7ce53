import { describe, expect, it } from 'vitest';
import { CollectorError } from '../errors.ts';
import { testEvent, testEvents } from '../store/test-events.ts';
import { MAX_AUDIT_EVENT_BYTES, MAX_AUDIT_EVENT_DEPTH } from '../../lib/json-limits.ts';
import { parseBatch } from './parse-batch.ts';

const ndjson = (values: readonly unknown[]) =>
  Buffer.from(values.map((v) => JSON.stringify(v)).join('\n') + '\n');

function refusal(run: () => unknown): { code: string; message: string; seq?: number } {
  try {
    run();
  } catch (error) {
    if (error instanceof CollectorError) {
      return { code: error.code, message: error.message, ...(error.seq ? { seq: error.seq } : {}) };
    }
    throw error;
  }
  throw new Error('expected a refusal');
}

describe('parseBatch', () => {
  it('returns the events as received, unknown fields kept', () => {
    const events = testEvents('sc-1', 1, 3).map((e) => ({ ...e, futureField: { x: 1 } }));
    const parsed = parseBatch(ndjson(events), 'sc-1');
    expect(parsed).toEqual(events);
  });

  it('accepts a batch without a final newline', () => {
    const body = Buffer.from(JSON.stringify(testEvent('sc-1', 1)));
    expect(parseBatch(body, 'sc-1')).toHaveLength(1);
  });

  it('names the first malformed line and refuses the whole batch', () => {
    const lines = testEvents('sc-1', 1, 3).map((e) => JSON.stringify(e));
    lines[1] = '{"schema": "portcullis.dev/audit/v1",';
    expect(refusal(() => parseBatch(Buffer.from(lines.join('\n')), 'sc-1'))).toMatchObject({
      code: 'malformed_batch',
      message: expect.stringMatching(/^line 2: not JSON/),
    });
  });

  it('refuses a line that is JSON but not an AuditEvent, naming the field', () => {
    const events: unknown[] = testEvents('sc-1', 1, 3);
    events[2] = { ...testEvent('sc-1', 3), decision: 'maybe' };
    expect(refusal(() => parseBatch(ndjson(events), 'sc-1'))).toMatchObject({
      code: 'malformed_batch',
      message: expect.stringMatching(/^line 3: not an AuditEvent \(decision: /),
    });
  });

  it.each([
    ['an empty line', (lines: string[]) => [lines[0]!, '', lines[1]!].join('\n'), 'line 2: empty line'],
    ['a JSON array line', () => '[]', 'line 1: not an AuditEvent'],
    [
      'a seq of 0',
      () => JSON.stringify({ ...testEvent('sc-1', 1), seq: 0 }),
      'line 1: not an AuditEvent (seq',
    ],
    [
      'a fractional seq',
      () => JSON.stringify({ ...testEvent('sc-1', 1), seq: 1.5 }),
      'line 1: not an AuditEvent (seq',
    ],
    [
      'a missing id',
      () => JSON.stringify({ ...testEvent('sc-1', 1), id: undefined }),
      'line 1: not an AuditEvent (id',
    ],
    [
      'another schema',
      () => JSON.stringify({ ...testEvent('sc-1', 1), schema: 'portcullis.dev/audit/v2' }),
      'line 1: not an AuditEvent (schema',
    ],
  ])('refuses %s', (_name, body, message) => {
    const lines = testEvents('sc-1', 1, 2).map((e) => JSON.stringify(e));
    expect(refusal(() => parseBatch(Buffer.from(body(lines)), 'sc-1'))).toMatchObject({
      code: 'malformed_batch',
      message: expect.stringContaining(message),
    });
  });

  it('refuses bytes that are not UTF-8', () => {
    expect(refusal(() => parseBatch(Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), 'sc-1')).code).toBe(
      'malformed_batch',
    );
  });

  it('refuses an empty batch', () => {
    expect(refusal(() => parseBatch(Buffer.from(''), 'sc-1')).code).toBe('empty_batch');
  });

  it('refuses a missing or invalid Portcullis-Sidecar header', () => {
    const body = ndjson([testEvent('sc-1', 1)]);
    expect(refusal(() => parseBatch(body, undefined)).code).toBe('invalid_header');
    expect(refusal(() => parseBatch(body, 'sc 1')).code).toBe('invalid_header');
  });

  it('refuses events of another sidecar than the header names (one sidecar per batch)', () => {
    const body = ndjson([testEvent('sc-1', 1), testEvent('sc-2', 2)]);
    expect(refusal(() => parseBatch(body, 'sc-1'))).toMatchObject({
      code: 'sidecar_mismatch',
      message: expect.stringMatching(/^line 2: /),
    });
  });

  it('refuses seqs that are not strictly ascending', () => {
    expect(
      refusal(() => parseBatch(ndjson([testEvent('sc-1', 2), testEvent('sc-1', 1)]), 'sc-1')),
    ).toMatchObject({
      code: 'seq_order',
      message: expect.stringMatching(/^line 2: seq 1 after 2/),
    });
    expect(refusal(() => parseBatch(ndjson([testEvent('sc-1', 2), testEvent('sc-1', 2)]), 'sc-1')).code).toBe(
      'seq_order',
    );
  });

  it('accepts ascending seqs with holes (the store reports the holes)', () => {
    expect(parseBatch(ndjson([testEvent('sc-1', 1), testEvent('sc-1', 5)]), 'sc-1')).toHaveLength(2);
  });

  describe('events that can never be stored', () => {
    const nested = (seq: number, arrays: number) =>
      `${JSON.stringify(testEvent('sc-1', seq)).slice(0, -1)},"arguments":${'['.repeat(arrays)}${']'.repeat(arrays)}}`;

    it('accepts an event exactly as deep as the shared bound', () => {
      expect(parseBatch(Buffer.from(nested(1, MAX_AUDIT_EVENT_DEPTH - 1)), 'sc-1')).toHaveLength(1);
    });

    it('refuses one level deeper as unstorable_event, naming its seq', () => {
      const body = [JSON.stringify(testEvent('sc-1', 1)), nested(2, MAX_AUDIT_EVENT_DEPTH)].join('\n');
      expect(refusal(() => parseBatch(Buffer.from(body), 'sc-1'))).toMatchObject({
        code: 'unstorable_event',
        seq: 2,
        message: expect.stringMatching(/^line 2: event seq 2 nests deeper than/),
      });
    });

    it('refuses an event larger than the shared bound as unstorable_event', () => {
      const big = JSON.stringify({ ...testEvent('sc-1', 7), padding: 'x'.repeat(MAX_AUDIT_EVENT_BYTES) });
      expect(refusal(() => parseBatch(Buffer.from(big), 'sc-1'))).toMatchObject({
        code: 'unstorable_event',
        seq: 7,
      });
    });
  });
});

describe('parseBatch with time bounds', () => {
  const now = Date.UTC(2026, 5, 1);
  const bounds = { now, maxAheadMs: 3_600_000, maxBehindMs: 24 * 3_600_000 };
  const at = (seq: number, ms: number) => testEvent('sc-1', seq, { time: new Date(ms).toISOString() });
  const body = (events: unknown[]) => Buffer.from(events.map((e) => JSON.stringify(e)).join('\n'));

  it('accepts times from the retention period back to the skew ahead', () => {
    const events = [at(1, now - 24 * 3_600_000), at(2, now), at(3, now + 3_600_000)];
    expect(parseBatch(body(events), 'sc-1', bounds)).toHaveLength(3);
  });

  it.each([
    ['ahead of the allowed skew', now + 3_600_001, /ahead of the collector's clock/],
    ['dated 2099', Date.UTC(2099, 0, 1), /ahead of the collector's clock/],
    ['older than retention', now - 24 * 3_600_000 - 1, /older than the retention period/],
  ])('refuses an event %s as unstorable_event naming its seq', (_name, ms, message) => {
    const error = (() => {
      try {
        parseBatch(body([at(1, now), at(2, ms)]), 'sc-1', bounds);
      } catch (e) {
        return e as CollectorError;
      }
      throw new Error('expected a refusal');
    })();
    expect({ code: error.code, seq: error.seq }).toEqual({ code: 'unstorable_event', seq: 2 });
    expect(error.message).toMatch(message);
  });
});
