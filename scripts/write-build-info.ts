// Records the commit a build comes from, so `portcullis version` and the start-up log lines can name it
// where there is no .git (dist/, the image): writes DIR/build-info.json (lib/build-info.ts has the format).
// Usage: node scripts/write-build-info.ts DIR     (`make build` runs it on dist/, the Dockerfile too)
// The commit: $PORTCULLIS_COMMIT when set (a Docker build has no .git: docker build --build-arg
// PORTCULLIS_COMMIT=$(git rev-parse HEAD) .), else this checkout's HEAD, else "unknown" (with a warning).
import { writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { gitCommit } from '../cli/build-info.ts';
import { BUILD_INFO_FILE, buildInfoFileText, isCommit, UNKNOWN_COMMIT } from '../lib/build-info.ts';

const [dir] = process.argv.slice(2);
if (dir === undefined) {
  console.error('usage: node scripts/write-build-info.ts DIR');
  process.exit(2);
}
const given = process.env['PORTCULLIS_COMMIT']?.trim().toLowerCase();
if (given && !isCommit(given)) {
  console.error(`write-build-info: PORTCULLIS_COMMIT=${given} is not a commit hash (7 to 64 hex digits)`);
  process.exit(2);
}
const found = given
  ? { commit: given, dirty: false }
  : await gitCommit(resolve(import.meta.dirname, '..'), process.env);
if (found === undefined) {
  console.error(
    'write-build-info: no git checkout here and no PORTCULLIS_COMMIT: the build says commit "unknown"',
  );
}
const path = join(dir, BUILD_INFO_FILE);
await writeFile(path, buildInfoFileText(found?.commit ?? UNKNOWN_COMMIT, found?.dirty ?? false));
