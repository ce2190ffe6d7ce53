import { parseFlags } from '../flags.ts';
import { z } from 'zod';
import { auditDecision, auditKind } from '../../api/audit/v1/event.ts';
import { parseDuration } from '../../collector/duration.ts';
import { usageError } from './audit-errors.ts';
import { instantMs, parseTimeFlag } from './audit-time.ts';

export const AUDIT_FLAGS = {
  user: { type: 'string' },
  agent: { type: 'string' },
  tenant: { type: 'string' },
  tool: { type: 'string' },
  server: { type: 'string' },
  namespace: { type: 'string', short: 'n' },
  'all-namespaces': { type: 'boolean', short: 'A' },
  decision: { type: 'string' },
  kind: { type: 'string' },
  since: { type: 'string' },
  until: { type: 'string' },
  limit: { type: 'string' },
  order: { type: 'string' },
  output: { type: 'string', short: 'o' },
  follow: { type: 'boolean', short: 'f' },
  interval: { type: 'string' },
  collector: { type: 'string' },
  token: { type: 'string' },
  'token-file': { type: 'string' },
  kubeconfig: { type: 'string' },
  context: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

export const OUTPUT_FORMATS = ['table', 'wide', 'json', 'jsonl', 'yaml'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

/** Results are fetched in pages of at most this many; --limit caps the total. */
export const MAX_LIMIT = 100_000;
export const DEFAULT_LIMIT = 100;
const DEFAULT_INTERVAL_MS = 2_000;

/** The exact-match filters, named as the query API names them. */
export interface AuditFilters {
  readonly user?: string;
  readonly agent?: string;
  readonly tenant?: string;
  readonly tool?: string;
  readonly server?: string;
  readonly decision?: z.infer<typeof auditDecision>;
  readonly kind?: z.infer<typeof auditKind>;
  readonly since?: string;
  readonly until?: string;
}

export interface AuditOptions {
  readonly filters: AuditFilters;
  /**
   * `all`: -A, no namespace filter. `default`: neither -n nor -A, the kubeconfig context's namespace
   * (resolved with the credentials), else "default", as kubectl does.
   */
  readonly namespace:
    | { readonly kind: 'all' }
    | { readonly kind: 'default' }
    | { readonly kind: 'named'; readonly name: string };
  readonly limit: number;
  readonly order: 'asc' | 'desc';
  readonly output: OutputFormat;
  readonly follow: boolean;
  readonly intervalMs: number;
  /** Absent when neither --collector nor PORTCULLIS_COLLECTOR_URL is set (an error raised by the caller). */
  readonly collectorUrl?: URL;
  readonly credentials: {
    readonly token?: string;
    readonly tokenFile?: string;
    readonly kubeconfig?: string;
    readonly context?: string;
  };
}

const text = (max: number) => z.string().min(1, 'must not be empty').max(max).optional();

function flagsSchema(nowMs: number) {
  const time = z
    .string()
    .transform((value, context) => {
      const parsed = parseTimeFlag(value, nowMs);
      if (parsed === undefined) {
        context.addIssue({
          code: 'custom',
          message: `expected a duration ago (30m, 24h, 7d) or an RFC 3339 time (2026-01-31T09:00:00Z), got ${JSON.stringify(value)}`,
        });
        return z.NEVER;
      }
      return parsed;
    })
    .optional();
  return z
    .strictObject({
      user: text(1024),
      agent: text(1024),
      tenant: text(1024),
      tool: text(256),
      server: text(63),
      namespace: text(63),
      'all-namespaces': z.boolean().default(false),
      decision: auditDecision.optional(),
      kind: auditKind.optional(),
      since: time,
      until: time,
      limit: z.coerce.number().int().min(1).max(MAX_LIMIT).optional(),
      order: z.enum(['asc', 'desc']).optional(),
      output: z.enum(OUTPUT_FORMATS).default('table'),
      follow: z.boolean().default(false),
      interval: z
        .string()
        .transform((value, context) => {
          const ms = parseDuration(value);
          if (ms === undefined || ms < 100 || ms > 3_600_000) {
            context.addIssue({
              code: 'custom',
              message: 'expected a duration between 100ms and 1h, like 2s',
            });
            return z.NEVER;
          }
          return ms;
        })
        .optional(),
      collector: z
        .url({ protocol: /^https?$/, error: 'expected an http:// or https:// URL' })
        .transform((value) => new URL(value))
        .optional(),
      token: text(16_384),
      'token-file': text(4096),
      kubeconfig: text(4096),
      context: text(253),
    })
    .superRefine((flags, context) => {
      const conflict = (message: string) => context.addIssue({ code: 'custom', message });
      if (flags.namespace !== undefined && flags['all-namespaces']) {
        conflict('-n/--namespace and -A/--all-namespaces exclude each other');
      }
      if (flags.token !== undefined && flags['token-file'] !== undefined) {
        conflict('--token and --token-file exclude each other');
      }
      if (flags.since !== undefined && flags.until !== undefined) {
        if (instantMs(flags.since) >= instantMs(flags.until)) conflict('--since must be before --until');
      }
      if (flags.follow) {
        // Follow reads oldest first from a moving cursor until interrupted: an end, a count, another
        // order or a single JSON document (which would never be closed) cannot hold.
        if (flags.until !== undefined) conflict('--follow runs until interrupted: it takes no --until');
        if (flags.limit !== undefined) conflict('--follow runs until interrupted: it takes no --limit');
        if (flags.order !== undefined) conflict('--follow prints oldest first: it takes no --order');
        if (flags.output === 'json') conflict('--follow cannot write one JSON array: use -o jsonl');
      } else if (flags.interval !== undefined) {
        conflict('--interval applies only with --follow');
      }
    });
}

/**
 * Flags (and PORTCULLIS_COLLECTOR_URL, PORTCULLIS_TOKEN) as validated options; 'help' for -h. Throws a
 * usage AuditError (exit 2) describing what is wrong.
 */
export function parseAuditArgs(
  args: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
  nowMs: number,
): AuditOptions | 'help' {
  const { values } = parseFlags(args, AUDIT_FLAGS, false, usageError);
  if (values.help) return 'help';
  // Flags win over the environment; an empty variable counts as unset, as in a shell `X= cmd`.
  const collector = values.collector ?? (env['PORTCULLIS_COLLECTOR_URL'] || undefined);
  const token =
    values.token ?? (values['token-file'] === undefined ? env['PORTCULLIS_TOKEN'] || undefined : undefined);
  const parsed = flagsSchema(nowMs).safeParse({ ...values, collector, token });
  if (!parsed.success) throw usageError(`invalid flags:\n${z.prettifyError(parsed.error)}`);
  const flags = parsed.data;
  return {
    filters: dropUndefined({
      user: flags.user,
      agent: flags.agent,
      tenant: flags.tenant,
      tool: flags.tool,
      server: flags.server,
      decision: flags.decision,
      kind: flags.kind,
      since: flags.since,
      until: flags.until,
    }),
    namespace: flags['all-namespaces']
      ? { kind: 'all' }
      : flags.namespace === undefined
        ? { kind: 'default' }
        : { kind: 'named', name: flags.namespace },
    limit: flags.limit ?? DEFAULT_LIMIT,
    order: flags.follow ? 'asc' : (flags.order ?? 'desc'),
    output: flags.output,
    follow: flags.follow,
    intervalMs: flags.interval ?? DEFAULT_INTERVAL_MS,
    ...(flags.collector === undefined ? {} : { collectorUrl: flags.collector }),
    credentials: dropUndefined({
      token: flags.token,
      tokenFile: flags['token-file'],
      kubeconfig: flags.kubeconfig,
      context: flags.context,
    }),
  };
}

function dropUndefined<T extends object>(value: T): { [K in keyof T]?: Exclude<T[K], undefined> } {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as never;
}
