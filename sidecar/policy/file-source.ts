import { createHash } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { compile, targets } from '../../policy/compile.ts';
import { loadBundle } from '../../policy/load.ts';
import { enginesNeeded, loadMissingEngines, policyEngines, type PolicyEngines } from './engines.ts';
import type { PolicyHolder } from './policy-holder.ts';
import { parsePolicyObjects } from './objects.ts';
import { watchPaths } from './watch-paths.ts';

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
  /**
   * Re-read at least this often, to confirm freshness: a safety net for missed watch events (file
   * systems without them, such as some network mounts), not the way changes normally arrive. Default 2 s.
   */
  readonly pollIntervalMs?: number;
  /** How long a watch event waits for the rest of its burst (editors write in several steps). Default 10 ms. */
  readonly debounceMs?: number;
  readonly onError?: (message: string) => void;
  readonly onLoad?: (hash: string) => void;
  /** Tests: where CEL and Ajv come from (default: imported when a policy first needs them). */
  readonly engines?: PolicyEngines;
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
  const engines = options.engines ?? policyEngines;
  const report = (message: string) => {
    holder.fail(message);
    options.onError?.(message);
  };

  // The content of the files at the last good load. Compared by content, not by mtime and size: a
  // rewrite within the same millisecond, or a rename of a file with an older mtime over the current one,
  // changes neither. Reading a few small files is cheap; parsing and compiling them is what we skip.
  let lastGoodDigest = '';

  async function reload(): Promise<void> {
    watcher.rearm();
    let files: { name: string; text: string }[];
    try {
      const paths = (await Promise.all(options.paths.map(yamlFiles))).flat();
      files = await Promise.all(paths.map(async (name) => ({ name, text: await readFile(name, 'utf8') })));
    } catch (error) {
      return report(`cannot read policy files: ${(error as Error).message}`);
    }
    const digest = contentDigest(files);
    if (digest === lastGoodDigest && holder.current !== undefined) return holder.confirm();
    const parsed = parsePolicyObjects(files);
    if (!parsed.ok) return report(`invalid policy objects: ${parsed.errors.join(' | ')}`);
    const server = selectServer(parsed.objects.servers, options.server);
    if (typeof server === 'string' || server === undefined) return report(server ?? 'no McpServer');
    // CEL and Ajv are imported the first time a policy needs them (engines.ts).
    const targeting = parsed.objects.policies.filter((policy) => targets(policy, server));
    const needed = enginesNeeded(
      targeting.map((policy) => policy.spec),
      server.spec,
    );
    try {
      await loadMissingEngines(needed, engines);
    } catch (error) {
      return report((error as Error).message);
    }
    const result = compile({
      server,
      policies: parsed.objects.policies,
      namespaceAnnotations: parsed.objects.namespaces.get(server.metadata.namespace ?? 'default'),
      conditions: engines.conditions.value,
    });
    if (!result.ok) {
      return report(
        `policy does not compile: ${result.errors.map((e) => `${e.policy} ${e.field}: ${e.message}`).join(' | ')}`,
      );
    }
    lastGoodDigest = digest;
    if (holder.current?.hash === result.bundle.hash) return holder.confirm();
    holder.install(loadBundle(result.bundle, engines.conditions.value));
    options.onLoad?.(result.bundle.hash);
  }

  // Coalesce a burst of watch events into one read. The first event arms the timer and later ones ride
  // on it, so a steady stream of events cannot postpone the read forever; an event that arrives after
  // the timer fired arms it again, so the last write is always followed by a read.
  const debounceMs = options.debounceMs ?? 10;
  let timer: NodeJS.Timeout | undefined;
  let running = Promise.resolve();
  const schedule = () => {
    if (timer !== undefined) return;
    timer = setTimeout(() => {
      timer = undefined;
      running = running.then(reload);
    }, debounceMs);
  };
  const watcher = watchPaths(options.paths, schedule, (message) => options.onError?.(message));

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
      watcher.close();
    },
  };
}

function contentDigest(files: readonly { name: string; text: string }[]): string {
  const hash = createHash('sha256');
  for (const { name, text } of files) hash.update(`${name}\0${text.length}\0${text}\0`);
  return hash.digest('hex');
}
