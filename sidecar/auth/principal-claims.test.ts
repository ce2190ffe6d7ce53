import { describe, expect, it } from 'vitest';
import { principalFromClaims, type ClaimMapping } from './principal-claims.ts';

const DEFAULT: ClaimMapping = { user: 'sub', agent: 'client_id', groups: 'groups' };

describe('principalFromClaims', () => {
  it('uses the configured claim names', () => {
    const mapping: ClaimMapping = { user: 'email', agent: 'appid', tenant: 'tid', groups: 'roles' };
    const result = principalFromClaims(
      {
        sub: 'x',
        email: 'alice@example.com',
        appid: 'copilot',
        client_id: 'ignored',
        tid: 'acme',
        roles: ['admin'],
      },
      mapping,
    );
    expect(result).toMatchObject({
      ok: true,
      principal: { user: 'alice@example.com', agent: 'copilot', tenant: 'acme', groups: ['admin'] },
    });
  });

  it('leaves tenant unset when the configured claim is absent, and refuses a malformed one', () => {
    const mapping = { ...DEFAULT, tenant: 'tid' };
    const absent = principalFromClaims({ sub: 'alice', client_id: 'a' }, mapping);
    expect(absent.ok && 'tenant' in absent.principal).toBe(false);
    expect(principalFromClaims({ sub: 'alice', client_id: 'a', tid: ['acme'] }, mapping)).toMatchObject({
      ok: false,
      failure: { code: 'invalid_token' },
    });
  });

  it('accepts a single group as a string', () => {
    expect(principalFromClaims({ sub: 'alice', client_id: 'a', groups: 'support' }, DEFAULT)).toMatchObject({
      principal: { groups: ['support'] },
    });
  });

  it('falls back from the configured agent claim to azp, then client_id', () => {
    const mapping = { ...DEFAULT, agent: 'agent_id' };
    expect(principalFromClaims({ sub: 'u', azp: 'web', client_id: 'cli' }, mapping)).toMatchObject({
      principal: { agent: 'web' },
    });
    expect(principalFromClaims({ sub: 'u', client_id: 'cli' }, mapping)).toMatchObject({
      principal: { agent: 'cli' },
    });
    expect(principalFromClaims({ sub: 'u', agent_id: 7, client_id: 'cli' }, mapping)).toMatchObject({
      ok: false,
    });
  });

  it('takes the current actor from act, not earlier actors or the client', () => {
    const claims = { sub: 'alice', client_id: 'gateway', act: { sub: 'agent-2', act: { sub: 'agent-1' } } };
    expect(principalFromClaims(claims, DEFAULT)).toMatchObject({
      principal: { user: 'alice', agent: 'agent-2' },
    });
    expect(principalFromClaims({ ...claims, act: { iss: 'x' } }, DEFAULT)).toMatchObject({ ok: false });
  });

  it('reads scopes from scope, else from scp as a string or an array', () => {
    const scopesOf = (claims: Record<string, unknown>) => {
      const result = principalFromClaims({ sub: 'u', client_id: 'c', ...claims }, DEFAULT);
      return result.ok ? result.principal.scopes : undefined;
    };
    expect(scopesOf({ scope: ' a  b ' })).toEqual(['a', 'b']);
    expect(scopesOf({ scp: 'a b' })).toEqual(['a', 'b']);
    expect(scopesOf({ scp: ['a', 1, 'b'] })).toEqual(['a', 'b']);
    expect(scopesOf({ scope: 'a', scp: ['b'] })).toEqual(['a']);
    expect(scopesOf({})).toEqual([]);
  });
});
