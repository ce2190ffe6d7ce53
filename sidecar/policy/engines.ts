import { lazyModule, type LazyModule } from '../../lib/lazy-module.ts';
import type { Bundle } from '../../policy/bundle.ts';
import { hasConditions, type ConditionLanguage } from '../../policy/condition.ts';
import { pinningMode } from '../contracts/pinning-mode.ts';
import { schemaCompilerModule } from '../contracts/schema-validators.ts';

/**
 * The engines a policy may need that most policies do not, imported the first time a policy needs one and
 * before that policy is installed: CEL (~18 MiB at rest, with protobuf and an RE2 build) for `when`
 * conditions, Ajv (~4 MiB) for the schema checks of tool pinning. A sidecar whose policy uses neither never
 * loads them (issue #14). The policy sources await loadMissingEngines where they already wait for input;
 * once loaded, an engine stays, and later bundles install in the same turn as before.
 */
export interface PolicyEngines {
  readonly conditions: LazyModule<ConditionLanguage>;
  readonly schemas: LazyModule<unknown>;
}

export const policyEngines: PolicyEngines = {
  conditions: lazyModule(async () => (await import('../../policy/cel.ts')).cel),
  schemas: schemaCompilerModule,
};

export type EngineName = keyof PolicyEngines;

const DESCRIPTIONS: Record<EngineName, string> = {
  conditions: 'the CEL engine, which when conditions need',
  schemas: 'the JSON Schema compiler, which tool pinning needs',
};

/** An engine a policy needs could not be loaded: the policy is refused, the last good one stays. */
export class EngineLoadError extends Error {
  readonly code = 'policy_engine_unavailable';
  readonly engine: EngineName;

  constructor(engine: EngineName, cause: unknown) {
    super(`cannot load ${DESCRIPTIONS[engine]}: ${cause instanceof Error ? cause.message : String(cause)}`, {
      cause,
    });
    this.engine = engine;
  }
}

/** The engines a policy needs: its rules' conditions (bundle policies or ToolPolicy specs), its server's pinning. */
export function enginesNeeded(
  policies: readonly { readonly rules: readonly { readonly when?: string }[] }[],
  spec: Pick<Bundle['spec'], 'tools'>,
): ReadonlySet<EngineName> {
  const needed = new Set<EngineName>();
  if (hasConditions(policies)) needed.add('conditions');
  if (pinningMode(spec.tools) !== 'Disabled') needed.add('schemas');
  return needed;
}

/**
 * Loads the needed engines that are not loaded yet. Undefined when none is missing (no await: the caller
 * goes on in the same turn); otherwise a promise that rejects with an EngineLoadError.
 */
export function loadMissingEngines(
  needed: ReadonlySet<EngineName>,
  engines: PolicyEngines = policyEngines,
): Promise<void> | undefined {
  const missing = [...needed].filter((name) => engines[name].value === undefined);
  if (missing.length === 0) return undefined;
  return Promise.all(
    missing.map((name) =>
      engines[name].load().catch((error: unknown) => {
        throw new EngineLoadError(name, error);
      }),
    ),
  ).then(() => undefined);
}
