import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runConformanceCli, type CliRun } from './conformance-cli.ts';
import {
  scenarioOutcome,
  type ConformanceReport,
  type RawCheck,
  type ScenarioOutcome,
} from './conformance-report.ts';

export interface ServerConformanceOptions {
  /** Run only these scenarios (one CLI run each); default: the whole suite in one run. */
  readonly scenarios?: readonly string[];
  /** The suite's --spec-version filter (e.g. 2025-06-18); default: every version. */
  readonly specVersion?: string;
  /** "active" (the suite's default), "pending", or "all" (default here: as much as the suite has). */
  readonly suite?: 'active' | 'pending' | 'all';
  /** Bound on each CLI run. Default 120 s. */
  readonly timeoutMs?: number;
}

/**
 * Runs the official MCP conformance suite's SERVER mode against `url` and returns its verdicts in
 * the stable shape of ConformanceReport. Failed checks are results, not errors; this rejects only
 * when the suite could not run (bad arguments, timeout, crash before any scenario).
 */
export async function runServerConformance(
  url: string,
  options: ServerConformanceOptions = {},
): Promise<ConformanceReport> {
  const suite = options.suite ?? 'all';
  const timeoutMs = options.timeoutMs ?? 120_000;
  const filter = options.specVersion === undefined ? [] : ['--spec-version', options.specVersion];
  const workDir = await mkdtemp(join(tmpdir(), 'portcullis-conformance-'));
  try {
    const runs =
      options.scenarios === undefined
        ? [['--suite', suite, ...filter]]
        : options.scenarios.map((scenario) => ['--scenario', scenario]);
    const scenarios: ScenarioOutcome[] = [];
    for (const [index, args] of runs.entries()) {
      const outputDir = join(workDir, `run-${index}`);
      const run = await runConformanceCli(['server', '--url', url, '-o', outputDir, ...args], {
        timeoutMs,
        cwd: workDir,
      });
      scenarios.push(...(await collectScenarios(run, args, outputDir, url, timeoutMs)));
    }
    scenarios.sort((a, b) => (a.scenario < b.scenario ? -1 : a.scenario > b.scenario ? 1 : 0));
    return {
      suite: options.scenarios === undefined ? suite : 'selected',
      specVersion: options.specVersion ?? null,
      scenarios,
    };
  } finally {
    await rm(workDir, { recursive: true, force: true });
  }
}

async function collectScenarios(
  run: CliRun,
  args: readonly string[],
  outputDir: string,
  url: string,
  timeoutMs: number,
): Promise<ScenarioOutcome[]> {
  const describeRun = () =>
    `conformance server ${args.join(' ')} (exit ${run.code}):\n${run.stderr || run.stdout}`;
  if (run.timedOut) throw new Error(`timed out after ${timeoutMs} ms: ${describeRun()}`);
  // The CLI announces every scenario it starts, in suite mode and with --scenario alike.
  const names = [...run.stdout.matchAll(/^Running client scenario '(\S+)' against server/gm)].map(
    ([, name]) => name ?? '',
  );
  if (names.length === 0 && run.code !== 0) throw new Error(`the suite did not run: ${describeRun()}`);
  const written = await readdir(outputDir).catch(() => [] as string[]);
  return Promise.all(
    names.map(async (name) => {
      const dir = written.find((entry) =>
        new RegExp(`^server-${escapeRegExp(name)}-\\d{4}-\\d{2}-\\d{2}T`).test(entry),
      );
      if (dir === undefined) return crashedScenario(name, run, url);
      const raw = JSON.parse(await readFile(join(outputDir, dir, 'checks.json'), 'utf8')) as RawCheck[];
      return scenarioOutcome(name, raw, url);
    }),
  );
}

/**
 * The CLI writes no checks.json for a scenario that threw; it logs "Failed to run scenario" to
 * stderr and counts one failure, which is what we report too.
 */
function crashedScenario(name: string, run: CliRun, url: string): ScenarioOutcome {
  const line = run.stderr
    .split('\n')
    .find((candidate) => candidate.includes(`Failed to run scenario ${name}:`));
  return scenarioOutcome(
    name,
    [{ id: name, status: 'FAILURE', errorMessage: line ?? 'the scenario wrote no results' }],
    url,
  );
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
