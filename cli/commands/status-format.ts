import type { McpServerStatus } from '../../api/v1alpha1/mcpserver.ts';
import { renderTable, type TableColumn } from '../table.ts';
import { age } from './age.ts';
import { killedCell, killedSinceCell, killReasonCell, lastReleaseCell } from './status-kill.ts';

export { killedCell } from './status-kill.ts';
export { age } from './age.ts';

/**
 * The McpServer fields status reads. Objects come from the API server unvalidated (another operator
 * version may have written them), so every field is optional here and every cell copes without it.
 */
export interface ServerObject {
  readonly metadata: {
    readonly name: string;
    readonly namespace?: string;
    readonly creationTimestamp?: string;
    readonly annotations?: Record<string, string>;
  };
  readonly status?: Partial<McpServerStatus>;
}

type Condition = NonNullable<McpServerStatus['conditions']>[number];

function condition(server: ServerObject, type: string): Condition | undefined {
  return server.status?.conditions?.find((c) => c.type === type);
}

/** The hex digits of a sha256:… hash, shortened as git shortens commits. */
export function shortHash(hash: string | undefined): string | undefined {
  if (hash === undefined) return undefined;
  return hash.replace(/^sha256:/, '').slice(0, 12);
}

/** The hashes the sidecars serve with how many serve each; "!" marks one that is not the compiled policy. */
export function servedCell(server: ServerObject): string | undefined {
  const served = server.status?.servedPolicyHashes ?? [];
  if (served.length === 0) return undefined;
  const compiled = server.status?.policyHash;
  // The compiled bundle first: the reader's question is whether anything else is still served.
  return [...served]
    .sort((a, b) => Number(b.hash === compiled) - Number(a.hash === compiled))
    .map((entry) => `${shortHash(entry.hash)}(${entry.sidecars})${entry.hash === compiled ? '' : '!'}`)
    .join(' ');
}

/** Whether some sidecar serves a policy other than the compiled one. */
export function servesStalePolicy(server: ServerObject): boolean {
  const compiled = server.status?.policyHash;
  return (server.status?.servedPolicyHashes ?? []).some((entry) => entry.hash !== compiled);
}

export function driftCell(server: ServerObject): string | undefined {
  const drift = condition(server, 'ToolDrift');
  if (drift === undefined) return undefined;
  if (drift.status !== 'True') return drift.status === 'False' ? 'no' : 'unknown';
  const tools = (server.status?.observedTools ?? []).filter(
    (tool) => tool.state === 'Drifted' || tool.state === 'Quarantined',
  );
  return tools.length === 0 ? 'yes' : `yes(${tools.map((tool) => tool.name).join(',')})`;
}

/**
 * Tools served of those published ("2/3"), from status.servedTools; "!" when none is served because
 * tools are quarantined (ToolsServed False, not a kill switch): the server answers but offers nothing.
 */
export function toolsCell(server: ServerObject): string | undefined {
  const served = server.status?.servedTools;
  if (served === undefined) return undefined;
  const published = server.status?.observedTools?.length ?? 0;
  const reason = condition(server, 'ToolsServed')?.reason;
  const quarantined = reason === 'AllToolsQuarantined' || reason === 'NoToolsServed';
  return `${served}/${published}${quarantined ? '!' : ''}`;
}

export function readyCell(server: ServerObject): string {
  return condition(server, 'Ready')?.status ?? 'Unknown';
}

export function isReady(server: ServerObject): boolean {
  return condition(server, 'Ready')?.status === 'True';
}

/** Why a server is not Ready, else the kill reason: what the reader of -o wide wants next. */
function notReadyReason(server: ServerObject): string | undefined {
  const ready = condition(server, 'Ready');
  if (ready === undefined) return 'no status yet (is the operator running?)';
  return ready.status === 'True' ? undefined : `${ready.reason}: ${ready.message}`;
}

export function statusColumns(wide: boolean, nowMs: number): TableColumn<ServerObject>[] {
  const columns: TableColumn<ServerObject>[] = [
    { header: 'NAMESPACE', cap: 32, cell: (s) => s.metadata.namespace },
    { header: 'NAME', cap: 50, cell: (s) => s.metadata.name },
    { header: 'READY', cap: 7, cell: readyCell },
    { header: 'KILLED', cap: wide ? 80 : 32, cell: killedCell },
    { header: 'TOOLS', cap: 9, cell: toolsCell },
    { header: 'POLICY', cap: 12, cell: (s) => shortHash(s.status?.policyHash) },
    { header: 'SERVED', cap: wide ? 80 : 36, cell: servedCell },
    { header: 'DRIFT', cap: wide ? 80 : 24, cell: driftCell },
    { header: 'ENDPOINT', cap: wide ? 120 : 48, cell: (s) => s.status?.endpoint },
    { header: 'AGE', cap: 5, cell: (s) => age(s.metadata.creationTimestamp, nowMs) },
  ];
  if (!wide) return columns;
  return [
    ...columns,
    {
      header: 'REPLICAS',
      cap: 9,
      cell: (s) =>
        s.status?.replicas === undefined ? undefined : `${s.status.readyReplicas ?? 0}/${s.status.replicas}`,
    },
    { header: 'KILLED SINCE', cap: 12, cell: (s) => killedSinceCell(s, nowMs) },
    { header: 'KILL REASON', cap: 60, cell: killReasonCell },
    { header: 'LAST RELEASE', cap: 60, cell: (s) => lastReleaseCell(s, nowMs) },
    { header: 'NOT READY BECAUSE', cap: 80, cell: notReadyReason },
  ];
}

export function renderStatusTable(servers: readonly ServerObject[], wide: boolean, nowMs: number): string {
  return renderTable(statusColumns(wide, nowMs), servers);
}
