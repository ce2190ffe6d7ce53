import { isKillSwitchEngaged, KILL_REASON, killedTools } from '../../api/v1alpha1/annotations.ts';
import { killedAt } from '../../api/v1alpha1/kill-history.ts';
import type { KillSwitchStatus } from '../../api/v1alpha1/kill-switch-status.ts';
import { age } from './age.ts';

/**
 * The kill-switch cells of `portcullis status`, read from status.killSwitch (the operator's structured
 * record) and, for the server's own switches, from its live annotations: the sidecars read those
 * directly, so they bite before the operator reports. Never from a condition's message.
 */
export interface KillView {
  readonly metadata: { readonly annotations?: Record<string, string> };
  readonly status?: { readonly killSwitch?: Partial<KillSwitchStatus> };
}

const switchesOf = (server: KillView) => server.status?.killSwitch?.switches ?? [];

/**
 * Every kill switch in force: "server" (its annotation), "namespace", "tools(a,b)" (its annotation),
 * "policy(p,q)" (ToolPolicies whose switch covers it).
 */
export function killedCell(server: KillView): string | undefined {
  const annotations = server.metadata.annotations;
  const switches = switchesOf(server);
  const parts: string[] = [];
  if (isKillSwitchEngaged(annotations)) parts.push('server');
  if (switches.some((s) => s.type === 'Namespace')) parts.push('namespace');
  const tools = killedTools(annotations);
  if (tools.length > 0) parts.push(`tools(${tools.join(',')})`);
  const policies = switches.filter((s) => s.type === 'ToolPolicy').map((s) => s.name);
  if (policies.length > 0) parts.push(`policy(${policies.join(',')})`);
  return parts.length === 0 ? undefined : parts.join(',');
}

/** How long the earliest switch in force has been engaged. */
export function killedSinceCell(server: KillView, nowMs: number): string | undefined {
  if (killedCell(server) === undefined) return undefined;
  return age(server.status?.killSwitch?.since ?? killedAt(server.metadata.annotations), nowMs);
}

/** "who: why" of the hardest-biting switch; the annotation while the operator has not reported yet. */
export function killReasonCell(server: KillView): string | undefined {
  if (killedCell(server) === undefined) return undefined;
  return server.status?.killSwitch?.reason ?? server.metadata.annotations?.[KILL_REASON];
}

/** The last release: "alice 5m ago: INC-1 closed", "tools(a) by bob 2h ago: (no reason given)". */
export function lastReleaseCell(server: KillView, nowMs: number): string | undefined {
  const release = server.status?.killSwitch?.lastRelease;
  if (release === undefined) return undefined;
  const what =
    release.type === 'Server'
      ? ''
      : release.type === 'Tool'
        ? `tools(${(release.tools ?? []).join(',')}) `
        : `${release.type === 'Namespace' ? 'namespace' : 'policy'}(${release.name}) `;
  return `${what}${what === '' ? '' : 'by '}${release.by ?? '(unknown)'} ${age(release.at, nowMs) ?? '?'} ago: ${
    release.reason ?? '(no reason given)'
  }`;
}
