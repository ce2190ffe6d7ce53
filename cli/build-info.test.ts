import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import packageJson from '../package.json' with { type: 'json' };
import { gitCommit, readBuildInfo } from './build-info.ts';

const repo = join(import.meta.dirname, '..');
const env = { PATH: process.env['PATH'] ?? '/usr/bin:/bin' };
const scratch = () => mkdtempSync(join(tmpdir(), 'portcullis-build-info-'));
const COMMIT = '0123456789abcdef0123456789abcdef01234567';

/** A git repository with one commit of one file; returns its directory and HEAD. */
function gitRepository(): { dir: string; head: string } {
  const dir = scratch();
  const git = (...args: string[]) =>
    execFileSync('git', ['-C', dir, ...args], {
      env: {
        ...env,
        GIT_AUTHOR_NAME: 't',
        GIT_AUTHOR_EMAIL: 't@example.com',
        GIT_COMMITTER_NAME: 't',
        GIT_COMMITTER_EMAIL: 't@example.com',
      },
      encoding: 'utf8',
    }).trim();
  git('init', '-q');
  writeFileSync(join(dir, 'file'), 'one\n');
  git('add', 'file');
  git('commit', '-q', '-m', 'one');
  return { dir, head: git('rev-parse', 'HEAD') };
}

describe('readBuildInfo', () => {
  it('takes the commit from build-info.json beside the compiled code, with the package version', async () => {
    const dir = scratch();
    writeFileSync(join(dir, 'build-info.json'), JSON.stringify({ commit: COMMIT, dirty: false }));
    expect(await readBuildInfo({ root: dir, env })).toEqual({
      version: packageJson.version,
      commit: COMMIT,
      dirty: false,
      source: 'build-info',
    });
  });

  it('asks git in a source checkout without the file, and says when tracked files changed', async () => {
    const { dir, head } = gitRepository();
    expect(await readBuildInfo({ root: dir, env, askGit: true })).toMatchObject({
      commit: head,
      dirty: false,
      source: 'git',
    });
    writeFileSync(join(dir, 'untracked'), 'scratch\n');
    expect((await readBuildInfo({ root: dir, env, askGit: true })).dirty).toBe(false);
    writeFileSync(join(dir, 'file'), 'two\n');
    expect((await readBuildInfo({ root: dir, env, askGit: true })).dirty).toBe(true);
  });

  it('never asks git for compiled code: dist/ inside a checkout is not that checkout HEAD', async () => {
    const { dir } = gitRepository();
    expect(await readBuildInfo({ root: dir, env, askGit: false })).toMatchObject({
      commit: 'unknown',
      source: 'none',
    });
  });

  it('says "unknown" without the file and without a checkout, or when the file is damaged', async () => {
    const dir = scratch();
    expect(await readBuildInfo({ root: dir, env, askGit: true })).toEqual({
      version: packageJson.version,
      commit: 'unknown',
      dirty: false,
      source: 'none',
    });
    writeFileSync(join(dir, 'build-info.json'), '{"commit": "not a hash"}');
    expect((await readBuildInfo({ root: dir, env, askGit: true })).commit).toBe('unknown');
    expect(await gitCommit(dir, { PATH: '/nonexistent' })).toBeUndefined();
  });

  it('reads this checkout from the sources (how tests and `node cli/main.ts` run)', async () => {
    const head = execFileSync('git', ['-C', repo, 'rev-parse', 'HEAD'], { encoding: 'utf8' }).trim();
    expect(await readBuildInfo({ env })).toMatchObject({ commit: head, source: 'git' });
  });
});

describe('scripts/write-build-info.ts (make build, the Dockerfile)', () => {
  const write = (dir: string, extra: Record<string, string>) =>
    execFileSync(process.execPath, [join(repo, 'scripts/write-build-info.ts'), dir], {
      env: { ...env, ...extra },
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });

  it('records PORTCULLIS_COMMIT (a Docker build has no .git), which readBuildInfo then reports', async () => {
    const dir = scratch();
    write(dir, { PORTCULLIS_COMMIT: COMMIT.toUpperCase() });
    expect(JSON.parse(readFileSync(join(dir, 'build-info.json'), 'utf8'))).toEqual({
      commit: COMMIT,
      dirty: false,
    });
    expect(await readBuildInfo({ root: dir, env, askGit: false })).toMatchObject({
      commit: COMMIT,
      source: 'build-info',
    });
  });

  it("records this checkout's HEAD without it, and refuses a PORTCULLIS_COMMIT that is no hash", () => {
    const dir = scratch();
    write(dir, {});
    const head = execFileSync('git', ['-C', repo, 'rev-parse', 'HEAD'], { encoding: 'utf8' }).trim();
    expect(JSON.parse(readFileSync(join(dir, 'build-info.json'), 'utf8')).commit).toBe(head);
    expect(() => write(scratch(), { PORTCULLIS_COMMIT: 'main' })).toThrow(/not a commit hash/);
  });
});
