import { existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { failure } from './errors.ts';

/** The kubeconfig flags every command that talks to Kubernetes takes. */
export interface KubeconfigFlags {
  readonly kubeconfig?: string;
  readonly context?: string;
}

type Env = Readonly<Record<string, string | undefined>>;

/** --kubeconfig, else the $KUBECONFIG list (files that exist), else ~/.kube/config when it exists. */
export function kubeconfigPaths(flags: KubeconfigFlags, env: Env): string[] {
  if (flags.kubeconfig !== undefined) return [flags.kubeconfig];
  const list = env['KUBECONFIG'];
  // kubectl skips files of a $KUBECONFIG list that do not exist.
  if (list) return list.split(delimiter).filter((path) => path !== '' && existsSync(path));
  const home = env['HOME'];
  const path = home ? join(home, '.kube', 'config') : undefined;
  return path !== undefined && existsSync(path) ? [path] : [];
}

/**
 * The kubeconfig as kubectl would find it, read through `env`, never the process's. Throws a failure
 * CliError (exit 1) naming the file when there is none, it cannot be read, or --context is not in it.
 */
export function loadKubeconfig(flags: KubeconfigFlags, env: Env, missingHint = ''): KubeConfig {
  const paths = kubeconfigPaths(flags, env);
  if (paths.length === 0) {
    throw failure(`no kubeconfig found (--kubeconfig, $KUBECONFIG, ~/.kube/config)${missingHint}`);
  }
  const kube = new KubeConfig();
  try {
    for (const [index, path] of paths.entries()) {
      if (index === 0) kube.loadFromFile(path);
      else mergeFirstWins(kube, path);
    }
  } catch (error) {
    throw failure(`cannot load kubeconfig ${paths.join(delimiter)}: ${(error as Error).message}`, error);
  }
  if (flags.context !== undefined) {
    if (kube.getContextObject(flags.context) === null) {
      throw failure(`context ${JSON.stringify(flags.context)} is not in kubeconfig ${paths.join(delimiter)}`);
    }
    kube.setCurrentContext(flags.context);
  }
  return kube;
}

/** loadKubeconfig, or undefined where it would throw. */
export function tryLoadKubeconfig(flags: KubeconfigFlags, env: Env): KubeConfig | undefined {
  try {
    return loadKubeconfig(flags, env);
  } catch {
    return undefined;
  }
}

/**
 * Merges a further $KUBECONFIG file the way kubectl does: the first file to define a name or the current
 * context wins. (client-node's mergeConfig refuses duplicate names instead.)
 */
function mergeFirstWins(kube: KubeConfig, path: string): void {
  const more = new KubeConfig();
  more.loadFromFile(path);
  for (const cluster of more.clusters) if (kube.getCluster(cluster.name) === null) kube.addCluster(cluster);
  for (const user of more.users) if (kube.getUser(user.name) === null) kube.addUser(user);
  for (const context of more.contexts) {
    if (kube.getContextObject(context.name) === null) kube.addContext(context);
  }
  if (!kube.getCurrentContext()) kube.setCurrentContext(more.getCurrentContext());
}

/** The current context's namespace, if it names one. */
export function contextNamespace(kube: KubeConfig): string | undefined {
  return kube.getContextObject(kube.getCurrentContext())?.namespace || undefined;
}
