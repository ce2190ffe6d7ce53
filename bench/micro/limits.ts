/**
 * What the limits cost per tool call: CallLimiter.admit + release on the fast path (a slot free,
 * tokens left), for the default (server concurrency only) and for every limit at once (server rate and
 * concurrency, rule rate per user, rule concurrency, session budget), with 1 and 10,000 distinct users.
 * Run: node bench/micro/limits.ts  (best of 7 rounds; the machine's load shows in the numbers).
 */
import { performance } from 'node:perf_hooks';
import { mcpServer, toolPolicy } from '../../api/v1alpha1/resources.ts';
import { authorize } from '../../policy/authorize.ts';
import { compile } from '../../policy/compile.ts';
import { loadBundle, type LoadedPolicy } from '../../policy/load.ts';
import type { Principal } from '../../policy/principal.ts';
import type { Verdict } from '../../policy/decision.ts';
import { CallLimiter } from '../../sidecar/limits/call-limiter.ts';
import { cel } from '../../policy/cel.ts';

function policy(serverLimits: Record<string, unknown>, limits?: Record<string, unknown>): LoadedPolicy {
  const server = mcpServer.parse({
    apiVersion: 'portcullis.dev/v1alpha1',
    kind: 'McpServer',
    metadata: { name: 's', namespace: 'ns' },
    spec: {
      workload: { image: 'example.com/s:1' },
      auth: { issuer: 'https://id.example.com', publicUrl: 'https://s.example.com/mcp' },
      limits: serverLimits,
    },
  });
  const result = compile({
    server,
    policies: [
      toolPolicy.parse({
        apiVersion: 'portcullis.dev/v1alpha1',
        kind: 'ToolPolicy',
        metadata: { name: 'p', namespace: 'ns' },
        spec: {
          targets: { servers: ['s'] },
          rules: [{ name: 'all', tools: ['*'], ...(limits ? { limits } : {}) }],
        },
      }),
    ],
    conditions: cel,
  });
  if (!result.ok) throw new Error(JSON.stringify(result.errors));
  return loadBundle(result.bundle, cel);
}

const principals: Principal[] = Array.from({ length: 10_000 }, (_, i) => ({
  user: `user-${i}`,
  agent: 'agent',
  groups: [],
  scopes: [],
  claims: {},
}));

function run(name: string, loaded: LoadedPolicy, users: number, iterations = 200_000): void {
  const verdicts: Verdict[] = principals
    .slice(0, users)
    .map((p) => authorize(loaded, { principal: p, tool: 'read_invoice', args: {} }));
  const sessions = Array.from({ length: users }, (_, u) => `session-${u}`);
  const calls = verdicts.map((verdict) => [{ tool: 'read_invoice', verdict }]);
  let best = Infinity;
  for (let round = 0; round < 7; round++) {
    const limiter = new CallLimiter(); // fresh budgets each round
    const started = performance.now();
    for (let i = 0; i < iterations; i++) {
      const u = i % users;
      const outcome = limiter.admit({
        policy: loaded,
        principal: principals[u]!,
        sessionId: sessions[u],
        calls: calls[u]!,
      });
      if ('code' in outcome || outcome.waiting) throw new Error(`unexpected ${JSON.stringify(outcome)}`);
      outcome.release();
    }
    best = Math.min(best, ((performance.now() - started) * 1e6) / iterations);
  }
  console.log(`${name.padEnd(58)} ${best.toFixed(0).padStart(6)} ns/call`);
}

const huge = { requestsPerSecond: 1_000_000, burst: 1_000_000 };
run('server concurrency only (the default)', policy({}), 1);
const all = policy(
  { rate: huge, maxConcurrency: 64 },
  { rate: huge, rateKey: 'Subject', maxConcurrency: 64, maxCallsPerSession: 1_000_000 },
);
run('every limit (server + rule rate, concurrency, budget), 1 user', all, 1);
run('every limit, 10,000 users (buckets and budgets per user)', all, 10_000);
