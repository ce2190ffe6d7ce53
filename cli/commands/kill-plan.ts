import {
  isKillSwitchEngaged,
  KILL_REASON,
  KILL_SWITCH,
  KILLED_TOOLS,
  killedTools,
} from '../../api/v1alpha1/annotations.ts';
import type { KillTarget } from './kill-target.ts';

export type SwitchAction = 'kill' | 'release';

/**
 * What one kill or release changes, decided from the object's annotations as read: pure, so every case is
 * a unit test. `patch` is a JSON merge patch on metadata.annotations (null removes a key); absent when
 * nothing needs to change, which is not an error (the command is idempotent).
 */
export interface SwitchPlan {
  readonly patch?: { readonly metadata: Record<string, unknown> };
  /** What changed (or why nothing did), after "<kind> <namespace>/<name>: ". */
  readonly summary: string;
}

type Annotations = Readonly<Record<string, string>> | undefined;

const reasonNote = (reason: string | undefined) => (reason ? ` (reason: ${reason})` : '');
const list = (names: readonly string[]) => names.join(', ');

export interface PlanInput {
  readonly action: SwitchAction;
  readonly target: KillTarget;
  /** The object's annotations as read; undefined when they could not be read (the patch is blind). */
  readonly annotations: Annotations;
  /** The object's resourceVersion as read: the precondition of a killed-tools write. */
  readonly resourceVersion?: string;
  /** The reason to record (kill), already signed; for release only printed. */
  readonly reason?: string;
}

export function planSwitch(input: PlanInput): SwitchPlan {
  const { target } = input;
  if (target.kind === 'mcpserver' && target.tools !== undefined) {
    return input.action === 'kill' ? killTools(input, target.tools) : releaseTools(input, target.tools);
  }
  return input.action === 'kill' ? killObject(input) : releaseObject(input);
}

function annotationsPatch(
  changes: Record<string, string | null>,
  resourceVersion?: string,
): NonNullable<SwitchPlan['patch']> {
  // A resourceVersion in a merge patch is a precondition: the API server answers 409 if the object
  // changed since it was read, so two people editing the killed-tools list cannot overwrite each other.
  return {
    metadata: { ...(resourceVersion === undefined ? {} : { resourceVersion }), annotations: changes },
  };
}

function killObject(input: PlanInput): SwitchPlan {
  const { annotations } = input;
  if (annotations !== undefined && isKillSwitchEngaged(annotations)) {
    return {
      summary: `kill switch already engaged${reasonNote(annotations[KILL_REASON])}; nothing changed`,
    };
  }
  return {
    patch: annotationsPatch({
      [KILL_SWITCH]: 'true',
      ...(input.reason === undefined ? {} : { [KILL_REASON]: input.reason }),
    }),
    summary: `kill switch engaged${reasonNote(input.reason)}`,
  };
}

function releaseObject(input: PlanInput): SwitchPlan {
  const { annotations, target } = input;
  const toolsStay = target.kind === 'mcpserver' ? killedTools(annotations) : [];
  const stay =
    toolsStay.length > 0 ? `; tools ${list(toolsStay)} stay killed (release them with --tool)` : '';
  if (annotations !== undefined && annotations[KILL_SWITCH] === undefined) {
    return { summary: `kill switch was not engaged; nothing changed${stay}` };
  }
  const engaged = annotations === undefined || isKillSwitchEngaged(annotations);
  // The reason goes with the switch, unless killed tools on the same object still need it: a stale
  // reason must not attach itself to a switch engaged later without one.
  // Read blind (no get), the reason is left alone: it may belong to killed tools we cannot see.
  const keepReason = annotations === undefined || toolsStay.length > 0;
  const changes: Record<string, string | null> = {
    [KILL_SWITCH]: null,
    ...(keepReason ? {} : { [KILL_REASON]: null }),
  };
  return {
    patch: annotationsPatch(changes),
    summary: engaged
      ? `kill switch released${reasonNote(input.reason)}${stay}`
      : `kill switch was not engaged (its annotation said "false"); annotation removed${stay}`,
  };
}

function killTools(input: PlanInput, tools: readonly string[]): SwitchPlan {
  const before = killedTools(input.annotations);
  const added = tools.filter((tool) => !before.includes(tool));
  if (added.length === 0) {
    return {
      summary: `${tools.length === 1 ? 'tool' : 'tools'} ${list(tools)} already killed${reasonNote(input.annotations?.[KILL_REASON])}; nothing changed`,
    };
  }
  const after = [...before, ...added].sort();
  const already = tools.filter((tool) => before.includes(tool));
  return {
    patch: annotationsPatch(
      {
        [KILLED_TOOLS]: after.join(','),
        ...(input.reason === undefined ? {} : { [KILL_REASON]: input.reason }),
      },
      input.resourceVersion,
    ),
    summary:
      `${added.length === 1 ? 'tool' : 'tools'} ${list(added)} killed${reasonNote(input.reason)}` +
      (already.length > 0 ? `; ${list(already)} already ${already.length === 1 ? 'was' : 'were'}` : '') +
      `; killed tools now: ${list(after)}`,
  };
}

function releaseTools(input: PlanInput, tools: readonly string[]): SwitchPlan {
  const before = killedTools(input.annotations);
  const released = tools.filter((tool) => before.includes(tool));
  if (released.length === 0) {
    return {
      summary: `${tools.length === 1 ? 'tool' : 'tools'} ${list(tools)} ${tools.length === 1 ? 'was' : 'were'} not killed; nothing changed`,
    };
  }
  const after = before.filter((tool) => !tools.includes(tool));
  const serverStays = isKillSwitchEngaged(input.annotations);
  const changes: Record<string, string | null> =
    after.length > 0
      ? { [KILLED_TOOLS]: after.join(',') }
      : { [KILLED_TOOLS]: null, ...(serverStays ? {} : { [KILL_REASON]: null }) };
  const notKilled = tools.filter((tool) => !before.includes(tool));
  return {
    patch: annotationsPatch(changes, input.resourceVersion),
    summary:
      `${released.length === 1 ? 'tool' : 'tools'} ${list(released)} released${reasonNote(input.reason)}` +
      (notKilled.length > 0
        ? `; ${list(notKilled)} ${notKilled.length === 1 ? 'was' : 'were'} not killed`
        : '') +
      (after.length > 0 ? `; still killed: ${list(after)}` : '; no tools killed any more') +
      (serverStays ? '; the whole server stays killed' : ''),
  };
}
