import { execFile } from 'node:child_process';
import {
  chmodSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stdioBridgeBinary } from '../harness/stdio-bridge.ts';

/**
 * `portcullis-stdio-bridge install DEST`: what the operator's init container runs in place of `cp`
 * (operator/builders/deployment.ts), since the Portcullis image has neither `cp` nor a shell. The bridge
 * copies its own executable to DEST atomically, executable whatever the umask, and says which step failed.
 */
interface Run {
  code: number;
  stderr: string;
}

function run(binary: string, args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(binary, args, { timeout: 10_000 }, (error, _stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
      resolve({ code, stderr });
    });
  });
}

describe('stdio bridge install', () => {
  let binary: string;
  let dir: string;

  beforeAll(async () => {
    binary = await stdioBridgeBinary();
    dir = mkdtempSync(join(tmpdir(), 'pc-bridge-install-'));
  }, 120_000);
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('copies its own executable to DEST with mode 0755, and the copy runs', async () => {
    const dest = join(dir, 'fresh', 'portcullis-stdio-bridge');
    mkdirSync(join(dir, 'fresh'));
    const previous = process.umask(0o077);
    let result: Run;
    try {
      result = await run(binary, ['install', dest]);
    } finally {
      process.umask(previous);
    }
    expect(result).toEqual({ code: 0, stderr: '' });
    expect(statSync(dest).mode & 0o7777).toBe(0o755);
    expect(readFileSync(dest).equals(readFileSync(binary))).toBe(true);
    // No temporary file left beside it.
    expect(readdirSync(join(dir, 'fresh'))).toEqual(['portcullis-stdio-bridge']);
    // The installed copy is the bridge: without arguments it prints its usage and exits 2.
    const usage = await run(dest, []);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain('portcullis-stdio-bridge install DEST');
  });

  it('replaces an existing file by rename (a restarted init container installs again)', async () => {
    const dest = join(dir, 'again');
    writeFileSync(dest, 'stale');
    chmodSync(dest, 0o600);
    const before = statSync(dest).ino;
    expect((await run(binary, ['install', dest])).code).toBe(0);
    const after = statSync(dest);
    expect(after.ino).not.toBe(before);
    expect(after.mode & 0o7777).toBe(0o755);
    expect(after.size).toBe(statSync(binary).size);
  });

  it('names the failed step and exits 1 when DEST cannot be written', async () => {
    const missing = await run(binary, ['install', join(dir, 'no-such-dir', 'bridge')]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(
      /^portcullis-stdio-bridge: install: create .*no-such-dir: .*no such file/m,
    );

    const occupied = join(dir, 'occupied');
    mkdirSync(join(occupied, 'child'), { recursive: true });
    const overDirectory = await run(binary, ['install', occupied]);
    expect(overDirectory.code).toBe(1);
    expect(overDirectory.stderr).toMatch(/install: rename .*occupied: /);
    expect(readdirSync(dir).filter((name) => name.includes('.tmp-'))).toEqual([]);
  });

  it('exits 2 with its usage when DEST is missing or extra arguments are given', async () => {
    for (const args of [['install'], ['install', 'a', 'b'], ['install', '']]) {
      const result = await run(binary, args);
      expect(result.code, args.join(' ')).toBe(2);
      expect(result.stderr).toBe('usage: portcullis-stdio-bridge install DEST\n');
    }
  });
});
