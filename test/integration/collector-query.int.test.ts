import { CoreV1Api, RbacAuthorizationV1Api, type KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import type { AuditEvent } from '../../api/audit/v1/event.ts';
import {
  adminKubeConfig,
  createNamespace,
  getJson,
  postBatch,
  requestToken,
  sidecarToken,
  startCollector,
  type CollectorUnderTest,
  sidecarEvents,
} from '../harness/collector.ts';
import { eventually } from '../harness/eventually.ts';
import { loadKubeConfig } from '../harness/kube.ts';

/**
 * The query API behind Kubernetes RBAC: TokenReview of the reader's ordinary credentials, then a
 * SubjectAccessReview for get mcpservers/audit in the namespace queried (cluster-wide without one).
 */
let admin: KubeConfig;
let teamA: string;
let teamB: string;
let collector: CollectorUnderTest;
let adminToken: string;
let aliceToken: string;

const grantAudit = async (namespace: string, name: string, resources: string[], subject: object) => {
  const rbac = admin.makeApiClient(RbacAuthorizationV1Api);
  await rbac.createNamespacedRole({
    namespace,
    body: {
      metadata: { name },
      rules: [{ apiGroups: ['portcullis.dev'], resources, verbs: ['get'] }],
    },
  });
  await rbac.createNamespacedRoleBinding({
    namespace,
    body: {
      metadata: { name },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name },
      subjects: [subject as never],
    },
  });
};

const namespacesOf = (body: unknown) =>
  new Set((body as { events: AuditEvent[] }).events.map((e) => e.server.namespace));

beforeAll(async () => {
  admin = adminKubeConfig();
  teamA = await createNamespace(admin, 'collector-query-a');
  teamB = await createNamespace(admin, 'collector-query-b');
  collector = await startCollector();
  for (const namespace of [teamA, teamB]) {
    const token = await sidecarToken(admin, namespace, 'docs');
    const batch = sidecarEvents(`${namespace}-sc`, 1, 3, { namespace, name: 'docs' });
    expect((await postBatch(collector.url, token, batch)).status).toBe(200);
  }
  adminToken = admin.getCurrentUser()!.token!;
  aliceToken = loadKubeConfig(inject('userKubeconfig')).getCurrentUser()!.token!;
  await grantAudit(teamA, 'audit-reader', ['mcpservers/audit'], {
    kind: 'User',
    apiGroup: 'rbac.authorization.k8s.io',
    name: inject('userName'),
  });
});

afterAll(async () => {
  await collector?.stop();
});

describe('query authorization', () => {
  it('lets a user with get mcpservers/audit in one namespace read that namespace', async () => {
    const result = await eventually(
      () => getJson(collector.url, `/v1/events?namespace=${teamA}`, aliceToken),
      (r) => r.status === 200,
    );
    expect(result.status).toBe(200);
    expect(namespacesOf(result.body)).toEqual(new Set([teamA]));
    expect((result.body as { events: unknown[] }).events).toHaveLength(3);
  });

  it('refuses that user another namespace and a query across namespaces', async () => {
    expect(await getJson(collector.url, `/v1/events?namespace=${teamB}`, aliceToken)).toMatchObject({
      status: 403,
      body: { error: { code: 'forbidden' } },
    });
    expect((await getJson(collector.url, `/v1/events?server=docs`, aliceToken)).status).toBe(403);
    expect((await getJson(collector.url, `/v1/events`, aliceToken)).status).toBe(403);
  });

  it('applies the same rule to /v1/sidecars', async () => {
    const own = await getJson(collector.url, `/v1/sidecars?namespace=${teamA}`, aliceToken);
    expect(own.status).toBe(200);
    expect((own.body as { sidecars: { namespace: string }[] }).sidecars.map((s) => s.namespace)).toEqual([
      teamA,
    ]);
    expect((await getJson(collector.url, `/v1/sidecars`, aliceToken)).status).toBe(403);
    expect((await getJson(collector.url, `/v1/sidecars?namespace=${teamB}`, aliceToken)).status).toBe(403);
  });

  it('lets a cluster-wide reader query every namespace', async () => {
    const result = await getJson(collector.url, `/v1/events?limit=10000`, adminToken);
    expect(result.status).toBe(200);
    expect([...namespacesOf(result.body)]).toEqual(expect.arrayContaining([teamA, teamB]));
  });

  it('refuses without a token, with a garbage token, and with a sidecar token (collector audience)', async () => {
    expect(await getJson(collector.url, `/v1/events?namespace=${teamA}`)).toMatchObject({
      status: 401,
      body: { error: { code: 'missing_token' } },
    });
    expect((await getJson(collector.url, `/v1/events?namespace=${teamA}`, 'garbage')).status).toBe(401);
    const sidecar = await sidecarToken(admin, teamA, 'docs');
    expect((await getJson(collector.url, `/v1/events?namespace=${teamA}`, sidecar)).status).toBe(401);
  });

  it('does not take get on mcpservers (no subresource) as leave to read the audit trail', async () => {
    await admin
      .makeApiClient(CoreV1Api)
      .createNamespacedServiceAccount({ namespace: teamA, body: { metadata: { name: 'viewer' } } });
    await grantAudit(teamA, 'mcpserver-viewer', ['mcpservers'], {
      kind: 'ServiceAccount',
      name: 'viewer',
      namespace: teamA,
    });
    const viewer = await requestToken(admin, teamA, 'viewer', { audiences: [] });
    expect((await getJson(collector.url, `/v1/events?namespace=${teamA}`, viewer)).status).toBe(403);
  });
});

describe('query parameters', () => {
  it('pages with the cursor', async () => {
    const first = await getJson(collector.url, `/v1/events?namespace=${teamA}&limit=2&order=asc`, adminToken);
    const page = first.body as { events: AuditEvent[]; next?: string };
    expect(page.events.map((e) => e.seq)).toEqual([1, 2]);
    const second = await getJson(
      collector.url,
      `/v1/events?namespace=${teamA}&limit=2&order=asc&after=${encodeURIComponent(page.next!)}`,
      adminToken,
    );
    expect((second.body as { events: AuditEvent[] }).events.map((e) => e.seq)).toEqual([3]);
  });

  it.each([
    ['an unknown parameter', 'bogus=1'],
    ['a repeated parameter', `namespace=${'a'}&namespace=b`],
    ['a limit out of range', 'limit=0'],
    ['a bad decision', 'decision=maybe'],
    ['a bad time', 'since=yesterday'],
    ['a __proto__ parameter', '__proto__=x'],
  ])('refuses %s with 400 invalid_query', async (_name, query) => {
    expect(await getJson(collector.url, `/v1/events?${query}`, adminToken)).toMatchObject({
      status: 400,
      body: { error: { code: 'invalid_query' } },
    });
  });

  it('refuses a cursor the store did not issue', async () => {
    expect((await getJson(collector.url, `/v1/events?after=forged`, adminToken)).status).toBe(400);
  });
});
