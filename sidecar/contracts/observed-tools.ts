import { toolDigest, toolSchemaVersion, type ToolDefinitionLike } from '../../policy/tool-digest.ts';
import type { CompiledSchema, SchemaValidators } from './schema-validators.ts';

/**
 * The tools the server publishes, as the sidecar last saw them: name -> digest, how that digest compares
 * with the pins, and the compiled schemas a call is checked against. No I/O, no clock of its own: the
 * caller passes the time. Every change of a tool's definition or state comes back as a Transition, which
 * the caller audits and counts.
 *
 * State, as status.observedTools reports it:
 *   Enforce: Pinned (the pinned definition, schemas compile) or Quarantined (anything else: drifted,
 *            unpinned, ambiguous, or a schema that cannot be checked) — hidden from tools/list, refused.
 *   Record:  Pinned, Drifted (a pin exists, the digest differs) or Unpinned. Nothing is quarantined.
 */
export type PinningMode = 'Disabled' | 'Record' | 'Enforce';
export type ToolState = 'Pinned' | 'Drifted' | 'Unpinned' | 'Quarantined';
export type PinComparison = 'pinned' | 'drifted' | 'unpinned';
/** A defect of the definition itself, whatever the pins say. */
export type DefinitionProblem = 'ambiguous' | 'invalid_schema';

export interface ObservedTool {
  readonly name: string;
  readonly digest: string;
  readonly schemaVersion?: string;
  readonly state: ToolState;
  readonly pin: PinComparison;
  readonly pinnedDigest?: string;
  readonly problem?: DefinitionProblem;
  /** Readable detail of the problem (the schema error, the conflicting digests). */
  readonly problemDetail?: string;
  /** Wall-clock ms. */
  readonly firstSeen: number;
  readonly lastSeen: number;
  /** When the digest or state last changed. */
  readonly changedAt: number;
  /** Compiled for callable definitions only (under Enforce: Pinned ones; under Record: all). */
  readonly input?: CompiledSchema;
  readonly output?: CompiledSchema;
  readonly definition: ToolDefinitionLike;
}

export interface Transition {
  readonly name: string;
  /** Undefined: the tool is gone from a complete list. */
  readonly current?: ObservedTool;
  readonly previous?: ObservedTool;
}

/** A listed item, digested once by the caller (used both to observe and to filter a reply). */
export interface ListedTool {
  readonly definition: ToolDefinitionLike;
  readonly digest: string;
}

export const MAX_OBSERVED_TOOLS = 1024;

/** The tools/list items that are tool definitions, with their digests; other items are skipped. */
export function digestListed(items: readonly unknown[]): (ListedTool | undefined)[] {
  return items.map((item) =>
    typeof item === 'object' &&
    item !== null &&
    !Array.isArray(item) &&
    typeof (item as { name?: unknown }).name === 'string'
      ? { definition: item as ToolDefinitionLike, digest: toolDigest(item as ToolDefinitionLike) }
      : undefined,
  );
}

export class ObservedTools {
  readonly #tools = new Map<string, ObservedTool>();
  readonly #validators: SchemaValidators;
  #mode: PinningMode = 'Disabled';
  #pins: ReadonlyMap<string, string> = new Map();

  constructor(validators: SchemaValidators) {
    this.#validators = validators;
  }

  get mode(): PinningMode {
    return this.#mode;
  }

  get size(): number {
    return this.#tools.size;
  }

  /** The hot-path lookup. */
  get(name: string): ObservedTool | undefined {
    return this.#tools.get(name);
  }

  entries(): ObservedTool[] {
    return [...this.#tools.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /** Pinned names the server does not (or not yet) publish. */
  missingPins(): string[] {
    return [...this.#pins.keys()].filter((name) => !this.#tools.has(name)).sort();
  }

  count(state: ToolState): number {
    let n = 0;
    for (const tool of this.#tools.values()) if (tool.state === state) n++;
    return n;
  }

  /** New mode or pins: every tool is judged again. Disabled forgets everything. */
  configure(mode: PinningMode, pins: ReadonlyMap<string, string>, now: number): Transition[] {
    this.#mode = mode;
    this.#pins = pins;
    if (mode === 'Disabled') {
      this.#tools.clear();
      this.#validators.retain(new Set());
      return [];
    }
    const transitions: Transition[] = [];
    for (const previous of [...this.#tools.values()]) {
      const current = this.#judge(
        previous.definition,
        previous.digest,
        previous.problem === 'ambiguous' ? previous.problemDetail : undefined,
        previous,
        now,
      );
      this.#tools.set(current.name, current);
      if (current.state !== previous.state || current.problem !== previous.problem)
        transitions.push({ name: current.name, current, previous });
    }
    this.#retainValidators();
    return transitions;
  }

  /**
   * Records a tools/list reply (or a page of one). `complete`: the whole list (no cursor asked, none
   * returned), so tools missing from it are gone. Returns what changed.
   */
  observe(listed: readonly (ListedTool | undefined)[], complete: boolean, now: number): Transition[] {
    if (this.#mode === 'Disabled') return [];
    const byName = new Map<string, ListedTool[]>();
    for (const item of listed) {
      if (item === undefined) continue;
      const same = byName.get(item.definition.name);
      if (same) same.push(item);
      else byName.set(item.definition.name, [item]);
    }
    const transitions: Transition[] = [];
    for (const [name, items] of byName) {
      const digests = [...new Set(items.map((i) => i.digest))];
      // One name, two definitions: which one a client would use is up to the client. Neither is trusted.
      const ambiguous =
        digests.length > 1
          ? `the list holds ${digests.length} different definitions of this name: ${digests.join(', ')}`
          : undefined;
      const { definition, digest } = items.at(-1)!;
      const previous = this.#tools.get(name);
      if (previous === undefined && this.#tools.size >= MAX_OBSERVED_TOOLS) continue; // untracked: hidden
      if (
        previous !== undefined &&
        previous.digest === digest &&
        (previous.problem === 'ambiguous' ? previous.problemDetail : undefined) === ambiguous
      ) {
        this.#tools.set(name, { ...previous, lastSeen: now });
        continue;
      }
      const current = this.#judge(definition, digest, ambiguous, previous, now);
      this.#tools.set(name, current);
      transitions.push({ name, current, ...(previous ? { previous } : {}) });
    }
    if (complete) {
      for (const [name, previous] of this.#tools) {
        if (byName.has(name)) continue;
        this.#tools.delete(name);
        transitions.push({ name, previous });
      }
    }
    if (transitions.length > 0) this.#retainValidators();
    return transitions;
  }

  #judge(
    definition: ToolDefinitionLike,
    digest: string,
    ambiguous: string | undefined,
    previous: ObservedTool | undefined,
    now: number,
  ): ObservedTool {
    const pinnedDigest = this.#pins.get(definition.name);
    const pin: PinComparison =
      pinnedDigest === undefined ? 'unpinned' : pinnedDigest === digest ? 'pinned' : 'drifted';
    let problem: DefinitionProblem | undefined = ambiguous === undefined ? undefined : 'ambiguous';
    let problemDetail = ambiguous;
    // Under Enforce only reviewed definitions are ever called, so only their schemas are compiled:
    // a schema the server made up is never handed to the compiler.
    const callable = this.#mode === 'Record' || (pin === 'pinned' && problem === undefined);
    let input: CompiledSchema | undefined;
    let output: CompiledSchema | undefined;
    if (callable) {
      input =
        definition.inputSchema === undefined
          ? { key: '', error: 'the tool declares no inputSchema' }
          : this.#validators.get(definition.inputSchema);
      output =
        definition.outputSchema === undefined ? undefined : this.#validators.get(definition.outputSchema);
      const error = input.error ?? output?.error;
      if (error !== undefined && problem === undefined) {
        problem = 'invalid_schema';
        problemDetail = `${input.error ? 'inputSchema' : 'outputSchema'}: ${error}`;
      }
    }
    const state: ToolState =
      this.#mode === 'Enforce'
        ? pin === 'pinned' && problem === undefined
          ? 'Pinned'
          : 'Quarantined'
        : pin === 'pinned'
          ? 'Pinned'
          : pin === 'drifted'
            ? 'Drifted'
            : 'Unpinned';
    const schemaVersion = toolSchemaVersion(definition);
    const changed = previous === undefined || previous.digest !== digest || previous.state !== state;
    return {
      name: definition.name,
      digest,
      ...(schemaVersion !== undefined ? { schemaVersion } : {}),
      state,
      pin,
      ...(pinnedDigest !== undefined ? { pinnedDigest } : {}),
      ...(problem !== undefined ? { problem, problemDetail: problemDetail! } : {}),
      firstSeen: previous?.firstSeen ?? now,
      lastSeen: now,
      changedAt: changed ? now : previous.changedAt,
      ...(input ? { input } : {}),
      ...(output ? { output } : {}),
      definition,
    };
  }

  #retainValidators(): void {
    const keys = new Set<string>();
    for (const tool of this.#tools.values()) {
      if (tool.input) keys.add(tool.input.key);
      if (tool.output) keys.add(tool.output.key);
    }
    this.#validators.retain(keys);
  }
}
