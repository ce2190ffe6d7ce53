/**
 * IP addresses for the egress proxy: parsing the way resolvers and URL parsers do (so `2852039166`,
 * `0251.0376.0251.0376`, `0xa9.0xfe.0xa9.0xfe` and `169.254.43518` are all 169.254.169.254), CIDR
 * matching, and the special-use ranges the proxy refuses unless a cidr rule names them. Pure: no I/O.
 */
export interface IpAddress {
  readonly family: 4 | 6;
  /** 4 or 16 bytes, network order. */
  readonly bytes: Uint8Array;
}

export interface Cidr {
  readonly family: 4 | 6;
  readonly bytes: Uint8Array;
  readonly prefix: number;
}

const DIGITS: Readonly<Record<number, RegExp>> = { 8: /^[0-7]*$/, 10: /^[0-9]+$/, 16: /^[0-9a-f]*$/i };

/** One part of a loose IPv4 address: `0x..` hex, `0..` octal, else decimal (WHATWG "IPv4 number parser"). */
function ipv4Number(part: string): number | undefined {
  if (part === '') return undefined;
  let radix = 10;
  let digits = part;
  if (/^0x/i.test(part)) {
    radix = 16;
    digits = part.slice(2);
  } else if (part.length > 1 && part.startsWith('0')) {
    radix = 8;
    digits = part.slice(1);
  }
  if (!DIGITS[radix]!.test(digits)) return undefined;
  if (digits === '') return 0;
  // Long runs of leading zeros are legal; anything longer than 2^32 needs at most 32 significant bits.
  const value = parseInt(digits, radix);
  return Number.isSafeInteger(value) ? value : Number.MAX_SAFE_INTEGER;
}

/**
 * Whether a host "ends in a number" (WHATWG URL): then it is an IPv4 address or invalid, never a DNS
 * name. Resolvers (inet_aton) read such hosts as numbers too.
 */
export function endsInNumber(host: string): boolean {
  const parts = host.split('.');
  if (parts.at(-1) === '' && parts.length > 1) parts.pop();
  const last = parts.at(-1) ?? '';
  return /^[0-9]+$/.test(last) || /^0x[0-9a-f]*$/i.test(last);
}

/**
 * IPv4 in every form inet_aton and WHATWG URL accept: 1 to 4 parts, each decimal, octal (leading 0) or
 * hex (0x); the last part fills the remaining bytes. Undefined when it is not one.
 */
export function parseIPv4Loose(text: string): IpAddress | undefined {
  const parts = text.split('.');
  if (parts.at(-1) === '' && parts.length > 1) parts.pop();
  if (parts.length === 0 || parts.length > 4) return undefined;
  const numbers: number[] = [];
  for (const part of parts) {
    const n = ipv4Number(part);
    if (n === undefined) return undefined;
    numbers.push(n);
  }
  const last = numbers.pop()!;
  if (numbers.some((n) => n > 255) || last >= 256 ** (4 - numbers.length)) return undefined;
  const bytes = new Uint8Array(4);
  numbers.forEach((n, i) => (bytes[i] = n));
  for (let i = 3, rest = last; i >= numbers.length; i--, rest = Math.floor(rest / 256)) bytes[i] = rest % 256;
  return { family: 4, bytes };
}

/** Strict dotted-quad IPv4 (what resolvers answer and sockets report). */
export function parseIPv4Strict(text: string): IpAddress | undefined {
  const parts = text.split('.');
  if (parts.length !== 4 || !parts.every((p) => /^(0|[1-9][0-9]{0,2})$/.test(p))) return undefined;
  const bytes = Uint8Array.from(parts, Number);
  return bytes.every((b, i) => b === Number(parts[i])) ? { family: 4, bytes } : undefined;
}

/** IPv6 text (RFC 4291 section 2.2, including a trailing dotted quad); no zone ids. */
export function parseIPv6(text: string): IpAddress | undefined {
  if (!/^[0-9a-f:.]+$/i.test(text) || text.length > 45) return undefined;
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const groupsOf = (half: string): number[] | undefined => {
    if (half === '') return [];
    const out: number[] = [];
    const pieces = half.split(':');
    for (const [i, piece] of pieces.entries()) {
      if (i === pieces.length - 1 && piece.includes('.')) {
        const v4 = parseIPv4Strict(piece);
        if (!v4) return undefined;
        out.push((v4.bytes[0]! << 8) | v4.bytes[1]!, (v4.bytes[2]! << 8) | v4.bytes[3]!);
      } else if (/^[0-9a-f]{1,4}$/i.test(piece)) out.push(parseInt(piece, 16));
      else return undefined;
    }
    return out;
  };
  const head = groupsOf(halves[0]!);
  const tail = halves.length === 2 ? groupsOf(halves[1]!) : [];
  if (!head || !tail) return undefined;
  // A dotted quad may only end the address.
  if (halves.length === 2 && halves[0]!.includes('.')) return undefined;
  const count = head.length + tail.length;
  if (halves.length === 2 ? count > 7 : count !== 8) return undefined;
  const groups = [...head, ...new Array<number>(8 - count).fill(0), ...tail];
  const bytes = new Uint8Array(16);
  groups.forEach((g, i) => {
    bytes[2 * i] = g >> 8;
    bytes[2 * i + 1] = g & 0xff;
  });
  return { family: 6, bytes };
}

/** An address as resolvers and sockets report it: strict dotted quad or IPv6. */
export function parseAddress(text: string): IpAddress | undefined {
  return text.includes(':') ? parseIPv6(text) : parseIPv4Strict(text);
}

export function formatAddress(ip: IpAddress): string {
  if (ip.family === 4) return ip.bytes.join('.');
  const groups = Array.from({ length: 8 }, (_, i) => (ip.bytes[2 * i]! << 8) | ip.bytes[2 * i + 1]!);
  // RFC 5952: compress the longest run (first on ties) of two or more zero groups.
  let best = -1;
  let bestLength = 1;
  for (let i = 0; i < 8;) {
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) [best, bestLength] = [i, j - i];
    i = j === i ? i + 1 : j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (best < 0) return hex.join(':');
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLength).join(':')}`;
}

export function sameAddress(a: IpAddress, b: IpAddress): boolean {
  const x = unmapped(a);
  const y = unmapped(b);
  return x.family === y.family && x.bytes.every((v, i) => v === y.bytes[i]);
}

function v4(b0: number, b1: number, b2: number, b3: number): IpAddress {
  return { family: 4, bytes: Uint8Array.of(b0, b1, b2, b3) };
}

function startsWith(bytes: Uint8Array, prefix: readonly number[]): boolean {
  return prefix.every((v, i) => bytes[i] === v);
}

/** `::ffff:a.b.c.d` is a.b.c.d (the kernel connects to it over IPv4); anything else is itself. */
export function unmapped(ip: IpAddress): IpAddress {
  const b = ip.bytes;
  if (ip.family === 6 && startsWith(b, [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff]))
    return v4(b[12]!, b[13]!, b[14]!, b[15]!);
  return ip;
}

export function parseCidr(text: string): Cidr | undefined {
  const slash = text.indexOf('/');
  if (slash < 0) return undefined;
  const ip = parseAddress(text.slice(0, slash));
  const bits = text.slice(slash + 1);
  if (!ip || !/^(0|[1-9][0-9]{0,2})$/.test(bits)) return undefined;
  const prefix = Number(bits);
  if (prefix > ip.bytes.length * 8) return undefined;
  return { family: ip.family, bytes: ip.bytes, prefix };
}

function within(cidr: Cidr, ip: IpAddress): boolean {
  if (cidr.family !== ip.family) return false;
  let bits = cidr.prefix;
  for (let i = 0; bits > 0; i++, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
    if ((cidr.bytes[i]! & mask) !== (ip.bytes[i]! & mask)) return false;
  }
  return true;
}

/** Whether the range holds the address; an IPv4 range also holds that address's IPv4-mapped IPv6 form. */
export function cidrContains(cidr: Cidr, ip: IpAddress): boolean {
  return within(cidr, ip) || within(cidr, unmapped(ip));
}

interface SpecialRange {
  readonly cidr: Cidr;
  readonly label: string;
}

const range = (text: string, label: string): SpecialRange => ({ cidr: parseCidr(text)!, label });

/** IPv4 ranges that are not the public internet (IANA special-purpose registry, the relevant part). */
const SPECIAL_V4: readonly SpecialRange[] = [
  range('0.0.0.0/8', 'unspecified ("this network")'),
  range('10.0.0.0/8', 'private'),
  range('100.64.0.0/10', 'carrier-grade NAT (shared address space)'),
  range('127.0.0.0/8', 'loopback'),
  range('169.254.169.254/32', 'link-local (cloud metadata)'),
  range('169.254.0.0/16', 'link-local'),
  range('172.16.0.0/12', 'private'),
  range('192.0.0.0/24', 'IETF protocol assignments'),
  range('192.0.2.0/24', 'documentation'),
  range('192.88.99.0/24', '6to4 relay anycast'),
  range('192.168.0.0/16', 'private'),
  range('198.18.0.0/15', 'benchmarking'),
  range('198.51.100.0/24', 'documentation'),
  range('203.0.113.0/24', 'documentation'),
  range('224.0.0.0/4', 'multicast'),
  range('255.255.255.255/32', 'broadcast'),
  range('240.0.0.0/4', 'reserved'),
];

const SPECIAL_V6: readonly SpecialRange[] = [
  range('::/128', 'unspecified'),
  range('::1/128', 'loopback'),
  // The rest of ::/8 (IPv4-compatible ::a.b.c.d, SIIT ::ffff:0:a.b.c.d) is deprecated or never routed;
  // NAT64's 64:ff9b::/96 inside it is judged by the IPv4 address it carries.
  range('::/8', 'reserved (IPv4-compatible or translated IPv6)'),
  range('64:ff9b:1::/48', 'local-use NAT64'),
  range('100::/64', 'discard-only'),
  range('2001::/32', 'Teredo (tunnelled IPv4)'),
  range('2001::/23', 'IETF protocol assignments'),
  range('2001:db8::/32', 'documentation'),
  range('3fff::/20', 'documentation'),
  range('5f00::/16', 'segment routing'),
  range('fc00::/7', 'unique local (private)'),
  range('fe80::/10', 'link-local'),
  range('fec0::/10', 'site-local (deprecated)'),
  range('ff00::/8', 'multicast'),
];

/** The IPv4 address an IPv6 address carries, and how: NAT64 (well-known prefix) and 6to4. */
function embeddedV4(ip: IpAddress): { readonly how: string; readonly address: IpAddress } | undefined {
  const b = ip.bytes;
  if (startsWith(b, [0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0]))
    return { how: 'NAT64', address: v4(b[12]!, b[13]!, b[14]!, b[15]!) };
  if (startsWith(b, [0x20, 0x02])) return { how: '6to4', address: v4(b[2]!, b[3]!, b[4]!, b[5]!) };
  return undefined;
}

function specialV4(ip: IpAddress): string | undefined {
  return SPECIAL_V4.find((r) => within(r.cidr, ip))?.label;
}

/**
 * Why an address is not on the public internet (private, loopback, link-local, metadata, ...), or
 * undefined when it is. IPv6 forms that carry an IPv4 address (mapped, NAT64, 6to4) are judged by it too.
 */
export function specialUse(ip: IpAddress): string | undefined {
  if (ip.family === 4) return specialV4(ip);
  const plain = unmapped(ip);
  if (plain !== ip) {
    const label = specialV4(plain);
    return label && `IPv4-mapped ${label}`;
  }
  // Before the special list: NAT64's well-known prefix lies inside ::/8 but reaches real IPv4 hosts.
  const embedded = embeddedV4(ip);
  const label = embedded && specialV4(embedded.address);
  if (label) return `${embedded.how} of ${formatAddress(embedded.address)}, ${label}`;
  if (embedded?.how === 'NAT64') return undefined;
  return SPECIAL_V6.find((r) => within(r.cidr, ip))?.label;
}
