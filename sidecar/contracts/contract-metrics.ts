import { Counter, Gauge, type Registry } from 'prom-client';
import type { ObservedTools, ToolState } from './observed-tools.ts';

/** Tool-contract metrics, on the sidecar's registry (served on the admin port with the others). */
export interface ContractMetrics {
  /** A tool's definition changed or appeared unpinned, or a tool disappeared; by kind. */
  readonly driftEvents: Counter<'kind'>;
  readonly quarantined: Gauge;
  readonly observed: Gauge<'state'>;
  /** Arguments or results that did not match the tool's schema; enforced=false under Record. */
  readonly violations: Counter<'direction' | 'enforced'>;
  /** The sidecar's own reads of the tool list, by result. */
  readonly listFetches: Counter<'result'>;
  update(table: ObservedTools): void;
}

const STATES: readonly ToolState[] = ['Pinned', 'Drifted', 'Unpinned', 'Quarantined'];

export function createContractMetrics(registry: Registry): ContractMetrics {
  const registers = [registry];
  const quarantined = new Gauge({
    name: 'portcullis_tools_quarantined',
    help: 'Tools hidden from tools/list and refused because their definition is not the pinned one.',
    registers,
  });
  const observed = new Gauge({
    name: 'portcullis_tools_observed',
    help: 'Tools the server publishes, by how their definition compares with the pins.',
    labelNames: ['state'],
    registers,
  });
  return {
    driftEvents: new Counter({
      name: 'portcullis_tool_drift_events_total',
      help: 'Tool definitions that changed away from (or appeared without) a pin, or disappeared; by kind (drifted, unpinned, ambiguous, invalid_schema, removed).',
      labelNames: ['kind'],
      registers,
    }),
    quarantined,
    observed,
    violations: new Counter({
      name: 'portcullis_tool_contract_violations_total',
      help: 'Tool arguments (direction=input) or results (direction=output) that did not match the tool schema; enforced=false under pinning Record.',
      labelNames: ['direction', 'enforced'],
      registers,
    }),
    listFetches: new Counter({
      name: 'portcullis_tool_list_fetches_total',
      help: "The sidecar's own reads of the server's tool list (at start, after list_changed, for unseen tools), by result.",
      labelNames: ['result'],
      registers,
    }),
    update(table) {
      quarantined.set(table.count('Quarantined'));
      for (const state of STATES) observed.set({ state }, table.count(state));
    },
  };
}
