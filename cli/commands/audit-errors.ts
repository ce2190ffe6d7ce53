import { EXIT } from '../io.ts';

/**
 * Why `portcullis audit` stopped, and the exit code scripts see: `usage` for what the caller wrote
 * (flags, a query the collector calls invalid), `failure` for what it found (no credentials, collector
 * down, token refused, not allowed). The message is printed as is, after "portcullis audit: ".
 */
export class AuditError extends Error {
  readonly exitCode: (typeof EXIT)['usage'] | (typeof EXIT)['failure'];
  /** The collector could not answer now (down, 5xx) but may later: --follow keeps trying. */
  readonly retryable: boolean;

  constructor(
    kind: 'usage' | 'failure',
    message: string,
    options: { cause?: unknown; retryable?: boolean } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'AuditError';
    this.exitCode = EXIT[kind];
    this.retryable = options.retryable ?? false;
  }
}

export const usageError = (message: string) => new AuditError('usage', message);
export const failure = (message: string, cause?: unknown) => new AuditError('failure', message, { cause });
export const unavailable = (message: string, cause?: unknown) =>
  new AuditError('failure', message, { cause, retryable: true });
