import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { API_VERSION } from '../api/v1alpha1/group.ts';
import { mcpServer, toolPolicy } from '../api/v1alpha1/resources.ts';
import { validMcpServer } from '../test/fixtures/invalid-objects.ts';
import type { Principal } from './principal.ts';
import { authorize } from './authorize.ts';
import { compile } from './compile.ts';
import { loadBundle } from './load.ts';
import { cel } from './cel.ts';

/**
 * For random policies and calls, the call is allowed exactly when the policy says so. The oracle below
 * restates the semantics directly (no precompiled matchers, no ordering tricks) to catch optimisation bugs.
 */
const TOOLS = ['read', 'read_all', 'write', 'delete'];
const PATTERNS = [...TOOLS, 'read*', '*', 'wr?te', 'nothing'];
const USERS = ['u1', 'u2'];
const GROUPS = ['g1', 'g2'];
const SCOPES = ['s1', 's2'];

interface RuleModel {
  name: string;
  effect: 'Allow' | 'Deny';
  tools: string[];
  users?: string[];
  groups?: string[];
  scopes?: string[];
  /** A condition over an argument: args.n < limit */
  limit?: number;
  bindTenant?: 'Force' | 'Require';
}

const ruleArb = fc.record(
  {
    name: fc.constant(''),
    effect: fc.constantFrom('Allow' as const, 'Deny' as const),
    tools: fc.uniqueArray(fc.constantFrom(...PATTERNS), { minLength: 1, maxLength: 3 }),
    users: fc.uniqueArray(fc.constantFrom(...USERS), { minLength: 1 }),
    groups: fc.uniqueArray(fc.constantFrom(...GROUPS), { minLength: 1 }),
    scopes: fc.uniqueArray(fc.constantFrom(...SCOPES), { minLength: 1 }),
    limit: fc.integer({ min: 0, max: 10 }),
    bindTenant: fc.constantFrom('Force' as const, 'Require' as const),
  },
  { requiredKeys: ['name', 'effect', 'tools'] },
);

const policyArb: fc.Arbitrary<PolicyModel> = fc.record({
  mode: fc.constantFrom('Enforce' as const, 'Audit' as const),
  killed: fc.boolean(),
  rules: fc.array(ruleArb, { minLength: 1, maxLength: 4 }),
});

interface CallModel {
  tool: string;
  user: string;
  groups: string[];
  scopes: string[];
  tenant: string | undefined;
  n: number | undefined;
  customer: string | undefined;
}

interface PolicyModel {
  mode: 'Enforce' | 'Audit';
  killed: boolean;
  rules: RuleModel[];
}

const callArb: fc.Arbitrary<CallModel> = fc.record({
  tool: fc.constantFrom(...TOOLS),
  user: fc.constantFrom(...USERS),
  groups: fc.uniqueArray(fc.constantFrom(...GROUPS)),
  scopes: fc.uniqueArray(fc.constantFrom(...SCOPES)),
  tenant: fc.option(fc.constantFrom('t1', 't2'), { nil: undefined }),
  n: fc.option(fc.integer({ min: 0, max: 10 }), { nil: undefined }),
  customer: fc.option(fc.constantFrom('t1', 't2'), { nil: undefined }),
});

const glob = (p: string, tool: string) =>
  new RegExp(`^${p.replaceAll('*', '.*').replaceAll('?', '.')}$`).test(tool);

function oracle(policies: { mode: string; killed: boolean; rules: RuleModel[] }[], call: CallModel): boolean {
  const enforced = policies.filter((p) => p.mode === 'Enforce');
  if (policies.some((p) => p.killed && p.rules.some((r) => r.tools.some((t) => glob(t, call.tool)))))
    return false;
  const subject = (r: RuleModel) =>
    r.tools.some((t) => glob(t, call.tool)) &&
    (!r.users || r.users.includes(call.user)) &&
    (!r.groups || r.groups.some((g) => call.groups.includes(g)));
  // A condition that cannot be evaluated (n absent) fails closed: Deny holds, Allow does not.
  const conditionFor = (r: RuleModel, onMissing: boolean) =>
    r.limit === undefined ? true : call.n === undefined ? onMissing : call.n < r.limit;
  const rules = enforced.flatMap((p) => p.rules);
  if (rules.some((r) => r.effect === 'Deny' && subject(r) && conditionFor(r, true))) return false;
  return rules.some(
    (r) =>
      r.effect === 'Allow' &&
      subject(r) &&
      (r.scopes ?? []).every((s) => call.scopes.includes(s)) &&
      (r.bindTenant === undefined ||
        (call.tenant !== undefined && (r.bindTenant === 'Force' || call.customer === call.tenant))) &&
      conditionFor(r, false),
  );
}

function toResources(policies: PolicyModel[]) {
  return policies.map((p, i) =>
    toolPolicy.parse({
      apiVersion: API_VERSION,
      kind: 'ToolPolicy',
      metadata: {
        name: `p${i}`,
        namespace: 'default',
        ...(p.killed ? { annotations: { 'portcullis.dev/kill-switch': 'true' } } : {}),
      },
      spec: {
        targets: { servers: ['valid-server'] },
        mode: p.mode,
        rules: p.rules.map((r, j) => ({
          name: `r${j}`,
          effect: r.effect,
          tools: r.tools,
          ...(r.users || r.groups
            ? {
                subjects: {
                  ...(r.users ? { users: r.users } : {}),
                  ...(r.groups ? { groups: r.groups } : {}),
                },
              }
            : {}),
          ...(r.effect === 'Allow' && r.scopes ? { scopes: r.scopes } : {}),
          ...(r.limit !== undefined ? { when: `args.n < ${r.limit}` } : {}),
          ...(r.effect === 'Allow' && r.bindTenant
            ? { arguments: [{ path: 'customer', from: 'tenant', mode: r.bindTenant }] }
            : {}),
        })),
      },
    }),
  );
}

describe('authorize (property)', () => {
  it('allows exactly when the policy allows', () => {
    const server = mcpServer.parse(validMcpServer());
    fc.assert(
      fc.property(fc.array(policyArb, { minLength: 0, maxLength: 3 }), callArb, (models, call) => {
        // Deny rules carry no scopes or bindings (the API refuses them); mirror that in the oracle.
        const normalised = models.map((p) => ({
          ...p,
          rules: p.rules.map((r) =>
            r.effect === 'Deny' ? { ...r, scopes: undefined, bindTenant: undefined } : r,
          ),
        }));
        const result = compile({ server, policies: toResources(normalised), conditions: cel });
        expect(result.ok).toBe(true);
        if (!result.ok) return;
        const principal: Principal = {
          user: call.user,
          agent: 'a',
          ...(call.tenant !== undefined ? { tenant: call.tenant } : {}),
          groups: call.groups,
          scopes: call.scopes,
          claims: {},
        };
        const args = {
          ...(call.n !== undefined ? { n: call.n } : {}),
          ...(call.customer !== undefined ? { customer: call.customer } : {}),
        };
        const { decision } = authorize(loadBundle(result.bundle, cel), { principal, tool: call.tool, args });
        expect(decision.allowed).toBe(oracle(normalised, call));
        if (
          decision.allowed &&
          call.tenant !== undefined &&
          normalised.some((p) => p.rules.some((r) => r.bindTenant === 'Force'))
        ) {
          // Whatever rule allowed, a bound customer can only ever be the caller's tenant or absent-and-unbound.
          expect([undefined, call.tenant, call.customer]).toContain(decision.args['customer']);
        }
      }),
      { numRuns: 2000 },
    );
  });
});
