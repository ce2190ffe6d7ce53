import type { McpServerStatus } from '../../api/v1alpha1/mcpserver.ts';
import type { Bundle } from '../../policy/bundle.ts';
import { nameMatcher } from '../../policy/glob.ts';
import type { ConditionUpdate } from './conditions.ts';

type ObservedTool = NonNullable<McpServerStatus['observedTools']>[number];

export interface ToolsServed {
  /** The ToolsServed condition. */
  readonly condition: ConditionUpdate;
  /** Tools the sidecars serve: published, not quarantined, not killed; undefined while unknown. */
  readonly served?: number;
  /** Whether Ready must be False because of it: every published tool is quarantined or killed, some quarantined. */
  readonly blocksReady: boolean;
}

/**
 * Pure: how many of the tools the sidecars report are really served, from the fleet's observed tools and
 * the kill switches of the compiled bundle. A server whose every tool is quarantined (pins that do not
 * match what it publishes) serves nothing while its pods are Ready; this makes that visible (issue #13).
 * A whole-server kill switch is reported by the Killed condition and is not a fault of the tools.
 */
export function toolsServed(
  observed: readonly ObservedTool[],
  sidecars: number,
  bundle: Bundle | undefined,
): ToolsServed {
  if (sidecars === 0)
    return {
      blocksReady: false,
      condition: {
        type: 'ToolsServed',
        status: 'Unknown',
        reason: 'NoReports',
        message: 'no sidecar has reported the tools it serves recently',
      },
    };
  const policyKills = bundle
    ? bundle.policies.filter((p) => p.kill).map((p) => nameMatcher(p.rules.flatMap((r) => r.tools)))
    : [];
  const killedByName = new Set(bundle?.kill.tools ?? []);
  const serverKilled = (bundle?.kill.server.length ?? 0) > 0;
  const killed = observed.filter(
    (t) => serverKilled || killedByName.has(t.name) || policyKills.some((matches) => matches(t.name)),
  );
  const quarantined = observed.filter((t) => t.state === 'Quarantined' && !killed.includes(t));
  const served = observed.length - killed.length - quarantined.length;
  const counts = `${served} of ${observed.length} published tool(s) served (${quarantined.length} quarantined, ${killed.length} killed)`;
  const named = (tools: readonly ObservedTool[]) =>
    tools
      .slice(0, 10)
      .map((t) => t.name)
      .join(', ') + (tools.length > 10 ? `, and ${tools.length - 10} more` : '');
  if (observed.length === 0)
    return {
      served: 0,
      blocksReady: false,
      condition: {
        type: 'ToolsServed',
        status: 'False',
        reason: 'NoToolsPublished',
        message: `${sidecars} sidecar(s) report that the server publishes no tools`,
      },
    };
  if (served > 0)
    return {
      served,
      blocksReady: false,
      condition: { type: 'ToolsServed', status: 'True', reason: 'ToolsServed', message: counts },
    };
  if (serverKilled)
    return {
      served: 0,
      blocksReady: false,
      condition: {
        type: 'ToolsServed',
        status: 'False',
        reason: 'ServerKilled',
        message: `${counts}: the whole server is killed (see the Killed condition)`,
      },
    };
  if (quarantined.length === 0)
    return {
      served: 0,
      blocksReady: false,
      condition: {
        type: 'ToolsServed',
        status: 'False',
        reason: 'AllToolsKilled',
        message: `${counts}: every tool is switched off by a kill switch`,
      },
    };
  return {
    served: 0,
    blocksReady: true,
    condition: {
      type: 'ToolsServed',
      status: 'False',
      reason: killed.length === 0 ? 'AllToolsQuarantined' : 'NoToolsServed',
      message:
        `${counts}: quarantined (definition differs from its pin, or unpinned under Enforce): ` +
        `${named(quarantined)}; compare status.observedTools with spec.tools.pins`,
    },
  };
}
