import { appendFileSync } from 'node:fs';

/** Records tool executions for the harness (see ../README.md, "the execution log"). */
export interface ExecutionLog {
  record(tool: string, args: Record<string, unknown>): void;
}

/**
 * One JSON line per execution, appended synchronously (open in append mode, write, close) before
 * the tool answers: the log never lags behind a result the client has seen, and lines stay whole
 * when the harness truncates the file between cases.
 */
export function executionLog(sdk: string, path: string): ExecutionLog {
  return {
    record(tool, args) {
      appendFileSync(path, `${JSON.stringify({ sdk, tool, arguments: args })}\n`);
    },
  };
}
