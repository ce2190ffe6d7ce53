import { describe, expect, it } from 'vitest';
import {
  cidrContains,
  formatAddress,
  parseAddress,
  parseCidr,
  parseIPv4Loose,
  parseIPv6,
  specialUse,
  unmapped,
} from './ip.ts';
import { parseHost } from './target.ts';

const text = (ip: ReturnType<typeof parseAddress>) => (ip ? formatAddress(ip) : undefined);

describe('IPv4 in the forms resolvers accept', () => {
  it.each([
    ['169.254.169.254', '169.254.169.254'],
    ['2852039166', '169.254.169.254'],
    ['0251.0376.0251.0376', '169.254.169.254'],
    ['0xa9.0xfe.0xa9.0xfe', '169.254.169.254'],
    ['0XA9FEA9FE', '169.254.169.254'],
    ['169.254.43518', '169.254.169.254'],
    ['169.16689662', '169.254.169.254'],
    ['0x7f.1', '127.0.0.1'],
    ['127.1', '127.0.0.1'],
    ['0', '0.0.0.0'],
    ['0x', '0.0.0.0'],
    ['000000000000000000177.0.0.1', '127.0.0.1'],
    ['1.2.3.4.', '1.2.3.4'],
  ])('%s is %s', (input, expected) => {
    expect(text(parseIPv4Loose(input))).toBe(expected);
  });

  it.each(['1.2.3.256', '1.2.3.4.5', '08.1.1.1', '4294967296', '1.2.65536', 'a.b.c.d', '', '1..2.3'])(
    'refuses %j',
    (input) => {
      expect(parseIPv4Loose(input)).toBeUndefined();
    },
  );
});

describe('IPv6', () => {
  it.each([
    ['::', '::'],
    ['::1', '::1'],
    ['::ffff:169.254.169.254', '::ffff:a9fe:a9fe'],
    ['64:ff9b::169.254.169.254', '64:ff9b::a9fe:a9fe'],
    ['2001:DB8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
    ['fe80:0:0:0:0:0:0:1', 'fe80::1'],
    ['1:2:3:4:5:6:7::', '1:2:3:4:5:6:7:0'],
  ])('%s formats as %s', (input, expected) => {
    expect(text(parseIPv6(input))).toBe(expected);
  });

  it.each(['fe80::1%eth0', '1::2::3', ':::1', '1:2:3:4:5:6:7:8:9', '12345::', '1.2.3.4::', '::1.2.3'])(
    'refuses %j',
    (input) => {
      expect(parseIPv6(input)).toBeUndefined();
    },
  );
});

describe('special-use addresses', () => {
  it.each([
    ['169.254.169.254', 'link-local (cloud metadata)'],
    ['10.1.2.3', 'private'],
    ['172.31.255.255', 'private'],
    ['192.168.0.1', 'private'],
    ['127.255.0.1', 'loopback'],
    ['100.100.100.200', 'carrier-grade NAT'],
    ['0.0.0.0', 'unspecified'],
    ['255.255.255.255', 'broadcast'],
    ['239.1.1.1', 'multicast'],
    ['::', 'unspecified'],
    ['::1', 'loopback'],
    ['::ffff:169.254.169.254', 'IPv4-mapped link-local (cloud metadata)'],
    ['::ffff:10.0.0.1', 'IPv4-mapped private'],
    ['::169.254.169.254', 'reserved'],
    ['64:ff9b::a9fe:a9fe', 'NAT64 of 169.254.169.254, link-local (cloud metadata)'],
    ['2002:a9fe:a9fe::1', '6to4 of 169.254.169.254, link-local (cloud metadata)'],
    ['2002:0a00:0001::', '6to4 of 10.0.0.1, private'],
    ['fd00:ec2::254', 'unique local'],
    ['fe80::1', 'link-local'],
    ['ff02::1', 'multicast'],
    ['2001::1', 'Teredo'],
  ])('%s is %s', (input, label) => {
    expect(specialUse(parseAddress(input)!)).toContain(label);
  });

  it.each([
    '93.184.216.34',
    '8.8.8.8',
    '2606:4700::1111',
    '::ffff:8.8.8.8',
    '64:ff9b::808:808',
    '2002:808:808::1',
  ])('%s is public', (input) => {
    expect(specialUse(parseAddress(input)!)).toBeUndefined();
  });
});

describe('CIDR', () => {
  it('matches prefixes, including partial bytes', () => {
    const cidr = parseCidr('172.16.0.0/12')!;
    expect(cidrContains(cidr, parseAddress('172.31.1.1')!)).toBe(true);
    expect(cidrContains(cidr, parseAddress('172.32.0.0')!)).toBe(false);
    expect(cidrContains(parseCidr('0.0.0.0/0')!, parseAddress('1.2.3.4')!)).toBe(true);
    expect(cidrContains(parseCidr('fd00::/8')!, parseAddress('fd00:ec2::254')!)).toBe(true);
  });

  it('an IPv4 range holds the IPv4-mapped form of its addresses (the same destination)', () => {
    const cidr = parseCidr('127.0.0.1/32')!;
    expect(cidrContains(cidr, parseAddress('::ffff:127.0.0.1')!)).toBe(true);
    expect(cidrContains(cidr, parseAddress('64:ff9b::7f00:1')!)).toBe(false);
    expect(formatAddress(unmapped(parseAddress('::ffff:7f00:1')!))).toBe('127.0.0.1');
  });

  it('refuses malformed ranges', () => {
    for (const bad of ['10.0.0.0', '10.0.0.0/33', '::/129', '10.0.0.0/08', 'x/8'])
      expect(parseCidr(bad)).toBeUndefined();
  });
});

describe('host strings', () => {
  it('normalises case and one trailing dot, and reads numeric hosts as IPs', () => {
    expect(parseHost('API.Example.COM.')).toEqual({ kind: 'name', name: 'api.example.com' });
    expect(parseHost('2852039166')).toMatchObject({ kind: 'ip' });
    expect(parseHost('[::ffff:169.254.169.254]')).toMatchObject({ kind: 'ip' });
    expect(parseHost('example.com..')).toHaveProperty('invalid');
    expect(parseHost('1.2.3.999')).toHaveProperty('invalid');
    expect(parseHost('[fe80::1%eth0]')).toHaveProperty('invalid');
    expect(parseHost('exa mple.com')).toHaveProperty('invalid');
    expect(parseHost('xn--bcher-kva.example')).toEqual({ kind: 'name', name: 'xn--bcher-kva.example' });
  });
});
