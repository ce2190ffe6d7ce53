import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { RbacAuthorizationV1Api, type KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { parse, stringify } from 'yaml';
import type { AuditEvent } from '../../api/audit/v1/event.ts';
import packageJson from '../../package.json' with { type: 'json' };
import { runCli, type CliIo } from '../../cli/run.ts';
import {
  adminKubeConfig,
  createNamespace,
  postBatch,
  sidecarEvents,
  sidecarToken,
  startCollector,
  type CollectorUnderTest,
} from '../harness/collector.ts';
import { eventually } from '../harness/eventually.ts';
import { parseSamples, sampleValue } from '../harness/prometheus-text.ts';

/**
 * `portcullis audit` run in process through runCli, against a real collector (query auth kubernetes:
 * TokenReview and SubjectAccessReview at the real API server) holding events a sidecar's credentials
 * shipped.
 */
let admin: KubeConfig;
let namespace: string;
let collector: CollectorUnderTest;
let sidecar: string;
/** The admin's kubeconfig with `namespace` as its context's namespace. */
let adminKubeconfig: string;
const stored: AuditEvent[] = [];
const DAY_MS = 86_400_000;

interface Captured {
  readonly io: CliIo;
  stdout(): string;
  stderr(): string;
  /** Resolves what io.untilShutdown() returned: Ctrl-C. */
  shutdown(): void;
}

function capture(env: Record<string, string> = {}): Captured {
  let out = '';
  let err = '';
  let shutdown = () => {};
  const stopped = new Promise<void>((resolve) => (shutdown = resolve));
  return {
    io: {
      out: (text) => void (out += text),
      err: (text) => void (err += text),
      env: { PORTCULLIS_COLLECTOR_URL: collector.url, ...env },
      childEnv: {},
      untilShutdown: () => stopped,
    },
    stdout: () => out,
    stderr: () => err,
    shutdown: () => shutdown(),
  };
}

async function audit(args: string[], env: Record<string, string> = { KUBECONFIG: adminKubeconfig }) {
  const run = capture(env);
  const code = await runCli(['audit', ...args], run.io);
  return { code, stdout: run.stdout(), stderr: run.stderr() };
}

/** Ships events as the sidecar of McpServer <namespace>/billing does. */
async function ship(events: AuditEvent[]): Promise<void> {
  const token = await sidecarToken(admin, namespace, 'billing');
  expect((await postBatch(collector.url, token, events)).status).toBe(200);
}

let nextSeq = 1;
function event(overrides: Partial<AuditEvent>, sidecarId = sidecar): AuditEvent {
  const [made] = sidecarEvents(sidecarId, nextSeq, nextSeq, { namespace, name: 'billing' });
  nextSeq++;
  return { ...made!, ...overrides };
}

beforeAll(async () => {
  admin = adminKubeConfig();
  namespace = await createNamespace(admin, 'cli-audit');
  collector = await startCollector();
  sidecar = `${namespace}-sc`;
  const config = parse(readFileSync(inject('kubeconfig'), 'utf8')) as {
    contexts: { context: { namespace?: string } }[];
  };
  for (const context of config.contexts) context.context.namespace = namespace;
  adminKubeconfig = join(mkdtempSync(join(inject('scratchDir'), 'cli-audit-')), 'kubeconfig');
  writeFileSync(adminKubeconfig, stringify(config), { mode: 0o600 });

  const tenDaysAgo = new Date(Date.now() - 10 * DAY_MS).toISOString();
  stored.push(
    event({ tool: 'read_invoice', tenant: 'acme', user: 'alice', agent: 'copilot', decision: 'allowed' }),
    event({
      tool: 'read_invoice',
      tenant: 'acme',
      user: 'bob',
      agent: 'cursor',
      decision: 'denied',
      code: 'argument_binding',
      reason: 'tenant must be the caller tenant',
    }),
    event({ tool: 'read_invoice', tenant: 'globex', user: 'alice', decision: 'allowed' }),
    event({ tool: 'list_invoices', tenant: 'acme', user: 'alice', decision: 'allowed' }),
    event({ tool: 'read_invoice', tenant: 'acme', user: 'carol', decision: 'allowed', time: tenDaysAgo }),
  );
  await ship(stored);
});

afterAll(async () => {
  await collector?.stop();
});

describe('portcullis audit against the collector', () => {
  const question = ['--tool', 'read_invoice', '--tenant', 'acme', '--since', '7d'];

  it('answers "who called read_invoice for tenant acme in the last 7 days" as a table', async () => {
    const result = await audit(question);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const lines = result.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^TIME +NAMESPACE\/SERVER +TOOL +USER +AGENT +TENANT +DECISION +CODE\/REASON$/);
    // Newest first: bob's refusal, then alice's call; not globex, list_invoices or carol 10 days ago.
    expect(lines).toHaveLength(3);
    expect(lines[1]).toMatch(
      new RegExp(
        `${namespace}/billing +read_invoice +bob +cursor +acme +denied +argument_binding: tenant must`,
      ),
    );
    expect(lines[2]).toMatch(
      new RegExp(`${namespace}/billing +read_invoice +alice +copilot +acme +allowed +-$`),
    );
  });

  it('answers the same as JSON, the events exactly as shipped', async () => {
    const result = await audit([...question, '-o', 'json']);
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual([stored[1], stored[0]]);
  });

  it('pages through the collector up to --limit, oldest first', async () => {
    const result = await audit([
      '--limit',
      '4',
      '--order',
      'asc',
      '-o',
      'jsonl',
      '--kubeconfig',
      adminKubeconfig,
    ]);
    expect(result.code).toBe(0);
    const seqs = result.stdout
      .trimEnd()
      .split('\n')
      .map((line) => (JSON.parse(line) as AuditEvent).seq);
    expect(seqs).toEqual([5, 1, 2, 3]); // seq 5 is the one of ten days ago
  });

  it('says on stderr when nothing matched', async () => {
    const result = await audit(['--tool', 'no_such_tool', '--since', '1h']);
    expect(result).toMatchObject({ code: 0, stdout: '' });
    expect(result.stderr).toMatch(
      new RegExp(`^No audit events found in namespace ${namespace} with tool="no_such_tool" since `),
    );
  });
});

describe('credentials and RBAC', () => {
  const userKubeconfig = () => ({ KUBECONFIG: inject('userKubeconfig') });

  it('refuses a user without get on mcpservers/audit with exit 1 and the RBAC hint, then lets them in', async () => {
    const refused = await audit(['-n', namespace], userKubeconfig());
    expect(refused.code).toBe(1);
    expect(refused.stdout).toBe('');
    expect(refused.stderr).toContain(
      `${inject('userName')} may not get mcpservers/audit in namespace ${namespace} (forbidden)`,
    );
    expect(refused.stderr).toContain(
      `needs get on mcpservers/audit (group portcullis.dev) in namespace ${namespace}`,
    );

    const rbac = admin.makeApiClient(RbacAuthorizationV1Api);
    await rbac.createNamespacedRole({
      namespace,
      body: {
        metadata: { name: 'audit-reader' },
        rules: [{ apiGroups: ['portcullis.dev'], resources: ['mcpservers/audit'], verbs: ['get'] }],
      },
    });
    await rbac.createNamespacedRoleBinding({
      namespace,
      body: {
        metadata: { name: 'audit-reader' },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'audit-reader' },
        subjects: [{ kind: 'User', apiGroup: 'rbac.authorization.k8s.io', name: inject('userName') }],
      },
    });
    const allowed = await eventually(
      () =>
        audit(
          ['-n', namespace, ...['--tool', 'read_invoice', '--tenant', 'acme', '--since', '7d']],
          userKubeconfig(),
        ),
      (result) => result.code === 0,
    );
    expect(allowed.code).toBe(0);
    expect(allowed.stdout.trimEnd().split('\n')).toHaveLength(3);

    // A namespace grant is not a cluster-wide one.
    const everywhere = await audit(['-A'], userKubeconfig());
    expect(everywhere.code).toBe(1);
    expect(everywhere.stderr).toContain('cluster-wide');
  });

  it('refuses a token the API server does not know with exit 1 and how to get one', async () => {
    const result = await audit(['-A'], { PORTCULLIS_TOKEN: 'not-a-real-token' });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('the collector did not accept the token');
    expect(result.stderr).toContain('kubectl create token');
    expect(result.stderr).not.toContain('not-a-real-token');
  });

  it('asks without a token when none is found, and says this collector wants one and why none was sent', async () => {
    const home = mkdtempSync(join(inject('scratchDir'), 'cli-audit-home-'));
    const result = await audit(['-A'], { HOME: home });
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain(`the collector at ${collector.url}/ requires a bearer token`);
    expect(result.stderr).toContain('(missing_token)');
    expect(result.stderr).toContain('none was sent: no token given, and no kubeconfig found');
    expect(result.stderr).toContain('kubectl create token');
  });

  it('names the collector it cannot reach', async () => {
    const url = `http://127.0.0.1:${await closedPort()}`;
    const result = await audit(['-A', '--collector', url]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`cannot reach the collector at ${url}/`);
  });
});

describe('a collector run with --query-auth none (its own process)', () => {
  let open: CollectorUnderTest;
  beforeAll(async () => {
    open = await startCollector({ mode: 'child', flags: { 'query-auth': 'none' } });
    const token = await sidecarToken(admin, namespace, 'billing');
    const [made] = sidecarEvents(`${namespace}-open`, 1, 1, { namespace, name: 'billing' });
    expect((await postBatch(open.url, token, [{ ...made!, tool: 'open_tool', user: 'olga' }])).status).toBe(
      200,
    );
  });
  afterAll(async () => {
    await open?.stop();
  });

  it('answers a query without any token or kubeconfig', async () => {
    const home = mkdtempSync(join(inject('scratchDir'), 'cli-audit-home-'));
    const result = await audit(['-A', '--collector', open.url, '-o', 'json'], { HOME: home });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect((JSON.parse(result.stdout) as AuditEvent[]).map((e) => [e.tool, e.user])).toEqual([
      ['open_tool', 'olga'],
    ]);
  });

  it('still works with a token given or found in the kubeconfig (it is sent; this collector ignores it)', async () => {
    const given = await audit(['-A', '--collector', open.url, '-o', 'json'], {
      PORTCULLIS_TOKEN: 'anything',
    });
    expect(given.code).toBe(0);
    expect(JSON.parse(given.stdout)).toHaveLength(1);
    const found = await audit(['-n', namespace, '--collector', open.url, '-o', 'json']);
    expect(found.code).toBe(0);
    expect(JSON.parse(found.stdout)).toHaveLength(1);
  });

  it('logs its version and the commit it runs from in its start-up line', async () => {
    const head = execFileSync('git', ['-C', join(import.meta.dirname, '../..'), 'rev-parse', 'HEAD'], {
      encoding: 'utf8',
    }).trim();
    // The log is written asynchronously: wait for the line rather than assume it is there.
    const started = await eventually(
      async () =>
        open
          .logs()
          .map((line) => JSON.parse(line) as { msg?: string; version?: string; commit?: string })
          .find((line) => line.msg === 'collector started'),
      (line) => line !== undefined,
    );
    expect(started).toMatchObject({ version: packageJson.version, queryAuth: 'none' });
    expect(started?.commit).toMatch(new RegExp(`^${head}(-dirty)?$`));
  });
});

describe('follow', () => {
  it('prints events posted after it started, each once, until shut down', async () => {
    const followSidecar = `${namespace}-follow`;
    nextSeq = 1;
    await ship([event({ tool: 'follow_tool', user: 'before' }, followSidecar)]);

    const polled = await queriesAnswered();
    const run = capture({ KUBECONFIG: adminKubeconfig });
    const exit = runCli(
      ['audit', '-f', '--tool', 'follow_tool', '--interval', '100ms', '-o', 'jsonl'],
      run.io,
    );
    const printed = () =>
      run
        .stdout()
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line) as AuditEvent);

    // Once it has asked, the command has taken "now" as its start; events made from here on are newer.
    await eventually(queriesAnswered, (answered) => answered > polled);
    const first = [
      event({ tool: 'follow_tool', user: 'dave' }, followSidecar),
      event({ tool: 'other' }, followSidecar),
    ];
    await ship(first);
    await eventually(
      async () => printed(),
      (events) => events.length >= 1,
    );
    const second = [
      event({ tool: 'follow_tool', user: 'erin' }, followSidecar),
      event({ tool: 'follow_tool', user: 'frank' }, followSidecar),
    ];
    await ship(second);
    await eventually(
      async () => printed(),
      (events) => events.length >= 3,
    );
    await new Promise((resolve) => setTimeout(resolve, 300)); // a few more polls: no repeats

    run.shutdown();
    expect(await exit).toBe(0);
    expect(printed().map((e) => e.user)).toEqual(['dave', 'erin', 'frank']);
    expect(printed().map((e) => e.id)).toEqual([first[0]!.id, second[0]!.id, second[1]!.id]);
    expect(run.stderr()).toBe('');
  });
});

describe('follow is not blinded by event times (issue 16)', () => {
  it('-A -f keeps printing later events after one dated ahead, and shows a backlog stored late', async () => {
    const followSidecar = `${namespace}-blind`;
    nextSeq = 1;
    const polled = await queriesAnswered();
    const run = capture({ KUBECONFIG: adminKubeconfig });
    const exit = runCli(
      ['audit', '-A', '-f', '--tool', 'blind_tool', '--interval', '100ms', '-o', 'jsonl'],
      run.io,
    );
    const printed = () =>
      run
        .stdout()
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line) as AuditEvent);
    await eventually(queriesAnswered, (answered) => answered > polled);
    // Dated 50 minutes ahead (within the collector's skew bound): following by newest event time, the
    // position jumped there and every later event of every namespace stayed hidden until then.
    const ahead = new Date(Date.now() + 50 * 60_000).toISOString();
    await ship([event({ tool: 'blind_tool', user: 'ahead', time: ahead }, followSidecar)]);
    await eventually(
      async () => printed(),
      (events) => events.length >= 1,
    );
    await ship([
      event({ tool: 'blind_tool', user: 'later' }, followSidecar),
      // Stored late with an older time: a sidecar shipping its backlog.
      event(
        { tool: 'blind_tool', user: 'backlog', time: new Date(Date.now() - 60_000).toISOString() },
        followSidecar,
      ),
    ]);
    const seen = await eventually(
      async () => printed(),
      (events) => events.length >= 3,
    );
    run.shutdown();
    expect(await exit).toBe(0);
    expect(seen.map((e) => e.user)).toEqual(['ahead', 'later', 'backlog']);
    expect(run.stderr()).toBe('');
  });
});

/** GET /v1/events the collector answered so far. */
async function queriesAnswered(): Promise<number> {
  const text = await (await fetch(`${collector.metricsUrl}/metrics`)).text();
  return (
    sampleValue(parseSamples(text), 'portcullis_collector_requests_total', {
      endpoint: 'query',
      code: 'ok',
    }) ?? 0
  );
}

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}
