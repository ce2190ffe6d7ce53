import { randomBytes } from 'node:crypto';
import {
  CoreV1Api,
  CustomObjectsApi,
  PatchStrategy,
  setHeaderOptions,
  type KubeConfig,
} from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mcpServer, type ToolPolicy } from '../../api/v1alpha1/resources.ts';
import { startOperator, type RunningOperator } from '../../operator/manager.ts';
import { operatorSettingsSchema } from '../../operator/settings.ts';
import { compile } from '../../policy/compile.ts';
import { type HttpFixture } from '../fixtures/mcp/http-fixture.ts';
import { kubeConfigFor } from '../harness/kube.ts';
import { createAll, fixtureObjects, waitFor } from '../harness/operator-e2e.ts';
import { rawToolCall, supportAgent } from '../harness/sidecar-clients.ts';
import { startKubernetesSidecar } from '../harness/operator-e2e.ts';
import { type SidecarUnderTest } from '../harness/sidecar-under-test.ts';
import { cel } from '../../policy/cel.ts';

/**
 * A ToolPolicy edited back and forth while calls keep coming: the operator recompiles, the sidecar (with
 * the kubernetes policy source, as its ServiceAccount) swaps bundles, and every call is decided by one
 * whole bundle, the old or the new. Each edit moves a Deny from one tool to the other in one update, so a
 * half-applied policy (both denied, or neither) would show as a decision no compiled bundle gives.
 */
const namespace = `pe-${randomBytes(3).toString('hex')}`;
const TOOLS = ['list_invoices', 'read_invoice'] as const;
type Tool = (typeof TOOLS)[number];
const ARGS: Record<Tool, Record<string, string>> = {
  list_invoices: { customer_id: 'acme' },
  read_invoice: { customer_id: 'acme', invoice_id: 'inv-1' },
};
const flipPolicy = {
  apiVersion: 'portcullis.dev/v1alpha1',
  kind: 'ToolPolicy',
  metadata: { name: 'flip', namespace },
  spec: {
    targets: { servers: ['billing'] },
    rules: [
      { name: 'support-reads', tools: [...TOOLS], subjects: { groups: ['support'] } },
      { name: 'blocked', effect: 'Deny', tools: ['list_invoices'], subjects: { groups: ['support'] } },
    ],
  },
};
const EDITS = 8;
const CLIENTS = 3;
const MAX_CALLS = 3000;

describe('operator: policy edit under load', () => {
  let admin: KubeConfig;
  let custom: CustomObjectsApi;
  let operator: RunningOperator | undefined;
  let upstream: HttpFixture | undefined;
  let gate: SidecarUnderTest | undefined;
  /** Compiled bundle hash -> the decision it gives each tool. */
  const expected = new Map<string, Record<Tool, 'allowed' | 'denied'>>();
  const hashFor: Partial<Record<Tool, string>> = {};

  const crd = { group: 'portcullis.dev', version: 'v1alpha1', namespace };
  const block = (tool: Tool) =>
    custom.patchNamespacedCustomObject(
      {
        ...crd,
        plural: 'toolpolicies',
        name: 'flip',
        body: [{ op: 'replace', path: '/spec/rules/1/tools', value: [tool] }],
      },
      setHeaderOptions('Content-Type', PatchStrategy.JsonPatch),
    );

  beforeAll(async () => {
    admin = kubeConfigFor('admin');
    custom = admin.makeApiClient(CustomObjectsApi);
    const core = admin.makeApiClient(CoreV1Api);
    await core.createNamespace({ body: { metadata: { name: namespace } } });
    await createAll(admin, [...(await fixtureObjects('billing', ['server.yaml'], namespace)), flipPolicy]);
    operator = await startOperator({
      kube: admin,
      settings: operatorSettingsSchema.parse({}),
      namespace,
      workers: 2,
    });

    // The two bundles the operator can compile, from the objects as the API server stores them.
    const server = mcpServer.parse(
      await custom.getNamespacedCustomObject({ ...crd, plural: 'mcpservers', name: 'billing' }),
    );
    const stored = (await custom.getNamespacedCustomObject({
      ...crd,
      plural: 'toolpolicies',
      name: 'flip',
    })) as ToolPolicy;
    for (const blocked of TOOLS) {
      const rules = stored.spec.rules.map((r) => (r.name === 'blocked' ? { ...r, tools: [blocked] } : r));
      const compiled = compile({
        server,
        policies: [{ ...stored, spec: { ...stored.spec, rules } }],
        conditions: cel,
      });
      if (!compiled.ok) throw new Error(JSON.stringify(compiled.errors));
      hashFor[blocked] = compiled.bundle.hash;
      expected.set(compiled.bundle.hash, {
        list_invoices: blocked === 'list_invoices' ? 'denied' : 'allowed',
        read_invoice: blocked === 'read_invoice' ? 'denied' : 'allowed',
      });
    }
    expect(expected.size).toBe(2);
    await waitFor(
      'the operator to publish the first bundle',
      () => core.readNamespacedConfigMap({ namespace, name: 'billing-mcp-policy' }),
      (m) => m.data?.['bundle.json']?.includes(hashFor.list_invoices!) === true,
    );

    ({ upstream, gate } = await startKubernetesSidecar(admin, namespace));
  }, 60_000);
  afterAll(async () => {
    await operator?.stop();
    await gate?.stop();
    await upstream?.close();
    await admin
      ?.makeApiClient(CoreV1Api)
      .deleteNamespace({ name: namespace })
      .catch(() => undefined);
  });

  it('decides every call by one whole compiled bundle, old or new', async () => {
    const sidecar = gate!;
    const token = await sidecar.token(supportAgent);
    const serving = () => Promise.resolve(sidecar.sidecar.context.policy.current?.hash);
    await waitFor('the sidecar to serve the first bundle', serving, (h) => h === hashFor.list_invoices);

    let sent = 0;
    let done = false;
    const statuses = new Map<number, number>();
    const client = async (offset: number) => {
      for (let i = offset; !done && sent < MAX_CALLS; i++) {
        sent++;
        const tool = TOOLS[i % 2]!;
        const response = await rawToolCall(sidecar.url, token, tool, ARGS[tool], i);
        statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
      }
    };
    const load = Promise.all(Array.from({ length: CLIENTS }, (_, c) => client(c)));

    const seen: string[] = [];
    try {
      for (let edit = 0; edit < EDITS; edit++) {
        const tool: Tool = edit % 2 === 0 ? 'read_invoice' : 'list_invoices';
        await block(tool);
        await waitFor(
          `the sidecar to serve the bundle blocking ${tool}`,
          serving,
          (h) => h === hashFor[tool],
          5000,
          5,
        );
        seen.push(tool);
        await new Promise((r) => setTimeout(r, 80)); // some calls under this bundle
      }
    } finally {
      done = true;
      await load;
    }

    const calls = () => sidecar.audit.events.filter((e) => e.method === 'tools/call');
    await waitFor(
      'an audit event for every call',
      () => Promise.resolve(calls().length),
      (n) => n >= sent,
      5000,
    );
    const events = calls();
    expect(events).toHaveLength(sent);
    const byHash = new Map<string, number>();
    const wrong = events.filter((event) => {
      byHash.set(String(event.policyHash), (byHash.get(String(event.policyHash)) ?? 0) + 1);
      const decisions = event.policyHash === undefined ? undefined : expected.get(event.policyHash);
      return decisions === undefined || decisions[event.tool as Tool] !== event.decision;
    });
    expect(wrong.slice(0, 5), `of ${events.length} calls`).toEqual([]);
    // Both bundles really decided calls, and the client saw answers only (no 5xx).
    expect([...byHash.keys()].sort()).toEqual([...expected.keys()].sort());
    expect(
      [...statuses.keys()].every((s) => s === 200 || s === 403),
      JSON.stringify([...statuses]),
    ).toBe(true);
    expect(seen).toHaveLength(EDITS);
    expect(sent).toBeGreaterThan(EDITS * 2);
    console.info(
      `policy edit under load: ${sent} calls over ${EDITS} edits, by bundle ${JSON.stringify([...byHash.values()])}`,
    );
  });
});
