// Runs in a client pod of the e2e cluster: a real MCP client (the official SDK) that takes a token from
// the in-cluster OpenID provider and talks to an McpServer through its Service, by DNS name. It prints
// one JSON line per outcome on stdout, which the test reads with `kubectl logs`.
//
//   env PLAN  JSON: { idp, clientId, secret, resource, scope, url, mode, steps?, intervalMs? }
//     mode "steps": run steps in order ({ list: true } | { tool, args } | { burst: n, tool, args }), then exit
//     mode "watch": call one tool forever from `concurrency` probes; print a line each time a probe's
//                   outcome flips (allowed/refused), with the wall clock in ms, so the test can time a
//                   kill switch from outside
//     mode "load": call `tool` at `rate` calls/s (at most `concurrency` in flight) for `seconds`; print
//                   one summary line: calls started, answered ok, failed, and the rate achieved
//     mode "sequence": call `tool` `count` times, one at a time, `intervalMs` apart, with args plus
//                   { [markerArg]: `${marker}-${i}` }; print each call's marker and whether it was
//                   answered (a result, or the gate's JSON-RPC error) or lost (no answer at all)
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { clientToken } from './client-token.ts';

interface Step {
  readonly list?: boolean;
  readonly tool?: string;
  readonly args?: Record<string, unknown>;
  readonly burst?: number;
}
interface Plan {
  readonly idp: string;
  readonly clientId: string;
  readonly secret: string;
  readonly resource: string;
  readonly scope: string;
  readonly url: string;
  readonly mode: 'steps' | 'watch' | 'sequence' | 'load';
  readonly count?: number;
  readonly rate?: number;
  readonly concurrency?: number;
  readonly seconds?: number;
  readonly marker?: string;
  readonly markerArg?: string;
  readonly steps?: readonly Step[];
  readonly tool?: string;
  readonly args?: Record<string, unknown>;
  readonly intervalMs?: number;
}

const plan = JSON.parse(process.env['PLAN'] ?? '{}') as Plan;
const print = (line: Record<string, unknown>): void =>
  console.log(JSON.stringify({ at: Date.now(), ...line }));

async function connect(): Promise<Client> {
  const transport = new StreamableHTTPClientTransport(new URL(plan.url), {
    requestInit: { headers: { authorization: `Bearer ${await clientToken(plan)}` } },
  });
  const client = new Client({ name: 'portcullis-e2e-client', version: '1.0.0' });
  await client.connect(transport);
  return client;
}

/** A call's outcome as data: the tool's result, or the JSON-RPC error the gate answered. */
async function call(
  client: Client,
  tool: string,
  args: Record<string, unknown> = {},
): Promise<Record<string, unknown>> {
  try {
    const result = await client.callTool({ name: tool, arguments: args });
    return { tool, ok: result.isError !== true, result };
  } catch (error) {
    return { tool, ok: false, error: jsonRpcError(error) };
  }
}

/**
 * The gate's JSON-RPC error: the SDK raises it as is for a 200 answer, and wraps the body of a 4xx/5xx
 * answer into its message ("Error POSTing to endpoint: {...}").
 */
function jsonRpcError(error: unknown): { code?: number; message?: string; data?: unknown } {
  const { code, message = '', data } = error as { code?: number; message?: string; data?: unknown };
  const body = message.indexOf('{"jsonrpc"');
  if (body >= 0) {
    try {
      const parsed = JSON.parse(message.slice(body)) as {
        error?: { code?: number; message?: string; data?: unknown };
      };
      if (parsed.error !== undefined) return parsed.error;
    } catch {
      // not JSON after all: keep the SDK's own error
    }
  }
  return { code, message, data };
}

async function runSteps(client: Client): Promise<void> {
  for (const step of plan.steps ?? []) {
    if (step.list === true) {
      const { tools } = await client.listTools();
      print({ list: tools.map((tool) => tool.name).sort() });
    } else if (step.tool !== undefined && step.burst !== undefined) {
      const started = performance.now();
      const outcomes = await Promise.all(
        Array.from({ length: step.burst }, () => call(client, step.tool!, step.args)),
      );
      print({
        burst: step.burst,
        tool: step.tool,
        // From the first call sent to the last answer: rate limits refill over it.
        elapsedMs: Math.round(performance.now() - started),
        outcomes: outcomes.map((o) =>
          o['ok'] === true
            ? 'ok'
            : ((o['error'] as { data?: { portcullis?: { code?: string } } })?.data?.portcullis?.code ??
              'error'),
        ),
      });
    } else if (step.tool !== undefined) {
      print(await call(client, step.tool, step.args));
    }
  }
}

/**
 * `concurrency` probes (default 1) call at once, each printing its own flips: a single probe learns of
 * a change only when its call in flight comes back, so more probes sample the gate more finely.
 */
async function watch(client: Client): Promise<never> {
  const probe = async (index: number): Promise<never> => {
    let last: boolean | undefined;
    for (;;) {
      const sentAt = Date.now();
      const outcome = await call(client, plan.tool ?? '', plan.args);
      const allowed = outcome['ok'] === true;
      // sentAt: when the call that shows the change left; the gate decided it on arrival.
      if (allowed !== last) print({ probe: index, allowed, sentAt, error: outcome['error'] });
      last = allowed;
      await new Promise((resolve) => setTimeout(resolve, plan.intervalMs ?? 2));
    }
  };
  return Promise.any(Array.from({ length: plan.concurrency ?? 1 }, (_, index) => probe(index)));
}

async function sequence(client: Client): Promise<void> {
  for (let i = 0; i < (plan.count ?? 0); i += 1) {
    const marker = `${plan.marker}-${i}`;
    const outcome = await call(client, plan.tool ?? '', {
      ...plan.args,
      [plan.markerArg ?? 'marker']: marker,
    });
    const error = outcome['error'] as { data?: { portcullis?: { code?: string } } } | undefined;
    const answered =
      outcome['ok'] === true || outcome['result'] !== undefined || error?.data?.portcullis !== undefined;
    print({ marker, answered, ok: outcome['ok'], code: error?.data?.portcullis?.code });
    await new Promise((resolve) => setTimeout(resolve, plan.intervalMs ?? 20));
  }
}

async function load(client: Client): Promise<void> {
  const rate = plan.rate ?? 100;
  const limit = plan.concurrency ?? 16;
  const started = performance.now();
  const end = started + (plan.seconds ?? 10) * 1000;
  let issued = 0;
  let inFlight = 0;
  let ok = 0;
  let failed = 0;
  const running = new Set<Promise<void>>();
  while (performance.now() < end) {
    // Paced: call number n starts no earlier than n / rate seconds in.
    const due = started + (issued * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    if (inFlight >= limit) {
      await Promise.race(running);
      continue;
    }
    issued += 1;
    inFlight += 1;
    const one: Promise<void> = call(client, plan.tool ?? '', plan.args).then((outcome) => {
      if (outcome['ok'] === true) ok += 1;
      else failed += 1;
      inFlight -= 1;
      running.delete(one);
    });
    running.add(one);
  }
  await Promise.all(running);
  const seconds = (performance.now() - started) / 1000;
  print({ load: true, issued, okCalls: ok, failedCalls: failed, seconds, rate: Math.round(ok / seconds) });
}

try {
  const client = await connect();
  print({ connected: true });
  if (plan.mode === 'watch') await watch(client);
  if (plan.mode === 'sequence') await sequence(client);
  if (plan.mode === 'load') await load(client);
  await runSteps(client);
  await client.close();
  print({ done: true });
} catch (error) {
  const cause = error instanceof Error && error.cause instanceof Error ? `: ${error.cause.message}` : '';
  print({ failed: `${error instanceof Error ? error.message : String(error)}${cause}` });
  process.exitCode = 1;
}
