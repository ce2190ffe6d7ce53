import { existsSync } from 'node:fs';
import { join } from 'node:path';
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
