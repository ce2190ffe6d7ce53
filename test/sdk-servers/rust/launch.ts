import { fileURLToPath } from 'node:url';
import { runCachedBuild } from '../cached-build.ts';
import type { SdkServerSpec } from '../spec.ts';

const buildScript = fileURLToPath(new URL('./build.sh', import.meta.url));

/** The official Rust SDK (rmcp) server: one native binary, built by cargo into the cache. */
export const spec: SdkServerSpec = {
  name: 'rust',
  async prepare(cacheDir) {
    return [await runCachedBuild(buildScript, cacheDir)];
  },
};
