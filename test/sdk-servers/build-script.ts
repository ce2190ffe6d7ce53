import { execFile } from 'node:child_process';

/**
 * Runs one of the `build.sh` scripts with PORTCULLIS_CACHE set to `cacheDir` and returns the path it
 * prints (its last line of stdout). A cold build downloads and compiles, so there is no timeout here;
 * a failure carries the script's stderr.
 */
export function runBuildScript(script: string, cacheDir: string): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      script,
      { env: { ...process.env, PORTCULLIS_CACHE: cacheDir }, maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const built = stdout.trim().split('\n').at(-1) ?? '';
        if (error !== null || built === '') {
          reject(new Error(`${script} failed (${error?.message ?? 'it printed no path'}):\n${stderr}`));
        } else {
          resolve(built);
        }
      },
    );
  });
}
