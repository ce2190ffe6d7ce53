import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  CustomObjectsApi,
  RbacAuthorizationV1Api,
  CoreV1Api,
  type KubeConfig,
} from '@kubernetes/client-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { parseAllDocuments } from 'yaml';
import {
  KILL_REASON,
  KILL_SWITCH,
  KILLED_AT,
  KILLED_BY,
  KILLED_TOOLS,
  KILLED_TOOLS_REASONS,
  RELEASE_REASON,
  RELEASED_AT,
  RELEASED_BY,
  RELEASED_TOOLS,
} from '../../api/v1alpha1/annotations.ts';
import { runKill } from '../../cli/commands/kill.ts';
import { defaultSwitchDeps, type SwitchDeps } from '../../cli/commands/kill-run.ts';
import { runCli, type CliIo } from '../../cli/run.ts';
import { adminKubeConfig, createNamespace } from '../harness/collector.ts';
import { eventually } from '../harness/eventually.ts';

/**
 * `portcullis kill` and `release` in process against the real API server: the annotations they leave
 * on McpServers, ToolPolicies and Namespaces, concurrent edits of the killed-tools list, and RBAC.
 */
let admin: KubeConfig;
let namespace: string;
const ADMIN = () => ({ KUBECONFIG: inject('kubeconfig') });
const USER = () => ({ KUBECONFIG: inject('userKubeconfig') });

function io(env: Record<string, string>) {
  let out = '';
  let err = '';
  const cli: CliIo = {
    out: (t) => void (out += t),
    err: (t) => void (err += t),
    env,
    childEnv: {},
    untilShutdown: () => new Promise(() => {}),
  };
  return { cli, stdout: () => out, stderr: () => err };
}

async function cli(args: string[], env = ADMIN()) {
  const run = io(env);
  const code = await runCli(args, run.cli);
  return { code, stdout: run.stdout(), stderr: run.stderr() };
}

const examples = join(import.meta.dirname, '../../examples/billing.yaml');

/** The billing McpServer and its ToolPolicies from examples/, created in `ns` under other names. */
async function createBilling(ns: string, name: string): Promise<void> {
  const api = admin.makeApiClient(CustomObjectsApi);
  for (const doc of parseAllDocuments(readFileSync(examples, 'utf8'))) {
    const object = doc.toJS() as {
      kind: string;
      metadata: Record<string, unknown>;
      spec: { targets?: { servers?: string[] } };
    };
    object.metadata['namespace'] = ns;
    if (object.kind === 'McpServer') object.metadata['name'] = name;
    else {
      object.metadata['name'] = `${name}-${String(object.metadata['name'])}`;
      if (object.spec.targets?.servers) object.spec.targets.servers = [name];
    }
    await api.createNamespacedCustomObject({
      group: 'portcullis.dev',
      version: 'v1alpha1',
      namespace: ns,
      plural: object.kind === 'McpServer' ? 'mcpservers' : 'toolpolicies',
      body: object,
    });
  }
}

async function annotations(plural: string, name: string, ns = namespace): Promise<Record<string, string>> {
  const object = (await admin.makeApiClient(CustomObjectsApi).getNamespacedCustomObject({
    group: 'portcullis.dev',
    version: 'v1alpha1',
    namespace: ns,
    plural,
    name,
  })) as { metadata: { annotations?: Record<string, string> } };
  return object.metadata.annotations ?? {};
}

const portcullisAnnotations = (all: Record<string, string>) =>
  Object.fromEntries(Object.entries(all).filter(([key]) => key.startsWith('portcullis.dev/')));

/** The kill-switch annotations, without the record of the last release (which a release leaves). */
const RELEASE_KEYS: readonly string[] = [RELEASED_BY, RELEASED_AT, RELEASE_REASON, RELEASED_TOOLS];
const switchAnnotations = (all: Record<string, string>) =>
  Object.fromEntries(
    Object.entries(portcullisAnnotations(all)).filter(([key]) => !RELEASE_KEYS.includes(key)),
  );

/** An RFC 3339 time within the last minute: written by this run. */
const recent = (value: string | undefined) => {
  const ms = Date.parse(value ?? '');
  return ms <= Date.now() && ms > Date.now() - 60_000;
};

beforeAll(async () => {
  admin = adminKubeConfig();
  namespace = await createNamespace(admin, 'cli-kill');
  await createBilling(namespace, 'billing');
});

describe('kill and release an McpServer', () => {
  it('engages the switch with its reason and who engaged it, is idempotent, and releases by removing them', async () => {
    const killed = await cli([
      'kill',
      'mcpserver/billing',
      '-n',
      namespace,
      '--reason',
      'INC-4711 exfiltration',
    ]);
    expect(killed.stderr).toBe('');
    expect(killed.code).toBe(0);
    // The reason as given; the admin's name as the API server knows it (SelfSubjectReview), not the
    // kubeconfig's label, beside it: callers are shown the reason, never who engaged the switch.
    const written = await annotations('mcpservers', 'billing');
    const who = written[KILLED_BY]!;
    expect(who).not.toBe('');
    const reason = `${who}: INC-4711 exfiltration`;
    expect(killed.stdout).toBe(`mcpserver ${namespace}/billing: kill switch engaged (reason: ${reason})\n`);
    expect(portcullisAnnotations(written)).toEqual({
      [KILL_SWITCH]: 'true',
      [KILL_REASON]: 'INC-4711 exfiltration',
      [KILLED_BY]: who,
      [KILLED_AT]: expect.any(String),
    });
    expect(recent(written[KILLED_AT])).toBe(true);

    const again = await cli(['kill', 'server/billing', '-n', namespace, '--reason', 'again']);
    expect(again.code).toBe(0);
    expect(again.stdout).toBe(
      `mcpserver ${namespace}/billing: kill switch already engaged (reason: ${reason}); nothing changed\n`,
    );

    const released = await cli(['release', 'mcpserver/billing', '-n', namespace, '--reason', 'closed']);
    expect(released.code).toBe(0);
    expect(released.stdout).toBe(
      `mcpserver ${namespace}/billing: kill switch released (reason: ${who}: closed)\n`,
    );
    // The switch and its record are gone; the release's own record is left: who, when, why.
    const after = portcullisAnnotations(await annotations('mcpservers', 'billing'));
    expect(after).toEqual({
      [RELEASED_BY]: who,
      [RELEASED_AT]: expect.any(String),
      [RELEASE_REASON]: 'closed',
    });
    expect(recent(after[RELEASED_AT])).toBe(true);

    const twice = await cli(['release', 'mcpserver/billing', '-n', namespace]);
    expect(twice).toMatchObject({
      code: 0,
      stdout: `mcpserver ${namespace}/billing: kill switch was not engaged; nothing changed\n`,
    });
  });

  it('takes the namespace from the kubeconfig context, as kubectl does', async () => {
    const result = await cli(['kill', 'mcpserver/billing', '--reason', 'x']);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(
      'portcullis kill: mcpserver default/billing not found (kubectl get mcpservers -n default)\n',
    );
  });

  it('prints the merge patch with --dry-run and writes nothing', async () => {
    const result = await cli(['kill', 'mcpserver/billing', '-n', namespace, '--reason', 'try', '--dry-run']);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('(dry run: nothing written)');
    expect(result.stdout).toContain(
      `PATCH /apis/portcullis.dev/v1alpha1/namespaces/${namespace}/mcpservers/billing (application/merge-patch+json)`,
    );
    expect(JSON.parse(result.stdout.slice(result.stdout.indexOf('{')))).toMatchObject({
      metadata: { annotations: { [KILL_SWITCH]: 'true' } },
    });
    expect(switchAnnotations(await annotations('mcpservers', 'billing'))).toEqual({});
  });
});

describe('killed tools', () => {
  it('adds and removes names, keeping the others', async () => {
    expect(
      (
        await cli([
          'kill',
          'mcpserver/billing',
          '-n',
          namespace,
          '--tool',
          'issue_refund',
          '--reason',
          'SEC-1',
        ])
      ).code,
    ).toBe(0);
    const both = await cli([
      'kill',
      'mcpserver/billing',
      '-n',
      namespace,
      '--tool',
      'read_invoice,issue_refund',
      '--reason',
      'SEC-2',
      '-o',
      'json',
    ]);
    expect(both.code).toBe(0);
    expect(JSON.parse(both.stdout)).toMatchObject({
      object: `mcpserver ${namespace}/billing`,
      action: 'kill',
      changed: true,
      summary: expect.stringMatching(
        /^tool read_invoice killed .*; issue_refund already was; killed tools now: issue_refund, read_invoice$/,
      ),
    });
    expect((await annotations('mcpservers', 'billing'))[KILLED_TOOLS]).toBe('issue_refund,read_invoice');
    // Each tool keeps the reason it was killed with.
    const records = JSON.parse((await annotations('mcpservers', 'billing'))[KILLED_TOOLS_REASONS]!) as Record<
      string,
      { reason: string; by: string; at: string }
    >;
    expect(records).toMatchObject({ issue_refund: { reason: 'SEC-1' }, read_invoice: { reason: 'SEC-2' } });
    expect(records['issue_refund']?.by).not.toBe('');
    expect(recent(records['issue_refund']?.at)).toBe(true);

    const who = records['issue_refund']!.by;
    const released = await cli(['release', 'mcpserver/billing', '-n', namespace, '--tool', 'issue_refund']);
    expect(released.stdout).toBe(
      `mcpserver ${namespace}/billing: tool issue_refund released (by ${who}; no reason given); still killed: read_invoice\n`,
    );
    expect((await annotations('mcpservers', 'billing'))[KILLED_TOOLS]).toBe('read_invoice');
    await cli([
      'release',
      'mcpserver/billing',
      '-n',
      namespace,
      '--tool',
      'read_invoice',
      '--reason',
      'SEC-2 fixed',
    ]);
    expect(portcullisAnnotations(await annotations('mcpservers', 'billing'))).toEqual({
      [RELEASED_BY]: who,
      [RELEASED_AT]: expect.any(String),
      [RELEASE_REASON]: 'SEC-2 fixed',
      [RELEASED_TOOLS]: 'read_invoice',
    });
  });

  it('lands every one of many concurrent kills of different tools (resourceVersion precondition, retry on 409)', async () => {
    await createBilling(namespace, 'racy');
    const tools = Array.from({ length: 8 }, (_, i) => `tool_${i}`);
    const results = await Promise.all(
      tools.map((tool) =>
        cli(['kill', 'mcpserver/racy', '-n', namespace, '--tool', tool, '--reason', `kill ${tool}`]),
      ),
    );
    expect(results.map((r) => r.code)).toEqual(tools.map(() => 0));
    expect((await annotations('mcpservers', 'racy'))[KILLED_TOOLS]).toBe(tools.join(','));
  });

  it('retries when another writer changes the list between its read and its write', async () => {
    await createBilling(namespace, 'interleaved');
    let patches = 0;
    let interleaved = false;
    // The real client, with a second person's kill landing right after our first read.
    const deps: SwitchDeps = {
      api: (kube) => {
        const real = defaultSwitchDeps.api(kube);
        return {
          ...real,
          async get(ref) {
            const object = await real.get(ref);
            if (!interleaved) {
              interleaved = true;
              const other = await cli([
                'kill',
                'mcpserver/interleaved',
                '-n',
                namespace,
                '--tool',
                'theirs',
                '--reason',
                'b',
              ]);
              expect(other.code).toBe(0);
            }
            return object;
          },
          async mergePatch(ref, patch) {
            patches++;
            return real.mergePatch(ref, patch);
          },
        };
      },
    };
    const run = io(ADMIN());
    const code = await runKill(
      ['mcpserver/interleaved', '-n', namespace, '--tool', 'mine', '--reason', 'a'],
      run.cli,
      deps,
    );
    expect(run.stderr()).toBe('');
    expect(code).toBe(0);
    expect(patches).toBe(2); // the first write was refused with 409, the second landed
    expect((await annotations('mcpservers', 'interleaved'))[KILLED_TOOLS]).toBe('mine,theirs');
  });
});

describe('ToolPolicy and Namespace targets', () => {
  it('kills and releases a ToolPolicy', async () => {
    const policy = 'billing-support-reads-own-tenant';
    const killed = await cli(['kill', `toolpolicy/${policy}`, '-n', namespace, '--reason', 'too broad']);
    expect(killed.stdout).toMatch(new RegExp(`^toolpolicy ${namespace}/${policy}: kill switch engaged`));
    expect((await annotations('toolpolicies', policy))[KILL_SWITCH]).toBe('true');
    await cli(['release', `toolpolicy/${policy}`, '-n', namespace, '--reason', 'narrowed']);
    expect(portcullisAnnotations(await annotations('toolpolicies', policy))).toEqual({
      [RELEASED_BY]: expect.any(String),
      [RELEASED_AT]: expect.any(String),
      [RELEASE_REASON]: 'narrowed',
    });
  });

  it('kills and releases a Namespace', async () => {
    const core = admin.makeApiClient(CoreV1Api);
    const killed = await cli(['kill', `namespace/${namespace}`, '--reason', 'bridge']);
    expect(killed.stdout).toMatch(
      new RegExp(`^namespace ${namespace}: kill switch engaged \\(reason: .+: bridge\\)\\n$`),
    );
    expect((await core.readNamespace({ name: namespace })).metadata?.annotations?.[KILL_SWITCH]).toBe('true');
    await cli(['release', `ns/${namespace}`, '--reason', 'bridge closed']);
    const after = (await core.readNamespace({ name: namespace })).metadata?.annotations ?? {};
    expect(after[KILL_SWITCH]).toBeUndefined();
    expect(after[KILLED_AT]).toBeUndefined();
    expect(after).toMatchObject({ [RELEASE_REASON]: 'bridge closed' });
  });
});

describe('RBAC', () => {
  it('refuses an identity without patch with the verb and resource it lacks; patch alone is enough to kill', async () => {
    const refused = await cli(['kill', 'mcpserver/billing', '-n', namespace, '--reason', 'x'], USER());
    expect(refused.code).toBe(1);
    expect(refused.stdout).toBe('');
    expect(refused.stderr).toContain(
      `portcullis kill: mcpserver ${namespace}/billing: forbidden: this needs patch on mcpservers (group portcullis.dev) in namespace ${namespace}`,
    );
    expect(refused.stderr).toContain('note: may not get'); // it tried to read first, then wrote blind
    expect(refused.stderr.trim().split('\n')).toHaveLength(2);

    const rbac = admin.makeApiClient(RbacAuthorizationV1Api);
    await rbac.createNamespacedRole({
      namespace,
      body: {
        metadata: { name: 'kill-switch' },
        rules: [{ apiGroups: ['portcullis.dev'], resources: ['mcpservers'], verbs: ['patch'] }],
      },
    });
    await rbac.createNamespacedRoleBinding({
      namespace,
      body: {
        metadata: { name: 'kill-switch' },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'kill-switch' },
        subjects: [{ kind: 'User', apiGroup: 'rbac.authorization.k8s.io', name: inject('userName') }],
      },
    });
    const allowed = await eventually(
      () => cli(['kill', 'mcpserver/billing', '-n', namespace, '--reason', 'patch only'], USER()),
      (result) => result.code === 0,
    );
    expect(allowed.stdout).toBe(
      `mcpserver ${namespace}/billing: kill switch engaged (reason: ${inject('userName')}: patch only)\n`,
    );
    expect((await annotations('mcpservers', 'billing'))[KILL_REASON]).toBe('patch only');
    expect((await annotations('mcpservers', 'billing'))[KILLED_BY]).toBe(inject('userName'));

    // The killed-tools list is read, then written: that needs get as well, and says so.
    const tools = await cli(
      ['kill', 'mcpserver/billing', '-n', namespace, '--tool', 'x', '--reason', 'y'],
      USER(),
    );
    expect(tools.code).toBe(1);
    expect(tools.stderr).toContain(
      `forbidden: this needs get on mcpservers (group portcullis.dev) in namespace ${namespace}`,
    );
    // Releasing records who released it, with nothing more than patch either.
    const released = await cli(['release', 'mcpserver/billing', '-n', namespace, '--reason', 'done'], USER());
    expect(released.code).toBe(0);
    expect((await annotations('mcpservers', 'billing'))[RELEASED_BY]).toBe(inject('userName'));
    expect((await annotations('mcpservers', 'billing'))[KILL_SWITCH]).toBeUndefined();
  });
});
