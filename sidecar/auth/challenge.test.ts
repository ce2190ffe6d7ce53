import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { wwwAuthenticate } from './challenge.ts';
import { insufficientScope, invalidToken, missingToken } from './failure.ts';

const METADATA = 'https://billing.mcp.example.com/.well-known/oauth-protected-resource/mcp';

describe('wwwAuthenticate', () => {
  it('points a client without a token at the resource metadata, with no error code', () => {
    expect(wwwAuthenticate(missingToken(), METADATA)).toBe(`Bearer resource_metadata="${METADATA}"`);
  });

  it('says invalid_token for a refused token, without the reason', () => {
    expect(wwwAuthenticate(invalidToken('token expired'), METADATA)).toBe(
      `Bearer error="invalid_token", resource_metadata="${METADATA}"`,
    );
  });

  it('names the missing scopes for insufficient_scope', () => {
    expect(wwwAuthenticate(insufficientScope(['mcp:call', 'invoices:read']), METADATA)).toBe(
      `Bearer error="insufficient_scope", scope="mcp:call invoices:read", resource_metadata="${METADATA}"`,
    );
  });

  it('escapes quotes and backslashes, and encodes control characters', () => {
    const header = wwwAuthenticate(
      insufficientScope(['a"b', 'c\\d', 'e\r\nSet-Cookie: x=1']),
      'https://x.example/"q"',
    );
    expect(header).toBe(
      'Bearer error="insufficient_scope", scope="a\\"b c\\\\d e%0D%0ASet-Cookie: x=1", resource_metadata="https://x.example/\\"q\\""',
    );
  });

  it('never produces a value that breaks out of its quotes or the header line', () => {
    fc.assert(
      fc.property(
        fc.array(fc.string({ unit: 'binary' }), { minLength: 1, maxLength: 4 }),
        fc.string({ unit: 'binary' }),
        (scopes, url) => {
          const header = wwwAuthenticate(insufficientScope(scopes), url);
          expect(header).toMatch(/^[\x20-\x7e]*$/);
          // Exactly three auth-params: error, scope, resource_metadata, each a well-formed quoted-string.
          const params =
            /^Bearer error="insufficient_scope", scope="((?:[^"\\]|\\.)*)", resource_metadata="((?:[^"\\]|\\.)*)"$/.exec(
              header,
            );
          expect(params).not.toBeNull();
        },
      ),
    );
  });
});
