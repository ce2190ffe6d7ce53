import { stringify } from 'yaml';

/**
 * The krew plugin manifest for `kubectl portcullis`, written from the build: the version from package.json,
 * the sha256 of the archive just built. Written by hand, the sha256 would go stale with the next build.
 */
export interface KrewPlatform {
  readonly os: string;
  readonly arch: string;
  /** Where krew downloads the archive from. */
  readonly uri: string;
  /** The archive's sha256, hex. */
  readonly sha256: string;
  /** The executable's name inside the archive. */
  readonly bin: string;
}

export interface KrewPlugin {
  /** package.json's version, without a leading v. */
  readonly version: string;
  readonly homepage: string;
  readonly platforms: readonly KrewPlatform[];
}

export const KREW_PLUGIN_NAME = 'portcullis';

export function krewManifest(plugin: KrewPlugin): string {
  if (!/^\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?$/.test(plugin.version)) {
    throw new Error(`krew needs a semantic version, got ${plugin.version}`);
  }
  for (const { sha256 } of plugin.platforms) {
    if (!/^[0-9a-f]{64}$/.test(sha256)) throw new Error(`not a sha256 in hex: ${sha256}`);
  }
  const manifest = {
    apiVersion: 'krew.googlecontainertools.github.com/v1alpha2',
    kind: 'Plugin',
    metadata: { name: KREW_PLUGIN_NAME },
    spec: {
      version: `v${plugin.version}`,
      homepage: plugin.homepage,
      shortDescription: 'Kill switches, status and audit for MCP servers',
      description: [
        'The portcullis command line as a kubectl plugin: engage and release kill switches on',
        'McpServers, their tools, ToolPolicies and namespaces; see McpServers at a glance; query the',
        'audit trail (who called which tool, decided how); test policy files offline against sample',
        'calls. One executable with Node.js inside: nothing else to install.',
      ].join('\n'),
      platforms: plugin.platforms.map((platform) => ({
        selector: { matchLabels: { os: platform.os, arch: platform.arch } },
        uri: platform.uri,
        sha256: platform.sha256,
        // The archive holds the executable at its root; krew links it as kubectl-portcullis.
        files: [{ from: platform.bin, to: '.' }],
        bin: platform.bin,
      })),
    },
  };
  return stringify(manifest, { lineWidth: 0 });
}
