import { tmpdir } from 'node:os';
import { runConformanceCli } from './conformance-cli.ts';

export interface ServerScenario {
  readonly name: string;
  /** The spec versions the suite files the scenario under, e.g. ['2025-06-18', '2025-11-25']. */
  readonly specVersions: readonly string[];
}

/** The server scenarios the installed suite knows, as `conformance list --server` prints them. */
export async function listServerScenarios(timeoutMs = 30_000): Promise<ServerScenario[]> {
  const run = await runConformanceCli(['list', '--server'], { timeoutMs, cwd: tmpdir() });
  if (run.code !== 0) throw new Error(`conformance list failed (${run.code}): ${run.stderr}`);
  return [...run.stdout.matchAll(/^\s+- (\S+)(?: \[([^\]]*)\])?$/gm)].map(([, name, versions]) => ({
    name: name ?? '',
    specVersions: versions === undefined ? [] : versions.split(',').map((version) => version.trim()),
  }));
}

/**
 * The spec versions for which the suite has server scenarios, oldest first. The suite knows more
 * versions (2025-03-26, draft, extension) but files no server scenario under them.
 */
export function serverSpecVersions(scenarios: readonly ServerScenario[]): string[] {
  return [...new Set(scenarios.flatMap((scenario) => scenario.specVersions))].sort();
}

/**
 * Every spec version the suite knows. The CLI has no command that lists them, but it names them all
 * when it rejects an unknown one, so that is where we read them.
 */
export async function knownSpecVersions(timeoutMs = 30_000): Promise<string[]> {
  const run = await runConformanceCli(['list', '--server', '--spec-version', 'not-a-version'], {
    timeoutMs,
    cwd: tmpdir(),
  });
  const named = /Valid versions: (.+)$/m.exec(run.stderr)?.[1];
  if (named === undefined) throw new Error(`conformance did not name its spec versions: ${run.stderr}`);
  return named.split(',').map((version) => version.trim());
}
