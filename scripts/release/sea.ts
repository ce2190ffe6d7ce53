import { chmod, copyFile, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { run } from '../image/command.ts';

/**
 * A Node single executable: a copy of the node binary with the application's blob injected as the ELF
 * note NODE_SEA_BLOB. Node 24 makes the blob (--experimental-sea-config) but cannot inject it (the
 * built-in --build-sea came with Node 25.5), so postject does, as Node's documentation shows.
 */
export const SEA_CONFIG = {
  // The executable's own users never asked for Node's "experimental feature" warning.
  disableExperimentalSEAWarning: true,
  // V8's code cache of the script: `portcullis status` starts in 0.2 s instead of 0.35 s. The blob is
  // then tied to this exact Node build, which is the base binary anyway.
  useCodeCache: true,
} as const;

/** The fuse Node looks for to know a blob was injected (the value in Node's documentation). */
const SEA_FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';

const postjectCli = join(dirname(createRequire(import.meta.url).resolve('postject')), 'cli.js');

/** Writes `output` (mode 0755) from `node` (the Node binary that also makes the blob) and a CommonJS bundle. */
export async function buildSea(node: string, bundle: string, output: string): Promise<void> {
  const work = await mkdtemp(join(dirname(output), '.sea-'));
  try {
    const config = join(work, 'sea-config.json');
    const blob = join(work, 'sea.blob');
    await writeFile(config, JSON.stringify({ main: bundle, output: blob, ...SEA_CONFIG }));
    await run(node, ['--experimental-sea-config', config]);
    const executable = join(work, 'portcullis');
    await copyFile(node, executable);
    await chmod(executable, 0o755);
    // postject's stderr is LIEF's warnings about Node's many ELF notes; run() reports it only on failure.
    await run(node, [postjectCli, executable, 'NODE_SEA_BLOB', blob, '--sentinel-fuse', SEA_FUSE]);
    await rename(executable, output);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
