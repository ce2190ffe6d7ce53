import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { krewManifest } from '../../scripts/release/krew-manifest.ts';
import { npmManifest } from '../../scripts/release/npm-package.ts';

/** The manifests `make cli` writes: krew's for `kubectl portcullis`, npm's for the published package. */
const repo = join(import.meta.dirname, '../..');
const repoManifest = JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')) as Parameters<
  typeof npmManifest
>[0] & { devDependencies: Record<string, string>; private: boolean };
const sha256 = 'ab'.repeat(32);
const platform = {
  os: 'linux',
  arch: 'amd64',
  uri: 'https://example.com/p.tar.gz',
  sha256,
  bin: 'portcullis',
};

describe('krewManifest', () => {
  it('names the plugin, its v-prefixed version and, per platform, the archive, its digest and the executable', () => {
    const manifest = parse(
      krewManifest({ version: '1.2.3', homepage: 'https://example.com', platforms: [platform] }),
    );
    expect(manifest).toMatchObject({
      apiVersion: 'krew.googlecontainertools.github.com/v1alpha2',
      kind: 'Plugin',
      metadata: { name: 'portcullis' },
      spec: {
        version: 'v1.2.3',
        homepage: 'https://example.com',
        platforms: [
          {
            selector: { matchLabels: { os: 'linux', arch: 'amd64' } },
            uri: 'https://example.com/p.tar.gz',
            sha256,
            files: [{ from: 'portcullis', to: '.' }],
            bin: 'portcullis',
          },
        ],
      },
    });
    // A short line: `kubectl krew search` lists it in a column.
    expect(manifest.spec.shortDescription.length).toBeLessThanOrEqual(50);
  });

  it('refuses what krew would refuse: a version that is not semantic, a digest that is not sha256 hex', () => {
    const plugin = { version: '1.2.3', homepage: 'https://example.com', platforms: [platform] };
    expect(() => krewManifest({ ...plugin, version: 'v1.2' })).toThrow('semantic version');
    expect(() => krewManifest({ ...plugin, platforms: [{ ...platform, sha256: 'AB'.repeat(32) }] })).toThrow(
      'not a sha256',
    );
  });
});

describe('npmManifest', () => {
  const published = npmManifest(repoManifest);

  it('points each bin at the compiled twin of the checkout’s .ts entry point', () => {
    expect(repoManifest.bin).toEqual({
      portcullis: './cli/main.ts',
      'kubectl-portcullis': './cli/kubectl-plugin.ts',
    });
    expect(published['bin']).toEqual({
      portcullis: 'cli/main.js',
      'kubectl-portcullis': 'cli/kubectl-plugin.js',
    });
  });

  it('keeps what a user’s install needs (name, version, ES modules, engines, runtime dependencies) and nothing else', () => {
    expect(published).toEqual({
      name: repoManifest.name,
      version: repoManifest.version,
      description: repoManifest.description,
      license: repoManifest.license,
      type: 'module',
      engines: repoManifest.engines,
      bin: published['bin'],
      dependencies: repoManifest.dependencies,
    });
  });

  it('refuses a bin that is not a TypeScript file under cli/', () => {
    expect(() => npmManifest({ ...repoManifest, bin: { x: './scripts/x.sh' } })).toThrow('bin x');
  });
});
