import { parseDocument } from 'yaml';
import { z } from 'zod';
import { toolName } from '../../api/v1alpha1/common.ts';
import type { DenialCode } from '../../policy/decision.ts';
import { usageError } from '../errors.ts';

/**
 * The sample calls `portcullis policy test` evaluates: a YAML or JSON list, one entry per tools/call as
 * the sidecar would see it after verifying the token. Validated strictly (an unknown key is a typo that
 * would silently turn an expectation off) and bounded (the file may come from anywhere in a repo).
 */
export const MAX_CALLS_FILE_BYTES = 4 * 1024 * 1024;
export const MAX_CALLS = 10_000;

const DENIAL_CODES = [
  'killed',
  'denied_by_rule',
  'no_matching_rule',
  'insufficient_scope',
  'argument_binding',
  'condition_error',
] as const satisfies readonly DenialCode[];

const text = (max: number) => z.string().min(1).max(max);

/**
 * A JSON object kept as parsed: not rebuilt by a schema, so a `__proto__` key stays an own key, as
 * JSON.parse in the sidecar leaves it, and the policy sees exactly what a real call would carry.
 */
const plainObject = (what: string) =>
  z.custom<Record<string, unknown>>(
    (value) =>
      value !== null &&
      typeof value === 'object' &&
      !Array.isArray(value) &&
      Object.getPrototypeOf(value) === Object.prototype,
    { message: `${what} must be a mapping (an object)` },
  );

export const sampleCall = z
  .strictObject({
    name: text(256).optional(),
    user: text(1024),
    agent: text(1024).optional(),
    tenant: text(1024).optional(),
    groups: z.array(text(256)).max(256).default([]),
    scopes: z.array(text(256)).max(256).default([]),
    claims: plainObject('claims').optional(),
    tool: toolName,
    arguments: plainObject('arguments').optional(),
    expect: z.enum(['allow', 'deny']).optional(),
    expectCode: z.enum(DENIAL_CODES).optional(),
    expectRule: z
      .string()
      .regex(
        /^[^/\s]+\/[^/\s]+$/,
        'expectRule is ToolPolicy/rule, e.g. support-reads-own-tenant/read-invoices',
      )
      .optional(),
    expectArguments: plainObject('expectArguments').optional(),
  })
  .superRefine((call, context) => {
    if (call.expectCode !== undefined && call.expect === 'allow') {
      context.addIssue({
        code: 'custom',
        message: 'expectCode is a denial code: it contradicts expect: allow',
      });
    }
    if (call.expectArguments !== undefined && call.expect === 'deny') {
      context.addIssue({
        code: 'custom',
        message: 'expectArguments are the arguments of an allowed call: they contradict expect: deny',
      });
    }
  });

export type SampleCall = z.infer<typeof sampleCall>;

/** The expectation in force: expectCode and expectArguments imply deny and allow. */
export function expectation(call: SampleCall): 'allow' | 'deny' | undefined {
  return (
    call.expect ??
    (call.expectCode !== undefined ? 'deny' : call.expectArguments !== undefined ? 'allow' : undefined)
  );
}

/** Where the server reads identities from the token (McpServer spec.auth.claims). */
export interface ClaimNames {
  readonly user: string;
  readonly agent: string;
  readonly tenant?: string;
  readonly groups: string;
}

/**
 * The claims of a token carrying the call's identities under the server's claim names (and the
 * space-separated scope claim), the call's own claims on top: what the sidecar would verify. A tenant
 * the server maps no claim for is left out, as a real token's would be ignored.
 */
export function tokenClaims(call: SampleCall, names: ClaimNames): Record<string, unknown> {
  const claims: Record<string, unknown> = {};
  const set = (key: string, value: unknown) =>
    Object.defineProperty(claims, key, { value, enumerable: true, writable: true, configurable: true });
  set(names.user, call.user);
  if (call.agent !== undefined) set(names.agent, call.agent);
  if (call.tenant !== undefined && names.tenant !== undefined) set(names.tenant, call.tenant);
  set(names.groups, call.groups);
  if (call.scopes.length > 0) set('scope', call.scopes.join(' '));
  // defineProperty: a "__proto__" claim is a plain key, as JSON.parse leaves it in a real token.
  for (const [key, value] of Object.entries(call.claims ?? {})) set(key, value);
  return claims;
}

/**
 * The calls of one file. Throws a usage CliError naming the file and the path of the first bad fields
 * (`calls.yaml: [2].groups: expected array`).
 */
export function parseCalls(file: string, source: string): SampleCall[] {
  if (Buffer.byteLength(source) > MAX_CALLS_FILE_BYTES) {
    throw usageError(`${file}: larger than ${MAX_CALLS_FILE_BYTES / 1024 / 1024} MiB; split it`);
  }
  // maxAliasCount bounds "billion laughs" alias expansion; uniqueKeys refuses a key given twice.
  const document = parseDocument(source, { uniqueKeys: true, prettyErrors: false });
  if (document.errors.length > 0) {
    throw usageError(`${file}: not valid YAML or JSON: ${document.errors[0]!.message.split('\n')[0]}`);
  }
  let value: unknown;
  try {
    value = document.toJS({ maxAliasCount: 100 });
  } catch (error) {
    throw usageError(`${file}: ${(error as Error).message}`);
  }
  if (!Array.isArray(value)) {
    throw usageError(
      `${file}: expected a list of calls (- user: …, tool: …), found ${value === null ? 'nothing' : typeof value}`,
    );
  }
  if (value.length === 0) throw usageError(`${file}: the list of calls is empty`);
  if (value.length > MAX_CALLS) throw usageError(`${file}: more than ${MAX_CALLS} calls; split it`);
  const parsed = z.array(sampleCall).safeParse(value);
  if (!parsed.success) {
    const issues = parsed.error.issues
      .slice(0, 5)
      .map((issue) => `${formatPath(issue.path)}: ${issue.message}`);
    const more = parsed.error.issues.length > 5 ? ` (and ${parsed.error.issues.length - 5} more)` : '';
    throw usageError(`${file}: invalid calls: ${issues.join('; ')}${more}`);
  }
  // Keep claims and arguments exactly as parsed (see plainObject).
  return parsed.data.map((call, index) => {
    const raw = value[index] as Record<string, unknown>;
    return {
      ...call,
      ...(raw['claims'] === undefined ? {} : { claims: raw['claims'] as Record<string, unknown> }),
      ...(raw['arguments'] === undefined ? {} : { arguments: raw['arguments'] as Record<string, unknown> }),
    };
  });
}

/** `[2].groups[0]`, the index of the call first. */
export function formatPath(path: readonly PropertyKey[]): string {
  return path
    .map((key) => (typeof key === 'number' ? `[${key}]` : `.${String(key)}`))
    .join('')
    .replace(/^\./, '');
}
