import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { startControlPlane } from './controlplane.ts';
import { installCrds } from './crds.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    /** kubeconfig of a cluster-admin (system:masters). */
    kubeconfig: string;
    /** kubeconfig of an authenticated user with no RBAC grants beyond the defaults. */
    userKubeconfig: string;
    /** That user's name, for RoleBinding subjects. */
    userName: string;
    /** https://127.0.0.1:<port> of the kube-apiserver. */
    serverUrl: string;
    /** Directory of the control-plane binaries (and kubectl, when build.sh had to build one). */
    k8sBinDir: string;
    /**
     * A directory for files tests create. Removed after the run and, should the run be killed,
     * by the next run's start-up, together with the control plane's data directory it lives in.
     */
    scratchDir: string;
  }
}

/** Starts one control plane for the whole integration run and stops it afterwards. */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  // CRDs before the controllers: the garbage collector then collects an McpServer's children at once.
  const controlPlane = await startControlPlane({
    controllerManager: true,
    beforeControllers: (kubeconfigPath) => installCrds(kubeconfigPath),
  });
  // Tests would only see refused connections; this says which server died and why.
  void controlPlane.crashed.then((error) => console.error(error.message));
  project.provide('kubeconfig', controlPlane.adminKubeconfigPath);
  project.provide('userKubeconfig', controlPlane.userKubeconfigPath);
  project.provide('userName', controlPlane.userName);
  project.provide('serverUrl', controlPlane.serverUrl);
  project.provide('k8sBinDir', controlPlane.binDir);
  const scratchDir = join(controlPlane.dataDir, 'scratch');
  mkdirSync(scratchDir);
  project.provide('scratchDir', scratchDir);
  return () => controlPlane.stop();
}
