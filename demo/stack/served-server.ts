import { readdirSync, readFileSync } from 'node:fs';
import { extname, join } from 'node:path';
import { parsePolicyObjects } from '../../sidecar/policy/objects.ts';
import { StackError } from './errors.ts';

/** What the stack needs to know of the McpServer in the policy directory. */
export interface ServedServer {
  readonly namespace: string;
  readonly name: string;
  /** The iss tokens must carry; the demo identity provider takes this name. */
  readonly issuer: string;
  /** The audience (resource indicator) tokens are issued for. */
  readonly audience: string;
  /** The path the sidecar serves MCP on (that of auth.publicUrl). */
  readonly path: string;
}

/**
 * Reads the YAML files of `dir` (not its subdirectories, like the sidecar) with the API's runtime
 * schemas, and picks the one McpServer the demo serves.
 */
export function readServedServer(dir: string): ServedServer {
  let names: string[];
  try {
    names = readdirSync(dir)
      .filter((name) => ['.yaml', '.yml'].includes(extname(name)))
      .sort();
  } catch (error) {
    throw new StackError('invalid_policy_dir', `cannot read ${dir}: ${(error as Error).message}`);
  }
  const parsed = parsePolicyObjects(
    names.map((name) => ({ name, text: readFileSync(join(dir, name), 'utf8') })),
  );
  if (!parsed.ok) throw new StackError('invalid_policy_dir', `${dir}:\n  ${parsed.errors.join('\n  ')}`);
  const { servers } = parsed.objects;
  const [server] = servers;
  if (servers.length !== 1 || server === undefined) {
    throw new StackError(
      'invalid_policy_dir',
      `${dir} holds ${servers.length} McpServers; the demo stack serves exactly one (with its ToolPolicies)`,
    );
  }
  const { auth } = server.spec;
  return {
    namespace: server.metadata.namespace ?? 'default',
    name: server.metadata.name,
    issuer: auth.issuer,
    audience: auth.audience ?? auth.publicUrl,
    path: new URL(auth.publicUrl).pathname,
  };
}
