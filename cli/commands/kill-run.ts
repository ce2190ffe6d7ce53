import { stringify } from 'yaml';
import { EXIT, type CliIo } from '../io.ts';
import { failure } from '../errors.ts';
import {
  apiFailure,
  apiStatus,
  describeRef,
  kubeApi,
  objectPath,
  type KubeApi,
  type ObjectRef,
} from '../kube-api.ts';
import { contextNamespace, loadKubeconfig } from '../kubeconfig.ts';
import type { SwitchOptions } from './kill-flags.ts';
import { planSwitch, type SwitchPlan } from './kill-plan.ts';
import { RESOURCE_KINDS } from './kill-target.ts';

/** What kill and release take from outside besides CliIo; tests replace them. */
export interface SwitchDeps {
  /** The API client for a loaded kubeconfig; tests wrap the real one to interleave other writers. */
  readonly api: (kube: Parameters<typeof kubeApi>[0]) => KubeApi;
  /** The clock for killed-at and released-at; absent: the system clock. */
  readonly now?: () => number;
}

export const defaultSwitchDeps: SwitchDeps = { api: kubeApi };

/** Reads and conditional writes of the killed-tools list; a conflict means someone else wrote first. */
const MAX_ATTEMPTS = 8;

interface ReadObject {
  readonly annotations: Record<string, string> | undefined;
  readonly resourceVersion?: string;
}

/** Kill or release one target: read, plan, write the merge patch (retrying conflicts), report. */
export async function runSwitch(options: SwitchOptions, io: CliIo, deps: SwitchDeps): Promise<number> {
  const kube = loadKubeconfig(options.kubeconfig, io.env);
  const api = deps.api(kube);
  const { target } = options;
  const kind = RESOURCE_KINDS[target.kind];
  const ref: ObjectRef = {
    kind,
    name: target.name,
    ...(kind.namespaced ? { namespace: options.namespace ?? contextNamespace(kube) ?? 'default' } : {}),
  };
  const editsList = target.kind === 'mcpserver' && target.tools !== undefined;
  // Who engages a switch is recorded beside its reason (killed-by), not inside it: callers see the
  // reason. Who releases one is recorded too (released-by), for whoever audits the release later.
  const actor = await api.whoAmI();
  const reason = options.reason;
  const now = new Date((deps.now ?? Date.now)()).toISOString();

  for (let attempt = 1; ; attempt++) {
    const read = await readObject(api, ref, editsList, io);
    const plan = planSwitch({
      action: options.action,
      target,
      annotations: read?.annotations,
      ...(read?.resourceVersion === undefined ? {} : { resourceVersion: read.resourceVersion }),
      ...(reason === undefined ? {} : { reason }),
      ...(actor === undefined ? {} : { actor }),
      now,
    });
    if (plan.patch === undefined || options.dryRun) {
      report(options, ref, plan, false, io);
      return EXIT.ok;
    }
    try {
      await api.mergePatch(ref, plan.patch);
      report(options, ref, plan, true, io);
      return EXIT.ok;
    } catch (error) {
      if (apiStatus(error) === 409 && editsList && attempt < MAX_ATTEMPTS) continue;
      if (apiStatus(error) === 409) {
        throw failure(
          `${describeRef(ref)}: the killed-tools list kept changing under us (${attempt} conflicting writes); try again`,
          error,
        );
      }
      throw apiFailure(error, ref, 'patch');
    }
  }
}

/**
 * The object's annotations and resourceVersion. Without get permission a whole-object switch is still
 * written (blind, needing only patch); editing the killed-tools list needs to read it.
 */
async function readObject(
  api: KubeApi,
  ref: ObjectRef,
  mustRead: boolean,
  io: CliIo,
): Promise<ReadObject | undefined> {
  try {
    const object = (await api.get(ref)) as {
      metadata?: { annotations?: Record<string, string>; resourceVersion?: string };
    };
    return {
      annotations: object.metadata?.annotations ?? {},
      ...(object.metadata?.resourceVersion === undefined
        ? {}
        : { resourceVersion: object.metadata.resourceVersion }),
    };
  } catch (error) {
    if (apiStatus(error) === 403 && !mustRead) {
      io.err(
        `portcullis: note: may not get ${describeRef(ref)}; writing without reading its current state\n`,
      );
      return undefined;
    }
    throw apiFailure(error, ref, 'get');
  }
}

function report(options: SwitchOptions, ref: ObjectRef, plan: SwitchPlan, applied: boolean, io: CliIo) {
  const object = describeRef(ref);
  if (options.output !== 'text') {
    const result = {
      object,
      action: options.action,
      changed: applied,
      dryRun: options.dryRun,
      summary: plan.summary,
      ...(plan.patch === undefined ? {} : { patch: plan.patch }),
    };
    io.out(options.output === 'json' ? `${JSON.stringify(result, null, 2)}\n` : stringify(result));
    return;
  }
  if (options.dryRun && plan.patch !== undefined) {
    io.out(
      `${object}: ${plan.summary} (dry run: nothing written)\n` +
        `PATCH ${objectPath(ref)} (application/merge-patch+json)\n${JSON.stringify(plan.patch, null, 2)}\n`,
    );
    return;
  }
  io.out(`${object}: ${plan.summary}\n`);
}
