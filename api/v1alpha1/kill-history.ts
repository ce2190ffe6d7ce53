import {
  KILLED_AT,
  killedToolEntries,
  RELEASE_REASON,
  RELEASED_AT,
  RELEASED_BY,
  RELEASED_TOOLS,
} from './annotations.ts';

/**
 * The times of kill switches and the record of the last release, read from annotations. Kept apart from
 * the switches themselves (annotations.ts): none of this reaches the policy bundle, whose strict schema
 * older sidecars enforce; it is for status, Events and people.
 */

type Annotations = Readonly<Record<string, string>> | undefined;

/** The last release of a kill switch on one object, as `portcullis release` recorded it. */
export interface ReleaseRecord {
  /** When (RFC 3339, UTC). */
  readonly at: string;
  readonly by?: string;
  readonly reason?: string;
  /** The tools released by name; absent when the object's own switch was released. */
  readonly tools?: readonly string[];
}

const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

/**
 * An RFC 3339 time as UTC with milliseconds, else undefined: annotations are written by hand too, and a
 * time that does not parse must not become one in status (the CRD field is a date-time).
 */
export function rfc3339(value: string | undefined): string | undefined {
  const text = value?.trim();
  if (text === undefined || !RFC3339.test(text)) return undefined;
  const ms = Date.parse(text);
  return Number.isNaN(ms) ? undefined : new Date(ms).toISOString();
}

/** When this object's kill switch was engaged (KILLED_AT), when recorded and valid. */
export function killedAt(annotations: Annotations): string | undefined {
  return rfc3339(annotations?.[KILLED_AT]);
}

/** When each tool killed by name was killed: the "at" of its killed-tools-reasons entry, when valid. */
export function killedToolTimes(annotations: Annotations): Record<string, string> {
  const times: Record<string, string> = {};
  for (const [tool, entry] of killedToolEntries(annotations) ?? []) {
    if (typeof entry !== 'object' || entry === null) continue;
    const at = (entry as Record<string, unknown>)['at'];
    const time = typeof at === 'string' ? rfc3339(at) : undefined;
    if (time !== undefined) times[tool] = time;
  }
  return times;
}

/** The last release recorded on this object; undefined without a valid RELEASED_AT (no record). */
export function releaseRecord(annotations: Annotations): ReleaseRecord | undefined {
  const at = rfc3339(annotations?.[RELEASED_AT]);
  if (at === undefined) return undefined;
  const by = annotations?.[RELEASED_BY]?.trim();
  const reason = annotations?.[RELEASE_REASON];
  const tools = (annotations?.[RELEASED_TOOLS] ?? '')
    .split(',')
    .map((tool) => tool.trim())
    .filter((tool) => tool !== '');
  return {
    at,
    ...(by ? { by } : {}),
    ...(reason !== undefined && reason.trim() !== '' ? { reason } : {}),
    ...(tools.length > 0 ? { tools: [...new Set(tools)].sort() } : {}),
  };
}
