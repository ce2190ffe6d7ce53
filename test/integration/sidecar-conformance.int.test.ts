import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectedScenarios } from '../conformance/expected-fixture-results.ts';
import { runServerConformance } from '../conformance/run-server-suite.ts';
import { startHttpFixture, type HttpFixture } from '../fixtures/mcp/http-fixture.ts';
import { startSidecarUnderTest, type SidecarUnderTest } from '../harness/sidecar-under-test.ts';
import { startTokenInjector, type TokenInjector } from '../harness/token-injector.ts';

/**
 * The official conformance suite (server mode) gives the same verdicts direct and through the sidecar,
 * for every spec version it has server scenarios for. The suite cannot send a token, so a loopback
 * relay adds one, as a real client would.
 */
const AUDIENCE = 'https://conformance.mcp.example.com/mcp';
const specVersions = Object.keys(expectedScenarios).filter((v) => (expectedScenarios[v]?.length ?? 0) > 0);

describe('the official MCP conformance suite through the sidecar', () => {
  let fixture: HttpFixture;
  let gate: SidecarUnderTest;
  let relay: TokenInjector;

  beforeAll(async () => {
    fixture = await startHttpFixture('conformance');
    gate = await startSidecarUnderTest({
      policyFixture: 'conformance',
      upstream: { upstreamUrl: fixture.url },
      audience: AUDIENCE,
    });
    const token = await gate.token({ sub: 'conformance-user', azp: 'conformance-suite', groups: [] });
    relay = await startTokenInjector(gate.url, () => token);
  });
  afterAll(async () => {
    await relay?.close();
    await gate?.stop();
    await fixture?.close();
  });

  it('has spec versions to run', () => expect(specVersions.length).toBeGreaterThan(0));

  it.each(specVersions)(
    'gives the same verdict on every check, direct and proxied, for %s',
    async (specVersion) => {
      const direct = await runServerConformance(fixture.url, { specVersion });
      const proxied = await runServerConformance(relay.url, { specVersion });
      expect(proxied).toEqual(direct);
      expect(proxied.scenarios.length).toBeGreaterThan(0);
    },
    120_000,
  );
});
