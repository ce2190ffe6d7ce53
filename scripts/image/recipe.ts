import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { operatorSettingsSchema } from '../../operator/settings.ts';
import { DIST_BUNDLE_ENTRY } from '../bundle/bundle.ts';
import type { ContainerConfig } from './docker-archive.ts';

/**
 * The Docker-free recipe of the Dockerfile's final stage, one entry per line there:
 *   FROM node:24-bookworm-slim      -> Debian bookworm .debs (libc6, libstdc++6, libgcc-s1) + the Node binary
 *   apt-get install iptables        -> DEBIAN_ROOTS (with its dependency closure, no Recommends)
 *   WORKDIR/COPY/ENV/USER/ENTRYPOINT/CMD -> below
 * test/integration/image-layout.int.test.ts parses the Dockerfile and holds the two to the same layout.
 */
export const DEBIAN_ROOTS = ['iptables', 'libstdc++6'];

/** The Dockerfile's USER: numeric, non-root; the operator runs sidecars as this UID (settings sidecarUid). */
export const UID = 65532;

/** The base image's PATH (node:24-bookworm-slim), unchanged. */
export const PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export const PASSWD = `root:x:0:0:root:/root:/usr/sbin/nologin\nnonroot:x:${UID}:${UID}:nonroot:/nonexistent:/usr/sbin/nologin\n`;
export const GROUP = `root:x:0:\nnonroot:x:${UID}:\n`;

export interface ImageNames {
  version: string;
  /** ghcr.io/portcullis-dev/portcullis:VERSION: what the chart and the operator's sidecarImage pull. */
  product: string;
  /** ghcr.io/portcullis-dev/portcullis-examples:VERSION */
  examples: string;
}

/**
 * The tag pods will ask for: the operator's default sidecarImage, which must be the chart's default image
 * (values.yaml image.repository : Chart.yaml appVersion) and carry package.json's version.
 */
export function imageNames(repo: string): ImageNames {
  const sidecarImage = operatorSettingsSchema.parse({}).sidecarImage;
  const chart = parseYaml(readFileSync(join(repo, 'charts/portcullis/Chart.yaml'), 'utf8')) as {
    appVersion: string;
  };
  const values = parseYaml(readFileSync(join(repo, 'charts/portcullis/values.yaml'), 'utf8')) as {
    image: { repository: string };
  };
  const { version } = JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')) as { version: string };
  const chartImage = `${values.image.repository}:${chart.appVersion}`;
  if (chartImage !== sidecarImage || chart.appVersion !== version) {
    throw new Error(
      `image: the chart's image ${chartImage}, the operator's sidecarImage ${sidecarImage} and package.json's ` +
        `version ${version} must agree`,
    );
  }
  return {
    version,
    product: sidecarImage,
    examples: `${values.image.repository}-examples:${version}`,
  };
}

function common(nodeVersion: string, version: string, title: string) {
  return {
    User: `${UID}:${UID}`,
    WorkingDir: '/app',
    Env: [`PATH=${PATH}`, `NODE_VERSION=${nodeVersion}`, 'NODE_ENV=production'],
    Labels: {
      'org.opencontainers.image.title': title,
      'org.opencontainers.image.version': version,
      'org.opencontainers.image.source': 'https://github.com/portcullis-dev/portcullis',
    },
  };
}

/** The Dockerfile's ENTRYPOINT and CMD: every component is a subcommand of the one entry point. */
export function productConfig(nodeVersion: string, version: string): ContainerConfig {
  return {
    ...common(nodeVersion, version, 'portcullis'),
    Entrypoint: ['node', `/app/dist/bundle/${DIST_BUNDLE_ENTRY}`],
    Cmd: ['--help'],
  };
}

/** The example MCP servers: a pod's command/args name the script (dist/examples/servers/...). */
export function examplesConfig(nodeVersion: string, version: string): ContainerConfig {
  return { ...common(nodeVersion, version, 'portcullis-examples'), Entrypoint: ['node'] };
}
