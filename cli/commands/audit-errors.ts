import { EXIT } from '../io.ts';

/**
 * Why `portcullis audit` stopped, and the exit code scripts see: `usage` for what the caller wrote
 * (flags, a query the collector calls invalid), `failure` for what it found (no credentials, collector
 * down, token refused, not allowed). The message is printed as is, after "portcullis audit: ".
 */
export class AuditError extends Error {
  readonly exitCode: (typeof EXIT)['usage'] | (typeof EXIT)['failure'];

  constructor(kind: 'usage' | 'failure', message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'AuditError';
    this.exitCode = EXIT[kind];
  }
}

export const usageError = (message: string) => new AuditError('usage', message);
export const failure = (message: string, cause?: unknown) =>
  new AuditError('failure', message, cause === undefined ? undefined : { cause });
