/**
 * What a running portcullis was built from: the product version (package.json) and the git commit.
 * Pure: the file format and its checks. Reading the file, and asking git where there is none, is
 * cli/build-info.ts; writing it at build time is scripts/write-build-info.ts.
 *
 * The commit must be known where there is no .git (dist/, the image), so `make build` and the Dockerfile
 * write it next to the compiled code as build-info.json: {"commit": "<40 hex>", "dirty": false}.
 */
export interface BuildInfo {
  /** package.json's version, e.g. 0.1.0. */
  readonly version: string;
  /** The full commit hash, or "unknown" (a build outside a checkout without PORTCULLIS_COMMIT). */
  readonly commit: string;
  /** Built from a checkout with uncommitted changes to tracked files: the commit alone does not reproduce it. */
  readonly dirty: boolean;
  /** Where the commit came from: the build-info file, git in a source checkout, or nowhere. */
  readonly source: 'build-info' | 'git' | 'none';
}

export const UNKNOWN_COMMIT = 'unknown';

/** The file `make build` writes into dist/ (and the Dockerfile into the image's dist/). */
export const BUILD_INFO_FILE = 'build-info.json';
/**
 * The global a bundler defines to the text of build-info.json, where there is no file beside the code
 * (the single executable: scripts/bundle/bundle.ts).
 */
export const EMBEDDED_BUILD_INFO = '__PORTCULLIS_BUILD_INFO__';

/** A git object name: abbreviated (7+) or full, SHA-1 or SHA-256. */
const COMMIT = /^[0-9a-f]{7,64}$/;

export function isCommit(text: string): boolean {
  return COMMIT.test(text);
}

/** The file's text; a hash that is not one is written as "unknown" rather than passed on. */
export function buildInfoFileText(commit: string, dirty: boolean): string {
  const known = isCommit(commit);
  return `${JSON.stringify({ commit: known ? commit : UNKNOWN_COMMIT, dirty: known && dirty })}\n`;
}

/**
 * The commit recorded in a build-info file, or undefined when the text is not one (damaged, or written
 * by something else): the caller then reports "unknown" instead of trusting it.
 */
export function parseBuildInfoFile(text: string): { commit: string; dirty: boolean } | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const { commit, dirty } = value as { commit?: unknown; dirty?: unknown };
  if (typeof commit !== 'string' || (commit !== UNKNOWN_COMMIT && !isCommit(commit))) return undefined;
  if (dirty !== undefined && typeof dirty !== 'boolean') return undefined;
  return { commit, dirty: dirty === true };
}

/** 12 hex digits, as people quote a commit; "-dirty" when the tree had changes. */
export function shortCommit(info: Pick<BuildInfo, 'commit' | 'dirty'>): string {
  if (!isCommit(info.commit)) return UNKNOWN_COMMIT;
  return `${info.commit.slice(0, 12)}${info.dirty ? '-dirty' : ''}`;
}

/** The fields every start-up log line carries: the version and the commit, "-dirty" included. */
export function buildLogFields(info: BuildInfo): { version: string; commit: string } {
  return { version: info.version, commit: `${info.commit}${info.dirty ? '-dirty' : ''}` };
}
