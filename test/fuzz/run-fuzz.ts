import fc from 'fast-check';
import { fuzzCase } from './arbitraries.ts';
import type { FuzzCase } from './fuzz-case.ts';
import type { Lane } from './lane.ts';
import type { Finding } from './oracle.ts';

export interface FuzzRunOptions {
  /** The base seed; lane i runs with seed + i. Printed with every failure so it can be replayed. */
  readonly seed: number;
  /** Most cases per lane. */
  readonly casesPerLane: number;
  /** A lane stops at this wall-clock bound even if it has cases left (fast-check's interrupt). */
  readonly timeLimitMs: number;
}

export interface LaneReport {
  readonly lane: string;
  readonly seed: number;
  readonly cases: number;
  readonly durationMs: number;
  /** Cases with at least one call the sidecar allowed (and so forwarded), and executions checked. */
  readonly allowedCases: number;
  readonly executions: number;
  /** The minimized failing case and what the oracle found, if any. */
  readonly failure?: {
    readonly case: FuzzCase;
    readonly findings: readonly Finding[];
    readonly path?: string;
  };
}

class FindingsError extends Error {
  readonly findings: readonly Finding[];
  constructor(findings: readonly Finding[]) {
    super(findings.map((f) => `${f.kind}: ${f.detail}`).join('\n'));
    this.findings = findings;
  }
}

/** Runs the lanes side by side, each its own fast-check run; a failing case is shrunk on its lane. */
export async function runDifferentialFuzz(
  lanes: readonly Lane[],
  options: FuzzRunOptions,
): Promise<LaneReport[]> {
  return Promise.all(
    lanes.map(async (lane, index): Promise<LaneReport> => {
      const seed = options.seed + index;
      let cases = 0;
      const started = performance.now();
      const property = fc.asyncProperty(fuzzCase, async (fuzz) => {
        cases++;
        const findings = await lane.run(fuzz);
        if (findings.length > 0) throw new FindingsError(findings);
      });
      const details = await fc.check(property, {
        seed,
        numRuns: options.casesPerLane,
        interruptAfterTimeLimit: options.timeLimitMs,
        markInterruptAsFailure: false,
      });
      const report = {
        lane: lane.name,
        seed,
        cases,
        durationMs: Math.round(performance.now() - started),
        allowedCases: lane.counts.allowedCases,
        executions: lane.counts.executions,
      };
      if (!details.failed || details.counterexample === null) return report;
      const [failing] = details.counterexample;
      const error = details.errorInstance;
      const findings =
        error instanceof FindingsError
          ? error.findings
          : [{ kind: 'no-answer' as const, detail: String(error) }];
      return {
        ...report,
        failure: {
          case: failing,
          findings,
          ...(details.counterexamplePath ? { path: details.counterexamplePath } : {}),
        },
      };
    }),
  );
}

/** One line per lane, for logs and failure messages. */
export function describeReports(reports: readonly LaneReport[]): string {
  return reports
    .map((r) => {
      const head = `${r.lane}: ${r.cases} cases in ${r.durationMs} ms (seed ${r.seed}); ${r.allowedCases} with an allowed call, ${r.executions} executions checked`;
      if (!r.failure) return head;
      return `${head}\n  FAILED on ${JSON.stringify(r.failure.case)}\n  ${r.failure.findings.map((f) => `${f.kind}: ${f.detail}`).join('\n  ')}`;
    })
    .join('\n');
}
