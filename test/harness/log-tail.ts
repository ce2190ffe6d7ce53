import { closeSync, fstatSync, openSync, readSync } from 'node:fs';

/** The last `lines` lines of a log file, for error messages; a missing file reads as empty. */
export function logTail(path: string, lines = 30): string {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return '';
  }
  try {
    const size = fstatSync(fd).size;
    // Server log lines are short; 16 KiB holds the tail we want without reading huge logs.
    const length = Math.min(size, 16 * 1024);
    const buffer = Buffer.alloc(length);
    readSync(fd, buffer, 0, length, size - length);
    return buffer.toString('utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } finally {
    closeSync(fd);
  }
}

/** A log tail indented under a heading, ready to append to an error message. */
export function describeLog(name: string, path: string, lines = 30): string {
  const tail = logTail(path, lines);
  const body = tail === '' ? '    (empty)' : tail.replace(/^/gm, '    ');
  return `--- last lines of ${name} log (${path}) ---\n${body}`;
}
