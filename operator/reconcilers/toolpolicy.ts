import { toolPolicy, type McpServer, type ToolPolicy } from '../../api/v1alpha1/resources.ts';
import { cel } from '../../policy/cel.ts';
import { targets, validatePolicy } from '../../policy/compile.ts';
import type { ObjectCache } from '../../kube/informer.ts';
import { TerminalError } from '../controller/workqueue.ts';
import type { Applier } from '../k8s/apply.ts';
import { setConditions } from '../status/conditions.ts';

export interface ToolPolicyReconcilerDeps {
  readonly servers: ObjectCache<McpServer>;
  readonly policies: ObjectCache<ToolPolicy>;
  readonly applier: Applier;
  readonly clock: () => number;
}

/** Validates a ToolPolicy on its own (CEL compiles) and lists the McpServers it applies to. */
export async function reconcileToolPolicy(key: string, deps: ToolPolicyReconcilerDeps): Promise<void> {
  // 1. Read the policy from the cache; gone means nothing to report.
  const cached = deps.policies.get(key);
  if (cached === undefined || cached.metadata?.deletionTimestamp) return;
  const parsed = toolPolicy.safeParse(cached);
  if (!parsed.success)
    throw new TerminalError(`ToolPolicy ${key} does not match the API: ${parsed.error.message}`);
  const policy = parsed.data;

  // 2. Validate it and resolve its targets.
  const errors = validatePolicy(policy, cel);
  const servers = deps.servers
    .list()
    .filter((server) => targets(policy, server))
    .map((server) => server.metadata.name)
    .sort();

  // 3. Write the status.
  const accepted =
    errors.length === 0
      ? {
          type: 'Accepted',
          status: 'True' as const,
          reason: servers.length > 0 ? 'Accepted' : 'NoTargets',
          message:
            servers.length > 0
              ? `applies to ${servers.join(', ')}`
              : 'valid, but no McpServer in this namespace matches its targets',
        }
      : {
          type: 'Accepted',
          status: 'False' as const,
          reason: 'InvalidCondition',
          message: errors.map((e) => `${e.field}: ${e.message}`).join('; '),
        };
  const status = {
    ...(policy.metadata.generation !== undefined ? { observedGeneration: policy.metadata.generation } : {}),
    conditions: setConditions(
      policy.status?.conditions,
      [accepted],
      policy.metadata.generation,
      new Date(deps.clock()).toISOString(),
    ),
    servers,
    serverCount: servers.length,
  };
  await deps.applier.applyStatus(policy, 'toolpolicies', status, policy.status);
}
