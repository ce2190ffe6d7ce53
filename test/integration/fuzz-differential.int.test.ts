import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadCorpus } from '../fuzz/corpus.ts';
import { startLane, type Lane } from '../fuzz/lane.ts';
import { describeReports, runDifferentialFuzz } from '../fuzz/run-fuzz.ts';
import { SDK_SERVER_SPECS, startSdkServer, type RunningSdkServer } from '../harness/sdk-servers.ts';

/**
 * The differential fuzzer (test/fuzz/) inside `make test`: real MCP servers on the official SDKs of five
 * languages, each behind its own sidecar, checked by an oracle that compares what every server executed
 * with what the sidecar's audit trail allowed. The regression corpus first, then a bounded seeded run.
 * The seed is printed with any failure; replay it with `make fuzz FUZZ_SEED=<seed>`.
 */
const TOTAL_CASES = Number(process.env['PORTCULLIS_FUZZ_CASES'] ?? 100_000);
const TIME_LIMIT_MS = 8 * 60_000;
const SEED = Number(process.env['PORTCULLIS_FUZZ_SEED'] ?? Date.now() % 2 ** 31);

describe('differential fuzzer against real SDK servers', () => {
  const servers: RunningSdkServer[] = [];
  const lanes: Lane[] = [];

  beforeAll(async () => {
    for (const spec of SDK_SERVER_SPECS) servers.push(await startSdkServer(spec));
    for (const server of servers) lanes.push(await startLane(server));
  }, 600_000);
  afterAll(async () => {
    for (const lane of lanes) await lane.stop();
    for (const server of servers) await server.stop();
  });

  it('covers five SDK languages', () => {
    const languages = new Set(servers.map((s) => s.name.replace(/-.*/, '')));
    expect(languages).toEqual(new Set(['typescript', 'python', 'go', 'rust', 'java']));
  });

  it.each(loadCorpus().map((entry) => [entry.file, entry] as const))(
    'replays corpus case %s on every server with nothing executed that was not allowed',
    async (_file, entry) => {
      for (const lane of lanes) {
        const findings = await lane.run(entry.case);
        expect(findings, `${lane.name}: ${entry.note}`).toEqual([]);
      }
    },
  );

  it(
    `finds nothing in ${TOTAL_CASES} seeded cases spread over the servers`,
    async () => {
      const reports = await runDifferentialFuzz(lanes, {
        seed: SEED,
        casesPerLane: Math.ceil(TOTAL_CASES / lanes.length),
        timeLimitMs: TIME_LIMIT_MS,
      });
      const summary = describeReports(reports);
      console.log(`differential fuzzer, seed ${SEED}:\n${summary}`);
      expect(
        reports.filter((r) => r.failure !== undefined),
        summary,
      ).toEqual([]);
      // Bounded by time on a slow machine, but never a token run: most of the cases must have run.
      const ran = reports.reduce((sum, r) => sum + r.cases, 0);
      expect(ran, summary).toBeGreaterThanOrEqual(Math.min(TOTAL_CASES, 20_000));
      // The run must reach the servers, not only be refused at the gate.
      for (const report of reports) expect(report.executions, summary).toBeGreaterThan(report.cases / 20);
    },
    TIME_LIMIT_MS + 120_000,
  );
});
