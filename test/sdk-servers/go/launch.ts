import { fileURLToPath } from 'node:url';
import { runBuildScript } from '../build-script.ts';
import type { SdkServerSpec } from '../spec.ts';

const buildScript = fileURLToPath(new URL('./build.sh', import.meta.url));

/** The official Go SDK (modelcontextprotocol/go-sdk), one static binary in the cache. */
export const spec: SdkServerSpec = {
  name: 'go',
  async prepare(cacheDir) {
    return [await runBuildScript(buildScript, cacheDir)];
  },
};
