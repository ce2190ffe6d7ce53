import { execFile, spawn, type ChildProcess } from 'node:child_process';

/** Runs a command and returns its stdout; a failure carries the command line and its stderr. */
export function run(
  file: string,
  args: readonly string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      file,
      args,
      { ...options, maxBuffer: 64 * 1024 * 1024, encoding: 'utf8' },
      (error, stdout, stderr) => {
        if (error) {
          reject(new Error(`${[file, ...args].join(' ')} failed: ${stderr.trim() || error.message}`));
        } else {
          resolve(stdout);
        }
      },
    );
  });
}

/** `from | to`, both without a shell; rejects if either side fails. */
export function pipe(from: readonly string[], to: readonly string[]): Promise<void> {
  const [fromFile, ...fromArgs] = from;
  const [toFile, ...toArgs] = to;
  const producer = spawn(fromFile!, fromArgs, { stdio: ['ignore', 'pipe', 'pipe'] });
  const consumer = spawn(toFile!, toArgs, { stdio: ['pipe', 'ignore', 'pipe'] });
  producer.stdout.pipe(consumer.stdin);
  const finished = (child: ChildProcess, line: readonly string[]) =>
    new Promise<void>((resolve, reject) => {
      let stderr = '';
      child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      child.on('error', reject);
      child.on('close', (code) =>
        code === 0 ? resolve() : reject(new Error(`${line.join(' ')} exited ${code}: ${stderr.trim()}`)),
      );
    });
  return Promise.all([finished(producer, from), finished(consumer, to)]).then(() => undefined);
}
