import { execFile } from 'node:child_process';

/** A cold build compiles a whole SDK (rmcp takes minutes on 2 cores); a warm one only checks a stamp. */
const buildTimeoutMs = 20 * 60_000;

/**
 * Runs one of the sdk-servers build.sh scripts against the cache root `cacheDir` (its
 * PORTCULLIS_CACHE) and returns the path it prints last on stdout. The script's progress goes to
 * stderr, which a failure quotes.
 */
export function runCachedBuild(buildScript: string, cacheDir: string): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      buildScript,
      [],
      {
        env: { ...process.env, PORTCULLIS_CACHE: cacheDir },
        timeout: buildTimeoutMs,
        killSignal: 'SIGKILL',
        maxBuffer: 16 * 1024 * 1024,
      },
      (error, stdout, stderr) => {
        const built = stdout.trim().split('\n').at(-1) ?? '';
        if (error !== null || built === '') {
          const why = error?.message ?? 'it printed no path';
          reject(new Error(`${buildScript} failed: ${why}\n${stderr.slice(-4000)}`));
          return;
        }
        resolve(built);
      },
    );
  });
}
