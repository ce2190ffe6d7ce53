// The ground of the end-to-end tests and of `make demo-cluster`: a real single-node cluster (test/cluster)
// with the project's images (`make image`) imported into its containerd. A cluster already running (from
// `make cluster-up`) is reused and left running.
import { execFileSync } from 'node:child_process';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { runningOwner, startInBackground } from '../harness/background-control-plane.ts';
import { defaultBinDir, kubectlPath } from '../harness/binaries.ts';
import { nodePaths } from '../cluster/cluster.ts';
import { archiveTag, importImages } from '../cluster/node-images.ts';
import { clusterOwnerOptions } from '../cluster/owner.ts';
import type { ClusterContext } from './context.ts';

const repo = resolve(import.meta.dirname, '../..');

export function clusterStateDir(): string {
  const cache = process.env['PORTCULLIS_CACHE'] ?? join(homedir(), '.cache', 'portcullis');
  return process.env['CLUSTER_STATE'] ?? join(cache, 'cluster');
}

/** Starts (or finds) the cluster and imports the images; `stopWith`: stop once that process exits. */
export async function bringUpCluster(options: { stopWith?: number } = {}): Promise<{
  context: ClusterContext;
  reused: boolean;
  serverUrl: string;
}> {
  const stateDir = clusterStateDir();
  // The images are built by `make image` (a prerequisite of the targets that get here); this finds them.
  const archives = execFileSync(process.execPath, [join(repo, 'scripts/image/build-image.ts')], {
    encoding: 'utf8',
  })
    .trim()
    .split('\n')
    .map((file) => ({ file, tag: archiveTag(file) }));
  const reused = runningOwner(stateDir) !== undefined;
  const { owner } = await startInBackground(stateDir, clusterOwnerOptions({ stopWith: options.stopWith }));
  importImages(nodePaths(stateDir).containerdSocket, archives);
  const tag = (name: string): string => {
    const found = archives.find((archive) => archive.tag.includes(`/${name}:`));
    if (found === undefined)
      throw new Error(`no ${name} image among ${archives.map((a) => a.tag).join(', ')}`);
    return found.tag;
  };
  return {
    context: {
      kubeconfig: join(stateDir, 'control-plane', 'admin.kubeconfig'),
      kubectl: kubectlPath(defaultBinDir()),
      stateDir,
      productImage: tag('portcullis'),
      examplesImage: tag('portcullis-examples'),
    },
    reused,
    serverUrl: owner.serverUrl,
  };
}
