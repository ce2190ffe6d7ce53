import { EXIT } from '../io.ts';

/**
 * Stable codes for what stopped `portcullis audit` (tests and wrappers branch on them, not on words):
 * usage (flags, a query the collector calls invalid), failed (anything else found on the way),
 * unavailable (the collector may answer later), token_required (the collector wants a token and none was
 * given or found), token_rejected (it did not accept the one sent), forbidden (RBAC says no).
 */
export type AuditErrorCode =
  'usage' | 'failed' | 'unavailable' | 'token_required' | 'token_rejected' | 'forbidden';

/**
 * Why `portcullis audit` stopped, and the exit code scripts see: `usage` for what the caller wrote
 * (flags, a query the collector calls invalid), `failure` for what it found (no credentials, collector
 * down, token refused, not allowed). The message is printed as is, after "portcullis audit: ".
 */
export class AuditError extends Error {
  readonly exitCode: (typeof EXIT)['usage'] | (typeof EXIT)['failure'];
  readonly code: AuditErrorCode;
  /** The collector could not answer now (down, 5xx) but may later: --follow keeps trying. */
  readonly retryable: boolean;

  constructor(
    kind: 'usage' | 'failure',
    message: string,
    options: { cause?: unknown; retryable?: boolean; code?: AuditErrorCode } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'AuditError';
    this.exitCode = EXIT[kind];
    this.retryable = options.retryable ?? false;
    this.code = options.code ?? (kind === 'usage' ? 'usage' : options.retryable ? 'unavailable' : 'failed');
  }
}

export const usageError = (message: string) => new AuditError('usage', message);
export const failure = (message: string, cause?: unknown) => new AuditError('failure', message, { cause });
export const unavailable = (message: string, cause?: unknown) =>
  new AuditError('failure', message, { cause, retryable: true });
/** The collector's answer to who is asking: a failure (exit 1) with its own code. */
export const refused = (code: 'token_required' | 'token_rejected' | 'forbidden', message: string) =>
  new AuditError('failure', message, { code });
