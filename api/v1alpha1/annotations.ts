/**
 * Kill switches and their bookkeeping live in annotations, not in spec: a security team then needs only
 * `patch` on metadata, not ownership of the spec, and the switch never fights a GitOps controller that
 * owns the spec.
 */
export const ANNOTATION_PREFIX = 'portcullis.dev/';

/**
 * On an McpServer, a ToolPolicy or a Namespace. Engaged when present with any value other than `"false"`:
 * a typo must fail closed, so only an explicit `"false"` (or removing the annotation) releases it.
 * - McpServer: every call to the server is refused.
 * - ToolPolicy: every tool the policy selects is refused on every server it targets.
 * - Namespace: every server in the namespace is refused.
 */
export const KILL_SWITCH = `${ANNOTATION_PREFIX}kill-switch`;

/** On an McpServer: a comma-separated list of tool names that are refused while present. */
export const KILLED_TOOLS = `${ANNOTATION_PREFIX}killed-tools`;

/**
 * Why the kill switch of this object (McpServer, ToolPolicy, Namespace) is engaged: free text, the
 * `portcullis.dev/kill-switch` switch's only. On an McpServer it is the whole-server switch's reason;
 * tools killed by name keep their own in KILLED_TOOLS_REASONS. (Compatibility: an McpServer whose killed
 * tools have no KILLED_TOOLS_REASONS annotation at all, as older CLIs wrote them, still takes its tools'
 * reason from here.) Callers see a bounded public form (publicKillReason); status, Events and audit see
 * the full record with KILLED_BY.
 */
export const KILL_REASON = `${ANNOTATION_PREFIX}kill-reason`;

/** Who engaged this object's kill switch (the CLI writes the name the API server authenticated). Never shown to callers. */
export const KILLED_BY = `${ANNOTATION_PREFIX}killed-by`;

/**
 * On an McpServer: the reason (and who) per tool of KILLED_TOOLS, a JSON object keyed by tool name, each
 * value `{"reason": "...", "by": "..."}` or just the reason as a string, e.g.
 * `{"issue_refund":{"reason":"INC-7 refunds to wrong accounts","by":"alice"}}`.
 */
export const KILLED_TOOLS_REASONS = `${ANNOTATION_PREFIX}killed-tools-reasons`;

/** When this object's kill switch was engaged (RFC 3339; portcullis kill writes it, release removes it). */
export const KILLED_AT = `${ANNOTATION_PREFIX}killed-at`;

/*
 * The last release of a kill switch on this object, written by `portcullis release` in the same patch
 * that removes the switch, so the record and the release land together or not at all. Each release
 * overwrites all four (a key it has no value for is removed), so they always describe one release.
 */
/** Who released (the name the API server authenticated). */
export const RELEASED_BY = `${ANNOTATION_PREFIX}released-by`;
/** When (RFC 3339). */
export const RELEASED_AT = `${ANNOTATION_PREFIX}released-at`;
/** Why, as given with --reason; absent when none was given. */
export const RELEASE_REASON = `${ANNOTATION_PREFIX}release-reason`;
/** On an McpServer: the tools released by name (comma-separated); absent when the object's switch was released. */
export const RELEASED_TOOLS = `${ANNOTATION_PREFIX}released-tools`;

/** Callers see at most this many characters of a kill reason. */
export const PUBLIC_REASON_MAX = 120;

/** A kill switch's record: why, and who. */
export interface KillRecord {
  readonly reason?: string;
  readonly by?: string;
}

export interface AnnotationDoc {
  readonly key: string;
  readonly appliesTo: readonly string[];
  readonly meaning: string;
}

/** The documented annotations, the source for docs/API reference and `--help` texts. */
export const ANNOTATIONS: readonly AnnotationDoc[] = [
  {
    key: KILL_SWITCH,
    appliesTo: ['McpServer', 'ToolPolicy', 'Namespace'],
    meaning:
      'Kill switch. Engaged while present with any value except "false". On an McpServer it refuses every call to that server; ' +
      'on a ToolPolicy, every tool the policy selects; on a Namespace, every server in it.',
  },
  {
    key: KILLED_TOOLS,
    appliesTo: ['McpServer'],
    meaning:
      'Comma-separated tool names refused on this server while present (for example "delete_repo,force_push").',
  },
  {
    key: KILL_REASON,
    appliesTo: ['McpServer', 'ToolPolicy', 'Namespace'],
    meaning:
      'Why the kill-switch annotation of this object is engaged (on an McpServer: the whole-server switch, not its killed tools). ' +
      `Callers see its first line, at most ${PUBLIC_REASON_MAX} characters; status, Events and the audit stream keep it whole with killed-by. ` +
      'Compatibility: killed tools of an McpServer without a killed-tools-reasons annotation still take their reason from here.',
  },
  {
    key: KILLED_BY,
    appliesTo: ['McpServer', 'ToolPolicy', 'Namespace'],
    meaning:
      'Who engaged the kill switch (portcullis kill writes the authenticated user name). In status, Events and audit; never shown to callers.',
  },
  {
    key: KILLED_TOOLS_REASONS,
    appliesTo: ['McpServer'],
    meaning:
      'Per killed tool, why and who: JSON keyed by tool name, each value {"reason": "...", "by": "..."} or a plain reason string ' +
      '(for example {"issue_refund":{"reason":"INC-7","by":"alice"}}). Written by portcullis kill --tool.',
  },
  {
    key: KILLED_AT,
    appliesTo: ['McpServer', 'ToolPolicy', 'Namespace'],
    meaning:
      'When the kill switch was engaged (RFC 3339), written by portcullis kill; tools killed by name keep theirs as "at" in killed-tools-reasons. ' +
      'status.killSwitch shows it as since (without it: when the operator first saw the switch).',
  },
  {
    key: RELEASED_BY,
    appliesTo: ['McpServer', 'ToolPolicy', 'Namespace'],
    meaning:
      'Who made the last release of a kill switch on this object (portcullis release writes the authenticated user name, ' +
      'with released-at, release-reason and, for tools, released-tools). Kept after the release; the next release overwrites all four. ' +
      "Shown in status.killSwitch.lastRelease and the operator's KillSwitchReleased Event.",
  },
  {
    key: RELEASED_AT,
    appliesTo: ['McpServer', 'ToolPolicy', 'Namespace'],
    meaning: 'When the last release on this object was made (RFC 3339).',
  },
  {
    key: RELEASE_REASON,
    appliesTo: ['McpServer', 'ToolPolicy', 'Namespace'],
    meaning:
      'Why the last release on this object was made (portcullis release --reason); absent when none was given.',
  },
  {
    key: RELEASED_TOOLS,
    appliesTo: ['McpServer'],
    meaning:
      'The tools the last release on this McpServer released by name (comma-separated); absent when it released the whole-server switch.',
  },
];

/** True when the kill-switch annotation is engaged; absent, or exactly "false", means released. */
export function isKillSwitchEngaged(annotations: Readonly<Record<string, string>> | undefined): boolean {
  const value = annotations?.[KILL_SWITCH];
  return value !== undefined && value.trim() !== 'false';
}

/** The tool names listed in the killed-tools annotation, trimmed, without empties or duplicates. */
export function killedTools(annotations: Readonly<Record<string, string>> | undefined): string[] {
  const value = annotations?.[KILLED_TOOLS];
  if (value === undefined) return [];
  return [...new Set(value.split(',').map((name) => name.trim()))].filter((name) => name !== '').sort();
}

/** The record of this object's own kill switch: KILL_REASON and KILLED_BY. */
export function killRecord(annotations: Readonly<Record<string, string>> | undefined): KillRecord {
  const reason = annotations?.[KILL_REASON];
  const by = annotations?.[KILLED_BY]?.trim();
  return { ...(reason !== undefined ? { reason } : {}), ...(by ? { by } : {}) };
}

/**
 * The per-tool records of KILLED_TOOLS_REASONS; undefined when the annotation is absent (older CLIs:
 * the tools then share KILL_REASON). Entries that are neither a string nor {reason, by} strings are
 * ignored, and so is a value that is not a JSON object: a malformed reason never unkills anything.
 */
export function killedToolReasons(
  annotations: Readonly<Record<string, string>> | undefined,
): Record<string, KillRecord> | undefined {
  const entries = killedToolEntries(annotations);
  if (entries === undefined) return undefined;
  const records: Record<string, KillRecord> = {};
  for (const [tool, entry] of entries) {
    if (typeof entry === 'string') records[tool] = { reason: entry };
    else if (typeof entry === 'object' && entry !== null && !Array.isArray(entry)) {
      const { reason, by } = entry as Record<string, unknown>;
      records[tool] = {
        ...(typeof reason === 'string' ? { reason } : {}),
        ...(typeof by === 'string' && by.trim() !== '' ? { by: by.trim() } : {}),
      };
    }
  }
  return records;
}

/**
 * The (tool, entry) pairs of KILLED_TOOLS_REASONS as written, for its readers (reasons here, kill times
 * in kill-history.ts); undefined when the annotation is absent, none when it is not a JSON object.
 */
export function killedToolEntries(
  annotations: Readonly<Record<string, string>> | undefined,
): [string, unknown][] | undefined {
  const value = annotations?.[KILLED_TOOLS_REASONS];
  if (value === undefined) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    return [];
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return [];
  return Object.entries(parsed);
}

/** The full record for status, Events and audit: "who: why" (the form older CLIs wrote into the reason). */
export function fullKillRecord(record: KillRecord | undefined): string | undefined {
  if (record?.reason === undefined)
    return record?.by === undefined ? undefined : `${record.by}: (no reason given)`;
  return record.by === undefined ? record.reason : `${record.by}: ${record.reason}`;
}

/**
 * What a caller may see of a reason: its first line, whitespace collapsed, at most PUBLIC_REASON_MAX
 * characters, and never who engaged the switch (KILLED_BY, also when a reason repeats it in front).
 */
export function publicKillReason(record: KillRecord | undefined): string | undefined {
  let text = (record?.reason ?? '').split(/\r?\n/, 1)[0]!.replace(/\s+/g, ' ').trim();
  if (record?.by !== undefined && text.startsWith(`${record.by}:`))
    text = text.slice(record.by.length + 1).trim();
  if (text === '') return undefined;
  return text.length <= PUBLIC_REASON_MAX ? text : `${text.slice(0, PUBLIC_REASON_MAX - 1)}…`;
}
