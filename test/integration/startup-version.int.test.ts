import { execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, describe, expect, inject, it } from 'vitest';
import packageJson from '../../package.json' with { type: 'json' };
import { eventually } from '../harness/eventually.ts';
import { sidecarProcess, type SidecarProcess } from '../harness/sidecar-process.ts';

/**
 * What a bug report needs first: each component's start-up log line names the version and the commit
 * it runs from (here, the .ts sources of this checkout: its HEAD, "-dirty" with uncommitted changes).
 * The collector's line is checked in cli-audit.int.test.ts.
 */
const repo = join(import.meta.dirname, '../..');
const head = execFileSync('git', ['-C', repo, 'rev-parse', 'HEAD'], { encoding: 'utf8' }).trim();
const build = {
  version: packageJson.version,
  commit: expect.stringMatching(new RegExp(`^${head}(-dirty)?$`)),
};

type LogLine = { msg?: string; version?: string; commit?: string } & Record<string, unknown>;

describe('start-up log lines', () => {
  let sidecar: SidecarProcess | undefined;
  afterAll(async () => {
    await sidecar?.stop();
  });

  it('the sidecar names its version and commit in "sidecar started"', async () => {
    sidecar = await sidecarProcess({
      args: [
        '--policy',
        join(repo, 'test/fixtures/policies/billing'),
        '--upstream',
        'http://127.0.0.1:9/mcp',
      ],
    });
    await sidecar.start();
    // The log is written asynchronously: the line may land just after /readyz answers.
    const started = await eventually(
      async () =>
        readFileSync(sidecar!.logPath, 'utf8')
          .split('\n')
          .filter((line) => line.startsWith('{'))
          .map((line) => JSON.parse(line) as LogLine)
          .find((line) => line.msg === 'sidecar started'),
      (line) => line !== undefined,
    );
    expect(started).toMatchObject(build);
  });

  it('the operator names its version and commit in its first line, before it talks to the API server', async () => {
    const namespace = 'startup-version';
    const child = spawn(
      process.execPath,
      [
        join(repo, 'cli/main.ts'),
        'operator',
        ...['--kubeconfig', inject('kubeconfig'), '-n', namespace],
        ...['--leader-elect', 'false', '--metrics-listen', '127.0.0.1:0'],
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    try {
      const first = await new Promise<LogLine>((resolve, reject) => {
        const lines = createInterface({ input: child.stdout });
        lines.once('line', (line) => resolve(JSON.parse(line) as LogLine));
        child.once('exit', (code) => reject(new Error(`the operator exited (${code}) before logging`)));
      });
      expect(first).toMatchObject({
        msg: 'operator starting',
        ...build,
        namespaces: [namespace],
        leaderElect: false,
      });
    } finally {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    }
  });
});
