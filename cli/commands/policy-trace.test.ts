import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { authorize } from '../../policy/authorize.ts';
import { compile } from '../../policy/compile.ts';
import { loadBundle } from '../../policy/load.ts';
import { parsePolicyObjects } from '../../sidecar/policy/objects.ts';
import { traceCall } from './policy-trace.ts';
import { cel } from '../../policy/cel.ts';

/** The trace explains authorize(); over every example policy and many callers it must agree with it. */
const examples = join(import.meta.dirname, '../../examples');
const files = [
  ...readdirSync(examples)
    .filter((n) => n.endsWith('.yaml'))
    .map((n) => join(examples, n)),
  ...readdirSync(join(examples, 'cookbook')).map((n) => join(examples, 'cookbook', n)),
].map((name) => ({ name, text: readFileSync(name, 'utf8') }));

describe('traceCall', () => {
  const parsed = parsePolicyObjects(files);
  if (!parsed.ok) throw new Error(parsed.errors.join('\n'));
  const policies = parsed.objects.servers.map((server) => {
    const result = compile({ server, policies: parsed.objects.policies, conditions: cel });
    if (!result.ok) throw new Error('example does not compile');
    return loadBundle(result.bundle, cel);
  });
  const words = (pool: string[]) => fc.constantFrom(...pool);
  const names = [
    'alice',
    'support',
    'finance-leads',
    'finance-copilot',
    'nightly-batch',
    'acme',
    'globex',
    'engineering',
    'maintainers',
    'x',
  ];
  const tools = [
    ...new Set(policies.flatMap((p) => p.bundle.policies.flatMap((x) => x.rules.flatMap((r) => r.tools)))),
  ].map((t) => t.replace(/[*?]/g, 'x'));

  it('agrees with authorize on the decision and the deciding rule', () => {
    fc.assert(
      fc.property(
        fc.nat({ max: policies.length - 1 }),
        fc.record({
          user: words(names),
          agent: words(names),
          tenant: fc.option(words(names), { nil: undefined }),
          groups: fc.array(words(names), { maxLength: 3 }),
          scopes: fc.array(
            words(['billing', 'billing:invoices:read', 'billing:refunds:write', 'repo:write', 'x']),
            { maxLength: 3 },
          ),
          acr: fc.option(words(['mfa', 'pwd']), { nil: undefined }),
        }),
        words(tools),
        fc.record({
          customer_id: fc.option(words(names), { nil: undefined }),
          amount_cents: fc.integer({ min: 0, max: 100_000 }),
        }),
        (index, who, tool, args) => {
          const policy = policies[index]!;
          const principal = {
            user: who.user,
            agent: who.agent,
            ...(who.tenant === undefined ? {} : { tenant: who.tenant }),
            groups: who.groups,
            scopes: who.scopes,
            claims: who.acr === undefined ? {} : { acr: who.acr },
          };
          const { decision } = authorize(policy, { principal, tool, args });
          const trace = traceCall(policy, principal, tool, args);
          expect(trace.allowed).toBe(decision.allowed);
          if (decision.allowed || decision.code === 'denied_by_rule') {
            expect(trace.decidingRule).toBe(`${decision.rule!.policy}/${decision.rule!.rule}`);
          }
          expect(trace.killedBy !== undefined).toBe(!decision.allowed && decision.code === 'killed');
        },
      ),
      { numRuns: 2000 },
    );
  });
});
