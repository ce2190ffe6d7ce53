import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import {
  checkStatuses,
  type CheckStatus,
  type ConformanceReport,
  type ScenarioOutcome,
} from '../conformance/conformance-report.ts';
import { runServerConformance } from '../conformance/run-server-suite.ts';
import { SDK_SERVER_SPECS, startSdkServer, type RunningSdkServer } from '../harness/sdk-servers.ts';
import { startSidecarUnderTest, type SidecarUnderTest } from '../harness/sidecar-under-test.ts';
import { startTokenInjector, type TokenInjector } from '../harness/token-injector.ts';

/**
 * The sidecar must never make a request fail that passes against the server directly. The official
 * conformance suite (server mode, every scenario it has) runs against each real SDK server directly
 * and through the sidecar; whatever passes direct must pass proxied. The SDK servers implement only
 * the three tools of their contract, so many scenarios fail direct: there the proxied verdict is free.
 * New servers in the registry are picked up without a change here.
 */

// Same audience as sidecar-conformance.int.test.ts: the `conformance` policy fixture's publicUrl.
const AUDIENCE = 'https://conformance.mcp.example.com/mcp';
// A cold build (Go, Rust, Java, a Python venv) takes minutes on 2 cores; `make sdk-servers` normally did it.
const SETUP_TIMEOUT_MS = 15 * 60_000;
// Two whole-suite runs (~1-2 s each idle), with room for a loaded shared machine.
const TEST_TIMEOUT_MS = 5 * 60_000;

/** A check that counts against its scenario, as the suite's CLI counts them. */
function counts(status: CheckStatus): boolean {
  return status === 'FAILURE' || status === 'WARNING';
}

/** A scenario passes as the CLI counts it: no check failed and none warned. */
function passes(outcome: ScenarioOutcome): boolean {
  return !outcome.checks.some((check) => counts(check.status));
}

function passingScenarios(report: ConformanceReport): string[] {
  return report.scenarios.filter(passes).map((outcome) => outcome.scenario);
}

/**
 * How good a verdict is. A check that succeeds direct must succeed proxied; INFO ranks below SUCCESS
 * because the suite downgrades some checks to INFO when it could not observe the behaviour (e.g. SSE
 * resumption), which a proxy must not cause either.
 */
const rank: Record<CheckStatus, number> = { FAILURE: 0, WARNING: 1, INFO: 2, SUCCESS: 3 };

/**
 * Every way the proxied run is worse than the direct one, one line each, naming the scenario: a
 * scenario that passed direct and not proxied, and a check whose verdict dropped (or that vanished).
 */
function regressions(direct: ConformanceReport, proxied: ConformanceReport): string[] {
  const found: string[] = [];
  const proxiedScenarios = new Map(proxied.scenarios.map((outcome) => [outcome.scenario, outcome]));
  for (const outcome of direct.scenarios) {
    if (!passes(outcome)) continue;
    const through = proxiedScenarios.get(outcome.scenario);
    if (through === undefined) found.push(`scenario ${outcome.scenario}: not run through the sidecar`);
    else if (!passes(through)) {
      const bad = through.checks.filter((check) => counts(check.status));
      const described = bad.map(
        (check) => `${check.id} ${check.status}${check.error ? ` (${check.error})` : ''}`,
      );
      found.push(
        `scenario ${outcome.scenario}: passes direct, not through the sidecar: ${described.join('; ')}`,
      );
    }
  }
  const before = checkStatuses(direct);
  const after = checkStatuses(proxied);
  for (const [key, status] of Object.entries(before)) {
    const now = after[key];
    if (now === undefined) found.push(`check ${key}: ${status} direct, missing through the sidecar`);
    else if (rank[now] < rank[status])
      found.push(`check ${key}: ${status} direct, ${now} through the sidecar`);
  }
  return found;
}

describe.each(SDK_SERVER_SPECS)('the official conformance suite against the $name SDK server', (spec) => {
  let server: RunningSdkServer;
  let gate: SidecarUnderTest;
  let relay: TokenInjector;

  beforeAll(async () => {
    server = await startSdkServer(spec, { workDir: inject('scratchDir') });
    gate = await startSidecarUnderTest({
      policyFixture: 'conformance',
      upstream: { upstreamUrl: server.url },
      audience: AUDIENCE,
    });
    const token = await gate.token({ sub: 'conformance-user', azp: 'conformance-suite', groups: [] });
    // The suite cannot send a bearer token; this relay adds one, as a real client would.
    relay = await startTokenInjector(gate.url, () => token);
  }, SETUP_TIMEOUT_MS);
  afterAll(async () => {
    await relay?.close();
    await gate?.stop();
    await server?.stop();
  });

  it(
    'passes through the sidecar every scenario and check it passes direct',
    async () => {
      // One after the other, and servers one at a time (vitest's default within a file): the machine
      // has 2 shared cores and the suite's SSE scenarios are timing-sensitive; a run takes seconds.
      const direct = await runServerConformance(server.url);
      const proxied = await runServerConformance(relay.url);
      // Not vacuous: a server that passes nothing direct (wrong URL, crashed) proves nothing.
      expect(passingScenarios(direct), `${spec.name} passes no scenario direct`).not.toEqual([]);
      expect(regressions(direct, proxied), `${spec.name}: worse through the sidecar`).toEqual([]);
    },
    TEST_TIMEOUT_MS,
  );
});
