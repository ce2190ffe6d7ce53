import {
  isKillSwitchEngaged,
  KILL_REASON,
  killedToolReasons,
  killedTools,
  killRecord,
} from '../api/v1alpha1/annotations.ts';
import type { McpServer, ToolPolicy } from '../api/v1alpha1/resources.ts';
import {
  BUNDLE_FORMAT,
  type Bundle,
  type BundleContent,
  type BundlePolicy,
  type KillSwitch,
} from './bundle.ts';
import { NO_CONDITION_LANGUAGE, type ConditionLanguage } from './condition.ts';
import { contentHash } from './hash.ts';
import { selectorMatches } from './selector.ts';

/**
 * The one policy compiler: (McpServer, ToolPolicies, kill-switch annotations) -> Bundle. Pure and
 * deterministic: the same inputs give the same bundle and hash, whatever order the policies arrive in.
 */
export interface CompileInput {
  readonly server: McpServer;
  /** Every ToolPolicy of the server's namespace; the compiler selects those that target it. */
  readonly policies: readonly ToolPolicy[];
  readonly namespaceAnnotations?: Readonly<Record<string, string>>;
  /**
   * Checks `when` conditions: CEL (`cel` of policy/cel.ts). Passed in so that a sidecar whose policies have
   * no condition never loads CEL; without it, any condition is a compile error (fail closed).
   */
  readonly conditions?: Pick<ConditionLanguage, 'check'>;
}

export interface PolicyError {
  readonly policy: string;
  /** Where in the policy, e.g. `spec.rules[read].when`. */
  readonly field: string;
  readonly message: string;
}

export type CompileResult =
  | { readonly ok: true; readonly bundle: Bundle }
  | { readonly ok: false; readonly errors: readonly PolicyError[] };

/** Does this policy apply to this server? Only within one namespace. */
export function targets(policy: ToolPolicy, server: McpServer): boolean {
  if ((policy.metadata.namespace ?? '') !== (server.metadata.namespace ?? '')) return false;
  const { servers, selector } = policy.spec.targets;
  if (servers) return servers.includes(server.metadata.name);
  return selector !== undefined && selectorMatches(selector, server.metadata.labels);
}

/**
 * Problems a policy has on its own, independent of any server (reported in its Accepted condition).
 * `conditions` checks `when` (see CompileInput); without it, any condition is an error.
 */
export function validatePolicy(
  policy: ToolPolicy,
  conditions: Pick<ConditionLanguage, 'check'> | undefined,
): PolicyError[] {
  return policy.spec.rules.flatMap((rule) => {
    const message =
      rule.when === undefined
        ? undefined
        : conditions === undefined
          ? NO_CONDITION_LANGUAGE
          : conditions.check(rule.when);
    return message === undefined
      ? []
      : [{ policy: policy.metadata.name, field: `spec.rules[${rule.name}].when`, message }];
  });
}

function killSwitch(
  source: KillSwitch['source'],
  name: string,
  annotations: Readonly<Record<string, string>> | undefined,
): KillSwitch | undefined {
  if (!isKillSwitchEngaged(annotations)) return undefined;
  const { reason, by } = killRecord(annotations);
  return { source, name, ...(reason !== undefined ? { reason } : {}), ...(by !== undefined ? { by } : {}) };
}

/**
 * The kill switches an McpServer's own annotations hold: its whole-server switch, and its tools killed
 * by name with their reasons. Each switch keeps its own reason: kill-reason/killed-by for the server,
 * killed-tools-reasons per tool. Without a killed-tools-reasons annotation (written by older CLIs) the
 * tools share kill-reason, as before, so such bundles keep the shape older sidecars accept.
 */
export function mcpServerKills(
  name: string,
  annotations: Readonly<Record<string, string>> | undefined,
): { own?: KillSwitch; kill: Omit<BundleContent['kill'], 'server'> } {
  const own = killSwitch('McpServer', name, annotations);
  const tools = killedTools(annotations);
  const records = killedToolReasons(annotations);
  if (records === undefined) {
    const reason = annotations?.[KILL_REASON];
    return {
      ...(own ? { own } : {}),
      kill: { tools, ...(reason !== undefined && tools.length > 0 ? { reason } : {}) },
    };
  }
  const toolReasons = Object.fromEntries(
    tools.flatMap((tool) => {
      const record = records[tool];
      return record && (record.reason !== undefined || record.by !== undefined) ? [[tool, record]] : [];
    }),
  );
  return {
    ...(own ? { own } : {}),
    kill: { tools, ...(Object.keys(toolReasons).length > 0 ? { toolReasons } : {}) },
  };
}

function bundlePolicy(policy: ToolPolicy): BundlePolicy {
  const kill = killSwitch('ToolPolicy', policy.metadata.name, policy.metadata.annotations);
  return {
    name: policy.metadata.name,
    mode: policy.spec.mode,
    rules: policy.spec.rules,
    ...(policy.spec.audit ? { audit: policy.spec.audit } : {}),
    ...(kill ? { kill } : {}),
  };
}

/**
 * A policy that does not compile fails the whole bundle rather than being skipped: skipping a policy
 * that holds a Deny rule would silently widen access. The caller keeps serving the last good bundle.
 */
export function compile(input: CompileInput): CompileResult {
  const { server } = input;
  const selected = input.policies
    .filter((policy) => targets(policy, server))
    .sort((a, b) => (a.metadata.name < b.metadata.name ? -1 : a.metadata.name > b.metadata.name ? 1 : 0));

  const errors = selected.flatMap((policy) => validatePolicy(policy, input.conditions));
  if (errors.length > 0) return { ok: false, errors };

  const namespace = server.metadata.namespace ?? '';
  const own = mcpServerKills(server.metadata.name, server.metadata.annotations);
  const serverKills = [own.own, killSwitch('Namespace', namespace, input.namespaceAnnotations)].filter(
    (k): k is KillSwitch => k !== undefined,
  );

  const content: BundleContent = {
    format: BUNDLE_FORMAT,
    server: {
      namespace,
      name: server.metadata.name,
      ...(server.metadata.generation !== undefined ? { generation: server.metadata.generation } : {}),
    },
    spec: server.spec,
    kill: { server: serverKills, ...own.kill },
    policies: selected.map(bundlePolicy),
  };
  return { ok: true, bundle: { ...content, hash: contentHash(content) } };
}
