import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * NODE_OPTIONS for a child process that appends the URL of every module it loads from node_modules (ESM or
 * CommonJS) to a file in `dir`: Node's in-thread module hooks, so a test sees what the process really
 * loaded, and when. `packages()` names the packages loaded so far (`@bufbuild/cel`, `ajv`, ...).
 */
export function recordPackageLoads(dir: string): {
  env: Record<string, string>;
  packages: () => Set<string>;
} {
  const hook = join(dir, 'record-package-loads.mjs');
  const log = join(dir, 'package-loads.txt');
  writeFileSync(
    hook,
    `import { registerHooks } from 'node:module';
import { appendFileSync } from 'node:fs';
registerHooks({
  load(url, context, next) {
    if (url.includes('/node_modules/')) appendFileSync(${JSON.stringify(log)}, url + '\\n');
    return next(url, context);
  },
});
`,
  );
  return {
    env: { NODE_OPTIONS: `--import=${hook}` },
    packages: () => {
      const urls = existsSync(log) ? readFileSync(log, 'utf8').split('\n') : [];
      const names = urls.map((url) => /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url)?.[1]);
      return new Set(names.filter((name): name is string => name !== undefined));
    },
  };
}
