import { readdirSync, readFileSync } from 'node:fs';
import { commandLine, isRunning } from './processes.ts';

/**
 * The live children of `parent` whose argv contains every string of `argv` (Linux /proc). For tests
 * that must reach a process a component spawned without exposing it, such as the sidecar's stdio
 * server, to kill it from outside as a crash would.
 */
export function childrenOf(parent: number, argv: readonly string[]): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    let stat: string;
    try {
      stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    } catch {
      continue; // gone between readdir and read
    }
    // "pid (comm) state ppid ...": comm may contain spaces and parentheses, so split after the last ')'.
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    if (ppid !== parent || !isRunning(pid)) continue;
    const args = commandLine(pid) ?? [];
    if (argv.every((wanted) => args.some((arg) => arg.includes(wanted)))) pids.push(pid);
  }
  return pids;
}
