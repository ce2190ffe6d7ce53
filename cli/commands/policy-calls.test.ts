import { describe, expect, it } from 'vitest';
import { CliError } from '../errors.ts';
import { MAX_CALLS, MAX_CALLS_FILE_BYTES, parseCalls, tokenClaims } from './policy-calls.ts';

function invalid(source: string): string {
  try {
    parseCalls('calls.yaml', source);
  } catch (error) {
    expect(error).toBeInstanceOf(CliError);
    expect((error as CliError).exitCode).toBe(2);
    return (error as CliError).message;
  }
  throw new Error('expected a usage error');
}

const names = { user: 'sub', agent: 'azp', tenant: 'tenant_id', groups: 'groups' };

describe('parseCalls', () => {
  it('reads YAML and JSON lists with defaults', () => {
    const yaml = parseCalls('c.yaml', '- { user: alice, tool: read_invoice, expect: allow }\n');
    const json = parseCalls('c.json', '[{"user":"alice","tool":"read_invoice","expect":"allow"}]');
    expect(yaml).toEqual(json);
    expect(yaml[0]).toEqual({ user: 'alice', tool: 'read_invoice', expect: 'allow', groups: [], scopes: [] });
  });

  it.each([
    ['user: alice\ntool: t\n', /expected a list of calls/],
    ['', /expected a list of calls \(- user: …, tool: …\), found nothing/],
    ['[]', /the list of calls is empty/],
    ['- { user: a, tool: t, expcet: deny }', /\[0\]: Unrecognized key: "expcet"/],
    ['- { user: a }', /\[0\]\.tool: /],
    ['- { user: a, tool: "read *" }', /\[0\]\.tool: /],
    ['- { user: a, tool: t, groups: support }', /\[0\]\.groups: .*expected array/],
    ['- { user: a, tool: t, scopes: [1] }', /\[0\]\.scopes\[0\]: .*expected string/],
    ['- { user: 7, tool: t }', /\[0\]\.user: .*expected string/],
    ['- { user: a, tool: t, arguments: [1, 2] }', /\[0\]\.arguments: arguments must be a mapping/],
    ['- { user: a, tool: t, claims: "acr=mfa" }', /\[0\]\.claims: claims must be a mapping/],
    ['- { user: a, tool: t, expect: maybe }', /\[0\]\.expect: /],
    ['- { user: a, tool: t, expectCode: nope }', /\[0\]\.expectCode: /],
    ['- { user: a, tool: t, expect: allow, expectCode: killed }', /contradicts expect: allow/],
    ['- { user: a, tool: t, expectRule: just-a-rule }', /expectRule is ToolPolicy\/rule/],
    ['- { user: a, tool: t, user: b }', /not valid YAML or JSON: Map keys must be unique/],
    ['- { user: a, tool: [unclosed', /not valid YAML or JSON/],
  ])('refuses %j naming the file and field', (source, message) => {
    const text = invalid(source);
    expect(text).toMatch(/^calls\.yaml: /);
    expect(text).toMatch(message);
  });

  it('points at the call that is wrong', () => {
    expect(
      invalid('- { user: a, tool: t }\n- { user: a, tool: t }\n- { user: a, tool: t, groups: [7] }'),
    ).toMatch(/\[2\]\.groups\[0\]/);
  });

  it('refuses a prototype key on a call instead of changing its prototype', () => {
    expect(invalid('- { user: a, tool: t, __proto__: { expect: deny } }')).toMatch(
      /Unrecognized key: "__proto__"/,
    );
    expect(({} as Record<string, unknown>)['expect']).toBeUndefined();
  });

  it('keeps __proto__ in arguments and claims as a plain key, as JSON.parse does in the sidecar', () => {
    const [call] = parseCalls(
      'c.yaml',
      '- user: a\n  tool: t\n  arguments: { __proto__: { isAdmin: true }, x: 1 }\n  claims: { __proto__: { acr: mfa } }\n',
    );
    expect(Object.hasOwn(call!.arguments!, '__proto__')).toBe(true);
    expect(Object.getPrototypeOf(call!.arguments)).toBe(Object.prototype);
    expect((call!.arguments as Record<string, unknown>)['isAdmin']).toBeUndefined();
    const claims = tokenClaims(call!, names);
    expect(Object.hasOwn(claims, '__proto__')).toBe(true);
    expect(claims['acr']).toBeUndefined();
  });

  it('refuses files beyond the size and count bounds', () => {
    expect(invalid(' '.repeat(MAX_CALLS_FILE_BYTES + 1))).toMatch(/larger than 4 MiB/);
    const many = Array.from({ length: MAX_CALLS + 1 }, () => '- {user: a, tool: t}').join('\n');
    expect(invalid(many)).toMatch(/more than 10000 calls/);
  });

  it('refuses an alias bomb instead of expanding it', () => {
    const bomb = [
      'a: &a [x, x, x, x, x, x, x, x, x, x]',
      ...Array.from(
        { length: 8 },
        (_, i) =>
          `${String.fromCharCode(98 + i)}: &${String.fromCharCode(98 + i)} [${Array(10)
            .fill(`*${String.fromCharCode(97 + i)}`)
            .join(', ')}]`,
      ),
    ].join('\n');
    expect(invalid(`- ${bomb.replace(/\n/g, '\n  ')}\n  user: a\n  tool: t`)).toMatch(/alias/i);
  });

  it('builds token claims under the server claim names, the call claims on top', () => {
    const [call] = parseCalls(
      'c.yaml',
      '- { user: alice, agent: copilot, tenant: acme, groups: [support], scopes: [a, b], tool: t, claims: { acr: mfa, sub: spoofed } }',
    );
    expect(tokenClaims(call!, names)).toEqual({
      sub: 'spoofed',
      azp: 'copilot',
      tenant_id: 'acme',
      groups: ['support'],
      scope: 'a b',
      acr: 'mfa',
    });
    expect(tokenClaims(call!, { user: 'sub', agent: 'client_id', groups: 'groups' })).not.toHaveProperty(
      'tenant_id',
    );
  });
});
