import { randomUUID } from 'node:crypto';
import type { KillSwitchAuditDetail } from '../../api/audit/v1/event.ts';
import { fullKillRecord, type KillRecord } from '../../api/v1alpha1/annotations.ts';
import type { Bundle } from '../../policy/bundle.ts';
import type { LoadedPolicy } from '../../policy/load.ts';
import type { AuditEvent } from './event.ts';

/**
 * The events of a policy change the sidecar observed: one `policy` event (old hash to new), and one
 * `kill_switch` event per switch engaged or released. They are recorded where the change bites (every
 * sidecar), so the audit stream shows when each pod stopped serving a tool, not only when someone wrote
 * an annotation.
 */
export function policyChangeEvents(
  previous: LoadedPolicy | undefined,
  current: LoadedPolicy,
  time: string,
): AuditEvent[] {
  const server = current.bundle.server;
  const base = {
    schema: 'portcullis.dev/audit/v1' as const,
    time,
    server: { namespace: server.namespace, name: server.name },
    policyHash: current.hash,
    latencyMs: 0,
  };
  const events: AuditEvent[] = [
    {
      ...base,
      id: randomUUID(),
      kind: 'policy',
      requestId: `policy-${current.hash}`,
      method: 'policy',
      decision: 'allowed',
      policy: { ...(previous ? { previousHash: previous.hash } : {}), hash: current.hash },
    },
  ];
  const before = killSwitches(previous?.bundle);
  const after = killSwitches(current.bundle);
  const changed = [
    ...[...after]
      .filter(([key]) => !before.has(key))
      .map(([, kill]) => ({ ...kill, state: 'engaged' as const })),
    ...[...before]
      .filter(([key]) => !after.has(key))
      .map(([, kill]) => ({ ...kill, state: 'released' as const })),
  ];
  for (const kill of changed)
    events.push({
      ...base,
      id: randomUUID(),
      kind: 'kill_switch',
      requestId: `kill-${current.hash}`,
      method: 'kill_switch',
      ...(kill.scope === 'tool' ? { tool: kill.target } : {}),
      decision: kill.state === 'engaged' ? 'killed' : 'allowed',
      ...(kill.reason !== undefined ? { reason: kill.reason } : {}),
      killSwitch: kill,
    });
  return events;
}

type Switch = Omit<KillSwitchAuditDetail, 'state'>;

/** Every engaged switch of a bundle by a stable key; the first observed policy counts as all new. */
function killSwitches(bundle: Bundle | undefined): Map<string, Switch> {
  const switches = new Map<string, Switch>();
  if (bundle === undefined) return switches;
  // The full record (who: why) of each switch: the audit trail is where it is kept.
  const withReason = (record: KillRecord | undefined) => {
    const reason = fullKillRecord(record)?.slice(0, 1024);
    return reason === undefined ? {} : { reason };
  };
  for (const kill of bundle.kill.server) {
    const scope = kill.source === 'Namespace' ? 'namespace' : 'server';
    switches.set(`${scope}/${kill.name}`, {
      scope,
      ...(scope === 'namespace' ? { target: kill.name } : {}),
      ...withReason(kill),
    });
  }
  for (const tool of bundle.kill.tools)
    switches.set(`tool/${tool}`, {
      scope: 'tool',
      target: tool,
      ...withReason(
        bundle.kill.toolReasons?.[tool] ??
          (bundle.kill.reason !== undefined ? { reason: bundle.kill.reason } : undefined),
      ),
    });
  for (const policy of bundle.policies)
    if (policy.kill)
      switches.set(`policy/${policy.name}`, {
        scope: 'policy',
        target: policy.name,
        ...withReason(policy.kill),
      });
  return switches;
}
