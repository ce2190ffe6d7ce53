import {
  fullKillRecord,
  isKillSwitchEngaged,
  killRecord,
  type KillRecord,
} from '../../api/v1alpha1/annotations.ts';
import { killedAt, killedToolTimes, releaseRecord } from '../../api/v1alpha1/kill-history.ts';
import type {
  KillSwitchEntry,
  KillSwitchRelease,
  KillSwitchStatus,
  KillSwitchType,
} from '../../api/v1alpha1/kill-switch-status.ts';
import type { McpServer } from '../../api/v1alpha1/resources.ts';
import { mcpServerKills } from '../../policy/compile.ts';

type Annotations = Readonly<Record<string, string>> | undefined;

/** What the operator knows of the kill switches that can bite on one McpServer. */
export interface KillSwitchInput {
  readonly server: McpServer;
  readonly namespaceAnnotations?: Annotations;
  /** The ToolPolicies that target the server (compile's `targets`), with their annotations. */
  readonly policies?: readonly { readonly name: string; readonly annotations?: Annotations }[];
  /** status.killSwitch as last written: a switch without a recorded time keeps the time first seen. */
  readonly previous?: KillSwitchStatus;
  readonly now: string;
}

const MAX_REASON = 1024;
const MAX_BY = 256;

/** Hardest-biting first: the order of status.killSwitch.switches and whose record is its `reason`. */
const ORDER: readonly KillSwitchType[] = ['Server', 'Namespace', 'Tool', 'ToolPolicy'];

const key = (entry: { type: string; name: string }) => `${entry.type}/${entry.name}`;

/**
 * status.killSwitch from the annotations of the server, its Namespace and its targeting ToolPolicies:
 * the same annotations, read by the same functions, the policy compiler puts in the bundle, so status
 * says what the sidecars enforce, but with times and the last release, which the bundle does not carry.
 * Pure: the time of a switch seen for the first time without a recorded one is `now`.
 */
export function killSwitchStatus(input: KillSwitchInput): KillSwitchStatus {
  const switches = engagedSwitches(input);
  // Newest first: the last release, wherever it was recorded.
  const release = releaseRecords(input)[0];
  const since = switches.map((s) => s.since).sort()[0];
  const reason = summaryReason(switches);
  const tools = switches.filter((s) => s.type === 'Tool').map((s) => s.name);
  const policies = switches.filter((s) => s.type === 'ToolPolicy').map((s) => s.name);
  return {
    engaged: switches.length > 0,
    server: switches.some((s) => s.type === 'Server' || s.type === 'Namespace'),
    ...(tools.length > 0 ? { tools } : {}),
    ...(policies.length > 0 ? { policies } : {}),
    ...(since !== undefined ? { since } : {}),
    ...(reason !== undefined ? { reason } : {}),
    ...(switches.length > 0 ? { switches } : {}),
    ...(release !== undefined ? { lastRelease: release } : {}),
  };
}

function engagedSwitches(input: KillSwitchInput): KillSwitchEntry[] {
  const { server, previous, now } = input;
  const seen = new Map((previous?.switches ?? []).map((s) => [key(s), s.since]));
  const entry = (
    type: KillSwitchType,
    name: string,
    record: KillRecord | undefined,
    recorded: string | undefined,
  ): KillSwitchEntry => ({
    type,
    name,
    since: recorded ?? seen.get(key({ type, name })) ?? now,
    ...(record?.reason !== undefined ? { reason: record.reason.slice(0, MAX_REASON) } : {}),
    ...(record?.by !== undefined ? { by: record.by.slice(0, MAX_BY) } : {}),
  });
  const annotations = server.metadata.annotations;
  const own = mcpServerKills(server.metadata.name, annotations);
  const toolTimes = killedToolTimes(annotations);
  // Tools killed by an older CLI share the server switch's reason (see mcpServerKills).
  const shared: KillRecord | undefined =
    own.kill.reason !== undefined ? { reason: own.kill.reason } : undefined;
  const namespace = server.metadata.namespace ?? '';
  const entries: KillSwitchEntry[] = [
    ...(own.own ? [entry('Server', server.metadata.name, own.own, killedAt(annotations))] : []),
    ...(isKillSwitchEngaged(input.namespaceAnnotations)
      ? [
          entry(
            'Namespace',
            namespace,
            killRecord(input.namespaceAnnotations),
            killedAt(input.namespaceAnnotations),
          ),
        ]
      : []),
    ...own.kill.tools.map((tool) =>
      entry('Tool', tool, own.kill.toolReasons?.[tool] ?? shared, toolTimes[tool]),
    ),
    ...[...(input.policies ?? [])]
      .filter((policy) => isKillSwitchEngaged(policy.annotations))
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
      .map((policy) =>
        entry('ToolPolicy', policy.name, killRecord(policy.annotations), killedAt(policy.annotations)),
      ),
  ];
  return entries.sort((a, b) => ORDER.indexOf(a.type) - ORDER.indexOf(b.type));
}

/** "who: why" of the hardest-biting switch; for tools, each tool's record after its name. */
function summaryReason(switches: readonly KillSwitchEntry[]): string | undefined {
  const first = switches[0];
  if (first === undefined) return undefined;
  const text =
    first.type !== 'Tool'
      ? fullKillRecord(first)
      : switches
          .filter((s) => s.type === 'Tool')
          .flatMap((s) => {
            const full = fullKillRecord(s);
            return full === undefined ? [] : [`${s.name}: ${full}`];
          })
          .join('; ') || undefined;
  return text?.slice(0, MAX_REASON);
}

/**
 * Every release recorded on the server, its Namespace and its targeting ToolPolicies, newest first
 * (for status, the first; for Events, the one that explains a switch that went away).
 */
export function releaseRecords(input: Omit<KillSwitchInput, 'previous' | 'now'>): KillSwitchRelease[] {
  const { server } = input;
  const release = (
    type: KillSwitchType,
    name: string,
    annotations: Annotations,
  ): KillSwitchRelease | undefined => {
    const record = releaseRecord(annotations);
    if (record === undefined) return undefined;
    const tools = type === 'Server' ? record.tools : undefined;
    return {
      type: tools !== undefined ? 'Tool' : type,
      name,
      ...(tools !== undefined ? { tools: [...tools] } : {}),
      at: record.at,
      ...(record.by !== undefined ? { by: record.by.slice(0, MAX_BY) } : {}),
      ...(record.reason !== undefined ? { reason: record.reason.slice(0, MAX_REASON) } : {}),
    };
  };
  return [
    release('Server', server.metadata.name, server.metadata.annotations),
    release('Namespace', server.metadata.namespace ?? '', input.namespaceAnnotations),
    ...(input.policies ?? []).map((policy) => release('ToolPolicy', policy.name, policy.annotations)),
  ]
    .filter((r): r is KillSwitchRelease => r !== undefined)
    .sort((a, b) => (a.at > b.at ? -1 : a.at < b.at ? 1 : 0));
}

/** Does this release record describe the release of this switch? */
export function releaseCovers(release: KillSwitchRelease, entry: { type: string; name: string }): boolean {
  if (release.type === 'Tool') return entry.type === 'Tool' && (release.tools ?? []).includes(entry.name);
  return release.type === entry.type && release.name === entry.name;
}
