import { fullKillRecord, type KillRecord } from '../../api/v1alpha1/annotations.ts';
import type { McpServerStatus } from '../../api/v1alpha1/mcpserver.ts';
import type { Bundle } from '../../policy/bundle.ts';
import type { McpServer } from '../../api/v1alpha1/resources.ts';
import type { CompileResult } from '../../policy/compile.ts';
import type { ConditionUpdate } from './conditions.ts';
import { setConditions } from './conditions.ts';
import type { OperatorSettings } from '../settings.ts';
import { egressLockCondition } from './egress-lock.ts';
import type { FleetObservation } from './fleet.ts';
import { killSwitchStatus, type KillSwitchInput } from './kill-switch.ts';
import { toolsServed } from './tools-served.ts';

/** What the reconciler observed about the workload (from the Deployment's status). */
export interface WorkloadObservation {
  readonly replicas: number;
  readonly readyReplicas: number;
  readonly desired: number;
}

export interface McpServerStatusInput {
  readonly server: McpServer;
  readonly compiled: CompileResult;
  /** The hash of the bundle the sidecars currently serve, when it is known. */
  readonly workload?: WorkloadObservation;
  readonly endpoint: string;
  readonly now: string;
  /** What the sidecars report (through the audit collector); undefined when nothing is known. */
  readonly fleet?: FleetObservation;
  /** ReferencesResolved (see references.ts); undefined when the references were not checked. */
  readonly references?: ConditionUpdate;
  /** Added to WorkloadReady while replicas are not ready (Secrets the pods mount that were not checked). */
  readonly workloadHint?: string;
  /** The operator's egressLock setting the pods are built with: condition EgressLocked. */
  readonly egressLock?: OperatorSettings['egressLock'];
  /** The annotations of the server's Namespace (its kill switch and last release). */
  readonly namespaceAnnotations?: Readonly<Record<string, string>>;
  /** The ToolPolicies that target the server, with their annotations (kill switches, last releases). */
  readonly policies?: KillSwitchInput['policies'];
}

function policyCondition(compiled: CompileResult): ConditionUpdate {
  if (compiled.ok) {
    return {
      type: 'PolicyReady',
      status: 'True',
      reason: 'Compiled',
      message: `policy bundle ${compiled.bundle.hash} compiled`,
    };
  }
  const detail = compiled.errors.map((e) => `ToolPolicy ${e.policy} ${e.field}: ${e.message}`).join('; ');
  return {
    type: 'PolicyReady',
    status: 'False',
    reason: 'CompileError',
    message: `policy does not compile; sidecars keep the last good bundle: ${detail}`,
  };
}

function killedCondition(compiled: CompileResult): ConditionUpdate {
  if (!compiled.ok)
    return {
      type: 'Killed',
      status: 'Unknown',
      reason: 'PolicyNotCompiled',
      message: 'kill switches are read from the compiled policy',
    };
  const { kill, policies } = compiled.bundle;
  const server = kill.server[0];
  if (server) {
    return {
      type: 'Killed',
      status: 'True',
      reason: `KilledBy${server.source}`,
      message: `every call is refused: kill switch on ${server.source} ${server.name}${recordNote(server, ': ')}`,
    };
  }
  const killedPolicies = policies.filter((p) => p.kill).map((p) => p.name);
  if (kill.tools.length > 0 || killedPolicies.length > 0) {
    const parts = [
      ...(kill.tools.length > 0 ? [`tools ${kill.tools.join(', ')}${toolsNote(kill)}`] : []),
      ...(killedPolicies.length > 0 ? [`the tools of ToolPolicy ${killedPolicies.join(', ')}`] : []),
    ];
    return {
      type: 'Killed',
      status: 'True',
      reason: 'ToolsKilled',
      message: `refused: ${parts.join('; ')}`,
    };
  }
  return { type: 'Killed', status: 'False', reason: 'NoKillSwitch', message: 'no kill switch is engaged' };
}

/** The full record of a switch ("who: why"), after `prefix`; empty when nothing was recorded. */
function recordNote(record: KillRecord | undefined, prefix: string): string {
  const full = fullKillRecord(record);
  return full === undefined ? '' : `${prefix}${full}`;
}

/** Each killed tool's own record, or the shared (older) reason, in parentheses. */
function toolsNote(kill: Bundle['kill']): string {
  if (kill.toolReasons === undefined) return kill.reason ? ` (${kill.reason})` : '';
  const notes = kill.tools.flatMap((tool) => {
    const note = recordNote(kill.toolReasons?.[tool], '');
    return note === '' ? [] : [`${tool}: ${note}`];
  });
  return notes.length > 0 ? ` (${notes.join('; ')})` : '';
}

function workloadCondition(workload: WorkloadObservation | undefined, hint?: string): ConditionUpdate {
  if (workload === undefined)
    return {
      type: 'WorkloadReady',
      status: 'Unknown',
      reason: 'Pending',
      message: 'the Deployment has not reported yet',
    };
  if (workload.desired === 0)
    return {
      type: 'WorkloadReady',
      status: 'True',
      reason: 'ScaledToZero',
      message: 'scaled to zero replicas',
    };
  if (workload.readyReplicas >= workload.desired) {
    return {
      type: 'WorkloadReady',
      status: 'True',
      reason: 'ReplicasReady',
      message: `${workload.readyReplicas}/${workload.desired} replicas ready`,
    };
  }
  return {
    type: 'WorkloadReady',
    status: 'False',
    reason: 'ReplicasNotReady',
    message: `${workload.readyReplicas}/${workload.desired} replicas ready${hint ? `; ${hint}` : ''}`,
  };
}

/** The whole status, computed from what was observed: pure, so every branch is a unit test. */
export function mcpServerStatus(input: McpServerStatusInput): McpServerStatus {
  const { server, compiled, workload, now, fleet } = input;
  const policy = policyCondition(compiled);
  const killed = killedCondition(compiled);
  const work = workloadCondition(workload, input.workloadHint);
  const { references } = input;
  const bundle = compiled.ok ? compiled.bundle : undefined;
  const tools = fleet ? toolsServed(fleet.observedTools, fleet.sidecars, bundle) : undefined;
  // The first cause wins: a policy that does not compile, a missing mounted object, the pods, then pods
  // Ready while every tool is quarantined, which serve nothing (issue #13).
  const blocking = [
    policy,
    ...(references?.status === 'False' ? [references] : []),
    work,
    ...(tools?.blocksReady ? [tools.condition] : []),
  ].find((c) => c.status !== 'True');
  const ready: ConditionUpdate =
    blocking === undefined
      ? { type: 'Ready', status: 'True', reason: 'Ready', message: `serving through ${input.endpoint}` }
      : { type: 'Ready', status: 'False', reason: blocking.reason, message: blocking.message };
  const conditions = setConditions(
    server.status?.conditions,
    [
      ready,
      work,
      policy,
      killed,
      ...(references ? [references] : []),
      ...(fleet ? [fleet.toolDrift] : []),
      ...(tools ? [tools.condition] : []),
      ...(input.egressLock ? [egressLockCondition(input.egressLock)] : []),
    ],
    server.metadata.generation,
    now,
  );
  return {
    ...(server.metadata.generation !== undefined ? { observedGeneration: server.metadata.generation } : {}),
    conditions,
    ...(bundle
      ? { policyHash: bundle.hash }
      : server.status?.policyHash
        ? { policyHash: server.status.policyHash }
        : {}),
    endpoint: input.endpoint,
    ...(workload ? { replicas: workload.replicas, readyReplicas: workload.readyReplicas } : {}),
    // From the annotations, not the bundle: also while the policy does not compile, the server's own
    // switches bite (sidecars read them live) and people need to see them.
    killSwitch: killSwitchStatus({
      server,
      ...(input.namespaceAnnotations ? { namespaceAnnotations: input.namespaceAnnotations } : {}),
      ...(input.policies ? { policies: input.policies } : {}),
      ...(server.status?.killSwitch ? { previous: server.status.killSwitch } : {}),
      now,
    }),
    ...(tools?.served !== undefined
      ? { servedTools: tools.served }
      : server.status?.servedTools !== undefined && fleet === undefined
        ? { servedTools: server.status.servedTools }
        : {}),
    ...(fleet
      ? { servedPolicyHashes: fleet.servedPolicyHashes, observedTools: fleet.observedTools }
      : {
          ...(server.status?.servedPolicyHashes
            ? { servedPolicyHashes: server.status.servedPolicyHashes }
            : {}),
          ...(server.status?.observedTools ? { observedTools: server.status.observedTools } : {}),
        }),
  };
}
