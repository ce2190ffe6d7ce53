import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runCachedBuild } from '../cached-build.ts';
import type { SdkServerSpec } from '../spec.ts';

const buildScript = fileURLToPath(new URL('./build.sh', import.meta.url));

/**
 * The official MCP Java SDK server on embedded Tomcat. The JVM flags trade peak speed for start-up,
 * which dominates a test server's life: C1 only, the serial collector, and the class data archive
 * build.sh recorded (ignored, with a warning on stderr, if it does not match this JVM).
 */
export const spec: SdkServerSpec = {
  name: 'java',
  async prepare(cacheDir) {
    const dir = await runCachedBuild(buildScript, cacheDir);
    return [
      'java',
      '-XX:TieredStopAtLevel=1',
      '-XX:+UseSerialGC',
      '-Xmx256m',
      `-XX:SharedArchiveFile=${join(dir, 'server.jsa')}`,
      // JVM diagnostics default to stdout, where only the ready line may appear.
      '-Xlog:disable',
      '-Xlog:all=warning:stderr',
      '-jar',
      join(dir, 'server.jar'),
    ];
  },
};
