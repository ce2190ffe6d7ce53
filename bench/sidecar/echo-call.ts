import { signToken, type SigningKey } from '../../test/fixtures/auth/signing-keys.ts';

/** Who issues the benchmark's token and for whom (bench/fixtures/policy/bench.yaml says the same). */
export const ECHO_TOKEN_ISSUER = 'https://id.example.com/bench';
export const ECHO_TOKEN_AUDIENCE = 'https://bench.mcp.example.com/mcp';

/**
 * The call every sidecar benchmark sends: a ~1 KB tools/call of the echo tool (bench/fixtures/policy),
 * with a token the bench policy allows. One definition, so figures of different benchmarks compare.
 */
export async function echoCall(key: SigningKey): Promise<{
  token: string;
  body: string;
  headers: Record<string, string>;
}> {
  const now = Math.floor(Date.now() / 1000);
  const token = await signToken(key, {
    iss: ECHO_TOKEN_ISSUER,
    aud: ECHO_TOKEN_AUDIENCE,
    sub: 'bench-user',
    client_id: 'bench-agent',
    tenant_id: 'acme',
    scope: 'bench',
    iat: now,
    exp: now + 3600,
  });
  const body = JSON.stringify({
    jsonrpc: '2.0',
    id: 1,
    method: 'tools/call',
    params: { name: 'echo', arguments: { tenant: 'acme', payload: 'x'.repeat(900) } },
  });
  const headers = {
    'content-type': 'application/json',
    accept: 'application/json, text/event-stream',
    'mcp-protocol-version': '2025-06-18',
  };
  return { token, body, headers };
}
