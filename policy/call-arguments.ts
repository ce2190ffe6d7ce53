import type { ConditionInput } from './condition.ts';
import type { Principal } from './principal.ts';

/** A tool call's arguments as the client sent them (or as bindings rewrote them). */
export type Args = Readonly<Record<string, unknown>>;

/** The value at a dotted argument path, own properties only (never the prototype chain). */
export function valueAt(args: Args, path: readonly string[]): unknown {
  let current: unknown = args;
  for (const key of path) {
    if (current === null || typeof current !== 'object' || !Object.hasOwn(current, key)) return undefined;
    current = (current as Record<string, unknown>)[key];
  }
  return current;
}

/** A copy of args with value at path; defineProperty so a `__proto__` segment is a plain key. */
export function withValueAt(args: Args, path: readonly string[], value: unknown): Args {
  const [head, ...rest] = path;
  const copy = { ...args };
  const child = Object.hasOwn(args, head!) ? args[head!] : undefined;
  const next =
    rest.length === 0
      ? value
      : withValueAt(
          child !== null && typeof child === 'object' && !Array.isArray(child) ? (child as Args) : {},
          rest,
          value,
        );
  Object.defineProperty(copy, head!, { value: next, enumerable: true, writable: true, configurable: true });
  return copy;
}

/** What a CEL `when` condition sees: the verified claims, the principal, the tool and the (bound) arguments. */
export function conditionInput(principal: Principal, tool: string, args: Args): ConditionInput {
  return {
    claims: principal.claims,
    principal: {
      user: principal.user,
      agent: principal.agent,
      tenant: principal.tenant ?? '',
      groups: principal.groups,
    },
    tool,
    args,
  };
}
