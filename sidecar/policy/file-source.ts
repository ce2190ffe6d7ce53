import { watch, type FSWatcher } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { compile } from '../../policy/compile.ts';
import { loadBundle } from '../../policy/load.ts';
import type { PolicyHolder } from './policy-holder.ts';
import { parsePolicyObjects } from './objects.ts';

/**
 * Policy from YAML files (dev and file mode): the same objects one would `kubectl apply`, compiled by
 * the shared compiler and hot-reloaded. A bad edit keeps the last good policy and is reported; with no
 * good policy ever, the holder refuses every call.
 */
export interface FileSourceOptions {
  /** Files or directories (*.yaml, *.yml). */
  readonly paths: readonly string[];
  /** `namespace/name` or `name` of the McpServer to serve; optional when the files hold exactly one. */
  readonly server?: string;
  readonly holder: PolicyHolder;
  /** Re-read at least this often, to confirm freshness and catch missed watch events. */
  readonly pollIntervalMs?: number;
  readonly onError?: (message: string) => void;
  readonly onLoad?: (hash: string) => void;
}

export interface PolicySource {
  /** Resolves after the first load attempt, good or bad. */
  readonly ready: Promise<void>;
  reload(): Promise<void>;
  stop(): void;
}

async function yamlFiles(path: string): Promise<string[]> {
  if (!(await stat(path)).isDirectory()) return [path];
  const names = await readdir(path);
  return names
    .filter((n) => ['.yaml', '.yml'].includes(extname(n)))
    .sort()
    .map((n) => join(path, n));
}

function selectServer<T extends { metadata: { name: string; namespace?: string } }>(
  servers: T[],
  wanted?: string,
) {
  if (wanted === undefined) {
    return servers.length === 1
      ? servers[0]
      : `expected exactly one McpServer in the files, found ${servers.length}; pass --server`;
  }
  const [namespace, name] = wanted.includes('/') ? wanted.split('/', 2) : [undefined, wanted];
  const matches = servers.filter(
    (s) => s.metadata.name === name && (namespace === undefined || s.metadata.namespace === namespace),
  );
  return matches.length === 1
    ? matches[0]
    : `McpServer ${wanted} ${matches.length === 0 ? 'not found' : 'is ambiguous; use namespace/name'}`;
}

export function startFileSource(options: FileSourceOptions): PolicySource {
  const { holder } = options;
  const report = (message: string) => {
    holder.fail(message);
    options.onError?.(message);
  };

  // What the files looked like at the last full read. Polling compares this first, so an unchanged
  // policy costs a few stat calls, not a YAML parse and a compile on the sidecar's event loop.
  let lastFingerprint = '';

  async function reload(): Promise<void> {
    let files: { name: string; text: string }[];
    try {
      const paths = (await Promise.all(options.paths.map(yamlFiles))).flat();
      const stats = await Promise.all(paths.map((name) => stat(name)));
      const fingerprint = paths.map((name, i) => `${name}:${stats[i]!.mtimeMs}:${stats[i]!.size}`).join('|');
      if (
        fingerprint === lastFingerprint &&
        holder.current !== undefined &&
        holder.status().lastError === undefined
      ) {
        return holder.confirm();
      }
      files = await Promise.all(paths.map(async (name) => ({ name, text: await readFile(name, 'utf8') })));
      lastFingerprint = fingerprint;
    } catch (error) {
      return report(`cannot read policy files: ${(error as Error).message}`);
    }
    const parsed = parsePolicyObjects(files);
    if (!parsed.ok) return report(`invalid policy objects: ${parsed.errors.join(' | ')}`);
    const server = selectServer(parsed.objects.servers, options.server);
    if (typeof server === 'string' || server === undefined) return report(server ?? 'no McpServer');
    const result = compile({
      server,
      policies: parsed.objects.policies,
      namespaceAnnotations: parsed.objects.namespaces.get(server.metadata.namespace ?? 'default'),
    });
    if (!result.ok) {
      return report(
        `policy does not compile: ${result.errors.map((e) => `${e.policy} ${e.field}: ${e.message}`).join(' | ')}`,
      );
    }
    if (holder.current?.hash === result.bundle.hash) return holder.confirm();
    holder.install(loadBundle(result.bundle));
    options.onLoad?.(result.bundle.hash);
  }

  // Coalesce bursts of watch events (editors write in several steps) into one reload.
  let timer: NodeJS.Timeout | undefined;
  let running = Promise.resolve();
  const schedule = () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      running = running.then(reload);
    }, 25);
  };

  const watchers: FSWatcher[] = [];
  for (const path of options.paths) {
    try {
      watchers.push(watch(path, schedule));
    } catch (error) {
      options.onError?.(`cannot watch ${path}: ${(error as Error).message}; relying on polling`);
    }
  }
  const poll = setInterval(() => {
    running = running.then(reload);
  }, options.pollIntervalMs ?? 2000);
  poll.unref();

  running = reload();
  return {
    ready: running,
    reload: () => (running = running.then(reload)),
    stop() {
      clearTimeout(timer);
      clearInterval(poll);
      for (const w of watchers) w.close();
    },
  };
}
