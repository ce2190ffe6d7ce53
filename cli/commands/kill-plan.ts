import {
  fullKillRecord,
  isKillSwitchEngaged,
  KILL_REASON,
  KILL_SWITCH,
  KILLED_AT,
  KILLED_BY,
  KILLED_TOOLS,
  KILLED_TOOLS_REASONS,
  killedToolReasons,
  killedTools,
  killRecord,
  RELEASE_REASON,
  RELEASED_AT,
  RELEASED_BY,
  RELEASED_TOOLS,
  type KillRecord,
} from '../../api/v1alpha1/annotations.ts';
import { killedToolTimes } from '../../api/v1alpha1/kill-history.ts';
import type { KillTarget } from './kill-target.ts';

export type SwitchAction = 'kill' | 'release';

/**
 * What one kill or release changes, decided from the object's annotations as read: pure, so every case is
 * a unit test. `patch` is a JSON merge patch on metadata.annotations (null removes a key); absent when
 * nothing needs to change, which is not an error (the command is idempotent).
 *
 * Each switch keeps its own record: the object's switch in kill-reason + killed-by, each tool killed by
 * name in its entry of killed-tools-reasons. Tools killed by older CLIs shared kill-reason with the
 * server switch; the first write that would separate them moves that reason into their entries.
 *
 * A release removes the switch's record and writes the release's own (released-by, -at, -reason,
 * -tools) in the same patch: the release and the answer to "who released this, and why" land together
 * or not at all, with no permission beyond the patch the release needs anyway.
 */
export interface SwitchPlan {
  readonly patch?: { readonly metadata: Record<string, unknown> };
  /** What changed (or why nothing did), after "<kind> <namespace>/<name>: ". */
  readonly summary: string;
}

type Annotations = Readonly<Record<string, string>> | undefined;

const reasonNote = (record: KillRecord | undefined) => {
  const full = fullKillRecord(record);
  return full ? ` (reason: ${full})` : '';
};
const list = (names: readonly string[]) => names.join(', ');

export interface PlanInput {
  readonly action: SwitchAction;
  readonly target: KillTarget;
  /** The object's annotations as read; undefined when they could not be read (the patch is blind). */
  readonly annotations: Annotations;
  /** The object's resourceVersion as read: the precondition of a killed-tools write. */
  readonly resourceVersion?: string;
  /** The reason to record, as given: the switch's (kill) or the release's (release). */
  readonly reason?: string;
  /** Who is writing, as the API server authenticates them; recorded beside the reason. */
  readonly actor?: string;
  /** When (RFC 3339): killed-at or the tool entry's "at" (kill), released-at (release). */
  readonly now?: string;
}

/** A tool's entry of killed-tools-reasons: its record and when it was killed. */
type ToolEntry = KillRecord & { readonly at?: string };

export function planSwitch(input: PlanInput): SwitchPlan {
  const { target } = input;
  if (target.kind === 'mcpserver' && target.tools !== undefined) {
    return input.action === 'kill' ? killTools(input, target.tools) : releaseTools(input, target.tools);
  }
  return input.action === 'kill' ? killObject(input) : releaseObject(input);
}

function annotationsPatch(
  changes: Record<string, string | null>,
  resourceVersion?: string,
): NonNullable<SwitchPlan['patch']> {
  // A resourceVersion in a merge patch is a precondition: the API server answers 409 if the object
  // changed since it was read, so two people editing the killed-tools list cannot overwrite each other.
  return {
    metadata: { ...(resourceVersion === undefined ? {} : { resourceVersion }), annotations: changes },
  };
}

/** The record this kill writes. */
const ownRecord = (input: PlanInput): ToolEntry => ({
  ...(input.reason !== undefined ? { reason: input.reason } : {}),
  ...(input.actor !== undefined ? { by: input.actor } : {}),
  ...(input.now !== undefined ? { at: input.now } : {}),
});

/** Who released and why, as recorded: " (reason: alice: INC-1 closed)", " (by alice; no reason given)". */
const releaseNote = (input: PlanInput) => {
  if (input.reason !== undefined)
    return reasonNote({ reason: input.reason, ...(input.actor !== undefined ? { by: input.actor } : {}) });
  return input.actor === undefined ? '' : ` (by ${input.actor}; no reason given)`;
};

/** The record of this release; every key is written, so the four always describe one release. */
const releaseChanges = (input: PlanInput, tools?: readonly string[]): Record<string, string | null> => ({
  [RELEASED_BY]: input.actor ?? null,
  [RELEASED_AT]: input.now ?? null,
  [RELEASE_REASON]: input.reason ?? null,
  [RELEASED_TOOLS]: tools === undefined ? null : tools.join(','),
});

/**
 * The per-tool records as they stand, the older shared form included: without a killed-tools-reasons
 * annotation, the killed tools' reason was kill-reason (and `legacy` is true).
 */
function toolRecords(annotations: Annotations): { records: Record<string, ToolEntry>; legacy: boolean } {
  const found = killedToolReasons(annotations);
  if (found !== undefined) {
    const times = killedToolTimes(annotations);
    const records = Object.fromEntries(
      Object.entries(found).map(([tool, record]) => [
        tool,
        times[tool] === undefined ? record : { ...record, at: times[tool] },
      ]),
    );
    return { records, legacy: false };
  }
  const shared = killRecord(annotations);
  return {
    records:
      shared.reason === undefined ? {} : Object.fromEntries(killedTools(annotations).map((t) => [t, shared])),
    legacy: true,
  };
}

/** The killed-tools-reasons value for `tools` (sorted, records without empty fields); null for none. */
function recordsValue(records: Record<string, ToolEntry>, tools: readonly string[]): string | null {
  const entries = [...tools].sort().flatMap((tool) => {
    const record = records[tool];
    if (
      record === undefined ||
      (record.reason === undefined && record.by === undefined && record.at === undefined)
    )
      return [];
    return [
      [
        tool,
        {
          ...(record.reason !== undefined ? { reason: record.reason } : {}),
          ...(record.by !== undefined ? { by: record.by } : {}),
          ...(record.at !== undefined ? { at: record.at } : {}),
        },
      ],
    ];
  });
  return entries.length === 0 ? null : JSON.stringify(Object.fromEntries(entries));
}

/** Moves the shared (older) reason of killed tools into their own entries before kill-reason changes. */
function migrateLegacyTools(input: PlanInput): Record<string, string | null> {
  if (input.target.kind !== 'mcpserver' || input.annotations === undefined) return {};
  const tools = killedTools(input.annotations);
  const { records, legacy } = toolRecords(input.annotations);
  if (!legacy || tools.length === 0 || Object.keys(records).length === 0) return {};
  const value = recordsValue(records, tools);
  return value === null ? {} : { [KILLED_TOOLS_REASONS]: value };
}

function killObject(input: PlanInput): SwitchPlan {
  const { annotations } = input;
  if (annotations !== undefined && isKillSwitchEngaged(annotations)) {
    return {
      summary: `kill switch already engaged${reasonNote(killRecord(annotations))}; nothing changed`,
    };
  }
  return {
    patch: annotationsPatch({
      ...migrateLegacyTools(input),
      [KILL_SWITCH]: 'true',
      [KILL_REASON]: input.reason ?? null,
      [KILLED_BY]: input.actor ?? null,
      [KILLED_AT]: input.now ?? null,
    }),
    summary: `kill switch engaged${reasonNote(ownRecord(input))}`,
  };
}

function releaseObject(input: PlanInput): SwitchPlan {
  const { annotations, target } = input;
  const toolsStay = target.kind === 'mcpserver' ? killedTools(annotations) : [];
  const stay =
    toolsStay.length > 0 ? `; tools ${list(toolsStay)} stay killed (release them with --tool)` : '';
  if (annotations !== undefined && annotations[KILL_SWITCH] === undefined) {
    return { summary: `kill switch was not engaged; nothing changed${stay}` };
  }
  const engaged = annotations === undefined || isKillSwitchEngaged(annotations);
  // The record goes with the switch; tools that still shared it (older CLIs) get their own copy first.
  // Read blind (no get), the reason is left alone: it may be the shared reason of tools we cannot see.
  // killed-at is the object switch's alone (tools keep their "at" in their entries): always removed.
  const changes: Record<string, string | null> = {
    ...(annotations === undefined
      ? { [KILL_SWITCH]: null, [KILLED_AT]: null }
      : {
          ...migrateLegacyTools(input),
          [KILL_SWITCH]: null,
          [KILL_REASON]: null,
          [KILLED_BY]: null,
          [KILLED_AT]: null,
        }),
    // Removing a "false" releases nothing: no release to record.
    ...(engaged ? releaseChanges(input) : {}),
  };
  return {
    patch: annotationsPatch(changes),
    summary: engaged
      ? `kill switch released${releaseNote(input)}${stay}`
      : `kill switch was not engaged (its annotation said "false"); annotation removed${stay}`,
  };
}

function killTools(input: PlanInput, tools: readonly string[]): SwitchPlan {
  const before = killedTools(input.annotations);
  const { records } = toolRecords(input.annotations);
  const added = tools.filter((tool) => !before.includes(tool));
  if (added.length === 0) {
    const notes = tools.length === 1 ? reasonNote(records[tools[0]!]) : '';
    return {
      summary: `${tools.length === 1 ? 'tool' : 'tools'} ${list(tools)} already killed${notes}; nothing changed`,
    };
  }
  const after = [...before, ...added].sort();
  const already = tools.filter((tool) => before.includes(tool));
  const next = { ...records, ...Object.fromEntries(added.map((tool) => [tool, ownRecord(input)])) };
  return {
    patch: annotationsPatch(
      { [KILLED_TOOLS]: after.join(','), [KILLED_TOOLS_REASONS]: recordsValue(next, after) },
      input.resourceVersion,
    ),
    summary:
      `${added.length === 1 ? 'tool' : 'tools'} ${list(added)} killed${reasonNote(ownRecord(input))}` +
      (already.length > 0 ? `; ${list(already)} already ${already.length === 1 ? 'was' : 'were'}` : '') +
      `; killed tools now: ${list(after)}`,
  };
}

function releaseTools(input: PlanInput, tools: readonly string[]): SwitchPlan {
  const before = killedTools(input.annotations);
  const released = tools.filter((tool) => before.includes(tool));
  if (released.length === 0) {
    return {
      summary: `${tools.length === 1 ? 'tool' : 'tools'} ${list(tools)} ${tools.length === 1 ? 'was' : 'were'} not killed; nothing changed`,
    };
  }
  const after = before.filter((tool) => !tools.includes(tool));
  const serverStays = isKillSwitchEngaged(input.annotations);
  const { records, legacy } = toolRecords(input.annotations);
  const changes: Record<string, string | null> = {
    ...(after.length > 0
      ? { [KILLED_TOOLS]: after.join(','), [KILLED_TOOLS_REASONS]: recordsValue(records, after) }
      : {
          [KILLED_TOOLS]: null,
          [KILLED_TOOLS_REASONS]: null,
          // Older CLIs' shared reason was the tools' when no server switch is engaged: it goes with them.
          ...(legacy && !serverStays ? { [KILL_REASON]: null } : {}),
        }),
    ...releaseChanges(input, released),
  };
  const notKilled = tools.filter((tool) => !before.includes(tool));
  return {
    patch: annotationsPatch(changes, input.resourceVersion),
    summary:
      `${released.length === 1 ? 'tool' : 'tools'} ${list(released)} released${releaseNote(input)}` +
      (notKilled.length > 0
        ? `; ${list(notKilled)} ${notKilled.length === 1 ? 'was' : 'were'} not killed`
        : '') +
      (after.length > 0 ? `; still killed: ${list(after)}` : '; no tools killed any more') +
      (serverStays ? '; the whole server stays killed' : ''),
  };
}
