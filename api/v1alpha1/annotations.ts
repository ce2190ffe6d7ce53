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

/** Free text recorded with a kill switch (who and why); shown in status, Events and audit. */
export const KILL_REASON = `${ANNOTATION_PREFIX}kill-reason`;

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
    meaning: 'Why the switch was engaged and by whom; copied into status, Events and the audit stream.',
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
