import { setTimeout as sleep } from 'node:timers/promises';
import { parseRawResponse, rawExchange } from '../harness/raw-http.ts';
import { startSidecarUnderTest, type SidecarUnderTest } from '../harness/sidecar-under-test.ts';
import { plainCase, type Caller, type FuzzCase } from './fuzz-case.ts';
import { answerFindings, unmatchedExecutions, type Execution, type Finding } from './oracle.ts';
import { requestBytes, type RequestContext } from './write-request.ts';

/** A real MCP server that logs what it executes (test/sdk-servers/). */
export interface FuzzTarget {
  readonly name: string;
  readonly url: string;
  executions(): Promise<readonly Execution[]>;
  clearExecutions(): Promise<void>;
}

/** One server behind its own sidecar; cases run one at a time, so every execution belongs to the case. */
export interface Lane {
  readonly name: string;
  /** Cases run, cases with at least one allowed call, and tool executions the oracle checked, so far. */
  readonly counts: { cases: number; allowedCases: number; executions: number };
  run(fuzz: FuzzCase): Promise<Finding[]>;
  stop(): Promise<void>;
}

export const FUZZ_AUDIENCE = 'https://fuzz.mcp.example.com/mcp';

const CALLERS: Readonly<Record<Caller, Record<string, unknown>>> = {
  alice: { sub: 'alice', azp: 'fuzz-agent', tenant_id: 'acme', groups: ['staff'] },
  mallory: { sub: 'mallory', azp: 'fuzz-agent', tenant_id: 'globex', groups: [] },
};

const TOKEN_REFRESH_MS = 120_000;

/** Long enough for a server to act on a notification it answered 202 before running. */
const SETTLE_MS = 25;

/** A GET opens an event stream that stays open: its headers are the answer. */
function streamOpened(received: Buffer): boolean {
  const end = received.indexOf('\r\n\r\n');
  if (end < 0) return false;
  const head = received.subarray(0, end).toString('latin1').toLowerCase();
  return head.startsWith('http/1.1 200') && head.includes('content-type: text/event-stream');
}

export async function startLane(target: FuzzTarget): Promise<Lane> {
  const gate: SidecarUnderTest = await startSidecarUnderTest({
    policyFixture: 'fuzz',
    upstream: { upstreamUrl: target.url },
    audience: FUZZ_AUDIENCE,
    // Hours of cases: keep errors (an exception is a finding anyway), not a debug line per request.
    logLevel: 'error',
  });
  // Tokens live 300 s; a long run signs new ones well before, or every later case would be a plain 401.
  const tokens = { alice: '', mallory: '', signedAt: 0 };
  const refreshTokens = async () => {
    if (performance.now() - tokens.signedAt < TOKEN_REFRESH_MS && tokens.signedAt !== 0) return;
    tokens.alice = await gate.token(CALLERS.alice);
    tokens.mallory = await gate.token(CALLERS.mallory);
    tokens.signedAt = performance.now();
  };
  await refreshTokens();
  const context: RequestContext = {
    host: new URL(gate.url).host,
    token: (caller) => tokens[caller],
    tenantOf: (caller) => CALLERS[caller]['tenant_id'] as string,
  };
  const counts = { cases: 0, allowedCases: 0, executions: 0 };
  return {
    name: target.name,
    counts,
    async run(fuzz) {
      counts.cases++;
      await refreshTokens();
      gate.audit.events.splice(0);
      await target.clearExecutions();
      const smuggled = fuzz.http.smuggle === 'pipelined-call';
      const bytes = smuggled
        ? Buffer.concat([
            requestBytes(fuzz, context, true),
            requestBytes(plainCase(fuzz.caller, { kind: 'call', tool: 'send_email' }), context),
          ])
        : requestBytes(fuzz, context);
      const isGet = fuzz.http.verb === 'GET';
      const received = await rawExchange(gate.url, bytes, {
        timeoutMs: isGet ? 2_000 : 10_000,
        ...(isGet ? { done: streamOpened } : {}),
      });
      const response = parseRawResponse(received);
      const findings = answerFindings(fuzz.caller, response, isGet && streamOpened(received));
      if (response.status === 202 || response.status === 0 || smuggled || isGet) await sleep(SETTLE_MS);
      const allowed = gate.audit.events
        .filter((event) => event.kind === 'call' && event.decision === 'allowed')
        .map((event) => ({ tool: event.tool ?? '', arguments: event.arguments }));
      const executions = await target.executions();
      if (allowed.length > 0) counts.allowedCases++;
      counts.executions += executions.length;
      findings.push(...unmatchedExecutions(fuzz.caller, executions, allowed));
      return findings;
    },
    stop: () => gate.stop(),
  };
}
