import { execFileSync } from 'node:child_process';
import { accessSync, constants, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { homedir, tmpdir } from 'node:os';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freeLoopbackPorts } from './free-port.ts';
import { describeLog } from './log-tail.ts';
import { startSupervised, type SupervisedProcess } from './supervised-process.ts';

/**
 * A real OpenTelemetry Collector (core otlpreceiver + otlphttpexporter, built from the Go module proxy
 * by test/otelcol/build.sh) between our exporter and a recording OTLP/HTTP receiver:
 *
 *   collector --OTLP/HTTP JSON--> otelcol (otlp receiver) --otlp_http, encoding json--> LogRecorder
 *   sidecar --OTLP/HTTP protobuf--> otelcol (same receiver, traces) --otlp_http, json--> SpanRecorder
 *
 * otelcol's sending queue is off, so its receiver answers only after the recorder accepted the records:
 * a 2xx to our exporter then means the records arrived, and stopping otelcol loses nothing we were told
 * was delivered.
 */
export interface Otelcol {
  /** OTLP/HTTP base URL for --otlp-endpoint. */
  readonly endpoint: string;
  readonly logPath: string;
  stop(): Promise<void>;
  /** Starts it again on the same port after stop(). */
  start(): Promise<void>;
}

const otelcolDir = fileURLToPath(new URL('../otelcol/', import.meta.url));

/** The binary build.sh makes (building it first when it is missing: about a minute with a warm Go cache). */
export function otelcolBinary(env: NodeJS.ProcessEnv = process.env): string {
  const version = /^OTELCOL_VERSION=(\S+)$/m.exec(
    readFileSync(join(otelcolDir, 'versions.env'), 'utf8'),
  )?.[1];
  if (version === undefined) throw new Error('no OTELCOL_VERSION in test/otelcol/versions.env');
  const cache = env['PORTCULLIS_CACHE'] || join(homedir(), '.cache', 'portcullis');
  const binary = join(cache, 'otelcol', version, 'otelcol-portcullis');
  try {
    accessSync(binary, constants.X_OK);
  } catch {
    execFileSync(join(otelcolDir, 'build.sh'), {
      stdio: ['ignore', 'ignore', 'inherit'],
      timeout: 15 * 60_000,
    });
  }
  return binary;
}

export async function startOtelcol(options: { readonly forwardTo: string }): Promise<Otelcol> {
  const binary = otelcolBinary();
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-otelcol-'));
  const { receiver } = await freeLoopbackPorts(['receiver']);
  const configPath = join(dir, 'config.yaml');
  writeFileSync(
    configPath,
    `receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:${receiver}
exporters:
  otlp_http:
    endpoint: ${options.forwardTo}
    encoding: json
    compression: none
    sending_queue:
      enabled: false
    retry_on_failure:
      enabled: false
service:
  telemetry:
    metrics:
      level: none
  pipelines:
    logs:
      receivers: [otlp]
      exporters: [otlp_http]
    traces:
      receivers: [otlp]
      exporters: [otlp_http]
`,
  );
  const logPath = join(dir, 'otelcol.log');
  const endpoint = `http://127.0.0.1:${receiver}`;
  let running: SupervisedProcess | undefined;

  const start = async () => {
    running = await startSupervised({
      name: 'otelcol',
      command: binary,
      args: ['--config', configPath],
      logPath,
    });
    const deadline = Date.now() + 20_000;
    // Ready when the receiver answers: an empty request is a valid one.
    for (;;) {
      const status = await fetch(`${endpoint}/v1/logs`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{}',
      }).then(
        (r) => r.status,
        () => 0,
      );
      if (status === 200) return;
      if (Date.now() > deadline) {
        await running.stop();
        throw new Error(`otelcol did not start\n${describeLog('otelcol', logPath)}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  };
  await start();
  return {
    endpoint,
    logPath,
    start,
    async stop() {
      const stopping = running;
      running = undefined;
      await stopping?.stop();
    },
  };
}

/** One OTLP LogRecord as the JSON encoding carries it (the fields the tests read). */
export interface RecordedLog {
  readonly timeUnixNano: string;
  readonly severityNumber?: number;
  readonly body: { readonly stringValue: string };
  readonly attributes: readonly { readonly key: string; readonly value: Record<string, unknown> }[];
  readonly traceId?: string;
  readonly spanId?: string;
  /** Resource attributes of the ResourceLogs it came in, flattened. */
  readonly resource: Readonly<Record<string, unknown>>;
}

/**
 * An OTLP/HTTP logs receiver (JSON encoding only) that records every LogRecord it is sent. It refuses
 * anything that is not a well-formed ExportLogsServiceRequest with 400, so a malformed export fails.
 */
export interface LogRecorder {
  readonly url: string;
  readonly records: RecordedLog[];
  close(): Promise<void>;
}

export async function startLogRecorder(): Promise<LogRecorder> {
  const records: RecordedLog[] = [];
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      if (
        request.method !== 'POST' ||
        request.url !== '/v1/logs' ||
        !request.headers['content-type']?.startsWith('application/json')
      ) {
        response.writeHead(404).end();
        return;
      }
      try {
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
          resourceLogs?: {
            resource?: { attributes?: { key: string; value: Record<string, unknown> }[] };
            scopeLogs?: { logRecords?: Omit<RecordedLog, 'resource'>[] }[];
          }[];
        };
        if (!Array.isArray(body.resourceLogs)) throw new Error('no resourceLogs');
        for (const resourceLogs of body.resourceLogs) {
          const resource = Object.fromEntries(
            (resourceLogs.resource?.attributes ?? []).map((a) => [a.key, Object.values(a.value)[0]]),
          );
          for (const scope of resourceLogs.scopeLogs ?? []) {
            for (const record of scope.logRecords ?? []) records.push({ ...record, resource });
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
    records,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
