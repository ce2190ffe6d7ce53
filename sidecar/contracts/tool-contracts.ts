import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { LoadedPolicy } from '../../policy/load.ts';
import { quantityToBytes } from '../../policy/quantity.ts';
import type { AuditEvent } from '../audit/event.ts';
import type { Upstream } from '../transports/upstream.ts';
import { createContractMetrics, type ContractMetrics } from './contract-metrics.ts';
import { fetchToolList } from './fetch-tool-list.ts';
import {
  digestListed,
  ObservedTools,
  type ListedTool,
  type ObservedTool,
  type PinningMode,
  type Transition,
} from './observed-tools.ts';
import { pinningMode } from './pinning-mode.ts';
import { SchemaValidators } from './schema-validators.ts';

/**
 * Tool contracts for one sidecar: the observed-tools table, how fresh it is, the sidecar's own reads of
 * the tool list, and the audit and metrics of every change. The request path asks three things of it —
 * is this table current (`fresh`), what is this tool (`get`, a map lookup), and may this list be shown
 * (`filterList`) — and tells it when the upstream says its list changed (`listChanged`).
 *
 * Freshness: the table is current when a complete list was observed after the last
 * notifications/tools/list_changed that passed through the sidecar. A list reply to a request sent before
 * that notification may describe the old tools: it is still filtered, but it does not update the table.
 */
export interface ToolContractsOptions {
  readonly upstream: Upstream;
  readonly registry: Registry;
  readonly log: Logger;
  readonly clock: () => number;
  readonly audit: (event: AuditEvent) => void;
  /** Deadline of one read of the tool list (default 5 s). */
  readonly fetchTimeoutMs?: number;
  /** After a failed read, calls are refused at once for this long instead of reading again (default 1 s). */
  readonly retryAfterMs?: number;
}

export interface ContractsSnapshot {
  readonly mode: PinningMode;
  readonly fresh: boolean;
  readonly policyHash?: string;
  readonly lastError?: string;
  readonly tools: readonly {
    readonly name: string;
    readonly digest: string;
    readonly state: ObservedTool['state'];
    readonly pinnedDigest?: string;
    readonly problem?: string;
    readonly detail?: string;
    readonly schemaVersion?: string;
    readonly firstSeen: string;
    readonly lastSeen: string;
    readonly changedAt: string;
  }[];
  /** Pinned names the server does not publish. */
  readonly missingPins: readonly string[];
}

const DEFAULT_MAX_LIST_BYTES = 10 * 1024 * 1024;

export class ToolContracts {
  readonly validators = new SchemaValidators();
  readonly table = new ObservedTools(this.validators);
  readonly metrics: ContractMetrics;
  readonly #options: ToolContractsOptions;
  #policy: LoadedPolicy | undefined;
  /** Bumped by every notifications/tools/list_changed. */
  #generation = 0;
  /** The generation at which a complete list was last observed. */
  #freshAt = -1;
  #fetching: Promise<void> | undefined;
  /** The list changed while a read was running: read again when it ends. */
  #again = false;
  #lastFailure: { readonly at: number; readonly message: string } | undefined;
  /** Generation at which each in-flight tools/list request was sent. */
  readonly #listRequests = new WeakMap<object, number>();
  #closed = false;

  constructor(options: ToolContractsOptions) {
    this.#options = options;
    this.metrics = createContractMetrics(options.registry);
  }

  get mode(): PinningMode {
    return this.table.mode;
  }

  get fresh(): boolean {
    return this.#freshAt === this.#generation;
  }

  get lastFailure(): string | undefined {
    return this.#lastFailure?.message;
  }

  /** A new policy: mode and pins from spec.tools; every observed tool is judged again. */
  setPolicy(policy: LoadedPolicy): void {
    this.#policy = policy;
    const tools = policy.bundle.spec.tools;
    const pins = new Map((tools?.pins ?? []).map((pin) => [pin.name, pin.digest] as const));
    const mode = pinningMode(tools);
    const wasOff = this.table.mode === 'Disabled';
    this.#report(this.table.configure(mode, pins, this.#options.clock()), undefined);
    if (mode === 'Disabled') {
      this.#freshAt = -1;
      return;
    }
    // Learn the tools now, so status and the first call do not wait for a client to list them.
    if (wasOff && !this.fresh) void this.refresh();
  }

  /** The upstream said its tools changed: nothing observed so far is current any more. */
  listChanged(): void {
    if (this.table.mode === 'Disabled') return;
    this.#generation++;
    if (this.#fetching !== undefined) this.#again = true;
    else this.refreshInBackground();
  }

  /** Remembers when a tools/list request went upstream (see freshness above). */
  noteListRequest(request: object): void {
    this.#listRequests.set(request, this.#generation);
  }

  get(name: string): ObservedTool | undefined {
    return this.table.get(name);
  }

  /**
   * Observes a tools/list reply and returns the tools a client may see. Under Enforce that is only a
   * tool whose listed definition is the pinned one and whose table entry says so too; anything else is
   * quarantined (on first sight, and whenever the list changes). Record and Disabled show everything.
   */
  filterList(
    tools: readonly unknown[],
    options: { readonly complete: boolean; readonly request: object; readonly requestId: string },
  ): readonly unknown[] {
    if (this.table.mode === 'Disabled') return tools;
    const listed = digestListed(tools);
    const sent = this.#listRequests.get(options.request);
    if (sent !== undefined && sent === this.#generation) {
      this.#report(this.table.observe(listed, options.complete, this.#options.clock()), options.requestId);
      if (options.complete) this.#freshAt = sent;
    }
    if (this.table.mode !== 'Enforce') return tools;
    return tools.filter((_tool, index) => this.#shown(listed[index]));
  }

  #shown(item: ListedTool | undefined): boolean {
    if (item === undefined) return false;
    const entry = this.table.get(item.definition.name);
    return entry !== undefined && entry.digest === item.digest && entry.state === 'Pinned';
  }

  /**
   * Makes the table current if it is not: at most two reads of the list (a read already running when
   * the list changed again does not count as current), none while a recent read failed.
   */
  async ensureFresh(): Promise<boolean> {
    for (let attempt = 0; attempt < 2 && !this.fresh && !this.#closed; attempt++) {
      const failure = this.#lastFailure;
      if (
        failure !== undefined &&
        this.#fetching === undefined &&
        this.#options.clock() - failure.at < (this.#options.retryAfterMs ?? 1000)
      )
        break;
      await this.refresh();
    }
    return this.fresh;
  }

  /** Starts a read unless one runs or one failed moments ago (Record: report, never wait). */
  refreshInBackground(): void {
    const failure = this.#lastFailure;
    if (failure !== undefined && this.#options.clock() - failure.at < (this.#options.retryAfterMs ?? 1000))
      return;
    void this.refresh();
  }

  /** Reads the whole list over a session of the sidecar's own; concurrent callers share one read. */
  refresh(): Promise<void> {
    this.#fetching ??= this.#fetch().finally(() => {
      this.#fetching = undefined;
      if (this.#again && !this.#closed) {
        this.#again = false;
        this.refreshInBackground();
      }
    });
    return this.#fetching;
  }

  async #fetch(): Promise<void> {
    const generation = this.#generation;
    const requestId = `portcullis-contracts-${randomUUID()}`;
    try {
      const tools = await fetchToolList(this.#options.upstream, {
        timeoutMs: this.#options.fetchTimeoutMs ?? 5000,
        maxBytes: quantityToBytes(this.#policy?.bundle.spec.limits.maxResponseSize) ?? DEFAULT_MAX_LIST_BYTES,
      });
      this.metrics.listFetches.inc({ result: 'ok' });
      this.#lastFailure = undefined;
      if (this.#closed || this.table.mode === 'Disabled' || generation !== this.#generation) return;
      this.#report(this.table.observe(digestListed(tools), true, this.#options.clock()), requestId);
      this.#freshAt = generation;
    } catch (error) {
      this.metrics.listFetches.inc({ result: 'error' });
      const message = (error as Error).message;
      this.#lastFailure = { at: this.#options.clock(), message };
      if (!this.#closed)
        this.#options.log.warn({ error: message }, 'cannot read the tool list of the server');
    }
  }

  snapshot(): ContractsSnapshot {
    const iso = (ms: number) => new Date(ms).toISOString();
    return {
      mode: this.table.mode,
      fresh: this.fresh,
      ...(this.#policy ? { policyHash: this.#policy.hash } : {}),
      ...(this.#lastFailure ? { lastError: this.#lastFailure.message } : {}),
      tools: this.table.entries().map((tool) => ({
        name: tool.name,
        digest: tool.digest,
        state: tool.state,
        ...(tool.pinnedDigest !== undefined ? { pinnedDigest: tool.pinnedDigest } : {}),
        ...(tool.problem !== undefined ? { problem: tool.problem, detail: tool.problemDetail } : {}),
        ...(tool.schemaVersion !== undefined ? { schemaVersion: tool.schemaVersion } : {}),
        firstSeen: iso(tool.firstSeen),
        lastSeen: iso(tool.lastSeen),
        changedAt: iso(tool.changedAt),
      })),
      missingPins: this.table.mode === 'Disabled' ? [] : this.table.missingPins(),
    };
  }

  close(): void {
    this.#closed = true;
  }

  /** Audits and counts each change; the gauges follow the table. */
  #report(transitions: readonly Transition[], requestId: string | undefined): void {
    this.metrics.update(this.table);
    if (transitions.length === 0) return;
    const server = this.#policy?.bundle.server ?? { namespace: '', name: '' };
    const time = new Date(this.#options.clock()).toISOString();
    for (const transition of transitions) {
      const { current, previous } = transition;
      const kind = current === undefined ? 'removed' : (current.problem ?? current.pin);
      if (kind !== 'pinned') this.metrics.driftEvents.inc({ kind });
      const event: AuditEvent = {
        schema: 'portcullis.dev/audit/v1',
        id: randomUUID(),
        kind: 'tool_contract',
        time,
        requestId: requestId ?? `portcullis-contracts-${randomUUID()}`,
        server: { namespace: server.namespace, name: server.name },
        method: 'tools/list',
        tool: transition.name,
        decision: current?.state === 'Quarantined' ? 'quarantined' : 'allowed',
        code: `tool_${kind}`,
        reason: describeTransition(transition, this.table.mode),
        ...(this.#policy ? { policyHash: this.#policy.hash } : {}),
        toolDigest: (current ?? previous)!.digest,
        latencyMs: 0,
      };
      this.#options.audit(event);
      if (current?.state === 'Quarantined' || (current && current.pin === 'drifted'))
        this.#options.log.warn(
          {
            tool: transition.name,
            digest: current.digest,
            pinned: current.pinnedDigest,
            state: current.state,
          },
          'tool definition does not match its pin',
        );
    }
  }
}

export function describeTransition(transition: Transition, mode: PinningMode): string {
  const { current, previous, name } = transition;
  if (current === undefined) return `tool ${name} is no longer published (last digest ${previous!.digest})`;
  const was =
    previous === undefined
      ? 'first seen'
      : previous.digest !== current.digest
        ? `changed from ${previous.digest}`
        : `was ${previous.state}`;
  const why =
    current.problem === 'ambiguous' || current.problem === 'invalid_schema'
      ? current.problemDetail!
      : current.pin === 'pinned'
        ? 'matches its pin'
        : current.pin === 'drifted'
          ? `differs from the pinned ${current.pinnedDigest}`
          : 'has no pin';
  const effect =
    current.state === 'Quarantined'
      ? '; quarantined: hidden from tools/list and refused'
      : mode === 'Record' && current.state !== 'Pinned'
        ? '; recorded only (pinning Record)'
        : '';
  return `tool ${name} ${was}: digest ${current.digest} ${why}${effect}`;
}
