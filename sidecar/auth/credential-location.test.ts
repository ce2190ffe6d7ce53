import { describe, expect, it } from 'vitest';
import { checkCredentialLocation } from './credential-location.ts';

const TOKEN = 'eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlLW9mLXRoZS10b2tlbg';

describe('checkCredentialLocation', () => {
  it('accepts one Authorization header, or none, and a query without access_token', () => {
    expect(checkCredentialLocation(['Host', 'x', 'Authorization', `Bearer ${TOKEN}`], '/mcp')).toEqual({
      ok: true,
    });
    expect(checkCredentialLocation(['Host', 'x'], '/mcp?session=1&token_hint=a')).toEqual({ ok: true });
  });

  it.each([
    ['two headers', ['Authorization', `Bearer ${TOKEN}`, 'authorization', 'Bearer other']],
    ['two headers in the other order', ['authorization', 'Bearer other', 'Authorization', `Bearer ${TOKEN}`]],
    ['two headers, one empty', ['AUTHORIZATION', '', 'Authorization', `Bearer ${TOKEN}`]],
    ['three headers', ['Authorization', 'a', 'Host', 'x', 'authorization', 'b', 'authorization', 'c']],
  ])('refuses %s with invalid_request', (_name, raw) => {
    const result = checkCredentialLocation(raw, '/mcp');
    expect(result).toMatchObject({ ok: false, code: 'invalid_request' });
    expect(JSON.stringify(result)).not.toContain(TOKEN);
  });

  it.each([
    ['with a header', ['Authorization', `Bearer ${TOKEN}`], `/mcp?access_token=${TOKEN}`],
    ['without a header', [], `/mcp?access_token=${TOKEN}`],
    ['after other parameters', [], `/mcp?a=1&access_token=${TOKEN}`],
    ['percent-encoded name', [], `/mcp?access%5Ftoken=${TOKEN}`],
    ['empty value', [], '/mcp?access_token='],
  ])('refuses access_token in the query %s', (_name, raw, url) => {
    const result = checkCredentialLocation(raw, url);
    expect(result).toMatchObject({
      ok: false,
      code: 'invalid_request',
      reason: expect.stringMatching(/query/),
    });
    expect(JSON.stringify(result)).not.toContain(TOKEN);
  });
});
