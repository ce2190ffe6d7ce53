import { readdir, readFile, stat } from 'node:fs/promises';
import { extname, join } from 'node:path';
import type { McpServer } from '../../api/v1alpha1/resources.ts';
import type { Bundle } from '../../policy/bundle.ts';
import { cel } from '../../policy/cel.ts';
import { compile } from '../../policy/compile.ts';
import { parsePolicyObjects, type PolicyObjects } from '../../sidecar/policy/objects.ts';
import { usageError } from '../errors.ts';

/**
 * The policy a server would get, from the same YAML one would `kubectl apply` (McpServers, ToolPolicies,
 * Namespaces), read and compiled exactly as the sidecar's file source and the operator do: the same
 * object parser, the same compiler. Offline; every problem is a usage CliError (exit 2) naming the file.
 */
export const MAX_POLICY_FILE_BYTES = 8 * 1024 * 1024;
export const MAX_POLICY_FILES = 1000;
const EXTENSIONS = ['.yaml', '.yml', '.json'];

export interface CompiledServer {
  readonly server: McpServer;
  readonly bundle: Bundle;
  readonly objects: PolicyObjects;
}

/** Files as given, and the *.yaml, *.yml and *.json directly in a directory given (as kubectl -f DIR). */
export async function policyFiles(paths: readonly string[]): Promise<string[]> {
  const files: string[] = [];
  for (const path of paths) {
    let info;
    try {
      info = await stat(path);
    } catch (error) {
      throw usageError(
        `-f ${path}: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or directory' : (error as Error).message}`,
      );
    }
    if (!info.isDirectory()) {
      files.push(path);
      continue;
    }
    const names = (await readdir(path)).filter((name) => EXTENSIONS.includes(extname(name))).sort();
    if (names.length === 0) throw usageError(`-f ${path}: no *.yaml, *.yml or *.json files in the directory`);
    files.push(...names.map((name) => join(path, name)));
  }
  if (files.length > MAX_POLICY_FILES) throw usageError(`more than ${MAX_POLICY_FILES} policy files`);
  return files;
}

/** A file's text, refused before reading when it is larger than `max` bytes. */
export async function readTextFile(file: string, max: number): Promise<string> {
  let size: number;
  try {
    size = (await stat(file)).size;
  } catch (error) {
    throw usageError(`cannot read ${file}: ${(error as Error).message}`);
  }
  if (size > max) throw usageError(`${file}: larger than ${max / 1024 / 1024} MiB`);
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    throw usageError(`cannot read ${file}: ${(error as Error).message}`);
  }
}

/** `finance/billing` or `billing`: the one McpServer of the files to evaluate. */
export function selectServer(servers: readonly McpServer[], wanted: string | undefined): McpServer {
  const names = servers.map((s) => `${s.metadata.namespace ?? 'default'}/${s.metadata.name}`);
  if (wanted === undefined) {
    if (servers.length === 1) return servers[0]!;
    throw usageError(
      servers.length === 0
        ? 'the files hold no McpServer: pass the McpServer manifest too (-f server.yaml)'
        : `the files hold ${servers.length} McpServers (${names.join(', ')}): pick one with --server NAMESPACE/NAME`,
    );
  }
  const [namespace, name] = wanted.includes('/') ? wanted.split('/', 2) : [undefined, wanted];
  const matches = servers.filter(
    (s) => s.metadata.name === name && (namespace === undefined || s.metadata.namespace === namespace),
  );
  if (matches.length === 1) return matches[0]!;
  throw usageError(
    matches.length === 0
      ? `--server ${wanted}: no such McpServer in the files (found: ${names.join(', ') || 'none'})`
      : `--server ${wanted} is ambiguous (${names.filter((n) => n.endsWith(`/${wanted}`)).join(', ')}): use NAMESPACE/NAME`,
  );
}

/** Reads, validates and compiles; the bundle is what the operator would publish for the server. */
export async function compileFromFiles(
  paths: readonly string[],
  wanted: string | undefined,
): Promise<CompiledServer> {
  const files = await policyFiles(paths);
  const texts = await Promise.all(
    files.map(async (name) => ({ name, text: await readTextFile(name, MAX_POLICY_FILE_BYTES) })),
  );
  const parsed = parsePolicyObjects(texts);
  if (!parsed.ok) {
    throw usageError(`invalid policy objects:\n  ${parsed.errors.join('\n  ')}`);
  }
  const server = selectServer(parsed.objects.servers, wanted);
  const result = compile({
    server,
    policies: parsed.objects.policies,
    namespaceAnnotations: parsed.objects.namespaces.get(server.metadata.namespace ?? 'default'),
    conditions: cel,
  });
  if (!result.ok) {
    throw usageError(
      `the policy of McpServer ${server.metadata.namespace}/${server.metadata.name} does not compile:\n  ${result.errors
        .map((e) => `ToolPolicy ${e.policy} ${e.field}: ${e.message}`)
        .join('\n  ')}`,
    );
  }
  return { server, bundle: result.bundle, objects: parsed.objects };
}
