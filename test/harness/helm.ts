import { execFile, spawn } from 'node:child_process';
import { accessSync, constants, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { KubernetesObject } from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';
import { MissingBinaryError } from './binaries.ts';

const run = promisify(execFile);

/**
 * Helm and the chart for tests: the helm that `make controlplane` builds (test/controlplane/build.sh,
 * cached as $PORTCULLIS_CACHE/helm/<HELM_VERSION>/helm), `helm template` of charts/portcullis with a
 * value set, the rendered objects, and upstream CRDs (ServiceMonitor, cert-manager's Certificate) from
 * their Go modules, fetched the way the control plane is: through the Go module proxy.
 *
 *   const objects = await renderChart({ operator: { watchNamespaces: ['a', 'b'] } });
 */
export const CHART_DIR = join(import.meta.dirname, '../../charts/portcullis');
const versionsFile = join(import.meta.dirname, '../controlplane/versions.env');

export function helmVersion(): string {
  const match = /^HELM_VERSION=(\S+)$/m.exec(readFileSync(versionsFile, 'utf8'));
  if (match?.[1] === undefined) throw new Error(`no HELM_VERSION in ${versionsFile}`);
  return match[1];
}

export function helmPath(env: NodeJS.ProcessEnv = process.env): string {
  const cache = env['PORTCULLIS_CACHE'] || join(homedir(), '.cache', 'portcullis');
  const path = join(cache, 'helm', helmVersion(), 'helm');
  try {
    accessSync(path, constants.X_OK);
  } catch {
    throw new MissingBinaryError(path, 'run `make controlplane` (test/controlplane/build.sh) first');
  }
  return path;
}

export interface CommandResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs helm; a non-zero exit is a result, not an exception. Helm's own state stays in a scratch dir. */
export function helm(args: readonly string[], options: { timeoutMs?: number } = {}): Promise<CommandResult> {
  const home = helmHome();
  const child = spawn(helmPath(), [...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: options.timeoutMs ?? 60_000,
    env: {
      PATH: process.env['PATH'] ?? '',
      HOME: home,
      HELM_CACHE_HOME: join(home, 'cache'),
      HELM_CONFIG_HOME: join(home, 'config'),
      HELM_DATA_HOME: join(home, 'data'),
    },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
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

let home: string | undefined;
function helmHome(): string {
  home ??= mkdtempSync(join(tmpdir(), 'portcullis-helm-'));
  return home;
}

export interface RenderOptions {
  readonly release?: string;
  readonly namespace?: string;
  /** Extra helm flags, e.g. ['--kubeconfig', path, '--dry-run=server']. */
  readonly flags?: readonly string[];
}

/** `helm template` with `values` (written to a file, so nested values need no --set escaping). */
export async function templateChart(
  values: object = {},
  options: RenderOptions = {},
): Promise<CommandResult> {
  const valuesFile = join(helmHome(), `values-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(valuesFile, JSON.stringify(values));
  return helm([
    'template',
    options.release ?? 'portcullis',
    CHART_DIR,
    '--namespace',
    options.namespace ?? 'portcullis-system',
    '--values',
    valuesFile,
    ...(options.flags ?? []),
  ]);
}

/** The rendered manifest text; throws with helm's message when rendering fails. */
export async function renderChartText(values: object = {}, options: RenderOptions = {}): Promise<string> {
  const result = await templateChart(values, options);
  if (result.code !== 0) throw new Error(`helm template failed (${result.code}):\n${result.stderr}`);
  return result.stdout;
}

export async function renderChart(
  values: object = {},
  options: RenderOptions = {},
): Promise<KubernetesObject[]> {
  return parseManifests(await renderChartText(values, options));
}

export function parseManifests(text: string): KubernetesObject[] {
  return parseAllDocuments(text)
    .map((document) => {
      if (document.errors.length > 0)
        throw new Error(`invalid YAML rendered: ${document.errors[0]?.message}`);
      return document.toJS() as KubernetesObject | null;
    })
    .filter((object): object is KubernetesObject => object !== null);
}

/** The one rendered object of `kind` whose name ends with `suffix` (throws when there is not exactly one). */
export function findObject<T extends KubernetesObject = KubernetesObject>(
  objects: readonly KubernetesObject[],
  kind: string,
  suffix = '',
  namespace?: string,
): T {
  const found = objects.filter(
    (o) =>
      o.kind === kind &&
      (o.metadata?.name ?? '').endsWith(suffix) &&
      (namespace === undefined || o.metadata?.namespace === namespace),
  );
  if (found.length !== 1)
    throw new Error(
      `expected one ${kind} named *${suffix}, found ${found.map((o) => o.metadata?.name).join(', ') || 'none'}`,
    );
  return found[0] as T;
}

/** The operator settings file the chart renders (ConfigMap <fullname>-operator-settings, settings.yaml). */
export function renderedSettings(objects: readonly KubernetesObject[]): string {
  const configMap = findObject<KubernetesObject & { data?: Record<string, string> }>(
    objects,
    'ConfigMap',
    '-operator-settings',
  );
  const text = configMap.data?.['settings.yaml'];
  if (text === undefined) throw new Error('the settings ConfigMap has no settings.yaml');
  return text;
}

/**
 * A file of a Go module, downloaded through the Go module proxy into the module cache (once; later
 * calls read the cache). For upstream CRDs: prometheus-operator's ServiceMonitor, PodMonitor and PrometheusRule, and
 * cert-manager's Certificate, exactly as their projects publish them.
 */
export async function goModuleFile(module: string, version: string, path: string): Promise<string> {
  const { stdout } = await run('go', ['mod', 'download', '-json', `${module}@${version}`], {
    timeout: 300_000,
    maxBuffer: 4 * 1024 * 1024,
    env: { ...process.env, GOFLAGS: '-mod=mod', GOTOOLCHAIN: 'local' },
    cwd: tmpdir(),
  });
  const { Dir, Error: failure } = JSON.parse(stdout) as { Dir?: string; Error?: string };
  if (Dir === undefined)
    throw new Error(`go mod download ${module}@${version}: ${failure ?? 'no directory'}`);
  return readFileSync(join(Dir, path), 'utf8');
}

export const PROMETHEUS_OPERATOR = {
  module: 'github.com/prometheus-operator/prometheus-operator',
  version: 'v0.85.0',
};
export const CERT_MANAGER = { module: 'github.com/cert-manager/cert-manager', version: 'v1.21.2' };

/** The upstream CRDs the optional templates need: ServiceMonitor, PodMonitor, PrometheusRule, Certificate. */
export async function upstreamCrds(): Promise<string> {
  const po = (kind: string) =>
    goModuleFile(
      PROMETHEUS_OPERATOR.module,
      PROMETHEUS_OPERATOR.version,
      `example/prometheus-operator-crd/monitoring.coreos.com_${kind}.yaml`,
    );
  const texts = await Promise.all([
    po('servicemonitors'),
    po('podmonitors'),
    po('prometheusrules'),
    goModuleFile(CERT_MANAGER.module, CERT_MANAGER.version, 'deploy/crds/cert-manager.io_certificates.yaml'),
  ]);
  return texts.map((t) => (t.startsWith('---') ? t : `---\n${t}`)).join('\n');
}
