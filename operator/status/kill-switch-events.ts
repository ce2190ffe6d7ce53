import { fullKillRecord } from '../../api/v1alpha1/annotations.ts';
import type {
  KillSwitchEntry,
  KillSwitchRelease,
  KillSwitchStatus,
} from '../../api/v1alpha1/kill-switch-status.ts';
import { releaseCovers } from './kill-switch.ts';
import type { ConditionEvent } from './transitions.ts';

/**
 * Events for kill switches engaged and released between two statuses, one per switch, each saying who
 * and why: `kubectl describe mcpserver` then answers "who killed this, who released it, and why"
 * without a reader having to compare annotations over time.
 *
 * `before` is status.killSwitch as last written, undefined for a server without status yet. A status
 * written by an older operator (no `engaged` field) is no baseline: nothing is reported that time,
 * rather than announcing every switch in force again after an upgrade.
 */
export function killSwitchEvents(
  before: { readonly killSwitch?: KillSwitchStatus } | undefined,
  after: KillSwitchStatus,
  releases: readonly KillSwitchRelease[],
): ConditionEvent[] {
  if (before !== undefined && before.killSwitch?.engaged === undefined) return [];
  const previous = before?.killSwitch?.switches ?? [];
  const current = after.switches ?? [];
  const has = (list: readonly KillSwitchEntry[], entry: KillSwitchEntry) =>
    list.some((other) => other.type === entry.type && other.name === entry.name);
  return [
    ...current
      .filter((entry) => !has(previous, entry))
      .map((entry): ConditionEvent => ({
        type: 'Warning',
        reason: 'KillSwitchEngaged',
        message: `kill switch engaged on ${describe(entry)}: ${fullKillRecord(entry) ?? '(no reason recorded)'}`,
      })),
    ...previous
      .filter((entry) => !has(current, entry))
      .map((entry): ConditionEvent => ({
        type: 'Normal',
        reason: 'KillSwitchReleased',
        message: `kill switch released on ${describe(entry)}${releaseNote(entry, releases)}; engaged since ${entry.since}${
          fullKillRecord(entry) === undefined ? '' : ` (${fullKillRecord(entry)})`
        }`,
      })),
  ];
}

function describe(entry: KillSwitchEntry): string {
  switch (entry.type) {
    case 'Server':
      return `McpServer ${entry.name} (every call)`;
    case 'Namespace':
      return `Namespace ${entry.name} (every call)`;
    case 'Tool':
      return `tool ${entry.name}`;
    case 'ToolPolicy':
      return `ToolPolicy ${entry.name} (every tool it selects)`;
  }
}

/**
 * Who released it and why, from the release recorded on its object. A record older than the switch
 * belongs to an earlier release and says nothing about this one.
 */
function releaseNote(entry: KillSwitchEntry, releases: readonly KillSwitchRelease[]): string {
  const release = releases.find((r) => releaseCovers(r, entry) && r.at >= entry.since);
  if (release === undefined)
    return ' (no release recorded: removed without portcullis release, or its object no longer applies)';
  return ` by ${release.by ?? '(unknown)'} at ${release.at}: ${release.reason ?? '(no reason given)'}`;
}
