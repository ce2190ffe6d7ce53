import { describe, expect, it } from 'vitest';
import { isCidr, isHttpsUrl, isQuantity } from './formats.ts';

describe('isCidr (twin of the Kubernetes CEL isCIDR)', () => {
  it.each([
    '10.0.0.0/8',
    '0.0.0.0/0',
    '192.168.1.7/32',
    '::/0',
    '2001:db8::/32',
    'fe80::1/128',
    '::ffff:10.0.0.1/128',
  ])('accepts %s', (cidr) => expect(isCidr(cidr)).toBe(true));
  it.each([
    '10.0.0.0',
    '10.0.0.300/8',
    '10.0.0.0/33',
    '010.0.0.0/8',
    '10.0.0/8',
    '::/129',
    '2001:db8:::/32',
    '1:2:3:4:5:6:7:8:9/64',
    'abc/8',
    '10.0.0.0/08',
    '',
  ])('refuses %s', (cidr) => expect(isCidr(cidr)).toBe(false));
});

describe('isQuantity', () => {
  it.each(['1Mi', '512Ki', '100m', '1', 1, '1.5G', '1e3', '+2Gi'])('accepts %s', (q) =>
    expect(isQuantity(q)).toBe(true),
  );
  it.each(['one', '1MB', '1 Mi', '', 'Mi', '1.2.3'])('refuses %s', (q) => expect(isQuantity(q)).toBe(false));
});

describe('isHttpsUrl', () => {
  it.each(['https://id.example.com', 'https://id.example.com/realms/acme', 'https://127.0.0.1:8443/mcp'])(
    'accepts %s',
    (u) => expect(isHttpsUrl(u)).toBe(true),
  );
  it.each([
    'http://id.example.com',
    'id.example.com',
    'https://',
    'file:///etc/passwd',
    'javascript:alert(1)',
  ])('refuses %s', (u) => expect(isHttpsUrl(u)).toBe(false));
});
