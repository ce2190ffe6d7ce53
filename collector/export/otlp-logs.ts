import { auditEventKey, type AuditEvent } from '../../api/audit/v1/event.ts';

/**
 * Audit events as an OTLP ExportLogsServiceRequest in the protobuf JSON encoding (OTLP/HTTP,
 * application/json): 64-bit integers as decimal strings, enums as numbers, attribute values as AnyValue.
 * One LogRecord per event; the body is the whole event as JSON, attributes carry what a SIEM filters on.
 */
export interface OtlpLogsRequest {
  readonly resourceLogs: readonly {
    readonly resource: { readonly attributes: readonly KeyValue[] };
    readonly scopeLogs: readonly {
      readonly scope: { readonly name: string; readonly version: string };
      readonly logRecords: readonly LogRecord[];
    }[];
  }[];
}

export interface KeyValue {
  readonly key: string;
  readonly value: AnyValue;
}

export type AnyValue =
  | { readonly stringValue: string }
  | { readonly intValue: string }
  | { readonly doubleValue: number }
  | { readonly boolValue: boolean };

export interface LogRecord {
  readonly timeUnixNano: string;
  readonly observedTimeUnixNano: string;
  readonly severityNumber: number;
  readonly severityText: string;
  readonly eventName: string;
  readonly body: AnyValue;
  readonly attributes: readonly KeyValue[];
  /** The request's trace (hex, as the JSON encoding writes ids), so backends link the record to its spans. */
  readonly traceId?: string;
  readonly spanId?: string;
}

export const OTLP_SCOPE = { name: 'portcullis.dev/audit', version: 'v1' } as const;

// SeverityNumber: INFO = 9, WARN = 13, ERROR = 17 (opentelemetry/proto/logs/v1/logs.proto).
const SEVERITY: Readonly<Record<AuditEvent['decision'], [number, string]>> = {
  allowed: [9, 'INFO'],
  would_deny: [13, 'WARN'],
  denied: [13, 'WARN'],
  killed: [13, 'WARN'],
  quarantined: [13, 'WARN'],
  errored: [17, 'ERROR'],
};

export function otlpLogsRequest(
  events: readonly AuditEvent[],
  resource: { readonly serviceName: string; readonly serviceVersion?: string },
  observedAtMs: number,
): OtlpLogsRequest {
  const observed = `${BigInt(observedAtMs) * 1_000_000n}`;
  return {
    resourceLogs: [
      {
        resource: {
          attributes: [
            string('service.name', resource.serviceName),
            ...(resource.serviceVersion ? [string('service.version', resource.serviceVersion)] : []),
          ],
        },
        scopeLogs: [{ scope: OTLP_SCOPE, logRecords: events.map((event) => logRecord(event, observed)) }],
      },
    ],
  };
}

export function logRecord(event: AuditEvent, observedTimeUnixNano: string): LogRecord {
  const [severityNumber, severityText] = SEVERITY[event.decision] ?? [9, 'INFO'];
  const attributes: KeyValue[] = [
    // The idempotency key (api/audit/v1/event.ts auditEventKey); event.id is for correlation only.
    string('portcullis.event_key', auditEventKey(event)),
    string('event.id', event.id),
    string('portcullis.schema', event.schema),
    string('portcullis.kind', event.kind),
    string('portcullis.server', `${event.server.namespace}/${event.server.name}`),
    string('k8s.namespace.name', event.server.namespace),
    string('portcullis.method', event.method),
    string('portcullis.decision', event.decision),
    string('portcullis.request_id', event.requestId),
    string('portcullis.sidecar', event.sidecar),
    { key: 'portcullis.seq', value: { intValue: String(event.seq) } },
    { key: 'portcullis.latency_ms', value: { doubleValue: event.latencyMs } },
  ];
  const optional: [string, string | undefined][] = [
    ['portcullis.tool', event.tool],
    ['enduser.id', event.user],
    ['portcullis.agent', event.agent],
    ['portcullis.tenant', event.tenant],
    ['portcullis.code', event.code],
    ['portcullis.policy_hash', event.policyHash],
    ['portcullis.outcome', event.outcome],
    ['portcullis.rule', event.rule ? `${event.rule.policy}/${event.rule.rule}` : undefined],
  ];
  for (const [key, value] of optional) if (value !== undefined) attributes.push(string(key, value));
  return {
    timeUnixNano: unixNano(event.time),
    observedTimeUnixNano,
    severityNumber,
    severityText,
    eventName: `portcullis.audit.${event.kind}`,
    body: { stringValue: JSON.stringify(event) },
    attributes,
    ...(event.traceId !== undefined ? { traceId: event.traceId } : {}),
    ...(event.spanId !== undefined ? { spanId: event.spanId } : {}),
  };
}

const RFC3339 = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:\d{2})$/i;

/** An RFC 3339 time in nanoseconds since the epoch, as a decimal string, keeping sub-millisecond digits. */
export function unixNano(time: string): string {
  const match = RFC3339.exec(time);
  if (match === null) return '0';
  const [, wall, fraction = '', zone] = match;
  const seconds = Date.parse(`${wall}${zone!.toUpperCase()}`);
  if (Number.isNaN(seconds)) return '0';
  const nanos = BigInt(fraction.slice(0, 9).padEnd(9, '0'));
  return `${(BigInt(seconds) / 1000n) * 1_000_000_000n + nanos}`;
}

function string(key: string, value: string): KeyValue {
  return { key, value: { stringValue: value } };
}
