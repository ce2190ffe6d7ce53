/**
 * Every failure of the write-ahead log is one of these, with a stable code: callers map them to a refusal
 * (a full or broken WAL refuses calls rather than losing evidence), never to a crash.
 */
export type WalErrorCode =
  | 'wal_full'
  | 'wal_io'
  | 'wal_closed'
  | 'wal_record_too_large'
  | 'wal_invalid_event'
  | 'wal_invalid_argument';

export abstract class WalError extends Error {
  abstract readonly code: WalErrorCode;
}

/** No room for the record: the maxBytes bound, or the volume itself (ENOSPC, EDQUOT, EFBIG). Nothing was written. */
export class WalFullError extends WalError {
  readonly code = 'wal_full';
}

/**
 * The volume failed (EIO, EROFS, a failed fsync, ...). After a failed fsync the WAL refuses every append:
 * the kernel may have dropped the dirty pages, so nothing written since the last good sync can be trusted.
 */
export class WalIoError extends WalError {
  readonly code = 'wal_io';
}

export class WalClosedError extends WalError {
  readonly code = 'wal_closed';
}

export class WalRecordTooLargeError extends WalError {
  readonly code = 'wal_record_too_large';
}

/** The draft cannot be serialised (a BigInt, a cycle): a producer bug, refused before anything is written. */
export class WalInvalidEventError extends WalError {
  readonly code = 'wal_invalid_event';
}

/** An option or argument out of range: a bug in the caller. */
export class WalArgumentError extends WalError {
  readonly code = 'wal_invalid_argument';
}

/** The errno-style code of a Node system error, if it is one. */
export function systemErrorCode(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null || !('code' in error)) return undefined;
  const code = (error as { code: unknown }).code;
  return typeof code === 'string' ? code : undefined;
}

const OUT_OF_SPACE = new Set(['ENOSPC', 'EDQUOT', 'EFBIG']);

/** Maps a failed write or create to WalFullError (the volume is full) or WalIoError (anything else). */
export function walErrorFromSystemError(error: unknown, what: string): WalFullError | WalIoError {
  const code = systemErrorCode(error) ?? 'unknown';
  const message = `${what}: ${code}`;
  return OUT_OF_SPACE.has(code)
    ? new WalFullError(`the WAL volume is full (${message})`, { cause: error })
    : new WalIoError(message, { cause: error });
}
