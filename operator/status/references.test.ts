import { describe, expect, it } from 'vitest';
import type { McpServer } from '../../api/v1alpha1/resources.ts';
import { compile } from '../../policy/compile.ts';
import { loadExample } from '../../test/fixtures/examples.ts';
import { operatorSettingsSchema } from '../settings.ts';
import { mcpServerStatus } from './mcpserver-status.ts';
import {
  hasKey,
  referencedObjects,
  referencesCondition,
  uncheckedSecretsHint,
  type ReferenceObservation,
} from './references.ts';
import { conditionEvents } from './transitions.ts';

const billing: McpServer = loadExample('billing.yaml').servers[0]!;
const minted: McpServer = {
  ...billing,
  spec: {
    ...billing.spec,
    upstreamAuth: {
      mode: 'Minted',
      minted: {
        audience: 'https://billing-api.internal.example.com',
        signingKeySecretRef: { name: 'billing-mint-key', key: 'key.pem' },
        ttlSeconds: 30,
      },
    },
  },
};
const settings = operatorSettingsSchema.parse({});
const withAuth = (auth: Partial<McpServer['spec']['auth']>): McpServer => ({
  ...billing,
  spec: { ...billing.spec, auth: { ...billing.spec.auth, ...auth } },
});
const corpCa = withAuth({ caBundle: { configMapKeyRef: { name: 'corp-ca', key: 'ca.crt' } } });

describe('referenced ConfigMaps and Secrets', () => {
  it("lists the server's own CA, else the operator-wide one from the server's namespace", () => {
    expect(referencedObjects(billing, settings)).toEqual([]);
    expect(referencedObjects(corpCa, settings)).toEqual([
      { kind: 'ConfigMap', name: 'corp-ca', key: 'ca.crt', from: 'spec.auth.caBundle.configMapKeyRef' },
    ]);
    const wide = operatorSettingsSchema.parse({
      identityProviderCa: { secretKeyRef: { name: 'trust', key: 'root.pem' } },
    });
    expect(referencedObjects(billing, wide)).toEqual([
      {
        kind: 'Secret',
        name: 'trust',
        key: 'root.pem',
        from: 'operator setting identityProviderCa.secretKeyRef',
      },
    ]);
    // The server's own CA replaces the default, so the default is not needed there.
    expect(referencedObjects(corpCa, wide).map((r) => r.name)).toEqual(['corp-ca']);
    // An inline PEM is copied beside the bundle by the operator itself: nothing to look up.
    const inline = operatorSettingsSchema.parse({
      identityProviderCa: { caBundle: '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n' },
    });
    expect(referencedObjects(billing, inline)).toEqual([]);
  });

  it("lists upstreamAuth's Secrets too", () => {
    expect(referencedObjects(minted, settings)).toEqual([
      {
        kind: 'Secret',
        name: 'billing-mint-key',
        key: 'key.pem',
        from: 'spec.upstreamAuth.minted.signingKeySecretRef',
      },
    ]);
  });

  it('finds a key in data or binaryData', () => {
    expect(hasKey({ data: { 'ca.crt': 'x' } }, 'ca.crt')).toBe(true);
    expect(hasKey({ binaryData: { 'ca.crt': 'eA==' } }, 'ca.crt')).toBe(true);
    expect(hasKey({ data: { other: 'x' } }, 'ca.crt')).toBe(false);
    expect(hasKey({}, '__proto__')).toBe(false);
  });

  const ref = referencedObjects(corpCa, settings)[0]!;
  const observed = (state: ReferenceObservation['state']): ReferenceObservation[] => [
    { reference: ref, state },
  ];

  it('is False, naming the object, the key and the field, while a ConfigMap or its key is missing', () => {
    expect(referencesCondition(observed('missing'), 'finance')).toEqual({
      type: 'ReferencesResolved',
      status: 'False',
      reason: 'MissingReference',
      message:
        'ConfigMap finance/corp-ca (spec.auth.caBundle.configMapKeyRef) does not exist: pods that mount it wait until it exists',
    });
    expect(referencesCondition(observed('missingKey'), 'finance').message).toContain(
      'ConfigMap finance/corp-ca (spec.auth.caBundle.configMapKeyRef) has no key ca.crt',
    );
    expect(referencesCondition(observed('unknown'), 'finance')).toMatchObject({
      status: 'Unknown',
      reason: 'ReferenceNotChecked',
    });
    expect(referencesCondition(observed('found'), 'finance')).toMatchObject({ status: 'True' });
    expect(referencesCondition([], 'finance')).toMatchObject({
      status: 'True',
      message: 'no ConfigMap or Secret is referenced',
    });
  });

  it('does not read Secrets, and says so where a stuck rollout would be seen', () => {
    const secret: ReferenceObservation[] = [
      {
        reference: {
          kind: 'Secret',
          name: 'corp-ca',
          key: 'ca.crt',
          from: 'spec.auth.caBundle.secretKeyRef',
        },
        state: 'unchecked',
      },
    ];
    expect(referencesCondition(secret, 'finance')).toMatchObject({
      status: 'True',
      message: expect.stringContaining('1 Secret key(s) not checked'),
    });
    const hint = uncheckedSecretsHint(secret, 'finance');
    expect(hint).toContain('Secret finance/corp-ca (key ca.crt, spec.auth.caBundle.secretKeyRef)');
    expect(uncheckedSecretsHint(observed('found'), 'finance')).toBeUndefined();
  });

  it('makes Ready False with the missing reference, and records one Warning Event per transition', () => {
    const compiled = compile({ server: corpCa, policies: [] });
    const status = (state: ReferenceObservation['state'], before?: McpServer['status']) =>
      mcpServerStatus({
        server: { ...corpCa, ...(before ? { status: before } : {}) },
        compiled,
        workload: { desired: 1, replicas: 1, readyReplicas: 0 },
        endpoint: 'https://billing.finance.svc:8443/mcp',
        now: '2026-01-01T00:00:00.000Z',
        references: referencesCondition(observed(state), 'finance'),
      });
    const missing = status('missing');
    const ready = missing.conditions!.find((c) => c.type === 'Ready')!;
    expect(ready).toMatchObject({ status: 'False', reason: 'MissingReference' });
    expect(ready.message).toContain('ConfigMap finance/corp-ca');
    expect(conditionEvents(undefined, missing.conditions!)).toEqual([
      { type: 'Warning', reason: 'MissingReference', message: expect.stringContaining('corp-ca') },
    ]);
    expect(conditionEvents(missing.conditions, status('missing', missing).conditions!)).toEqual([]);
    const resolved = status('found', missing);
    expect(conditionEvents(missing.conditions, resolved.conditions!)).toContainEqual({
      type: 'Normal',
      reason: 'ReferencesResolved',
      message: expect.any(String),
    });
    // Resolved, the pods are the cause again.
    expect(resolved.conditions!.find((c) => c.type === 'Ready')).toMatchObject({
      reason: 'ReplicasNotReady',
    });
  });
});
