import { execFile } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync } from 'node:fs';
import { delimiter, dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import packageJson from '../../package.json' with { type: 'json' };
import { releaseArtifacts } from '../harness/release.ts';

/**
 * The npm package `make cli` packs, laid out as `npm i -g --prefix PREFIX` lays it out: the package in
 * PREFIX/lib/node_modules/portcullis, each bin linked from PREFIX/bin and made executable. Its dependencies
 * are the checkout's node_modules, so this holds the package's own files to account (compiled bins, the
 * manifest, ES modules), not the registry; `npm i -g` of the tarball is in docs/cli.md.
 */
const execFileAsync = promisify(execFile);
const repo = join(import.meta.dirname, '../..');
let listing: string[];
let prefix: string;

beforeAll(async () => {
  const { npmPackage } = releaseArtifacts();
  listing = (await execFileAsync('tar', ['-tzf', npmPackage])).stdout.trimEnd().split('\n');
  prefix = mkdtempSync(join(inject('scratchDir'), 'npm-prefix-'));
  const installed = join(prefix, 'lib/node_modules/portcullis');
  mkdirSync(installed, { recursive: true });
  await execFileAsync('tar', ['-xzf', npmPackage, '-C', installed, '--strip-components=1']);
  symlinkSync(join(repo, 'node_modules'), join(installed, 'node_modules'));
  mkdirSync(join(prefix, 'bin'));
  const manifest = JSON.parse(readFileSync(join(installed, 'package.json'), 'utf8')) as {
    bin: Record<string, string>;
  };
  for (const [name, target] of Object.entries(manifest.bin)) {
    chmodSync(join(installed, target), 0o755);
    symlinkSync(join('../lib/node_modules/portcullis', target), join(prefix, 'bin', name));
  }
});

async function installed(command: string, args: readonly string[]) {
  // The bins start with #!/usr/bin/env node: the Node running this test, first on PATH.
  const env = { PATH: [join(prefix, 'bin'), dirname(process.execPath)].join(delimiter), HOME: prefix };
  return execFileAsync(join(prefix, 'bin', command), args, { env, cwd: prefix, timeout: 20_000 });
}

describe('the npm package', () => {
  it('holds compiled JavaScript, its manifest and README, and no TypeScript, tests or example servers', () => {
    expect(listing.every((path) => path.startsWith('package/'))).toBe(true);
    expect(listing).toEqual(
      expect.arrayContaining([
        'package/package.json',
        'package/README.md',
        'package/cli/main.js',
        'package/cli/kubectl-plugin.js',
      ]),
    );
    expect(listing.filter((path) => /\.(ts|mts|cts)$|\.test\.js$|^package\/examples\//.test(path))).toEqual(
      [],
    );
  });

  it('runs portcullis from its bin, reporting the checkout’s version', async () => {
    const help = await installed('portcullis', ['--help']);
    expect(help.stdout).toMatch(/^portcullis — a policy gate in front of every MCP server on Kubernetes\n/);
    const version = await installed('portcullis', ['version']);
    expect(version.stdout).toBe(`portcullis ${packageJson.version} (API portcullis.dev/v1alpha1)\n`);
  });

  it('runs kubectl-portcullis, the kubectl plugin, as the same command', async () => {
    const result = await installed('kubectl-portcullis', [
      'policy',
      'test',
      '-f',
      join(repo, 'examples/billing.yaml'),
      '--calls',
      join(repo, 'examples/policy-tests/billing-calls.yaml'),
    ]);
    expect(result.stdout).toMatch(/\n9 calls: 9 passed, 0 failed, 0 without expectations /);
  });
});
