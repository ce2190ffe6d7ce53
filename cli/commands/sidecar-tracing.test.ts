import { describe, expect, it } from 'vitest';
import { sidecarConfigSchema } from '../../sidecar/config.ts';
import { sidecarConfigFromArgs } from './sidecar.ts';

const base = ['--policy', 'test/fixtures/policies/billing', '--upstream', 'http://127.0.0.1:9/mcp'];

function parse(args: string[], env: Record<string, string> = {}) {
  const input = sidecarConfigFromArgs([...base, ...args], env);
  if (input === 'help') throw new Error('unexpected help');
  return sidecarConfigSchema.safeParse(input);
}

describe('sidecar tracing flags', () => {
  it('are off by default', () => {
    const config = parse([]);
    expect(config.success).toBe(true);
    expect(config.data?.otlpTracesEndpoint).toBeUndefined();
    expect(config.data?.traceSampleRatio).toBe(1);
  });

  it('read the endpoint and the ratio from flags or the environment', () => {
    const endpoint = 'http://otel-collector.observability.svc:4318/v1/traces';
    expect(parse(['--otlp-traces-endpoint', endpoint, '--trace-sample-ratio', '0.05']).data).toMatchObject({
      otlpTracesEndpoint: endpoint,
      traceSampleRatio: 0.05,
    });
    expect(
      parse([], { PORTCULLIS_OTLP_TRACES_ENDPOINT: endpoint, PORTCULLIS_TRACE_SAMPLE_RATIO: '0' }).data,
    ).toMatchObject({ otlpTracesEndpoint: endpoint, traceSampleRatio: 0 });
  });

  it.each([
    ['a ratio above 1', ['--trace-sample-ratio', '1.5']],
    ['a negative ratio', ['--trace-sample-ratio=-0.1']],
    ['an empty ratio', ['--trace-sample-ratio', '']],
    ['a ratio that is not a number', ['--trace-sample-ratio', 'half']],
    ['an endpoint that is not http(s)', ['--otlp-traces-endpoint', 'grpc://otel:4317']],
    ['an endpoint that is not a URL', ['--otlp-traces-endpoint', 'otel:4318']],
  ])('refuse %s', (_name, args) => {
    expect(parse(args).success).toBe(false);
  });
});
