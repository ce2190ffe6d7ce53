import { toolName } from '../../api/v1alpha1/common.ts';
import { usageError } from '../errors.ts';
import { MCP_SERVERS, NAMESPACES, TOOL_POLICIES, type ResourceKind } from '../kube-api.ts';

/** What `portcullis kill` and `release` act on: one object, and on an McpServer optionally some tools. */
export type KillTarget =
  | { readonly kind: 'mcpserver'; readonly name: string; readonly tools?: readonly string[] }
  | { readonly kind: 'toolpolicy'; readonly name: string }
  | { readonly kind: 'namespace'; readonly name: string };

/** The spellings accepted before the slash, as kubectl accepts plural and short names. */
const KIND_NAMES: Readonly<Record<string, KillTarget['kind']>> = {
  mcpserver: 'mcpserver',
  mcpservers: 'mcpserver',
  'mcpserver.portcullis.dev': 'mcpserver',
  server: 'mcpserver',
  toolpolicy: 'toolpolicy',
  toolpolicies: 'toolpolicy',
  'toolpolicy.portcullis.dev': 'toolpolicy',
  namespace: 'namespace',
  namespaces: 'namespace',
  ns: 'namespace',
};

export const RESOURCE_KINDS: Readonly<Record<KillTarget['kind'], ResourceKind>> = {
  mcpserver: MCP_SERVERS,
  toolpolicy: TOOL_POLICIES,
  namespace: NAMESPACES,
};

/** An RFC 1123 label (McpServer, Namespace) or subdomain (ToolPolicy) name. */
const LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

const TARGET_FORMS = 'mcpserver/NAME (or server/NAME), toolpolicy/NAME or namespace/NAME';

/**
 * TARGET and --tool as a KillTarget. Throws a usage CliError for anything else: an unknown kind, a name
 * the API could never hold, --tool on anything but an McpServer, a tool name servers cannot publish.
 */
export function parseKillTarget(text: string, tools: string | undefined): KillTarget {
  const slash = text.indexOf('/');
  if (slash <= 0) throw usageError(`TARGET must be ${TARGET_FORMS}, got ${JSON.stringify(text)}`);
  const written = text.slice(0, slash).toLowerCase();
  // hasOwn: "__proto__/x" or "constructor/x" must not find Object.prototype's members.
  const kind = Object.hasOwn(KIND_NAMES, written) ? KIND_NAMES[written] : undefined;
  const name = text.slice(slash + 1);
  if (kind === undefined) {
    throw usageError(`unknown kind ${JSON.stringify(text.slice(0, slash))}: TARGET must be ${TARGET_FORMS}`);
  }
  const valid =
    kind === 'toolpolicy'
      ? SUBDOMAIN.test(name) && name.length <= 253
      : LABEL.test(name) && name.length <= 63;
  if (!valid) {
    throw usageError(
      `${JSON.stringify(name)} is not a valid ${kind} name (lowercase letters, digits and "-"${kind === 'toolpolicy' ? ', "."' : ''})`,
    );
  }
  if (tools === undefined) return { kind, name };
  if (kind !== 'mcpserver') {
    throw usageError(`--tool applies only to mcpserver/NAME targets: tools are killed on a server`);
  }
  return { kind, name, tools: parseToolList(tools) };
}

/** `a,b` (repeated --tool flags arrive joined) as sorted distinct names, each valid. */
export function parseToolList(text: string): string[] {
  const names = [...new Set(text.split(',').map((name) => name.trim()))];
  if (names.some((name) => name === '')) throw usageError('--tool takes tool names separated by ","');
  for (const name of names) {
    if (!toolName.safeParse(name).success) {
      throw usageError(
        `${JSON.stringify(name)} is not a tool name (1 to 128 of A-Z a-z 0-9 _ . - /; no globs)`,
      );
    }
  }
  if (names.length > 256) throw usageError('at most 256 tools at once');
  return names.sort();
}
