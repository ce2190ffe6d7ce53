import type { EventExporter } from './exporter.ts';
import { ExportError } from './exporter.ts';
import { otlpLogsRequest } from './otlp-logs.ts';

export interface OtlpExporterOptions {
  /** OTLP/HTTP base URL, e.g. http://otel-collector:4318; logs go to {endpoint}/v1/logs. */
  readonly endpoint: string;
  readonly serviceVersion?: string;
  readonly clock: () => number;
  readonly timeoutMs?: number;
  /** Told about records the destination accepted the request for but rejected (partial success). */
  readonly onRejected?: (count: number, message: string) => void;
}

/**
 * OTLP/HTTP logs, JSON encoding. Any 2xx is success. A partial success (records the destination refused
 * as invalid) is not retried, as the OTLP specification requires: sending the same records again would be
 * refused again; it is reported instead. Everything else (connection errors, timeouts, 429, 5xx, other
 * 4xx) is retried by the pump, honouring Retry-After: for evidence, a stalled export that alerts beats a
 * dropped one.
 */
export function otlpExporter(options: OtlpExporterOptions): EventExporter {
  const url = new URL('v1/logs', options.endpoint.endsWith('/') ? options.endpoint : `${options.endpoint}/`);
  return {
    name: 'otlp',
    async send(events) {
      const body = JSON.stringify(
        otlpLogsRequest(
          events,
          {
            serviceName: 'portcullis-collector',
            ...(options.serviceVersion ? { serviceVersion: options.serviceVersion } : {}),
          },
          options.clock(),
        ),
      );
      let response: Response;
      try {
        response = await fetch(url, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body,
          signal: AbortSignal.timeout(options.timeoutMs ?? 10_000),
        });
      } catch (error) {
        throw new ExportError(`POST ${url.href}: ${(error as Error).message}`, undefined, { cause: error });
      }
      const text = await response.text().catch(() => '');
      if (!response.ok) {
        throw new ExportError(
          `POST ${url.href}: HTTP ${response.status} ${text.slice(0, 200)}`,
          retryAfter(response),
        );
      }
      const rejected = partialSuccess(text);
      if (rejected !== undefined) options.onRejected?.(rejected.count, rejected.message);
    },
  };
}

function retryAfter(response: Response): number | undefined {
  const header = response.headers.get('retry-after');
  if (header === null) return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const at = Date.parse(header);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

function partialSuccess(text: string): { count: number; message: string } | undefined {
  try {
    const parsed = JSON.parse(text) as {
      partialSuccess?: { rejectedLogRecords?: string | number; errorMessage?: string };
    };
    const count = Number(parsed.partialSuccess?.rejectedLogRecords ?? 0);
    return count > 0 ? { count, message: parsed.partialSuccess?.errorMessage ?? '' } : undefined;
  } catch {
    return undefined;
  }
}
