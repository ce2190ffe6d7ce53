import { describe, expect, it } from 'vitest';
import { collectorConfigSchema } from './config.ts';

const parse = (input: Record<string, unknown>) => collectorConfigSchema.safeParse(input);

describe('collectorConfigSchema', () => {
  it('has defaults a pod can run with', () => {
    const config = collectorConfigSchema.parse({});
    expect(config).toMatchObject({
      listen: { host: '0.0.0.0', port: 8080 },
      metricsListen: { host: '0.0.0.0', port: 9090 },
      store: 'sqlite',
      auth: 'tokenreview',
      audience: 'portcullis-collector',
      queryAuth: 'kubernetes',
      export: [],
      retentionMs: 720 * 3_600_000,
      maxBatchBytes: 8 * 1024 * 1024,
      authCacheMs: 30_000,
      gapGraceMs: 10_000,
      monitorIntervalMs: 5_000,
    });
  });

  it('refuses --query-auth none beyond loopback: anyone could read the audit trail', () => {
    expect(parse({ queryAuth: 'none' }).success).toBe(false);
    expect(parse({ queryAuth: 'none', listen: '10.0.0.1:8080' }).success).toBe(false);
    expect(parse({ queryAuth: 'none', listen: '127.0.0.1:8080' }).success).toBe(true);
    expect(parse({ queryAuth: 'none', listen: '[::1]:8080' }).success).toBe(true);
  });

  it('needs exactly one postgres URL source for the postgres store', () => {
    expect(parse({ store: 'postgres' }).success).toBe(false);
    expect(parse({ store: 'postgres', postgresUrl: 'postgres://x', postgresUrlFile: '/f' }).success).toBe(
      false,
    );
    expect(parse({ store: 'postgres', postgresUrlFile: '/run/secrets/url' }).success).toBe(true);
  });

  it('needs an endpoint for the otlp exporter', () => {
    expect(parse({ export: ['otlp'] }).success).toBe(false);
    expect(parse({ export: ['otlp', 'stdout'], otlpEndpoint: 'http://otel:4318' }).success).toBe(true);
    expect(parse({ export: ['splunk'] }).success).toBe(false);
  });

  it('takes a JWKS URL only over https (or http on loopback), and with an issuer', () => {
    expect(parse({ auth: 'jwks', jwksUrl: 'http://evil.example/jwks', issuer: 'x' }).success).toBe(false);
    expect(parse({ auth: 'jwks', jwksUrl: 'https://k8s.example/openid/v1/jwks' }).success).toBe(false);
    expect(
      parse({ auth: 'jwks', jwksUrl: 'https://k8s.example/openid/v1/jwks', issuer: 'https://k8s' }).success,
    ).toBe(true);
  });

  it('reads durations and refuses nonsense', () => {
    expect(collectorConfigSchema.parse({ retentionMs: '90d' }).retentionMs).toBe(90 * 86_400_000);
    expect(parse({ retentionMs: 'forever' }).success).toBe(false);
    expect(parse({ retentionMs: '1s' }).success).toBe(false);
  });
});
