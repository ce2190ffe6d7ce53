import { join } from 'node:path';
import { build, type BuildOptions, type BuildResult } from 'esbuild';
import { EMBEDDED_BUILD_INFO } from '../../lib/build-info.ts';

/**
 * What both bundles share: the compiled CLI (dist/cli/main.js) and every module it can import, node_modules
 * included, minified for Node 24. Names are kept: stack traces and class names stay readable.
 */
const COMMON = {
  bundle: true,
  platform: 'node',
  target: 'node24',
  minify: true,
  keepNames: true,
  logLevel: 'silent',
} satisfies BuildOptions;

/**
 * import.meta does not exist in CommonJS; esbuild would make it `{}`, and the few modules that locate files
 * next to themselves (the demo's, which need a checkout anyway) would throw on load instead of saying what
 * they miss. It stands for the running file instead: the executable itself in a single executable.
 */
const IMPORT_META_URL = '__portcullisImportMetaUrl';

/**
 * What Node 24 runs inside a single executable: one CommonJS script (ES modules only from Node 25).
 * 22 MB of script (mostly the Kubernetes client's generated models) becomes 6 MB, and start-up with the
 * code cache stays near 0.2 s.
 *
 * buildInfo: the text of dist/build-info.json, which a single executable has no directory to read it
 * from; cli/build-info.ts finds it under this name (lib/build-info.ts, EMBEDDED_BUILD_INFO).
 */
export async function bundleCli(entry: string, outfile: string, buildInfo?: string): Promise<void> {
  const result = await build({
    ...COMMON,
    entryPoints: [entry],
    outfile,
    format: 'cjs',
    define: {
      'import.meta.url': IMPORT_META_URL,
      ...(buildInfo !== undefined ? { [EMBEDDED_BUILD_INFO]: JSON.stringify(buildInfo) } : {}),
    },
    banner: { js: `var ${IMPORT_META_URL} = require('node:url').pathToFileURL(__filename).href;` },
  });
  refuseWarnings(entry, result);
}

/** The bundle's entry file in its directory: `node DIR/portcullis.js sidecar ...`. */
export const DIST_BUNDLE_ENTRY = 'portcullis.js';

/**
 * What the image runs (docs/DESIGN.md, "The image runs a bundle"): ES modules split at every dynamic
 * import, so a command loads only its own chunks, as the unbundled dist/ does (cli/run.ts), minus the
 * thousands of module files, their resolution and their unminified source that V8 keeps in the heap.
 * Measured on the sidecar at rest: 117 MiB RSS unbundled, 97 MiB bundled.
 *
 * outdir sits one level below dist/ (dist/bundle), so code that finds files relative to itself
 * (build-info.json at `..`) finds the same files as from dist/cli/.
 */
export async function bundleDist(entry: string, outdir: string): Promise<void> {
  const result = await build({
    ...COMMON,
    entryPoints: { [DIST_BUNDLE_ENTRY.replace(/\.js$/, '')]: entry },
    outdir,
    format: 'esm',
    splitting: true,
    // The project's dependencies, also for a dist/ compiled elsewhere (the image-layout test's scratch copy).
    nodePaths: [join(import.meta.dirname, '../../node_modules')],
    // CommonJS dependencies bundled into ES modules still call require (for Node's built-ins).
    banner: {
      js: "import { createRequire as __portcullisCreateRequire } from 'node:module';\nconst require = __portcullisCreateRequire(import.meta.url);",
    },
  });
  refuseWarnings(entry, result);
}

/** A warning here means something will not work in the bundle (an import esbuild cannot follow). */
function refuseWarnings(entry: string, result: BuildResult): void {
  if (result.warnings.length > 0) {
    const text = result.warnings.map((w) => `${w.location?.file ?? ''}: ${w.text}`).join('\n');
    throw new Error(`bundling ${entry} warned:\n${text}`);
  }
}
