import { version as nodeVersion } from 'node:process';
import { parseArgs } from 'node:util';
import { API_VERSION } from '../../api/v1alpha1/group.ts';
import { shortCommit, type BuildInfo } from '../../lib/build-info.ts';
import { readBuildInfo } from '../build-info.ts';
import { exitCodeOf, usageError } from '../errors.ts';
import { EXIT, type CliIo } from '../io.ts';

export const VERSION_HELP = `portcullis version — the version and the commit this portcullis was built from

Usage:
  portcullis version [-o json]
  portcullis --version

Prints the product version (package.json), the git commit it was built from ("-dirty" when the
checkout had uncommitted changes), the API version it serves and the Node.js running it. The commit
is recorded at build time (dist/build-info.json, written by 'make build' and the Dockerfile); from a
source checkout it is asked of git; otherwise it is "unknown". The operator, the sidecar and the
collector log the same version and commit in their start-up line.

Flags:
  -o, --output FORMAT  text (default) or json: {version, commit, dirty, commitSource, apiVersion, node}
  -h, --help           show this help

Exit codes: 0 printed, 2 usage error.
`;

/** What `version -o json` prints: stable field names, for scripts and bug reports. */
export interface VersionReport {
  readonly version: string;
  readonly commit: string;
  readonly dirty: boolean;
  readonly commitSource: BuildInfo['source'];
  readonly apiVersion: string;
  readonly node: string;
}

export function versionReport(info: BuildInfo, node: string): VersionReport {
  return {
    version: info.version,
    commit: info.commit,
    dirty: info.dirty,
    commitSource: info.source,
    apiVersion: API_VERSION,
    node,
  };
}

/** `portcullis 0.1.0 (commit 94cf0f2e1a2b, API portcullis.dev/v1alpha1, Node.js v24.11.0)`. */
export function formatVersion(report: VersionReport): string {
  const commit = shortCommit(report);
  return `portcullis ${report.version} (commit ${commit}, API ${report.apiVersion}, Node.js ${report.node})\n`;
}

export async function runVersion(args: readonly string[], io: CliIo): Promise<number> {
  return exitCodeOf('version', io.err, async () => {
    let values: { output?: string | undefined; help?: boolean | undefined };
    try {
      ({ values } = parseArgs({
        args: [...args],
        options: { output: { type: 'string', short: 'o' }, help: { type: 'boolean', short: 'h' } },
        strict: true,
        allowPositionals: false,
      }));
    } catch (error) {
      throw usageError((error as Error).message);
    }
    if (values.help) {
      io.out(VERSION_HELP);
      return EXIT.ok;
    }
    const output = values.output ?? 'text';
    if (output !== 'text' && output !== 'json')
      throw usageError(`--output must be text or json, not ${output}`);
    const report = versionReport(await readBuildInfo({ env: io.env }), nodeVersion);
    io.out(output === 'json' ? `${JSON.stringify(report, null, 2)}\n` : formatVersion(report));
    return EXIT.ok;
  });
}
