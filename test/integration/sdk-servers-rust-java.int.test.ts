import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { ScenarioOutcome } from '../conformance/conformance-report.ts';
import { runServerConformance } from '../conformance/run-server-suite.ts';
import { connectHttpClient } from '../fixtures/mcp/fixture-clients.ts';
import { freeLoopbackPorts } from '../harness/free-port.ts';
import { spec as javaSpec } from '../sdk-servers/java/launch.ts';
import { spec as rustSpec } from '../sdk-servers/rust/launch.ts';
import type { SdkServerSpec } from '../sdk-servers/spec.ts';

// The Rust and Java servers of the differential fuzzer, each a real process built from its official
// SDK, checked against the contract every SDK server shares (test/sdk-servers/spec.ts): ready line,
// three tools and their schemas, one log line per real execution, stateless calls, exit on stdin EOF.

const cacheRoot = process.env['PORTCULLIS_CACHE'] || join(homedir(), '.cache', 'portcullis');
/** A cold rmcp build takes minutes on 2 cores; warm, prepare() only checks a stamp. */
const prepareTimeoutMs = 25 * 60_000;
/** JVM start-up on a busy 2-core machine; the Rust binary is ready in milliseconds. */
const readyTimeoutMs = 60_000;

describe.each([rustSpec, javaSpec])('the $name SDK server of the differential fuzzer', (spec) => {
  let dir: string;
  let logPath: string;
  let argv: readonly string[];
  let server: SdkServerProcess;
  let client: Client;

  // In a hook, not at collection: a run that skips these tests must leave no directory behind.
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), `portcullis-sdk-${spec.name}-`));
    logPath = join(dir, 'executions.jsonl');
    argv = await spec.prepare(cacheRoot);
    server = await startSdkServer(spec, argv, logPath);
    client = await connectHttpClient(server.url);
  }, prepareTimeoutMs);
  afterAll(async () => {
    await client?.close();
    await server?.stop();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });
  // The harness may truncate the log between cases; the server appends, so it must keep working.
  beforeEach(() => truncateSync(logPath));

  it('announces http://127.0.0.1:<port>/mcp, the port it was given', () => {
    expect(server.url).toBe(`http://127.0.0.1:${server.port}/mcp`);
  });

  it('lists exactly echo, get_invoice and send_email with their string-property schemas', async () => {
    const { tools } = await client.listTools();
    const byName = Object.fromEntries(tools.map((tool) => [tool.name, tool]));
    expect(Object.keys(byName).sort()).toEqual(['echo', 'get_invoice', 'send_email']);
    const expected = {
      echo: ['text'],
      get_invoice: ['customer_id', 'invoice_id'],
      send_email: ['to', 'body'],
    };
    for (const [name, properties] of Object.entries(expected)) {
      const schema = byName[name]?.inputSchema;
      expect(schema?.type, name).toBe('object');
      expect(schema?.properties, name).toEqual(
        Object.fromEntries(properties.map((property) => [property, { type: 'string' }])),
      );
      expect([...(schema?.required ?? [])].sort(), name).toEqual([...properties].sort());
    }
    expect(byName['send_email']?.annotations?.destructiveHint).toBe(true);
    expect(byName['echo']?.annotations?.destructiveHint).not.toBe(true);
    expect(byName['get_invoice']?.annotations?.destructiveHint).not.toBe(true);
  });

  it('runs each tool and logs each execution once, with the arguments its handler got', async () => {
    const echo = await client.callTool({ name: 'echo', arguments: { text: 'héllo "quoted"' } });
    expect(echo.content).toEqual([{ type: 'text', text: 'héllo "quoted"' }]);
    const invoice = await client.callTool({
      name: 'get_invoice',
      arguments: { customer_id: 'acme', invoice_id: 'inv-7' },
    });
    expect(invoice.content).toHaveLength(1);
    expect(JSON.parse(textOf(invoice.content))).toEqual({ customer_id: 'acme', invoice_id: 'inv-7' });
    const email = await client.callTool({
      name: 'send_email',
      arguments: { to: 'ops@example.com', body: 'line 1\nline 2' },
    });
    expect(email.content).toEqual([{ type: 'text', text: 'sent' }]);

    expect(executions(logPath)).toEqual([
      { sdk: spec.name, tool: 'echo', arguments: { text: 'héllo "quoted"' } },
      { sdk: spec.name, tool: 'get_invoice', arguments: { customer_id: 'acme', invoice_id: 'inv-7' } },
      { sdk: spec.name, tool: 'send_email', arguments: { to: 'ops@example.com', body: 'line 1\nline 2' } },
    ]);
  });

  it('runs a bare tools/call POST: no initialize, no session', async () => {
    const response = await fetch(server.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 7,
        method: 'tools/call',
        params: { name: 'echo', arguments: { text: 'bare' } },
      }),
    });
    expect(response.status).toBe(200);
    expect(jsonRpcReply(response.headers.get('content-type'), await response.text())).toEqual({
      jsonrpc: '2.0',
      id: 7,
      result: expect.objectContaining({ content: [{ type: 'text', text: 'bare' }] }),
    });
    expect(executions(logPath)).toEqual([{ sdk: spec.name, tool: 'echo', arguments: { text: 'bare' } }]);
  });

  it('logs nothing for calls it refuses before a handler runs', async () => {
    const missing = await client
      .callTool({ name: 'get_invoice', arguments: { customer_id: 'acme' } })
      .catch((error: unknown) => error);
    const unknown = await client
      .callTool({ name: 'delete_everything', arguments: {} })
      .catch((error: unknown) => error);
    // SDKs differ in how they refuse (a JSON-RPC error or an isError result), never in refusing.
    for (const refusal of [missing, unknown]) {
      expect(refusal instanceof Error || (refusal as { isError?: boolean }).isError === true).toBe(true);
    }
    expect(executions(logPath)).toEqual([]);
  });

  it('exits when its stdin closes, and on SIGTERM', async () => {
    const other = await startSdkServer(spec, argv, join(dir, 'other.jsonl'));
    try {
      expect(await other.endBy((child) => child.kill('SIGTERM'))).not.toBe('timeout');
    } finally {
      await other.stop();
    }
    expect(await server.endBy((child) => child.stdin.end())).toEqual({ code: 0, signal: null });
    // The ready line was the only thing on stdout, from start to exit.
    expect(server.laterStdout()).toBe('');
  });
});

// Not a contract: which scenarios of the official suite each server passes when asked directly, for
// the fuzzer's notes. Opt in with PORTCULLIS_SDK_CONFORMANCE=1. Most scenarios need the suite's own
// tools, prompts and resources, which these servers do not have.
describe.runIf(process.env['PORTCULLIS_SDK_CONFORMANCE'] === '1').each([rustSpec, javaSpec])(
  'the official conformance suite against the $name SDK server, direct',
  (spec) => {
    it('runs, and its verdicts are printed', async () => {
      const dir = mkdtempSync(join(tmpdir(), `portcullis-sdk-${spec.name}-`));
      const server = await startSdkServer(spec, await spec.prepare(cacheRoot), join(dir, 'log.jsonl'));
      try {
        const report = await runServerConformance(server.url, { timeoutMs: 600_000 });
        const passed = (scenario: ScenarioOutcome) => scenario.checks.every((c) => c.status !== 'FAILURE');
        const names = (scenarios: readonly ScenarioOutcome[]) => scenarios.map((s) => s.scenario).join(' ');
        console.log(
          `conformance, ${spec.name} direct: passed ${names(report.scenarios.filter(passed))}; ` +
            `failed ${names(report.scenarios.filter((scenario) => !passed(scenario)))}`,
        );
        expect(report.scenarios.length).toBeGreaterThan(0);
      } finally {
        await server.stop();
        rmSync(dir, { recursive: true, force: true });
      }
    }, 900_000);
  },
);

type ServerChild = ChildProcessByStdio<Writable, Readable, Readable>;

interface ProcessExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/** One running SDK server, started as the fuzzer's launcher will start it. */
interface SdkServerProcess {
  readonly url: string;
  readonly port: number;
  /** What the server printed on stdout after its ready line. */
  laterStdout(): string;
  /** Does `end` to the process and waits (bounded) for it to exit; 'timeout' if it did not. */
  endBy(end: (child: ServerChild) => void): Promise<ProcessExit | 'timeout'>;
  /** Closes stdin, then SIGKILL if it has not exited in a few seconds. Idempotent. */
  stop(): Promise<void>;
}

async function startSdkServer(
  spec: SdkServerSpec,
  argv: readonly string[],
  logPath: string,
): Promise<SdkServerProcess> {
  const [command, ...args] = argv;
  if (command === undefined) throw new Error(`${spec.name}: prepare() returned an empty argv`);
  const { port } = await freeLoopbackPorts(['port']);
  writeFileSync(logPath, '');
  const started = Date.now();
  const child: ServerChild = spawn(command, [...args, '--port', String(port), '--log', logPath], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr = (stderr + chunk).slice(-8000)));
  const exited = new Promise<ProcessExit>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  let stdout = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  const readyLine = await firstLine(child, exited, readyTimeoutMs).catch((error: unknown) => {
    child.kill('SIGKILL');
    throw new Error(`${spec.name} server (${argv.join(' ')}) did not get ready: ${String(error)}\n${stderr}`);
  });
  console.log(`${spec.name} SDK server ready in ${Date.now() - started} ms`);
  const { url } = JSON.parse(readyLine) as { url: string };

  const endBy = async (end: (child: ServerChild) => void): Promise<ProcessExit | 'timeout'> => {
    if (child.exitCode === null && child.signalCode === null) end(child);
    return Promise.race([exited, delay(10_000).then(() => 'timeout' as const)]);
  };
  return {
    url,
    port,
    laterStdout: () => stdout.slice(readyLine.length + 1),
    endBy,
    async stop() {
      if ((await endBy((running) => running.stdin.end())) === 'timeout') {
        child.kill('SIGKILL');
        await exited;
      }
    },
  };
}

/** The first line the server prints, which the contract says is its ready line. */
function firstLine(child: ServerChild, exited: Promise<ProcessExit>, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let buffered = '';
    child.stdout.on('data', (chunk: string) => {
      buffered += chunk;
      const end = buffered.indexOf('\n');
      if (end >= 0) resolve(buffered.slice(0, end));
    });
    void exited.then((exit) => reject(new Error(`it exited first (${JSON.stringify(exit)})`)));
    void delay(timeoutMs).then(() => reject(new Error(`no ready line within ${timeoutMs} ms`)));
  });
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

function executions(logPath: string): unknown[] {
  return readFileSync(logPath, 'utf8')
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as unknown);
}

function textOf(content: unknown): string {
  const [first] = content as { type: string; text?: string }[];
  if (first?.type !== 'text' || first.text === undefined) throw new Error('no text content');
  return first.text;
}

/** The one JSON-RPC message of a POST's answer: a JSON body, or the data of an SSE stream's event. */
function jsonRpcReply(contentType: string | null, body: string): unknown {
  if (contentType?.startsWith('text/event-stream') !== true) return JSON.parse(body);
  const data = body
    .split('\n')
    .filter((line) => line.startsWith('data:'))
    .map((line) => line.slice('data:'.length).trim())
    .filter((line) => line !== '');
  expect(data).toHaveLength(1);
  return JSON.parse(data[0] ?? '');
}
