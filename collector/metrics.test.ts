import { describe, expect, it } from 'vitest';
import { createCollectorMetrics } from './metrics.ts';

describe('collector metrics', () => {
  it('exports no certificate expiry until TLS registers it (an unset gauge would read 0: expired)', async () => {
    const metrics = createCollectorMetrics({ defaultMetrics: false });
    expect(await metrics.registry.metrics()).not.toContain('tls_certificate_expiry');
    metrics.registry.registerMetric(metrics.tlsCertificateExpiry);
    metrics.tlsCertificateExpiry.set(1_800_000_000);
    expect(await metrics.registry.metrics()).toMatch(
      /^portcullis_collector_tls_certificate_expiry_seconds 1800000000$/m,
    );
  });
});
