import type { Logger } from 'pino';
import { Counter, type Registry } from 'prom-client';
import type { SidecarConfig } from '../config.ts';
import type { RequestTracer } from './request-trace.ts';

/** How often a failing exporter may say so in the log (each failure is counted in the metric). */
const EXPORT_WARNING_INTERVAL_MS = 60_000;

function upstreamOf(config: SidecarConfig) {
  if (config.upstreamUrl === undefined) return { transport: 'pipe' as const };
  const url = new URL(config.upstreamUrl);
  return {
    transport: 'tcp' as const,
    address: url.hostname.replace(/^\[|\]$/g, ''),
    port: url.port === '' ? 80 : Number(url.port),
  };
}

/**
 * The tracer, when --otlp-traces-endpoint is set; undefined otherwise, and then the OpenTelemetry SDK
 * is not even loaded (otel-tracer.ts is imported here, dynamically, and nowhere else).
 */
export async function startTracing(
  config: SidecarConfig,
  options: { readonly registry: Registry; readonly log: Logger; readonly clock: () => number },
): Promise<RequestTracer | undefined> {
  const endpoint = config.otlpTracesEndpoint;
  if (endpoint === undefined) return undefined;
  const { startTracer } = await import('./otel-tracer.ts');
  const exported = new Counter({
    name: 'portcullis_trace_spans_exported_total',
    help: 'Spans sent to the OTLP traces endpoint, by result (ok, failed: dropped, they are not retried).',
    labelNames: ['result'],
    registers: [options.registry],
  });
  let warnedAt = -Infinity;
  const tracer = startTracer({
    endpoint,
    sampleRatio: config.traceSampleRatio,
    resource: {
      'service.name': 'portcullis-sidecar',
      ...(config.podName !== undefined ? { 'k8s.pod.name': config.podName } : {}),
    },
    upstream: upstreamOf(config),
    onExport(spans, ok, error) {
      exported.inc({ result: ok ? 'ok' : 'failed' }, spans);
      if (ok || options.clock() - warnedAt < EXPORT_WARNING_INTERVAL_MS) return;
      warnedAt = options.clock();
      options.log.warn({ err: error, endpoint, spans }, 'spans could not be exported; they are dropped');
    },
  });
  options.log.info({ endpoint, sampleRatio: config.traceSampleRatio }, 'tracing on');
  return tracer;
}
