import { describe, expect, it } from 'vitest';
import { testEvent } from '../store/test-events.ts';
import { logRecord, otlpLogsRequest, unixNano } from './otlp-logs.ts';

describe('unixNano', () => {
  it('keeps every fraction digit up to nanoseconds and applies the offset', () => {
    expect(unixNano('1970-01-01T00:00:01Z')).toBe('1000000000');
    expect(unixNano('2026-01-02T03:04:05.123456789Z')).toBe('1767323045123456789');
    expect(unixNano('2026-01-02T04:04:05.5+01:00')).toBe('1767323045500000000');
  });
});

describe('otlpLogsRequest', () => {
  it('one record per event: the event as the body, what a SIEM filters on as attributes', () => {
    const event = testEvent('sc-1', 7, { decision: 'denied', code: 'no_matching_rule' });
    const request = otlpLogsRequest([event], { serviceName: 'portcullis-collector' }, 1_000);
    const [resource] = request.resourceLogs;
    expect(resource!.resource.attributes).toContainEqual({
      key: 'service.name',
      value: { stringValue: 'portcullis-collector' },
    });
    const record = resource!.scopeLogs[0]!.logRecords[0]!;
    expect(JSON.parse((record.body as { stringValue: string }).stringValue)).toEqual(event);
    expect(record).toMatchObject({
      severityNumber: 13,
      severityText: 'WARN',
      observedTimeUnixNano: '1000000000',
    });
    const attributes = Object.fromEntries(record.attributes.map((a) => [a.key, Object.values(a.value)[0]]));
    expect(attributes).toMatchObject({
      'portcullis.event_key': 'sc-1/7',
      'event.id': event.id,
      'portcullis.server': 'team-a/docs',
      'portcullis.tool': 'search',
      'enduser.id': 'alice',
      'portcullis.agent': 'copilot',
      'portcullis.decision': 'denied',
      'portcullis.code': 'no_matching_rule',
      'portcullis.seq': '7',
    });
  });

  it("sets the record's trace and span ids from the event's, so trace backends link it to the spans", () => {
    const traced = testEvent('sc-1', 8, {
      traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
      spanId: '00f067aa0ba902b7',
    });
    expect(logRecord(traced, '0')).toMatchObject({
      traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
      spanId: '00f067aa0ba902b7',
    });
    const untraced = logRecord(testEvent('sc-1', 9), '0');
    expect('traceId' in untraced || 'spanId' in untraced).toBe(false);
  });

  it('leaves out attributes of fields the event does not have', () => {
    const { tool: _tool, user: _user, ...event } = testEvent('sc-1', 1);
    const keys = logRecord(event, '0').attributes.map((a) => a.key);
    expect(keys).not.toContain('portcullis.tool');
    expect(keys).not.toContain('enduser.id');
  });
});
