import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  symlinkSync,
} from 'node:fs';
import { writeFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { promisify } from 'node:util';
import { CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { parse, parseAllDocuments, stringify } from 'yaml';
import type { AuditEvent } from '../../api/audit/v1/event.ts';
import { KILL_REASON, KILL_SWITCH } from '../../api/v1alpha1/annotations.ts';
import packageJson from '../../package.json' with { type: 'json' };
import { kubectlPath } from '../harness/binaries.ts';
import {
  adminKubeConfig,
  createNamespace,
  postBatch,
  sidecarEvents,
  sidecarToken,
  startCollector,
  type CollectorUnderTest,
} from '../harness/collector.ts';
import { releaseArtifacts } from '../harness/release.ts';

/**
 * The single executable `make cli` builds, run as someone without Node runs it: copied alone into an
 * empty directory, with a PATH that holds that directory only, against the test control plane and a real
 * collector. Then as krew installs it: unpacked from the archive the generated manifest names, checked
 * against the manifest's sha256, and run by the real kubectl as `kubectl portcullis`.
 */
const execFileAsync = promisify(execFile);
const repo = join(import.meta.dirname, '../..');
let admin: KubeConfig;
let namespace: string;
let collector: CollectorUnderTest;
/** The directory holding the executable, and nothing else. */
let bin: string;
let env: Record<string, string>;
const shipped: AuditEvent[] = [];

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

async function portcullis(args: readonly string[]): Promise<Result> {
  return execFileAsync(join(bin, 'portcullis'), args, { cwd: bin, env, timeout: 20_000 }).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (error: { code?: unknown; stdout?: string; stderr?: string; message: string }) => {
      if (typeof error.code !== 'number') throw error; // not started, or timed out
      return { code: error.code, stdout: error.stdout ?? '', stderr: error.stderr ?? '' };
    },
  );
}

function annotations(): Promise<Record<string, string>> {
  return admin
    .makeApiClient(CustomObjectsApi)
    .getNamespacedCustomObject({
      group: 'portcullis.dev',
      version: 'v1alpha1',
      namespace,
      plural: 'mcpservers',
      name: 'billing',
    })
    .then((o: { metadata?: { annotations?: Record<string, string> } }) => o.metadata?.annotations ?? {});
}

beforeAll(async () => {
  const { executable } = releaseArtifacts();
  const scratch = mkdtempSync(join(inject('scratchDir'), 'cli-executable-'));
  bin = join(scratch, 'bin');
  mkdirSync(bin);
  copyFileSync(executable, join(bin, 'portcullis'));

  admin = adminKubeConfig();
  namespace = await createNamespace(admin, 'cli-executable');
  const config = parse(readFileSync(inject('kubeconfig'), 'utf8')) as {
    contexts: { context: { namespace?: string } }[];
  };
  for (const context of config.contexts) context.context.namespace = namespace;
  const kubeconfig = join(scratch, 'kubeconfig');
  writeFileSync(kubeconfig, stringify(config), { mode: 0o600 });
  const home = join(scratch, 'home');
  mkdirSync(home);
  env = { PATH: bin, HOME: home, KUBECONFIG: kubeconfig };

  const server = parseAllDocuments(readFileSync(join(repo, 'examples/billing.yaml'), 'utf8'))
    .map((d) => d.toJS() as { kind: string; metadata: Record<string, unknown> })
    .find((o) => o.kind === 'McpServer')!;
  server.metadata = { name: 'billing', namespace };
  await admin.makeApiClient(CustomObjectsApi).createNamespacedCustomObject({
    group: 'portcullis.dev',
    version: 'v1alpha1',
    namespace,
    plural: 'mcpservers',
    body: server,
  });

  collector = await startCollector();
  const sidecar = `${namespace}-sc`;
  shipped.push(
    ...sidecarEvents(sidecar, 1, 3, { namespace, name: 'billing' }, { tool: 'read_invoice', tenant: 'acme' }),
  );
  const token = await sidecarToken(admin, namespace, 'billing');
  expect((await postBatch(collector.url, token, shipped)).status).toBe(200);
});

afterAll(async () => {
  await collector?.stop();
});

describe('the single executable, alone in a directory, without Node', () => {
  it('has nothing beside it and no node on its PATH', async () => {
    expect(readdirSync(bin)).toEqual(['portcullis']);
    expect(env['PATH']!.split(delimiter).some((dir) => existsSync(join(dir, 'node')))).toBe(false);
    const version = await portcullis(['version']);
    expect(version).toMatchObject({ code: 0, stderr: '' });
    expect(version.stdout).toBe(`portcullis ${packageJson.version} (API portcullis.dev/v1alpha1)\n`);
  });

  it('shows McpServers with status', async () => {
    const table = await portcullis(['status']);
    expect(table).toMatchObject({ code: 0, stderr: '' });
    expect(table.stdout).toMatch(
      new RegExp(`^NAMESPACE +NAME +READY +KILLED .*\\n${namespace} +billing +\\S+ +- `),
    );
    const json = await portcullis(['status', 'billing', '-o', 'json']);
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject({
      kind: 'McpServer',
      metadata: { name: 'billing', namespace },
    });
  });

  it('engages a kill switch with kill and takes it back with release', async () => {
    const killed = await portcullis(['kill', 'mcpserver/billing', '--reason', 'INC-15 from the executable']);
    expect(killed).toMatchObject({ code: 0, stderr: '' });
    expect(await annotations()).toMatchObject({
      [KILL_SWITCH]: 'true',
      [KILL_REASON]: 'INC-15 from the executable',
    });
    expect((await portcullis(['status'])).stdout).toMatch(
      new RegExp(`\\n${namespace} +billing +\\S+ +server `),
    );

    const released = await portcullis(['release', 'mcpserver/billing', '-o', 'json']);
    expect(released.code).toBe(0);
    expect(JSON.parse(released.stdout)).toMatchObject({ action: 'release', changed: true });
    expect(await annotations()).not.toHaveProperty(KILL_SWITCH);
  });

  it('queries the audit trail at the collector', async () => {
    const result = await portcullis([
      'audit',
      '--collector',
      collector.url,
      '--tool',
      'read_invoice',
      '-o',
      'json',
    ]);
    expect(result).toMatchObject({ code: 0, stderr: '' });
    // Newest first, exactly as the sidecar shipped them.
    expect(JSON.parse(result.stdout)).toEqual([...shipped].reverse());
  });

  it('tests policy files offline, exiting 1 on a failed expectation', async () => {
    const calls = join(repo, 'examples/policy-tests/billing-calls.yaml');
    const passed = await portcullis([
      'policy',
      'test',
      '-f',
      join(repo, 'examples/billing.yaml'),
      '--calls',
      calls,
    ]);
    expect(passed).toMatchObject({ code: 0, stderr: '' });
    expect(passed.stdout).toMatch(/\n9 calls: 9 passed, 0 failed, 0 without expectations /);

    const wrong = join(bin, '..', 'wrong-calls.yaml');
    writeFileSync(wrong, stringify([{ user: 'mallory', tool: 'issue_refund', expect: 'allow' }]));
    const failed = await portcullis([
      'policy',
      'test',
      '-f',
      join(repo, 'examples/billing.yaml'),
      '--calls',
      wrong,
    ]);
    expect(failed.code).toBe(1);
    expect(failed.stdout).toMatch(/^FAIL /);
  });
});

describe('the krew archive and manifest', () => {
  it('install as krew does, and run as kubectl portcullis', async () => {
    const { archive, krewManifest } = releaseArtifacts();
    const manifest = parse(readFileSync(krewManifest, 'utf8')) as {
      metadata: { name: string };
      spec: {
        version: string;
        platforms: {
          selector: { matchLabels: Record<string, string> };
          sha256: string;
          files: { from: string; to: string }[];
          bin: string;
        }[];
      };
    };
    expect(manifest.metadata.name).toBe('portcullis');
    expect(manifest.spec.version).toBe(`v${packageJson.version}`);
    const [platform] = manifest.spec.platforms;
    expect(manifest.spec.platforms).toHaveLength(1);
    expect(platform!.selector.matchLabels).toEqual({ os: 'linux', arch: 'amd64' });
    expect(createHash('sha256').update(readFileSync(archive)).digest('hex')).toBe(platform!.sha256);

    // krew unpacks into its store, copies `files`, and links `bin` as kubectl-<name> on PATH.
    const root = mkdtempSync(join(inject('scratchDir'), 'krew-'));
    const unpacked = join(root, 'unpacked');
    const store = join(root, 'store/portcullis', manifest.spec.version);
    const krewBin = join(root, 'bin');
    for (const dir of [unpacked, store, krewBin]) mkdirSync(dir, { recursive: true });
    await execFileAsync('tar', ['-xzf', archive, '-C', unpacked]);
    for (const { from, to } of platform!.files) copyFileSync(join(unpacked, from), join(store, to, from));
    symlinkSync(join(store, platform!.bin), join(krewBin, 'kubectl-portcullis'));
    symlinkSync(kubectlPath(inject('k8sBinDir')), join(krewBin, 'kubectl'));

    const result = await execFileAsync(
      join(krewBin, 'kubectl'),
      ['portcullis', 'status', 'billing', '-o', 'json'],
      {
        env: { ...env, PATH: krewBin },
        timeout: 20_000,
      },
    );
    expect(JSON.parse(result.stdout)).toMatchObject({ metadata: { name: 'billing', namespace } });
  });
});
