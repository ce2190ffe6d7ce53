import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkStatuses } from '../conformance/conformance-report.ts';
import { expectedCheckStatuses, expectedScenarios } from '../conformance/expected-fixture-results.ts';
import { runServerConformance } from '../conformance/run-server-suite.ts';
import { knownSpecVersions, listServerScenarios } from '../conformance/server-scenarios.ts';
import { startHttpFixture, type HttpFixture } from '../fixtures/mcp/http-fixture.ts';
import { spawnHttpFixture } from '../fixtures/mcp/spawn-http-fixture.ts';

const specVersions = Object.keys(expectedScenarios);

describe('the official MCP conformance suite (server mode) against the conformance fixture, direct', () => {
  let fixture: HttpFixture;
  beforeAll(async () => {
    fixture = await startHttpFixture('conformance');
  });
  afterAll(() => fixture.close());

  it('knows the spec versions and server scenarios recorded in expected-fixture-results.ts', async () => {
    expect(await knownSpecVersions()).toEqual(specVersions);
    const scenarios = await listServerScenarios();
    for (const version of specVersions) {
      const filed = scenarios.filter((scenario) => scenario.specVersions.includes(version));
      expect(filed.map((scenario) => scenario.name).sort(), version).toEqual(expectedScenarios[version]);
    }
  });

  it.each(specVersions)(
    'gives the recorded verdict on every check for spec version %s',
    async (specVersion) => {
      const report = await runServerConformance(fixture.url, { specVersion });
      expect(report.scenarios.map((scenario) => scenario.scenario)).toEqual(expectedScenarios[specVersion]);
      expect(checkStatuses(report)).toEqual(expectedCheckStatuses(specVersion));
    },
  );

  it('reports identically for another instance on another port, in a child process', async () => {
    const other = await spawnHttpFixture('conformance');
    try {
      const [here, there] = await Promise.all([
        runServerConformance(fixture.url),
        runServerConformance(other.url),
      ]);
      expect(there).toEqual(here);
    } finally {
      await other.close();
    }
  });

  it('reports a server that is not there as failed checks, not as an error', async () => {
    const gone = await startHttpFixture('conformance');
    await gone.close();
    const report = await runServerConformance(gone.url, { scenarios: ['ping', 'tools-list'] });
    expect(report).toEqual({
      suite: 'selected',
      specVersion: null,
      scenarios: [
        { scenario: 'ping', checks: [{ id: 'ping', status: 'FAILURE', error: 'Failed: fetch failed' }] },
        {
          scenario: 'tools-list',
          checks: [{ id: 'tools-list', status: 'FAILURE', error: 'Failed: fetch failed' }],
        },
      ],
    });
  });

  it('rejects when the suite cannot run at all, e.g. for a scenario it does not know', async () => {
    await expect(runServerConformance(fixture.url, { scenarios: ['no-such-scenario'] })).rejects.toThrow(
      /the suite did not run: .*Unknown scenario 'no-such-scenario'/s,
    );
  });
});
