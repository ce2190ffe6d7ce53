import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { defaultBinDir, kubectlPath } from './binaries.ts';

const run = promisify(execFile);

/** The repository's CRDs (crds/), as `make k8s-up` users install them. */
export const CRD_DIR = join(import.meta.dirname, '../../crds');
export const CRD_NAMES = ['crd/mcpservers.portcullis.dev', 'crd/toolpolicies.portcullis.dev'];

/**
 * Installs crds/ with `kubectl apply --server-side` (the field manager tests that apply them again use,
 * so a second apply is a no-op) and waits until they are Established. Meant for `beforeControllers`:
 * the garbage collector then watches McpServers from its start and collects their children at once.
 */
export async function installCrds(kubeconfigPath: string, binDir = defaultBinDir()): Promise<void> {
  const kubectl = kubectlPath(binDir);
  const options = { timeout: 40_000 };
  await run(kubectl, ['--kubeconfig', kubeconfigPath, 'apply', '--server-side', '-f', CRD_DIR], options);
  await run(
    kubectl,
    ['--kubeconfig', kubeconfigPath, 'wait', '--for=condition=Established', '--timeout=30s', ...CRD_NAMES],
    options,
  );
}
