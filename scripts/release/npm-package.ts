import { cp, mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { run } from '../image/command.ts';

/**
 * The npm package people install (`npm i -g portcullis`, `npx portcullis`): the compiled dist/ with a
 * manifest of its own. The checkout's package.json stays the development manifest (its bin runs the .ts
 * sources, which Node will not strip types from inside node_modules).
 */
export interface RepoManifest {
  name: string;
  version: string;
  description: string;
  license: string;
  type: string;
  engines: Record<string, string>;
  bin: Record<string, string>;
  dependencies: Record<string, string>;
}

/** What npm publishes: the runtime dependencies only, each bin the compiled twin of the checkout's. */
export function npmManifest(repo: RepoManifest): Record<string, unknown> {
  const bin = Object.fromEntries(
    Object.entries(repo.bin).map(([name, source]) => {
      const compiled = source.replace(/^\.\//, '').replace(/\.ts$/, '.js');
      if (compiled === source || !compiled.startsWith('cli/'))
        throw new Error(`bin ${name}: ${source} is not a cli/*.ts`);
      return [name, compiled];
    }),
  );
  return {
    name: repo.name,
    version: repo.version,
    description: repo.description,
    license: repo.license,
    type: repo.type,
    engines: repo.engines,
    bin,
    dependencies: repo.dependencies,
  };
}

/**
 * Stages the package in `dir` from `dist` (leaving out the example MCP servers, which only the examples
 * image runs, and tsc's copy of the checkout's manifest) and packs it into `out`; returns the tarball's path.
 */
export async function packNpmPackage(
  repo: RepoManifest,
  dist: string,
  readme: string,
  dir: string,
  out: string,
): Promise<string> {
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  await cp(dist, dir, {
    recursive: true,
    filter: (source) => source !== join(dist, 'examples') && source !== join(dist, 'package.json'),
  });
  // cli/run.js reads its version from ../package.json: this manifest, the package's root.
  await writeFile(join(dir, 'package.json'), `${JSON.stringify(npmManifest(repo), null, 2)}\n`);
  await cp(readme, join(dir, 'README.md'));
  const [packed] = JSON.parse(
    await run('npm', ['pack', '--json', '--pack-destination', out], { cwd: dir }),
  ) as {
    filename: string;
  }[];
  if (packed === undefined) throw new Error(`npm pack in ${dir} reported no tarball`);
  return join(out, packed.filename);
}
