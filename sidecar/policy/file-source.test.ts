import { mkdir, mkdtemp, rename, rm, stat, symlink, unlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startFileSource, type PolicySource } from './file-source.ts';
import { PolicyHolder } from './policy-holder.ts';

/**
 * The file source must notice every way a policy file is really replaced, through its watch: the poll is
 * set to an hour, so a change that is picked up at all was picked up by the watch. (A missed change fails
 * the test by its timeout; no test measures time.)
 */
const NO_POLL = 3_600_000;

// Same length with and without the kill switch, so size alone cannot tell the versions apart.
const serverYaml = (killed: boolean) => `apiVersion: portcullis.dev/v1alpha1
kind: McpServer
metadata:
  name: billing
  namespace: finance
  annotations:
    portcullis.dev/kill-switch: "${killed ? 'true ' : 'false'}"
spec:
  workload:
    image: registry.example.com/acme/billing-mcp:1.4.2
  auth:
    issuer: https://id.example.com/realms/acme
    publicUrl: https://billing.mcp.example.com/mcp
`;

let dir: string;
let holder: PolicyHolder;
let source: PolicySource | undefined;
const errors: string[] = [];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'portcullis-file-source-'));
  holder = new PolicyHolder(Date.now);
  errors.length = 0;
});
afterEach(async () => {
  source?.stop();
  source = undefined;
  await rm(dir, { recursive: true, force: true });
});

async function start(path: string): Promise<void> {
  source = startFileSource({
    paths: [path],
    holder,
    pollIntervalMs: NO_POLL,
    onError: (message) => errors.push(message),
  });
  await source.ready;
  expect(holder.current, errors.join('\n')).toBeDefined();
}

const killed = () => holder.current?.serverKill !== undefined;

/** Resolves once the holder's policy says `want` (killed or not); the test's timeout is the failure. */
function until(want: boolean): Promise<void> {
  return new Promise((resolve) => {
    if (killed() === want) return resolve();
    holder.onChange(() => {
      if (killed() === want) resolve();
    });
  });
}

/** Write-temp-then-rename, as editors, kubectl cp and config tools do. */
async function renameOver(path: string, text: string, mtimeSeconds?: number): Promise<void> {
  const staging = join(dir, '.staging.tmp');
  await writeFile(staging, text);
  if (mtimeSeconds !== undefined) await utimes(staging, mtimeSeconds, mtimeSeconds);
  await rename(staging, path);
}

/** A ConfigMap volume: name -> ..data/name, ..data -> ..<timestamp>; an update swaps ..data in one rename. */
async function configMapVolume(root: string, text: string): Promise<(text: string) => Promise<void>> {
  let version = 0;
  const publish = async (content: string) => {
    version += 1;
    const versionDir = `..2026_12_06_v${version}`;
    await mkdir(join(root, versionDir));
    await writeFile(join(root, versionDir, 'server.yaml'), content);
    await symlink(versionDir, join(root, '..data_tmp'));
    await rename(join(root, '..data_tmp'), join(root, '..data'));
    if (version > 1) await rm(join(root, `..2026_12_06_v${version - 1}`), { recursive: true });
  };
  await mkdir(root, { recursive: true });
  await publish(text);
  await symlink(join('..data', 'server.yaml'), join(root, 'server.yaml'));
  return publish;
}

describe.each([
  ['a directory', (d: string) => d],
  ['a file', (d: string) => join(d, 'server.yaml')],
])('startFileSource watching %s', (_name, configured) => {
  it('picks up an in-place write', async () => {
    const file = join(dir, 'server.yaml');
    await writeFile(file, serverYaml(false));
    await start(configured(dir));
    await writeFile(file, serverYaml(true));
    await until(true);
  });

  it('picks up a rename over the file, again and again (the watch outlives the first)', async () => {
    const file = join(dir, 'server.yaml');
    await writeFile(file, serverYaml(false));
    await start(configured(dir));
    for (const state of [true, false, true]) {
      await renameOver(file, serverYaml(state));
      await until(state);
    }
  });

  it('picks up a rename of a file with the same size and mtime (compared by content)', async () => {
    const file = join(dir, 'server.yaml');
    await writeFile(file, serverYaml(false));
    // Whole seconds, so both files' mtimeMs are exactly equal (tools such as rsync -t and tar keep mtimes).
    const mtime = 1_800_000_000;
    await utimes(file, mtime, mtime);
    await start(configured(dir));
    await renameOver(file, serverYaml(true), mtime);
    expect((await stat(file)).mtimeMs).toBe(mtime * 1000);
    await until(true);
  });

  it('picks up a delete and re-create', async () => {
    const file = join(dir, 'server.yaml');
    await writeFile(file, serverYaml(false));
    await start(configured(dir));
    await unlink(file);
    await writeFile(file, serverYaml(true));
    await until(true);
    // Still watching after the re-create.
    await writeFile(file, serverYaml(false));
    await until(false);
  });

  it('picks up ConfigMap-style ..data symlink swaps, again and again', async () => {
    const publish = await configMapVolume(dir, serverYaml(false));
    await start(configured(dir));
    for (const state of [true, false, true]) {
      await publish(serverYaml(state));
      await until(state);
    }
  });
});

describe('startFileSource watching a directory that is itself replaced', () => {
  it('picks up a new directory renamed over the old one, and keeps watching the new one', async () => {
    const policyDir = join(dir, 'policy');
    await mkdir(policyDir);
    await writeFile(join(policyDir, 'server.yaml'), serverYaml(false));
    await start(policyDir);
    const next = join(dir, 'policy-next');
    await mkdir(next);
    await writeFile(join(next, 'server.yaml'), serverYaml(true));
    await rm(policyDir, { recursive: true });
    await rename(next, policyDir);
    await until(true);
    await writeFile(join(policyDir, 'server.yaml'), serverYaml(false));
    await until(false);
  });
});
