import { describe, expect, it } from 'vitest';
import { buildInfoFileText, buildLogFields, parseBuildInfoFile, shortCommit } from './build-info.ts';

const COMMIT = '94cf0f2e1a2b3c4d5e6f708192a3b4c5d6e7f809';

describe('build-info.json', () => {
  it('round-trips the commit and whether the tree was dirty', () => {
    expect(parseBuildInfoFile(buildInfoFileText(COMMIT, false))).toEqual({ commit: COMMIT, dirty: false });
    expect(parseBuildInfoFile(buildInfoFileText(COMMIT, true))).toEqual({ commit: COMMIT, dirty: true });
  });

  it('writes "unknown" for what is not a commit hash, never the text itself', () => {
    expect(JSON.parse(buildInfoFileText('HEAD; rm -rf /', true))).toEqual({
      commit: 'unknown',
      dirty: false,
    });
    expect(parseBuildInfoFile(buildInfoFileText('', false))).toEqual({ commit: 'unknown', dirty: false });
  });

  it('refuses a damaged or foreign file instead of trusting it', () => {
    for (const text of ['', '{', 'null', '[]', '{"commit": 7}', '{"commit": "main"}', '{"commit": "abc"}']) {
      expect(parseBuildInfoFile(text), text).toBeUndefined();
    }
    expect(parseBuildInfoFile(`{"commit": "${COMMIT}", "dirty": "yes"}`)).toBeUndefined();
    // A file without "dirty" (an older writer) is a clean build of that commit.
    expect(parseBuildInfoFile(`{"commit": "${COMMIT}"}`)).toEqual({ commit: COMMIT, dirty: false });
  });
});

describe('how a commit is shown', () => {
  it('quotes 12 hex digits, marks a dirty tree, and says unknown when there is none', () => {
    expect(shortCommit({ commit: COMMIT, dirty: false })).toBe('94cf0f2e1a2b');
    expect(shortCommit({ commit: COMMIT, dirty: true })).toBe('94cf0f2e1a2b-dirty');
    expect(shortCommit({ commit: 'unknown', dirty: true })).toBe('unknown');
  });

  it('logs the version and the full commit at start-up', () => {
    expect(buildLogFields({ version: '0.1.0', commit: COMMIT, dirty: true, source: 'git' })).toEqual({
      version: '0.1.0',
      commit: `${COMMIT}-dirty`,
    });
  });
});
