// A real MCP client (the SDK) in a client pod calls the billing example through its Service, by DNS name,
// with tokens from the in-cluster OpenID provider: what each caller may do is what the gate lets through.
import { beforeAll, describe, expect, it } from 'vitest';
import { CALLERS, ensurePlatform, runClient } from './platform.ts';

describe('calls through the Service on a real node', () => {
  beforeAll(async () => {
    await ensurePlatform();
  });

  it('support sees and calls the read tools; the refund tool is hidden and refused', async () => {
    const lines = await runClient('client-support', {
      caller: CALLERS.support,
      mode: 'steps',
      steps: [
        { list: true },
        { tool: 'list_invoices', args: { customer_id: 'acme' } },
        { tool: 'issue_refund', args: { customer_id: 'acme', amount_cents: 100 } },
      ],
    });
    expect(lines.find((line) => line.connected)).toBeDefined();
    expect(lines.find((line) => line.list)?.list).toEqual(['list_invoices', 'read_invoice']);
    const list = lines.find((line) => line.tool === 'list_invoices');
    expect(list?.ok).toBe(true);
    const refund = lines.find((line) => line.tool === 'issue_refund');
    expect(refund?.ok).toBe(false);
    expect(refund?.error?.data?.portcullis?.code).toBe('no_matching_rule');
    expect(lines.at(-1)?.done).toBe(true);
  });

  it("forces customer_id to the caller's tenant: asking for another customer's invoices gets acme's", async () => {
    const lines = await runClient('client-bound', {
      caller: CALLERS.support,
      mode: 'steps',
      steps: [{ tool: 'list_invoices', args: { customer_id: 'globex' } }],
    });
    const list = lines.find((line) => line.tool === 'list_invoices');
    expect(list?.ok).toBe(true);
    expect(list?.result?.structuredContent?.['customer_id']).toBe('acme');
  });

  it('an authenticated caller no rule names sees no tools and is refused', async () => {
    const lines = await runClient('client-outsider', {
      caller: CALLERS.outsider,
      mode: 'steps',
      steps: [{ list: true }, { tool: 'list_invoices', args: { customer_id: 'acme' } }],
    });
    expect(lines.find((line) => line.list)?.list).toEqual([]);
    const list = lines.find((line) => line.tool === 'list_invoices');
    expect(list?.ok).toBe(false);
    expect(list?.error?.data?.portcullis?.code).toBe('no_matching_rule');
  });

  // Limits are per sidecar today (ARCHITECTURE.md §6: shared limits are to come): the example's two
  // replicas each grant a burst of 10 and refill 5 a second, so 30 calls sent at once get at most
  // 2 x (10 + 5 x the seconds the burst took) through: 20 when it takes no time, more on a slow machine.
  it('the per-rule rate limit (5/s, burst 10 per replica) refuses a burst of 30 beyond its budget', async () => {
    const lines = await runClient('client-rate', {
      caller: CALLERS.support,
      mode: 'steps',
      steps: [{ burst: 30, tool: 'list_invoices', args: { customer_id: 'acme' } }],
    });
    const burst = lines.find((line) => line.burst);
    const outcomes = burst?.outcomes ?? [];
    const allowed = outcomes.filter((outcome) => outcome === 'ok').length;
    const refilled = Math.floor((5 * (burst?.elapsedMs ?? Infinity)) / 1000);
    expect(allowed).toBeGreaterThanOrEqual(10);
    expect(allowed, JSON.stringify(burst)).toBeLessThanOrEqual(2 * (10 + refilled));
    expect(allowed).toBeLessThan(30); // the limit refused some
    expect(outcomes.filter((outcome) => outcome !== 'ok').every((code) => code === 'rate_limited')).toBe(
      true,
    );
  });
});
