import { z } from 'zod';
import { parseDuration } from '../../collector/duration.ts';

/**
 * `portcullis operator` flags, validated once: the watched namespaces (-n a,b -n c), the worker count and
 * the Lease timings, whose order matters (a leader must give up before its Lease can expire under it,
 * and retry more than once before it gives up).
 */
export const OPERATOR_FLAGS = {
  kubeconfig: { type: 'string' },
  context: { type: 'string' },
  namespace: { type: 'string', short: 'n', multiple: true },
  settings: { type: 'string' },
  workers: { type: 'string' },
  'leader-elect': { type: 'string' },
  'lease-namespace': { type: 'string' },
  'lease-duration': { type: 'string' },
  'lease-renew-deadline': { type: 'string' },
  'lease-retry-period': { type: 'string' },
  'log-level': { type: 'string' },
  'metrics-listen': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

export const LEASE_DEFAULTS = { duration: '15s', renewDeadline: '10s', retryPeriod: '2s' } as const;

/** A namespace name: an RFC 1123 label. */
const namespaceName = z
  .string()
  .regex(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/, 'must be a namespace name (RFC 1123 label)');

const duration = (flag: string) =>
  z.string().transform((text, context) => {
    const ms = parseDuration(text);
    if (ms === undefined || ms <= 0) {
      context.addIssue({ code: 'custom', message: `${flag} must be a duration such as 15s, 500ms or 1m` });
      return z.NEVER;
    }
    return ms;
  });

const schema = z
  .object({
    namespaces: z.array(namespaceName),
    workers: z.coerce.number().int().min(1).max(256),
    leaseDurationMs: duration('--lease-duration').refine((ms) => ms % 1000 === 0, {
      message: '--lease-duration must be whole seconds (a Lease counts in seconds)',
    }),
    renewDeadlineMs: duration('--lease-renew-deadline'),
    retryPeriodMs: duration('--lease-retry-period'),
  })
  .refine((f) => f.renewDeadlineMs < f.leaseDurationMs, {
    message: '--lease-renew-deadline must be shorter than --lease-duration',
  })
  .refine((f) => f.retryPeriodMs < f.renewDeadlineMs, {
    message: '--lease-retry-period must be shorter than --lease-renew-deadline',
  });

export interface OperatorFlags {
  /** Empty: every namespace. */
  readonly namespaces: readonly string[];
  readonly workers: number;
  readonly lease: {
    readonly durationSeconds: number;
    readonly renewDeadlineMs: number;
    readonly retryPeriodMs: number;
  };
}

export function parseOperatorFlags(values: {
  readonly namespace?: readonly string[];
  readonly workers?: string;
  readonly 'lease-duration'?: string;
  readonly 'lease-renew-deadline'?: string;
  readonly 'lease-retry-period'?: string;
}): { ok: true; flags: OperatorFlags } | { ok: false; message: string } {
  const parsed = schema.safeParse({
    // -n a,b -n c: every name once, in the order given.
    namespaces: [...new Set((values.namespace ?? []).flatMap((v) => v.split(',').map((n) => n.trim())))],
    workers: values.workers ?? '4',
    leaseDurationMs: values['lease-duration'] ?? LEASE_DEFAULTS.duration,
    renewDeadlineMs: values['lease-renew-deadline'] ?? LEASE_DEFAULTS.renewDeadline,
    retryPeriodMs: values['lease-retry-period'] ?? LEASE_DEFAULTS.retryPeriod,
  });
  if (!parsed.success) return { ok: false, message: z.prettifyError(parsed.error) };
  const f = parsed.data;
  return {
    ok: true,
    flags: {
      namespaces: f.namespaces,
      workers: f.workers,
      lease: {
        durationSeconds: f.leaseDurationMs / 1000,
        renewDeadlineMs: f.renewDeadlineMs,
        retryPeriodMs: f.retryPeriodMs,
      },
    },
  };
}
