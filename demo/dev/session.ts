import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SIGN_INS } from '../cast.ts';
import { Printer } from '../output/printer.ts';
import type { Style } from '../output/style.ts';
import type { StackError } from '../stack/errors.ts';
import type { StackPorts } from '../stack/ports.ts';
import { startStack } from '../stack/stack.ts';
import { printConnectionGuide, type IssuedToken } from './guide.ts';

export interface DevOptions {
  readonly nodePath: string;
  readonly env: Readonly<Record<string, string>>;
  /** The policies the sidecar serves, live: edits are picked up on save. */
  readonly policyDir: string;
  readonly ports: StackPorts;
  readonly tokenTtlSeconds: number;
  readonly out: (text: string) => void;
  readonly style: Style;
  /** Resolves on Ctrl-C (SIGINT) or SIGTERM. */
  readonly untilShutdown: Promise<void>;
}

export type DevEnd =
  { readonly reason: 'shutdown' } | { readonly reason: 'crashed'; readonly error: StackError };

/**
 * `portcullis dev`: the demo stack, kept running for exploration with the policies of a directory.
 * Prints how to reach it and ready-to-use tokens, then waits for Ctrl-C and stops everything. Its state
 * (audit log and database, tokens, logs) lives in a temporary directory removed at the end.
 */
export async function runDevSession(options: DevOptions): Promise<DevEnd> {
  const print = new Printer(options.out, options.style);
  const workDir = mkdtempSync(join(tmpdir(), 'portcullis-dev-'));
  let keepWorkDir = true;
  try {
    print.line(
      print.style.dim(
        'Starting an identity provider, the billing MCP server, the audit collector and the sidecar...',
      ),
    );
    const stack = await startStack({
      nodePath: options.nodePath,
      policyDir: options.policyDir,
      workDir,
      ports: options.ports,
      tokenTtlSeconds: options.tokenTtlSeconds,
      env: options.env,
    });
    try {
      const tokenDir = join(workDir, 'tokens');
      mkdirSync(tokenDir, { mode: 0o700 });
      const tokens: IssuedToken[] = [];
      for (const { user, agent } of SIGN_INS) {
        const token = await stack.token(user, agent);
        const file = join(tokenDir, `${user.id}.${agent.id}.token`);
        writeFileSync(file, token, { mode: 0o600 });
        tokens.push({ user, agent, token, file });
      }
      printConnectionGuide(print, {
        stack,
        policyDir: options.policyDir,
        workDir,
        tokens,
        ttlSeconds: options.tokenTtlSeconds,
      });
      const end = await Promise.race([
        options.untilShutdown.then((): DevEnd => ({ reason: 'shutdown' })),
        stack.crashed.then((error): DevEnd => ({ reason: 'crashed', error })),
      ]);
      print.line();
      print.line(end.reason === 'shutdown' ? 'Stopping...' : `${end.error.message}; stopping the rest...`);
      keepWorkDir = end.reason !== 'shutdown';
      return end;
    } finally {
      await stack.stop();
      print.line('Stopped.');
    }
  } finally {
    // Logs stay for a post-mortem when something broke; a clean stop leaves nothing behind.
    if (keepWorkDir && readdirSync(workDir).length > 0)
      print.line(`Logs and the audit database are kept in ${workDir}`);
    else rmSync(workDir, { recursive: true, force: true });
  }
}
