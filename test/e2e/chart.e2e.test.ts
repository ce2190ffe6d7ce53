// The chart's life on a real node: default values run two operator replicas with one leader and the
// collector Ready on a volume of the default StorageClass; `helm upgrade` upgrades the CRDs; `helm
// uninstall` keeps them (and every McpServer). The chart is installed again at the end, as other files expect.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHART_DIR, helm } from '../harness/helm.ts';
import { waitFor } from '../cluster/wait.ts';
import { kubectl, kubectlJson } from './kube.ts';
import { BILLING_NAMESPACE, ensurePlatform, installChart, RELEASE, SYSTEM_NAMESPACE } from './platform.ts';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { cluster } from './context.ts';

interface Crd {
  metadata: { name: string; annotations?: Record<string, string> };
  spec: { versions: { name: string; additionalPrinterColumns?: { name: string }[] }[] };
}

function chartCrd(name: string): Crd {
  const dir = join(CHART_DIR, 'files/crds');
  for (const file of readdirSync(dir)) {
    const crd = parse(readFileSync(join(dir, file), 'utf8')) as Crd;
    if (crd.metadata.name === name) return crd;
  }
  throw new Error(`no CRD ${name} in the chart`);
}

const columns = (crd: Crd): string[] =>
  crd.spec.versions[0]!.additionalPrinterColumns?.map((c) => c.name) ?? [];

describe('the chart on a real node', () => {
  beforeAll(async () => {
    await ensurePlatform();
  });
  afterAll(async () => {
    await installChart();
  });

  it('runs two operator replicas with one leader and the collector Ready on a PersistentVolumeClaim', () => {
    const operator = kubectlJson<{ status: { readyReplicas?: number } }>([
      '-n',
      SYSTEM_NAMESPACE,
      'get',
      'deployment',
      'portcullis-operator',
    ]);
    expect(operator.status.readyReplicas).toBe(2);
    const holder = kubectl([
      '-n',
      SYSTEM_NAMESPACE,
      'get',
      'lease',
      'portcullis-operator',
      '-o',
      'jsonpath={.spec.holderIdentity}',
    ]);
    const operatorPods = kubectl([
      '-n',
      SYSTEM_NAMESPACE,
      'get',
      'pods',
      '-l',
      'app.kubernetes.io/component=operator',
      '-o',
      'name',
    ]);
    expect(
      operatorPods.split('\n').some((pod) => pod !== '' && holder.startsWith(pod.replace('pod/', ''))),
    ).toBe(true);
    const collector = kubectlJson<{ status: { readyReplicas?: number } }>([
      '-n',
      SYSTEM_NAMESPACE,
      'get',
      'deployment',
      'portcullis-collector',
    ]);
    expect(collector.status.readyReplicas).toBe(1);
    const claim = kubectlJson<{ status: { phase: string }; spec: { storageClassName?: string } }>([
      '-n',
      SYSTEM_NAMESPACE,
      'get',
      'pvc',
      'portcullis-collector-data',
    ]);
    expect(claim.status.phase).toBe('Bound');
    expect(claim.spec.storageClassName).toBe('local-path');
  });

  it('helm upgrade upgrades the CRDs', async () => {
    const name = 'mcpservers.portcullis.dev';
    // An older CRD in the cluster: one printer column fewer than the chart's.
    const live = kubectlJson<Crd>(['get', 'crd', name]);
    const trimmed = columns(live).filter((column) => column !== 'Tools');
    expect(trimmed.length).toBe(columns(live).length - 1);
    kubectl([
      'patch',
      'crd',
      name,
      '--type=json',
      '-p',
      JSON.stringify([
        {
          op: 'replace',
          path: '/spec/versions/0/additionalPrinterColumns',
          value: live.spec.versions[0]!.additionalPrinterColumns!.filter((c) => c.name !== 'Tools'),
        },
      ]),
    ]);
    expect(columns(kubectlJson<Crd>(['get', 'crd', name]))).toEqual(trimmed);
    await installChart();
    expect(columns(kubectlJson<Crd>(['get', 'crd', name]))).toEqual(columns(chartCrd(name)));
  });

  it('helm uninstall keeps the CRDs and every McpServer', async () => {
    const result = await helm(
      [
        'uninstall',
        RELEASE,
        `--kubeconfig=${cluster().kubeconfig}`,
        `--namespace=${SYSTEM_NAMESPACE}`,
        '--wait',
        '--timeout=3m',
      ],
      { timeoutMs: 200_000 },
    );
    expect(result.code, result.stderr).toBe(0);
    await waitFor(
      'the operator to be gone',
      120_000,
      () => kubectl(['-n', SYSTEM_NAMESPACE, 'get', 'deployments', '-o', 'name']).trim() === '',
    );
    for (const crd of ['mcpservers.portcullis.dev', 'toolpolicies.portcullis.dev']) {
      expect(kubectlJson<Crd>(['get', 'crd', crd]).metadata.annotations?.['helm.sh/resource-policy']).toBe(
        'keep',
      );
    }
    expect(kubectl(['-n', BILLING_NAMESPACE, 'get', 'mcpserver', 'billing', '-o', 'name']).trim()).toBe(
      'mcpserver.portcullis.dev/billing',
    );
  });
});
