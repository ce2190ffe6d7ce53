import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BUILD_INFO_FILE, parseBuildInfoFile } from '../../lib/build-info.ts';
import packageJson from '../../package.json' with { type: 'json' };
import { MissingBinaryError } from './binaries.ts';

/** What `make cli` writes into release/ (scripts/release/main.ts). */
export interface ReleaseArtifacts {
  /** The single executable, linux/amd64. */
  readonly executable: string;
  /** portcullis-linux-amd64.tar.gz, the archive the krew manifest names. */
  readonly archive: string;
  readonly krewManifest: string;
  /** The npm package, as `npm pack` wrote it. */
  readonly npmPackage: string;
}

const release = join(import.meta.dirname, '../../release');

export function releaseArtifacts(): ReleaseArtifacts {
  const artifacts = {
    executable: join(release, 'portcullis'),
    archive: join(release, 'portcullis-linux-amd64.tar.gz'),
    krewManifest: join(release, 'krew/portcullis.yaml'),
    npmPackage: join(release, `portcullis-${packageJson.version}.tgz`),
  };
  for (const path of Object.values(artifacts)) {
    // Built once by make (about 20 s, then cached), not per test: `make test` and `make test-integration` do.
    if (!existsSync(path)) throw new MissingBinaryError(path, 'run `make cli` first');
  }
  return artifacts;
}

/**
 * What `portcullis version -o json` says of a build from this checkout's dist/ (which `make cli` packs):
 * the commit `make build` recorded there.
 */
export function expectedVersion(): Record<string, unknown> {
  const recorded = parseBuildInfoFile(
    readFileSync(join(import.meta.dirname, '../../dist', BUILD_INFO_FILE), 'utf8'),
  );
  if (recorded === undefined) throw new Error(`dist/${BUILD_INFO_FILE} does not hold a build record`);
  return {
    version: packageJson.version,
    ...recorded,
    commitSource: 'build-info',
    apiVersion: 'portcullis.dev/v1alpha1',
  };
}
