import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { delimiter, dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { CustomObjectsApi, PatchStrategy, setHeaderOptions, type KubeConfig } from '@kubernetes/client-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { parse, parseAllDocuments, stringify } from 'yaml';
import type { McpServerStatus } from '../../api/v1alpha1/mcpserver.ts';
import { mcpServer, toolPolicy, type McpServer, type ToolPolicy } from '../../api/v1alpha1/resources.ts';
import { fleetObservation } from '../../operator/status/fleet.ts';
import { mcpServerStatus } from '../../operator/status/mcpserver-status.ts';
import { compile } from '../../policy/compile.ts';
import { runCli, type CliIo } from '../../cli/run.ts';
import { kubectlPath } from '../harness/binaries.ts';
import { adminKubeConfig, createNamespace } from '../harness/collector.ts';
import { cel } from '../../policy/cel.ts';

/**
 * `portcullis status` against McpServers whose status was computed by the operator's own status
 * function and written through the status subresource, as the operator writes it; and the kubectl
 * plugin, run by the real kubectl.
 */
const run = promisify(execFile);
let admin: KubeConfig;
let namespace: string;
/** The admin's kubeconfig with `namespace` as its context's namespace. */
let kubeconfig: string;
const repo = join(import.meta.dirname, '../..');

function capture(env: Record<string, string>) {
  let out = '';
  let err = '';
  const io: CliIo = {
    out: (t) => void (out += t),
    err: (t) => void (err += t),
    env,
    childEnv: {},
    untilShutdown: () => new Promise(() => {}),
  };
  return { io, out: () => out, err: () => err };
}

async function status(args: string[], env: Record<string, string> = { KUBECONFIG: kubeconfig }) {
  const c = capture(env);
  const code = await runCli(['status', ...args], c.io);
  return { code, stdout: c.out(), stderr: c.err() };
}

const example = parseAllDocuments(readFileSync(join(repo, 'examples/billing.yaml'), 'utf8')).map(
  (d) => d.toJS() as Record<string, unknown>,
);

async function create(name: string, annotations: Record<string, string> = {}): Promise<McpServer> {
  const body = structuredClone(example.find((o) => o['kind'] === 'McpServer')!) as {
    metadata: Record<string, unknown>;
  };
  body.metadata = { ...body.metadata, name, namespace, annotations };
  const created = await admin.makeApiClient(CustomObjectsApi).createNamespacedCustomObject({
    group: 'portcullis.dev',
    version: 'v1alpha1',
    namespace,
    plural: 'mcpservers',
    body,
  });
  return mcpServer.parse(created);
}

async function writeStatus(name: string, value: McpServerStatus): Promise<void> {
  await admin.makeApiClient(CustomObjectsApi).patchNamespacedCustomObjectStatus(
    {
      group: 'portcullis.dev',
      version: 'v1alpha1',
      namespace,
      plural: 'mcpservers',
      name,
      body: { status: value },
    },
    setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
  );
}

const policies = (): ToolPolicy[] =>
  example
    .filter((o) => o['kind'] === 'ToolPolicy')
    .map((o) => toolPolicy.parse({ ...o, metadata: { ...(o['metadata'] as object), namespace } }));

/** What the operator would write, given what it saw of the workload and the sidecars. */
function operatorStatus(
  server: McpServer,
  fleet: { policyHash?: string; tools?: { name: string; digest: string; state: string }[] }[],
  ready: number,
): McpServerStatus {
  const now = new Date().toISOString();
  const compiled = compile({ server, policies: policies(), conditions: cel });
  return mcpServerStatus({
    server,
    compiled,
    workload: { replicas: 2, readyReplicas: ready, desired: 2 },
    endpoint: `http://${server.metadata.name}.${namespace}.svc:8080/mcp`,
    now,
    fleet: fleetObservation(
      fleet.map((report, i) => ({ sidecar: `pod-${i}`, lastHeartbeat: now, ...report })),
      new Date(Date.now() - 60_000).toISOString(),
    ),
  });
}

let compiledHash = '';
let killedHash = '';

beforeAll(async () => {
  admin = adminKubeConfig();
  namespace = await createNamespace(admin, 'cli-status');
  const config = parse(readFileSync(inject('kubeconfig'), 'utf8')) as {
    contexts: { context: { namespace?: string } }[];
  };
  for (const context of config.contexts) context.context.namespace = namespace;
  kubeconfig = join(mkdtempSync(join(inject('scratchDir'), 'cli-status-')), 'kubeconfig');
  writeFileSync(kubeconfig, stringify(config), { mode: 0o600 });

  const billing = await create('billing');
  const current = compile({ server: billing, policies: policies(), conditions: cel });
  if (!current.ok) throw new Error('the example does not compile');
  compiledHash = current.bundle.hash;
  const stale = `sha256:${'0'.repeat(64)}`;
  const pinned = billing.spec.tools!.pins!;
  await writeStatus(
    'billing',
    operatorStatus(
      billing,
      [
        { policyHash: compiledHash, tools: pinned.map((p) => ({ ...p, state: 'Pinned' })) },
        {
          policyHash: stale,
          tools: pinned.map((p) => ({ ...p, state: p.name === 'issue_refund' ? 'Drifted' : 'Pinned' })),
        },
      ],
      2,
    ),
  );

  const killed = await create('killed', {
    'portcullis.dev/kill-switch': 'true',
    'portcullis.dev/killed-tools': 'issue_refund',
    'portcullis.dev/kill-reason': 'alice: INC-9',
  });
  // Its kill switches are part of its bundle: its sidecar serves that bundle, not billing's.
  const killedBundle = compile({ server: killed, policies: policies(), conditions: cel });
  if (!killedBundle.ok) throw new Error('the example does not compile');
  killedHash = killedBundle.bundle.hash;
  await writeStatus('killed', operatorStatus(killed, [{ policyHash: killedHash }], 1));
  await create('fresh'); // no status yet: the operator has not seen it
});

describe('portcullis status', () => {
  it('shows readiness, kill switches, policy served, drift, endpoint and age', async () => {
    const result = await status([]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const lines = result.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^NAMESPACE +NAME +READY +KILLED +TOOLS +POLICY +SERVED +DRIFT +ENDPOINT +AGE$/);
    const short = compiledHash.slice('sha256:'.length, 'sha256:'.length + 12);
    const shortKilled = killedHash.slice('sha256:'.length, 'sha256:'.length + 12);
    expect(lines[1]).toMatch(
      new RegExp(
        `^${namespace} +billing +True +- +3/3 +${short} +${short}\\(1\\) 000000000000\\(1\\)! +yes\\(issue_refund\\) +http://billing\\.${namespace}\\.svc:8080/mcp +\\d+s$`,
      ),
    );
    expect(lines[2]).toMatch(new RegExp(`^${namespace} +fresh +Unknown +- +- +- +- +- +- +\\d+s$`));
    expect(lines[3]).toMatch(
      new RegExp(
        `^${namespace} +killed +False +server,tools\\(issue_refund\\) +0/0 +${shortKilled} +${shortKilled}\\(1\\) +no +http://killed`,
      ),
    );
    expect(lines).toHaveLength(4);
  });

  it('adds replicas, the kill reason and why a server is not ready with -o wide', async () => {
    const result = await status(['killed', '-o', 'wide']);
    expect(result.code).toBe(0);
    const [header, row] = result.stdout.trimEnd().split('\n');
    expect(header).toMatch(/ REPLICAS +KILLED SINCE +KILL REASON +LAST RELEASE +NOT READY BECAUSE$/);
    expect(row).toMatch(/ 1\/2 +\d+s +alice: INC-9 +- +ReplicasNotReady: 1\/2 replicas ready$/);
  });

  it('prints the objects as the API server has them with -o json and yaml', async () => {
    const one = await status(['billing', '-o', 'json']);
    expect(JSON.parse(one.stdout)).toMatchObject({
      kind: 'McpServer',
      metadata: { name: 'billing' },
      status: { policyHash: compiledHash },
    });
    const list = parse((await status(['-o', 'yaml'])).stdout) as {
      kind: string;
      items: { metadata: { name: string } }[];
    };
    expect(list.kind).toBe('List');
    expect(list.items.map((i) => i.metadata.name)).toEqual(['billing', 'fresh', 'killed']);
  });

  it('exits 1 with --fail-unready naming the servers that are not Ready', async () => {
    const result = await status(['--fail-unready']);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(
      `portcullis status: 2 of 3 not Ready: ${namespace}/fresh, ${namespace}/killed\n`,
    );
    expect((await status(['billing', '--fail-unready'])).code).toBe(0);
  });

  it('lists across namespaces with -A, and says when a namespace has none', async () => {
    const all = await status(['-A']);
    // Other tests' servers share the listing, so the NAMESPACE column may be wider than this namespace.
    expect(all.stdout).toMatch(new RegExp(`^${namespace} +billing `, 'm'));
    const none = await status(['-n', 'kube-public']);
    expect(none).toEqual({ code: 0, stdout: '', stderr: 'No McpServers found in namespace kube-public.\n' });
  });

  it('names what is missing: a server, or the list permission', async () => {
    const missing = await status(['nope']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toBe(
      `portcullis status: mcpserver ${namespace}/nope not found (kubectl get mcpservers -n ${namespace})\n`,
    );
    const forbidden = await status(['-n', namespace], { KUBECONFIG: inject('userKubeconfig') });
    expect(forbidden.code).toBe(1);
    expect(forbidden.stderr).toContain(
      `portcullis status: mcpservers in namespace ${namespace}: forbidden: this needs list on mcpservers (group portcullis.dev) in namespace ${namespace}`,
    );
  });
});

describe('kubectl portcullis', () => {
  it('runs as a kubectl plugin found on PATH, with kubectl passing its flags through', async () => {
    const bin = mkdtempSync(join(inject('scratchDir'), 'plugin-'));
    symlinkSync(join(repo, 'cli/kubectl-plugin.ts'), join(bin, 'kubectl-portcullis'));
    const env = {
      ...process.env,
      PATH: [bin, dirname(process.execPath), process.env['PATH'] ?? ''].join(delimiter),
    };
    const kubectl = kubectlPath(inject('k8sBinDir'), env);
    const listed = await run(kubectl, ['plugin', 'list'], { env });
    expect(listed.stdout).toContain(join(bin, 'kubectl-portcullis'));
    const result = await run(
      kubectl,
      ['portcullis', 'status', '--kubeconfig', kubeconfig, '-n', namespace, 'billing'],
      {
        env,
        timeout: 20_000,
      },
    );
    expect(result.stdout).toMatch(new RegExp(`^NAMESPACE +NAME .*\\n${namespace} +billing +True `));
    const failed = await run(kubectl, ['portcullis', 'kill', 'mcpserver/billing'], { env }).catch(
      (e: { code: number; stderr: string }) => e,
    );
    expect(failed).toMatchObject({ code: 2 });
    expect((failed as { stderr: string }).stderr).toContain('a reason is required');
  });
});
