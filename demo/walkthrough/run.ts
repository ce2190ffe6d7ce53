import { execFile } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeJwt } from 'jose';
import { SIGN_INS, type DemoAgent, type DemoUser } from '../cast.ts';
import { Printer } from '../output/printer.ts';
import type { Style } from '../output/style.ts';
import { freePorts } from '../stack/ports.ts';
import { CLI_MAIN, startStack, type DemoStack } from '../stack/stack.ts';
import { auditTrail } from './audit-trail.ts';
import { connectCaller, type Caller } from './caller.ts';
import type { Step, StepContext } from './step.ts';
import { STEPS } from './steps/index.ts';

export interface WalkthroughOptions {
  readonly nodePath: string;
  /** The environment of the stack's processes. */
  readonly env: Readonly<Record<string, string>>;
  /** The policies to serve (examples/demo); the walkthrough works on a copy, since it edits them. */
  readonly policySource: string;
  readonly out: (text: string) => void;
  readonly style: Style;
  /** Resolves on Ctrl-C: the walkthrough stops the stack and gives up. */
  readonly interrupted: Promise<void>;
}

export interface WalkthroughResult {
  /** Every step behaved as described. */
  readonly passed: boolean;
  readonly failedSteps: readonly string[];
}

class Interrupted extends Error {}

/**
 * The scripted demo: starts the stack, signs the users in, runs each step with real calls, verifies
 * what each step claims, and stops everything. Finite: every wait is bounded.
 */
export async function runWalkthrough(options: WalkthroughOptions): Promise<WalkthroughResult> {
  const print = new Printer(options.out, options.style);
  const started = performance.now();
  const workDir = mkdtempSync(join(tmpdir(), 'portcullis-demo-'));
  const policyDir = join(workDir, 'policies');
  cpSync(options.policySource, policyDir, { recursive: true });
  const interrupted = options.interrupted.then(() => {
    throw new Interrupted('interrupted');
  });
  interrupted.catch(() => {});

  print.title('Portcullis demo: a policy gate in front of an MCP server, with real calls');
  print.line(
    print.style.dim(
      'Starting an identity provider, the billing MCP server, the audit collector and the sidecar...',
    ),
  );
  let stack: DemoStack | undefined;
  const callers: Caller[] = [];
  const failedSteps: string[] = [];
  let passed = false;
  try {
    stack = await Promise.race([
      startStack({
        nodePath: options.nodePath,
        policyDir,
        workDir,
        ports: await freePorts(),
        tokenTtlSeconds: 600,
        env: options.env,
      }),
      interrupted,
    ]);
    const running = stack;
    printStack(print, running, policyDir, performance.now() - started);
    const tokens = await signInEveryone(print, running);

    const sessions = new Map<string, Caller>();
    const recorded: string[] = [];
    const connect = async (user: DemoUser, agent: DemoAgent) => {
      const token = tokens.get(pairKey(user, agent)) ?? (await running.token(user, agent));
      const caller = await connectCaller(running.mcpUrl, user, agent, token);
      callers.push(caller);
      return caller;
    };
    let failures: string[] = [];
    const context: StepContext = {
      stack: running,
      print,
      audit: auditTrail(running.collectorUrl, running.server, new Date(Date.now() - 60_000)),
      policyDir,
      async caller(user, agent) {
        const key = pairKey(user, agent);
        const existing = sessions.get(key);
        if (existing !== undefined) return existing;
        const caller = await connect(user, agent);
        sessions.set(key, caller);
        return caller;
      },
      newCaller: connect,
      record(http) {
        if (http.requestId !== undefined) recorded.push(http.requestId);
      },
      recorded: () => [...recorded],
      portcullis: (args) => runPortcullis(options, args),
      expect(holds, description) {
        if (!holds) failures.push(description);
        return holds;
      },
    };

    for (const [index, step] of STEPS.entries()) {
      failures = [];
      print.heading(index + 1, STEPS.length, step.title);
      print.paragraph(step.intro);
      print.line();
      const conclusion = await runStep(step, context, running, interrupted).catch((error: unknown) => {
        if (error instanceof Interrupted) throw error;
        failures.push(`the step failed: ${(error as Error).message}`);
        return undefined;
      });
      if (failures.length === 0 && conclusion !== undefined) print.verdict(true, conclusion);
      else {
        failedSteps.push(step.title);
        for (const failure of failures) print.verdict(false, failure);
      }
    }
    printSummary(print, failedSteps, performance.now() - started);
    passed = failedSteps.length === 0;
    return { passed, failedSteps };
  } catch (error) {
    if (!(error instanceof Interrupted)) throw error;
    print.line();
    print.line('Interrupted: stopping the stack.');
    return { passed: false, failedSteps: ['interrupted'] };
  } finally {
    await Promise.allSettled(callers.map((caller) => caller.close()));
    await stack?.stop();
    // A run that did not pass keeps its logs for a post-mortem.
    if (passed) rmSync(workDir, { recursive: true, force: true });
    else print.line(`Logs, the audit database and the policies are kept in ${workDir}`);
  }
}

async function runStep(
  step: Step,
  context: StepContext,
  stack: DemoStack,
  interrupted: Promise<never>,
): Promise<string> {
  const crashed = stack.crashed.then((error) => {
    throw error;
  });
  return Promise.race([step.run(context), crashed, interrupted]);
}

function printStack(print: Printer, stack: DemoStack, policyDir: string, elapsedMs: number): void {
  print.line();
  print.table([
    ['MCP endpoint', `${stack.mcpUrl}   (the sidecar: the only way to the billing server)`],
    ['policies', `${policyDir}   (a copy of examples/demo, hot-reloaded)`],
    ['identity provider', `${stack.identity.url}   (issuer ${stack.identity.issuer})`],
    ['audit collector', `${stack.collectorUrl}   (SQLite)`],
    ['started in', `${(elapsedMs / 1000).toFixed(1)} s`],
  ]);
}

/** Each user signs in through their agent once; the walkthrough shows what the token says. */
async function signInEveryone(print: Printer, stack: DemoStack): Promise<Map<string, string>> {
  const tokens = new Map<string, string>();
  print.line();
  print.paragraph(
    'Two users sign in through two agents (OAuth clients), with the authorization code flow and PKCE at ' +
      'the local identity provider. The access tokens they get, and what the sidecar reads from them:',
  );
  for (const { user, agent } of SIGN_INS) {
    const token = await stack.token(user, agent);
    tokens.set(pairKey(user, agent), token);
    const claims = decodeJwt(token);
    print.line();
    print.line(
      `  ${print.style.accent(user.id)}, ${user.description}, through ${agent.id} (${agent.description})`,
    );
    print.table(
      [
        ['user (sub)', String(claims.sub)],
        ['agent (azp)', String(claims['azp'])],
        ['tenant (tenant_id)', String(claims['tenant_id'])],
        ['groups', (claims['groups'] as string[]).join(', ')],
        ['scope', String(claims['scope'])],
        ['audience', String(claims.aud)],
      ],
      4,
    );
  }
  return tokens;
}

function printSummary(print: Printer, failedSteps: readonly string[], elapsedMs: number): void {
  print.section('Summary');
  const seconds = (elapsedMs / 1000).toFixed(1);
  if (failedSteps.length === 0) {
    print.verdict(true, `all ${STEPS.length} steps behaved as described (${seconds} s)`);
    print.line();
    print.line(
      'Explore the same stack yourself: node cli/main.ts dev   (prints tokens and an MCP client config)',
    );
  } else {
    print.verdict(
      false,
      `${failedSteps.length} of ${STEPS.length} steps did not behave as described: ${failedSteps.join('; ')}`,
    );
  }
}

function pairKey(user: DemoUser, agent: DemoAgent): string {
  return `${user.id} ${agent.id}`;
}

const CLI_TIMEOUT_MS = 15_000;

function runPortcullis(
  options: WalkthroughOptions,
  args: readonly string[],
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      options.nodePath,
      [CLI_MAIN, ...args],
      { env: { ...options.env, NO_COLOR: '1' }, timeout: CLI_TIMEOUT_MS, maxBuffer: 4 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === 'number' ? error.code : null;
        resolve({ code, stdout, stderr });
      },
    );
  });
}
