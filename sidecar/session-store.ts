import type { Principal } from '../policy/principal.ts';

/**
 * Which principal owns which MCP session. A session id is a bearer of state on the upstream; we bind it
 * to the (user, agent) that created it so another caller holding the id gets "not found", not the
 * session. Bounded in size and idle time: the oldest idle sessions are forgotten first.
 */
export interface SessionRecord {
  readonly id: string;
  readonly user: string;
  readonly agent: string;
  readonly protocolVersion?: string;
  readonly clientInfo?: { readonly name?: string; readonly version?: string };
  lastSeenAt: number;
}

export class SessionStore {
  readonly #sessions = new Map<string, SessionRecord>();
  readonly #maxSessions: number;
  readonly #idleMs: number;
  readonly #clock: () => number;

  constructor(options: { maxSessions?: number; idleMs?: number; clock?: () => number } = {}) {
    this.#maxSessions = options.maxSessions ?? 10_000;
    this.#idleMs = options.idleMs ?? 60 * 60 * 1000;
    this.#clock = options.clock ?? Date.now;
  }

  get size(): number {
    return this.#sessions.size;
  }

  bind(
    id: string,
    principal: Principal,
    info: Pick<SessionRecord, 'protocolVersion' | 'clientInfo'> = {},
  ): SessionRecord {
    const record: SessionRecord = {
      id,
      user: principal.user,
      agent: principal.agent,
      ...info,
      lastSeenAt: this.#clock(),
    };
    this.#sessions.delete(id);
    this.#sessions.set(id, record);
    while (this.#sessions.size > this.#maxSessions)
      this.#sessions.delete(this.#sessions.keys().next().value!);
    return record;
  }

  /** The session if it exists, is fresh, and belongs to this principal. */
  lookup(id: string, principal: Principal): SessionRecord | undefined {
    const record = this.#sessions.get(id);
    if (record === undefined) return undefined;
    const now = this.#clock();
    if (now - record.lastSeenAt > this.#idleMs) {
      this.#sessions.delete(id);
      return undefined;
    }
    if (record.user !== principal.user || record.agent !== principal.agent) return undefined;
    record.lastSeenAt = now;
    // Re-insert so Map order stays least-recently-used first.
    this.#sessions.delete(id);
    this.#sessions.set(id, record);
    return record;
  }

  forget(id: string): void {
    this.#sessions.delete(id);
  }
}
