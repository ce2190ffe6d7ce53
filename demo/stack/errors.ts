/** Why the demo stack could not start or broke while running; `code` is stable, for tests and scripts. */
export type StackErrorCode =
  'invalid_policy_dir' | 'port_in_use' | 'not_ready' | 'crashed' | 'sign_in_failed';

export class StackError extends Error {
  readonly code: StackErrorCode;
  /** The log of the process concerned, when there is one. */
  readonly logPath: string | undefined;

  constructor(code: StackErrorCode, message: string, logPath?: string) {
    super(message);
    this.name = 'StackError';
    this.code = code;
    this.logPath = logPath;
  }
}
