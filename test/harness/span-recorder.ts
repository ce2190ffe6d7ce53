import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One OTLP span as the JSON encoding carries it (the fields the tests read), attributes flattened. */
export interface RecordedSpan {
  readonly traceId: string;
  readonly spanId: string;
  readonly parentSpanId?: string;
  readonly name: string;
  /** OTLP SpanKind: 2 server, 3 client. */
  readonly kind: number;
  readonly startTimeUnixNano: string;
  readonly endTimeUnixNano: string;
  readonly attributes: Readonly<Record<string, unknown>>;
  readonly events: readonly {
    readonly name: string;
    readonly timeUnixNano: string;
    readonly attributes: Readonly<Record<string, unknown>>;
  }[];
  /** OTLP StatusCode: 0 unset, 1 ok, 2 error. */
  readonly status: { readonly code?: number; readonly message?: string };
  readonly resource: Readonly<Record<string, unknown>>;
}

type KeyValue = { key: string; value: Record<string, unknown> };
type OtlpSpan = Omit<RecordedSpan, 'attributes' | 'events' | 'resource'> & {
  attributes?: KeyValue[];
  events?: { name: string; timeUnixNano: string; attributes?: KeyValue[] }[];
};

const flatten = (attributes: readonly KeyValue[] | undefined) =>
  Object.fromEntries((attributes ?? []).map((a) => [a.key, Object.values(a.value)[0]]));

/**
 * An OTLP/HTTP traces receiver (JSON encoding only, what otelcol's otlp_http exporter sends with
 * `encoding: json`) that records every span. A malformed export is refused with 400 so it fails loudly.
 * The JSON encoding writes trace and span ids as hex strings.
 */
export interface SpanRecorder {
  readonly url: string;
  readonly spans: RecordedSpan[];
  close(): Promise<void>;
}

export async function startSpanRecorder(): Promise<SpanRecorder> {
  const spans: RecordedSpan[] = [];
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      if (
        request.method !== 'POST' ||
        request.url !== '/v1/traces' ||
        !request.headers['content-type']?.startsWith('application/json')
      ) {
        response.writeHead(404).end();
        return;
      }
      try {
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
          resourceSpans?: {
            resource?: { attributes?: KeyValue[] };
            scopeSpans?: { spans?: OtlpSpan[] }[];
          }[];
        };
        if (!Array.isArray(body.resourceSpans)) throw new Error('no resourceSpans');
        for (const resourceSpans of body.resourceSpans) {
          const resource = flatten(resourceSpans.resource?.attributes);
          for (const scope of resourceSpans.scopeSpans ?? []) {
            for (const span of scope.spans ?? []) {
              spans.push({
                ...span,
                ...(span.parentSpanId ? {} : { parentSpanId: undefined }),
                status: span.status ?? {},
                attributes: flatten(span.attributes),
                events: (span.events ?? []).map((e) => ({ ...e, attributes: flatten(e.attributes) })),
                resource,
              });
            }
          }
        }
        response.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      } catch (error) {
        response.writeHead(400, { 'content-type': 'text/plain' }).end((error as Error).message);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    spans,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
