import { readFile } from 'node:fs/promises';
import type { KubeClient } from '../../kube/client.ts';
import type { SidecarReport } from '../status/fleet.ts';

/**
 * The sidecars' own reports (policy hash served, tools observed), read from the audit collector's
 * `GET /v1/sidecars` every few seconds. A server whose reports changed is handed to `onChange` so its
 * status is recomputed; reports that did not change cost nothing. The operator authenticates as itself:
 * its token must be allowed `get` on `mcpservers/audit` cluster-wide, or, when it watches a list of
 * namespaces, in each of them (it then asks once per namespace).
 */
export interface SidecarReportsOptions {
  readonly collectorUrl: string;
  /** Whose token to show the collector (the operator's own). */
  readonly client: KubeClient;
  /** Ask only about these namespaces (one request each); all when undefined. */
  readonly namespaces?: readonly string[];
  /** A file holding the bearer token to use instead of the kubeconfig's (re-read on every poll). */
  readonly tokenFile?: string;
  readonly intervalMs?: number;
  readonly onChange: (serverKey: string) => void;
  readonly log?: { error(o: object, m: string): void };
}

interface CollectorSidecar extends SidecarReport {
  readonly namespace: string;
  readonly server: string;
}

export class SidecarReports {
  readonly #options: SidecarReportsOptions;
  #byServer = new Map<string, SidecarReport[]>();
  #polledOnce = false;
  #fingerprints = new Map<string, string>();
  #timer: NodeJS.Timeout | undefined;
  #lastErrorLog = 0;

  constructor(options: SidecarReportsOptions) {
    this.#options = options;
  }

  /** Reports of the server `namespace/name`; undefined until the collector has answered once. */
  get(key: string): readonly SidecarReport[] | undefined {
    return this.#polledOnce ? (this.#byServer.get(key) ?? []) : undefined;
  }

  start(): void {
    const tick = async () => {
      await this.poll().catch((error: unknown) => this.#report(error));
      if (this.#timer !== undefined) this.#timer = setTimeout(tick, this.#options.intervalMs ?? 10_000);
    };
    this.#timer = setTimeout(tick, 0);
  }

  stop(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  async poll(): Promise<void> {
    const authorization = await this.#authorization();
    const scopes = this.#options.namespaces ?? [undefined];
    const sidecars: CollectorSidecar[] = [];
    for (const namespace of scopes) sidecars.push(...(await this.#read(authorization, namespace)));
    const byServer = new Map<string, SidecarReport[]>();
    for (const s of sidecars) {
      const key = `${s.namespace}/${s.server}`;
      const list = byServer.get(key) ?? [];
      list.push({
        sidecar: s.sidecar,
        ...(s.pod ? { pod: s.pod } : {}),
        ...(s.lastHeartbeat ? { lastHeartbeat: s.lastHeartbeat } : {}),
        ...(s.policyHash ? { policyHash: s.policyHash } : {}),
        ...(s.tools ? { tools: s.tools } : {}),
      });
      byServer.set(key, list);
    }
    const changed = new Set([...this.#byServer.keys(), ...byServer.keys()]);
    this.#byServer = byServer;
    this.#polledOnce = true;
    for (const key of changed) {
      const fingerprint = JSON.stringify(byServer.get(key) ?? []);
      if (this.#fingerprints.get(key) === fingerprint) continue;
      this.#fingerprints.set(key, fingerprint);
      this.#options.onChange(key);
    }
  }

  async #read(authorization: string, namespace: string | undefined): Promise<CollectorSidecar[]> {
    const url = new URL('/v1/sidecars', this.#options.collectorUrl);
    if (namespace !== undefined) url.searchParams.set('namespace', namespace);
    const response = await fetch(url, {
      headers: { authorization },
      signal: AbortSignal.timeout(10_000),
    });
    const text = await response.text();
    if (response.status !== 200)
      throw new Error(`the collector answered ${response.status}: ${text.slice(0, 300)}`);
    return (JSON.parse(text) as { sidecars: CollectorSidecar[] }).sidecars;
  }

  async #authorization(): Promise<string> {
    if (this.#options.tokenFile) return `Bearer ${(await readFile(this.#options.tokenFile, 'utf8')).trim()}`;
    const header = (await this.#options.client.headers())['authorization'];
    if (header === undefined)
      throw new Error(
        'the operator has no bearer token to show the collector (client certificates do not work there)',
      );
    return header;
  }

  /** One log line a minute at most: a collector outage is one story. */
  #report(error: unknown): void {
    if (Date.now() - this.#lastErrorLog < 60_000) return;
    this.#lastErrorLog = Date.now();
    this.#options.log?.error({ err: error }, 'cannot read sidecar reports from the audit collector');
  }
}
