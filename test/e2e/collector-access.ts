// The in-cluster collector as a platform team reaches it: `kubectl port-forward` to its Service, its CA
// from the chart's ConfigMap, and `portcullis audit` (the real command, as a process) with the admin's
// kubeconfig credentials.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import { kubectl } from './kube.ts';
import { SYSTEM_NAMESPACE } from './platform.ts';
import { cluster } from './context.ts';

const run = promisify(execFile);
const CLI = resolve(import.meta.dirname, '../../cli/main.ts');

export interface AuditEvent {
  readonly kind: string;
  readonly decision?: string;
  readonly tool?: string;
  readonly arguments?: Record<string, unknown>;
  readonly identity?: { user?: string; agent?: string; tenant?: string };
  readonly [key: string]: unknown;
}

export interface CollectorAccess {
  audit(args: readonly string[]): Promise<AuditEvent[]>;
  close(): void;
}

export async function openCollector(): Promise<CollectorAccess> {
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-e2e-collector-'));
  const caFile = join(dir, 'ca.crt');
  writeFileSync(
    caFile,
    kubectl([
      '-n',
      SYSTEM_NAMESPACE,
      'get',
      'configmap',
      'portcullis-collector-ca',
      '-o',
      'jsonpath={.data.ca\\.crt}',
    ]),
  );
  let forward: ChildProcess | undefined;
  let port: number | undefined;
  // A port-forward ends with its pod (the collector restarts in a test): start a new one when asked.
  const ensureForward = async (): Promise<number> => {
    if (forward !== undefined && forward.exitCode === null && port !== undefined) return port;
    forward = spawn(
      cluster().kubectl,
      [
        `--kubeconfig=${cluster().kubeconfig}`,
        '-n',
        SYSTEM_NAMESPACE,
        'port-forward',
        'svc/portcullis-collector',
        ':8443',
      ],
      { stdio: ['ignore', 'pipe', 'ignore'] },
    );
    port = await new Promise<number>((resolvePort, reject) => {
      const timer = setTimeout(() => reject(new Error('kubectl port-forward did not start')), 15_000);
      createInterface({ input: forward!.stdout! }).on('line', (line) => {
        const match = /Forwarding from 127\.0\.0\.1:(\d+)/.exec(line);
        if (match?.[1] !== undefined) {
          clearTimeout(timer);
          resolvePort(Number(match[1]));
        }
      });
    });
    return port;
  };
  return {
    async audit(args) {
      const local = await ensureForward();
      const { stdout } = await run(
        process.execPath,
        [
          CLI,
          'audit',
          '--collector',
          `https://127.0.0.1:${local}`,
          '--kubeconfig',
          cluster().kubeconfig,
          '-o',
          'json',
          ...args,
        ],
        { env: { ...process.env, NODE_EXTRA_CA_CERTS: caFile }, maxBuffer: 256 * 1024 * 1024 },
      );
      return JSON.parse(stdout) as AuditEvent[];
    },
    close: () => forward?.kill(),
  };
}
