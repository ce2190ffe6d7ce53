import { spawn } from 'node:child_process';
import { ApiException, KubeConfig } from '@kubernetes/client-node';
import { inject } from 'vitest';
import { kubectlPath } from './binaries.ts';

// Helpers for integration tests; they read what test/harness/global-setup.ts provides.

export type TestUser = 'admin' | 'user';

/** A client configuration for the test cluster, as the cluster-admin or as the unprivileged user. */
export function kubeConfigFor(who: TestUser): KubeConfig {
  return loadKubeConfig(kubeconfigPathFor(who));
}

export function loadKubeConfig(kubeconfigPath: string): KubeConfig {
  const config = new KubeConfig();
  config.loadFromFile(kubeconfigPath);
  return config;
}

/** The HTTP status a client-node call ends with: 200 when it succeeds, else the ApiException's code. */
export async function statusOf(call: Promise<unknown>): Promise<number> {
  try {
    await call;
    return 200;
  } catch (error) {
    if (error instanceof ApiException) return error.code;
    throw error;
  }
}

export function kubeconfigPathFor(who: TestUser): string {
  return who === 'admin' ? inject('kubeconfig') : inject('userKubeconfig');
}

export interface KubectlResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface KubectlOptions {
  /** Defaults to the cluster-admin's kubeconfig. */
  readonly kubeconfig?: string;
  /** Written to kubectl's stdin, e.g. a manifest for `apply -f -`. */
  readonly input?: string;
  readonly timeoutMs?: number;
}

/** Runs kubectl against the test cluster. A non-zero exit is a result, not an exception. */
export function kubectl(args: readonly string[], options: KubectlOptions = {}): Promise<KubectlResult> {
  const kubeconfig = options.kubeconfig ?? inject('kubeconfig');
  const child = spawn(kubectlPath(inject('k8sBinDir')), ['--kubeconfig', kubeconfig, ...args], {
    stdio: ['pipe', 'pipe', 'pipe'],
    timeout: options.timeoutMs ?? 20_000,
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  child.stdin.on('error', () => {}); // kubectl may exit before reading its input; the exit code tells
  child.stdin.end(options.input ?? '');
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) =>
      resolve({
        code: code ?? 128,
        stdout,
        stderr: signal === null ? stderr : `${stderr}killed by ${signal}`,
      }),
    );
  });
}
