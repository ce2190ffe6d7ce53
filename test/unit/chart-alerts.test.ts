import { describe, expect, it } from 'vitest';
import { createCollectorMetrics } from '../../collector/metrics.ts';
import { createAuditShippingMetrics } from '../../sidecar/audit/shipper-metrics.ts';
import { Registry } from 'prom-client';
import { renderChart, templateChart } from '../harness/helm.ts';

/**
 * The chart's PrometheusRule, through `helm template`: the certificate expiry alerts on the gauge the
 * collector really exports, at the configured days, and the CA alert on the sidecars' real counter.
 */
interface Rule {
  alert: string;
  expr: string;
  for?: string;
  labels: { severity: string };
}

async function rules(values: object): Promise<Rule[]> {
  const objects = await renderChart(values);
  const found = objects.filter((o) => o.kind === 'PrometheusRule') as unknown as {
    spec: { groups: { rules: Rule[] }[] };
  }[];
  return found.flatMap((o) => o.spec.groups.flatMap((g) => g.rules));
}

const on = (extra: object = {}) => ({ monitoring: { prometheusRule: { enabled: true, ...extra } } });

/** The names both components put on their registries (the expiry gauge once TLS registers it). */
async function exportedNames(): Promise<string[]> {
  const collector = createCollectorMetrics({ defaultMetrics: false });
  collector.registry.registerMetric(collector.tlsCertificateExpiry);
  const sidecar = new Registry();
  createAuditShippingMetrics(sidecar);
  return [...(await collector.registry.getMetricsAsJSON()), ...(await sidecar.getMetricsAsJSON())].map(
    (m) => m.name,
  );
}

describe('chart alerts (PrometheusRule)', () => {
  it('are off by default, and off without a collector', async () => {
    expect(await rules({})).toEqual([]);
    expect(await rules({ ...on(), collector: { enabled: false } })).toEqual([]);
  });

  it('warn 14 days and page 3 days before the certificate in force expires, by default', async () => {
    const rendered = await rules(on());
    const byName = Object.fromEntries(rendered.map((r) => [r.alert, r]));
    expect(byName['PortcullisCollectorCertificateExpiring']).toMatchObject({
      expr: `portcullis_collector_tls_certificate_expiry_seconds - time() < ${14 * 86_400}`,
      labels: { severity: 'warning' },
    });
    expect(byName['PortcullisCollectorCertificateExpiringSoon']).toMatchObject({
      expr: `portcullis_collector_tls_certificate_expiry_seconds - time() < ${3 * 86_400}`,
      labels: { severity: 'critical' },
    });
    expect(byName['PortcullisCollectorCaRejected']?.expr).toContain(
      'portcullis_audit_collector_ca_reloads_total{result="invalid"}',
    );
  });

  it('query only metrics the collector and the sidecars export', async () => {
    const exported = await exportedNames();
    const used = (await rules(on())).flatMap((r) =>
      [...r.expr.matchAll(/\b(portcullis_[a-z_]+)/g)].map((m) => m[1]!),
    );
    expect(used.length).toBe(3);
    expect(used.filter((name) => !exported.includes(name))).toEqual([]);
  });

  it('take the days from values, and carry the labels Prometheus selects rules by', async () => {
    const objects = await renderChart(
      on({
        labels: { release: 'kube-prometheus-stack' },
        certificateExpiry: { warningDays: 30, criticalDays: 7 },
      }),
    );
    const rule = objects.find((o) => o.kind === 'PrometheusRule')!;
    expect(rule.metadata?.labels?.['release']).toBe('kube-prometheus-stack');
    const exprs = (rule as unknown as { spec: { groups: { rules: Rule[] }[] } }).spec.groups[0]!.rules.map(
      (r) => r.expr,
    );
    expect(exprs).toContain(`portcullis_collector_tls_certificate_expiry_seconds - time() < ${30 * 86_400}`);
    expect(exprs).toContain(`portcullis_collector_tls_certificate_expiry_seconds - time() < ${7 * 86_400}`);
  });

  it('refuses a critical threshold not below the warning one, and days that are not whole and positive', async () => {
    const inverted = await templateChart(on({ certificateExpiry: { warningDays: 3, criticalDays: 14 } }));
    expect(inverted.code).not.toBe(0);
    expect(inverted.stderr).toMatch(/criticalDays \(14\) must be below warningDays \(3\)/);
    for (const days of [0, 1.5, '14']) {
      const refused = await templateChart(on({ certificateExpiry: { warningDays: days } }));
      expect(refused.code, String(days)).not.toBe(0);
      expect(refused.stderr).toMatch(/warningDays/);
    }
  });
});
