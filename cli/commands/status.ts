import { stringify } from 'yaml';
import { EXIT, type CliIo } from '../io.ts';
import { exitCodeOf } from '../errors.ts';
import { apiFailure, kubeApi, MCP_SERVERS, type KubeApi, type ObjectRef } from '../kube-api.ts';
import { contextNamespace, loadKubeconfig } from '../kubeconfig.ts';
import { parseStatusArgs, STATUS_HELP, type StatusOptions } from './status-flags.ts';
import { isReady, renderStatusTable, type ServerObject } from './status-format.ts';

export { STATUS_HELP } from './status-flags.ts';

export interface StatusDeps {
  readonly api: typeof kubeApi;
  readonly now: () => number;
}

const defaultDeps: StatusDeps = { api: kubeApi, now: () => Date.now() };

/** `portcullis status [NAME]`: McpServers with readiness, kill switches, policy served, drift. */
export function runStatus(args: readonly string[], io: CliIo, deps = defaultDeps): Promise<number> {
  return exitCodeOf('status', io.err, async () => {
    const options = parseStatusArgs(args);
    if (options === 'help') {
      io.out(STATUS_HELP);
      return EXIT.ok;
    }
    const kube = loadKubeconfig(options.kubeconfig, io.env);
    const namespace =
      options.namespace.kind === 'all'
        ? undefined
        : options.namespace.kind === 'named'
          ? options.namespace.name
          : (contextNamespace(kube) ?? 'default');
    const servers = await fetchServers(deps.api(kube), options, namespace);
    print(servers, options, io, deps.now());
    if (servers.length === 0 && (options.output === 'table' || options.output === 'wide')) {
      io.err(
        `No McpServers found ${namespace === undefined ? 'in any namespace' : `in namespace ${namespace}`}.\n`,
      );
    }
    const unready = servers.filter((server) => !isReady(server));
    if (options.failUnready && unready.length > 0) {
      io.err(
        `portcullis status: ${unready.length} of ${servers.length} not Ready: ${unready.map((s) => `${s.metadata.namespace}/${s.metadata.name}`).join(', ')}\n`,
      );
      return EXIT.failure;
    }
    return EXIT.ok;
  });
}

async function fetchServers(
  api: KubeApi,
  options: StatusOptions,
  namespace: string | undefined,
): Promise<ServerObject[]> {
  const ref: ObjectRef = {
    kind: MCP_SERVERS,
    ...(options.name === undefined ? {} : { name: options.name }),
    ...(namespace === undefined ? {} : { namespace }),
  };
  try {
    if (options.name !== undefined) return [(await api.get(ref)) as ServerObject];
    const list = (await api.get(ref)) as { items?: ServerObject[] };
    return [...(list.items ?? [])].sort(
      (a, b) =>
        (a.metadata.namespace ?? '').localeCompare(b.metadata.namespace ?? '') ||
        a.metadata.name.localeCompare(b.metadata.name),
    );
  } catch (error) {
    throw apiFailure(error, ref, options.name === undefined ? 'list' : 'get');
  }
}

function print(servers: ServerObject[], options: StatusOptions, io: CliIo, nowMs: number): void {
  if (options.output === 'table' || options.output === 'wide') {
    io.out(renderStatusTable(servers, options.output === 'wide', nowMs));
    return;
  }
  const data = options.name !== undefined ? servers[0] : { apiVersion: 'v1', kind: 'List', items: servers };
  io.out(options.output === 'json' ? `${JSON.stringify(data, null, 2)}\n` : stringify(data));
}
