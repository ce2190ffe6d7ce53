/**
 * `make fuzz`: the differential fuzzer's long run. Every SDK server behind its own sidecar, cases from
 * one seed, bounded by count and time; a summary (cases, cases/s, findings) goes to bench/results/fuzz.json
 * and each minimized finding to test/fuzz/findings/ (kept out of git; move one into corpus/ with a note
 * to keep it as a regression case).
 *
 *   node test/fuzz/main.ts [--cases N] [--seconds S] [--seed N] [--servers a,b]
 *
 * --cases is the total over all servers (default 200000), --seconds the wall-clock bound (default 900).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { SDK_SERVER_SPECS, startSdkServer, type RunningSdkServer } from '../harness/sdk-servers.ts';
import { startLane, type Lane } from './lane.ts';
import { describeReports, runDifferentialFuzz } from './run-fuzz.ts';

const { values } = parseArgs({
  options: {
    cases: { type: 'string', default: '200000' },
    seconds: { type: 'string', default: '900' },
    seed: { type: 'string', default: String(Date.now() % 2 ** 31) },
    servers: { type: 'string' },
    out: { type: 'string', default: 'bench/results/fuzz.json' },
  },
});
const total = Number(values.cases);
const seconds = Number(values.seconds);
const seed = Number(values.seed);
const wanted = values.servers?.split(',');
const specs = SDK_SERVER_SPECS.filter((spec) => wanted === undefined || wanted.includes(spec.name));
if (
  !Number.isSafeInteger(total) ||
  total <= 0 ||
  !(seconds > 0) ||
  !Number.isSafeInteger(seed) ||
  specs.length === 0
) {
  console.error('usage: node test/fuzz/main.ts [--cases N] [--seconds S] [--seed N] [--servers a,b]');
  process.exit(2);
}

const servers: RunningSdkServer[] = [];
const lanes: Lane[] = [];
try {
  for (const spec of specs) servers.push(await startSdkServer(spec));
  for (const server of servers) lanes.push(await startLane(server));
  console.error(`fuzz: seed ${seed}, ${total} cases over ${lanes.length} servers, at most ${seconds} s`);
  const started = performance.now();
  // A line a minute, so a run of hours shows it is alive and how fast it goes.
  const progress = setInterval(() => {
    const done = lanes.reduce((sum, lane) => sum + lane.counts.cases, 0);
    const seconds = (performance.now() - started) / 1000;
    console.error(`fuzz: ${done} cases in ${Math.round(seconds)} s (${Math.round(done / seconds)}/s)`);
  }, 60_000);
  progress.unref();
  const reports = await runDifferentialFuzz(lanes, {
    seed,
    casesPerLane: Math.ceil(total / lanes.length),
    timeLimitMs: seconds * 1000,
  });
  clearInterval(progress);
  const elapsed = (performance.now() - started) / 1000;
  const cases = reports.reduce((sum, r) => sum + r.cases, 0);
  const failures = reports.filter((r) => r.failure !== undefined);
  console.error(describeReports(reports));
  const summary = {
    date: new Date().toISOString(),
    seed,
    servers: reports.map((r) => ({
      name: r.lane,
      cases: r.cases,
      seed: r.seed,
      failed: r.failure !== undefined,
    })),
    cases,
    seconds: Math.round(elapsed),
    casesPerSecond: Math.round(cases / elapsed),
    findings: failures.length,
  };
  mkdirSync(join(values.out, '..'), { recursive: true });
  writeFileSync(values.out, `${JSON.stringify(summary, null, 2)}\n`);
  if (failures.length > 0) {
    const dir = join(import.meta.dirname, 'findings');
    mkdirSync(dir, { recursive: true });
    for (const r of failures)
      writeFileSync(join(dir, `${r.lane}-${r.seed}.json`), `${JSON.stringify(r.failure, null, 2)}\n`);
  }
  console.log(JSON.stringify(summary));
  process.exitCode = failures.length > 0 ? 1 : 0;
} finally {
  for (const lane of lanes) await lane.stop();
  for (const server of servers) await server.stop();
}
