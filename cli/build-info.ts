import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import packageJson from '../package.json' with { type: 'json' };
import {
  BUILD_INFO_FILE,
  isCommit,
  parseBuildInfoFile,
  UNKNOWN_COMMIT,
  type BuildInfo,
} from '../lib/build-info.ts';

const exec = promisify(execFile);

/**
 * Where this code runs from: dist/ (compiled: `make build`, the image) or the checkout's root (the .ts
 * sources, run directly by Node). build-info.json sits at that root in dist/.
 */
const HERE = fileURLToPath(new URL('..', import.meta.url));
const FROM_SOURCES = import.meta.url.endsWith('.ts');

export interface ReadBuildInfoOptions {
  /** The environment git runs with (PATH finds it). */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** The directory holding build-info.json, and the checkout git is asked in (default: see HERE). */
  readonly root?: string;
  /**
   * Ask git when there is no build-info.json (default: only when running from the .ts sources). Compiled
   * code never asks: dist/ inside a checkout would otherwise report the checkout's HEAD, which need not
   * be what was compiled.
   */
  readonly askGit?: boolean;
}

/**
 * The version and the commit this portcullis was built from: build-info.json (written by `make build`
 * and the Dockerfile), else `git` in a source checkout, else "unknown". Never fails: a version that
 * cannot be told must not stop a sidecar from starting.
 */
export async function readBuildInfo(options: ReadBuildInfoOptions): Promise<BuildInfo> {
  const root = options.root ?? HERE;
  const version = packageJson.version;
  const recorded = await readFile(join(root, BUILD_INFO_FILE), 'utf8').then(
    parseBuildInfoFile,
    () => undefined,
  );
  if (recorded) return { version, ...recorded, source: 'build-info' };
  if (options.askGit ?? FROM_SOURCES) {
    const fromGit = await gitCommit(root, options.env);
    if (fromGit) return { version, ...fromGit, source: 'git' };
  }
  return { version, commit: UNKNOWN_COMMIT, dirty: false, source: 'none' };
}

/**
 * HEAD of the checkout `dir` is in, and whether tracked files differ from it; undefined without git or a
 * checkout. Untracked files do not count: a stray scratch file changes nothing that was built.
 */
export async function gitCommit(
  dir: string,
  env: Readonly<Record<string, string | undefined>>,
): Promise<{ commit: string; dirty: boolean } | undefined> {
  const git = (...args: string[]) =>
    exec('git', ['-C', dir, ...args], { timeout: 5_000, env: gitEnv(env) }).then(({ stdout }) =>
      stdout.trim(),
    );
  try {
    const [commit, changes] = await Promise.all([
      git('rev-parse', '--verify', 'HEAD'),
      git('status', '--porcelain', '--untracked-files=no'),
    ]);
    return isCommit(commit) ? { commit, dirty: changes !== '' } : undefined;
  } catch {
    return undefined;
  }
}

/** git as found on PATH; GIT_DIR and friends (set when a git hook runs us) must not point it elsewhere. */
function gitEnv(env: Readonly<Record<string, string | undefined>>): Record<string, string> {
  const clean: Record<string, string> = { LC_ALL: 'C' };
  for (const [key, value] of Object.entries(env)) {
    if (value !== undefined && !key.startsWith('GIT_') && key !== 'LC_ALL') clean[key] = value;
  }
  return clean;
}
