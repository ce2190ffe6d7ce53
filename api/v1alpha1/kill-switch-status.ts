import { z } from 'zod';
import { toolName } from './common.ts';
import { doc } from './schema-doc.ts';

/**
 * status.killSwitch of an McpServer: the kill switches that bite on it, each with what set it, since
 * when, why and who, and the last release. Structured so that people and programs (`portcullis status`,
 * the printer columns, dashboards) read fields instead of parsing the Killed condition's message.
 *
 * Objects, not strict objects, and every field added after v1alpha1's first release optional: the
 * operator parses the status an older operator wrote before it replaces it, and must not refuse it.
 */

/** What a switch is set on: the server's own switch, one tool of it, a ToolPolicy, or the Namespace. */
export const killSwitchTypes = ['Server', 'Tool', 'ToolPolicy', 'Namespace'] as const;
export type KillSwitchType = (typeof killSwitchTypes)[number];

const time = (description: string) => doc(z.string().max(64), description, { format: 'date-time' });
const by = (description: string) => doc(z.string().max(256).optional(), description);

export const killSwitchEntry = z.object({
  type: doc(
    z.enum(killSwitchTypes),
    "What the switch is set on. Server: the McpServer's own portcullis.dev/kill-switch (every call refused). " +
      "Tool: a tool killed by name (portcullis.dev/killed-tools). ToolPolicy: a targeting ToolPolicy's switch (every " +
      "tool it selects). Namespace: the Namespace's switch (every call refused).",
  ),
  name: doc(
    z.string().max(253),
    'The McpServer (Server), the tool (Tool), the ToolPolicy (ToolPolicy) or the Namespace (Namespace).',
  ),
  since: time(
    'When the switch was engaged: its killed-at record (the tool\'s "at" for a Tool), else when the operator first saw it.',
  ),
  reason: doc(z.string().max(1024).optional(), 'Why, as recorded with the switch.'),
  by: by('Who engaged it, as recorded with the switch (killed-by, or the tool entry\'s "by").'),
});
export type KillSwitchEntry = z.infer<typeof killSwitchEntry>;

export const killSwitchRelease = z.object({
  type: doc(
    z.enum(killSwitchTypes),
    "What was released: the server's own switch (Server), tools killed by name (Tool), a ToolPolicy's or the Namespace's switch.",
  ),
  name: doc(
    z.string().max(253),
    'The object the release was recorded on: the McpServer, ToolPolicy or Namespace.',
  ),
  tools: doc(z.array(toolName).max(256).optional(), 'For Tool: the tools released.', { listSet: true }),
  at: time('When it was released (portcullis.dev/released-at).'),
  by: by('Who released it (portcullis.dev/released-by).'),
  reason: doc(z.string().max(1024).optional(), 'Why (portcullis.dev/release-reason).'),
});
export type KillSwitchRelease = z.infer<typeof killSwitchRelease>;

export const killSwitchStatus = doc(
  z
    .object({
      engaged: doc(
        z.boolean().optional(),
        'Some kill switch refuses some or all calls (the KILLED printer column). Always written by this ' +
          'operator version; absent only in a status an older one wrote.',
      ),
      server: doc(z.boolean(), "The whole server is killed (by its own switch or its Namespace's)."),
      tools: doc(z.array(toolName).max(256).optional(), 'Tools killed by name on this McpServer.', {
        listSet: true,
      }),
      policies: doc(
        z.array(z.string().max(253)).max(256).optional(),
        'ToolPolicies targeting this server whose switch refuses every tool they select.',
        { listSet: true },
      ),
      since: doc(
        z.string().max(64).optional(),
        'When the earliest switch still engaged was engaged (the Killed Since printer column).',
        { format: 'date-time' },
      ),
      reason: doc(
        z.string().max(1024).optional(),
        'The record of the switch that bites hardest, "who: why": the server\'s own, else the Namespace\'s, ' +
          "else the tools', else a ToolPolicy's.",
      ),
      switches: doc(
        z.array(killSwitchEntry).max(512).optional(),
        'Every switch engaged: Server, Namespace, then Tool and ToolPolicy entries by name.',
        { listMapKeys: ['type', 'name'] },
      ),
      lastRelease: doc(
        killSwitchRelease.optional(),
        'The most recent release recorded by portcullis release on this McpServer, its Namespace or a targeting ' +
          'ToolPolicy (kept while switches are engaged again). A switch removed otherwise (kubectl annotate) leaves no record here.',
      ),
    })
    .optional(),
  'Kill switches in force and the last release.',
);
export type KillSwitchStatus = NonNullable<z.infer<typeof killSwitchStatus>>;
