import { describe, expect, it } from 'vitest';
import { sidecarConfigSchema } from '../../sidecar/config.ts';
import { sidecarConfigFromArgs } from './sidecar.ts';

const base = ['--policy', 'test/fixtures/policies/billing', '--upstream', 'http://127.0.0.1:9/mcp'];

function parse(args: string[], env: Record<string, string> = {}) {
  const input = sidecarConfigFromArgs([...base, ...args], env);
  if (input === 'help') throw new Error('unexpected help');
  return sidecarConfigSchema.safeParse(input);
}

describe('sidecar egress flags', () => {
  it('defaults to a loopback proxy on 15001, 1 GiB and 60 s per connection', () => {
    const config = parse([]);
    expect(config.data).toMatchObject({
      egressListen: { host: '127.0.0.1', port: 15001 },
      egressMaxBytes: 1024 ** 3,
      egressIdleTimeoutSeconds: 60,
    });
  });

  it('reads quantities and environment variables', () => {
    const config = parse(['--egress-max-bytes', '64Mi', '--egress-listen', '[::1]:3128'], {
      PORTCULLIS_EGRESS_IDLE_TIMEOUT_SECONDS: '5',
    });
    expect(config.data).toMatchObject({
      egressListen: { host: '::1', port: 3128 },
      egressMaxBytes: 64 * 1024 ** 2,
      egressIdleTimeoutSeconds: 5,
    });
  });

  it('refuses an egress proxy beyond loopback (it would be an open proxy for the cluster)', () => {
    const config = parse(['--egress-listen', '0.0.0.0:15001']);
    expect(config.success).toBe(false);
    expect(config.error?.message).toContain('--egress-listen must be a loopback address');
  });

  it('refuses a byte budget that is not a quantity', () => {
    expect(parse(['--egress-max-bytes', 'lots']).success).toBe(false);
  });
});
