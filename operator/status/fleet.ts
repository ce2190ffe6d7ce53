import type { McpServerStatus } from '../../api/v1alpha1/mcpserver.ts';
import type { ConditionUpdate } from './conditions.ts';

/**
 * What the server's sidecars report about themselves (their heartbeats, as the audit collector keeps
 * them): which policy each serves and which tool definitions it sees. The operator cannot ask pods
 * directly in every cluster (NetworkPolicy, no pod IPs from outside), and the sidecars' API identity
 * is read-only, so their reports travel with the audit stream they already send.
 */
export interface SidecarReport {
  readonly sidecar: string;
  /** The pod the sidecar runs in, as it reports it (absent from older sidecars). */
  readonly pod?: string;
  readonly lastHeartbeat?: string;
  readonly policyHash?: string;
  readonly tools?: readonly { readonly name: string; readonly digest: string; readonly state: string }[];
}

export interface FleetObservation {
  readonly servedPolicyHashes: NonNullable<McpServerStatus['servedPolicyHashes']>;
  readonly observedTools: NonNullable<McpServerStatus['observedTools']>;
  readonly toolDrift: ConditionUpdate;
  /** Reports counted (heartbeat recent enough, pod still there). */
  readonly sidecars: number;
  /** Recent reports left out because their pod no longer exists (or is terminating): replaced pods. */
  readonly replaced: number;
}

type ToolState = NonNullable<McpServerStatus['observedTools']>[number]['state'];
const STATES: readonly ToolState[] = ['Pinned', 'Drifted', 'Unpinned', 'Quarantined'];
/** When sidecars disagree about a tool, the status shows the state that needs attention most. */
const SEVERITY: Readonly<Record<ToolState, number>> = { Quarantined: 3, Drifted: 2, Unpinned: 1, Pinned: 0 };

/**
 * Pure: the status fields derived from the reports whose heartbeat is newer than `staleBefore` and, when
 * `livePods` (the server's pods that exist and are not terminating) is known, whose pod is one of them.
 * A replaced pod's last heartbeat stays recent for up to reportStaleSeconds; counting it showed a policy
 * hash no pod served any more (issue #13). A report without a pod name (an older sidecar) is kept.
 */
export function fleetObservation(
  reports: readonly SidecarReport[],
  staleBefore: string,
  livePods?: ReadonlySet<string>,
): FleetObservation {
  const threshold = Date.parse(staleBefore);
  const recent = reports.filter(
    (r) => r.lastHeartbeat !== undefined && Date.parse(r.lastHeartbeat) >= threshold,
  );
  const live = recent.filter((r) => livePods === undefined || r.pod === undefined || livePods.has(r.pod));
  const hashes = new Map<string, number>();
  for (const report of live)
    if (report.policyHash) hashes.set(report.policyHash, (hashes.get(report.policyHash) ?? 0) + 1);
  const tools = new Map<string, { name: string; digest: string; state: ToolState; digests: Set<string> }>();
  for (const report of live)
    for (const tool of report.tools ?? []) {
      const state = STATES.includes(tool.state as ToolState) ? (tool.state as ToolState) : 'Unpinned';
      const seen = tools.get(tool.name);
      if (seen === undefined) {
        tools.set(tool.name, {
          name: tool.name,
          digest: tool.digest,
          state,
          digests: new Set([tool.digest]),
        });
        continue;
      }
      seen.digests.add(tool.digest);
      if (SEVERITY[state] > SEVERITY[seen.state]) Object.assign(seen, { state, digest: tool.digest });
    }
  const observedTools = [...tools.values()]
    .sort((a, b) => (a.name < b.name ? -1 : 1))
    .slice(0, 256)
    .map(({ name, digest, state }) => ({ name, digest, state }));
  return {
    servedPolicyHashes: [...hashes]
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .slice(0, 16)
      .map(([hash, sidecars]) => ({ hash, sidecars })),
    observedTools,
    toolDrift: toolDriftCondition(live.length, [...tools.values()]),
    sidecars: live.length,
    replaced: recent.length - live.length,
  };
}

function toolDriftCondition(
  sidecars: number,
  tools: readonly { name: string; state: ToolState; digests: ReadonlySet<string> }[],
): ConditionUpdate {
  if (sidecars === 0)
    return {
      type: 'ToolDrift',
      status: 'Unknown',
      reason: 'NoReports',
      message:
        'no sidecar has reported its tools recently (is the audit collector configured and reachable?)',
    };
  const drifted = tools.filter((t) => t.state === 'Drifted' || t.state === 'Quarantined').map((t) => t.name);
  const split = tools.filter((t) => t.digests.size > 1).map((t) => t.name);
  if (drifted.length > 0)
    return {
      type: 'ToolDrift',
      status: 'True',
      reason: 'DefinitionsChanged',
      message: `tool definitions differ from their pins: ${drifted.join(', ')}`,
    };
  if (split.length > 0)
    return {
      type: 'ToolDrift',
      status: 'True',
      reason: 'ReplicasDisagree',
      message: `replicas see different definitions of: ${split.join(', ')}`,
    };
  return {
    type: 'ToolDrift',
    status: 'False',
    reason: 'AsPinned',
    message: `${sidecars} sidecar(s) report ${tools.length} tool(s), none drifted`,
  };
}
