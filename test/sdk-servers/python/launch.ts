import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runBuildScript } from '../build-script.ts';
import type { SdkServerSpec } from '../spec.ts';

const buildScript = fileURLToPath(new URL('./build.sh', import.meta.url));
const serverScript = fileURLToPath(new URL('./server.py', import.meta.url));

/** The official Python SDK (`mcp`, MCPServer) on uvicorn: the venv is cached, server.py runs from here. */
export const spec: SdkServerSpec = {
  name: 'python',
  async prepare(cacheDir) {
    const venv = await runBuildScript(buildScript, cacheDir);
    return [join(venv, 'bin', 'python'), serverScript];
  },
};
