// The end-to-end project's ground: a real single-node cluster (test/cluster) with the project's images
// (`make image`) imported into its containerd. A cluster already started by `make cluster-up` is reused
// and left running; otherwise this run starts one and stops it afterwards (and it stops by itself if
// this process dies: --stop-with).
import { execFileSync } from 'node:child_process';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import type { TestProject } from 'vitest/node';
import { runningOwner, startInBackground, stopInBackground } from '../harness/background-control-plane.ts';
import { defaultBinDir, kubectlPath } from '../harness/binaries.ts';
import { clusterOwnerOptions } from '../cluster/owner.ts';
import { importImages, archiveTag } from '../cluster/node-images.ts';
import { nodePaths } from '../cluster/cluster.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    /** cluster-admin kubeconfig of the node's cluster. */
    clusterKubeconfig: string;
    /** The cluster's state directory (logs under logs/, the node under node/). */
    clusterStateDir: string;
    /** The project's image tags as imported: product and examples. */
    productImage: string;
    examplesImage: string;
    kubectl: string;
  }
}

const repo = resolve(import.meta.dirname, '../..');

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const cache = process.env['PORTCULLIS_CACHE'] ?? join(homedir(), '.cache', 'portcullis');
  const stateDir = process.env['CLUSTER_STATE'] ?? join(cache, 'cluster');
  // The images are built by `make image` (a prerequisite of `make test`); this only finds them.
  const archives = execFileSync('node', [join(repo, 'scripts/image/build-image.ts')], { encoding: 'utf8' })
    .trim()
    .split('\n')
    .map((file) => ({ file, tag: archiveTag(file) }));
  const reused = runningOwner(stateDir) !== undefined;
  const { owner } = await startInBackground(stateDir, clusterOwnerOptions({ stopWith: process.pid }));
  importImages(nodePaths(stateDir).containerdSocket, archives);

  const tag = (name: string): string => {
    const found = archives.find((archive) => archive.tag.includes(`/${name}:`));
    if (found === undefined)
      throw new Error(`no ${name} image among ${archives.map((a) => a.tag).join(', ')}`);
    return found.tag;
  };
  project.provide('clusterKubeconfig', join(stateDir, 'control-plane', 'admin.kubeconfig'));
  project.provide('clusterStateDir', stateDir);
  project.provide('productImage', tag('portcullis'));
  project.provide('examplesImage', tag('portcullis-examples'));
  project.provide('kubectl', kubectlPath(defaultBinDir()));
  console.error(`e2e: ${reused ? 'reusing' : 'started'} the cluster at ${owner.serverUrl}`);
  return async () => {
    if (!reused) await stopInBackground(stateDir, clusterOwnerOptions({}));
  };
}
