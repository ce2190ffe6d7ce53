import { endsInNumber, parseIPv4Loose, parseIPv6, type IpAddress } from './ip.ts';

/**
 * Where a proxied request wants to go, from the request line alone: an absolute-form URI
 * (`GET http://host:port/path`) or a CONNECT authority (`host:port`). Host strings are read the way a
 * resolver would read them, so an IP written in decimal, octal, hex or short form is an IP, not a name.
 */
export type TargetHost =
  { readonly kind: 'name'; readonly name: string } | { readonly kind: 'ip'; readonly address: IpAddress };

export interface Target {
  readonly protocol: 'http' | 'connect';
  /** The authority as the client wrote it (for audit), at most 300 characters. */
  readonly written: string;
  readonly host: TargetHost;
  readonly port: number;
  /** Absolute-form only: origin-form path and query, and the authority for the Host header. */
  readonly path?: string;
  readonly authority?: string;
}

export type TargetResult = Target | { readonly invalid: string; readonly written: string };

const LABEL = /^[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?$/;

/** Lower-cases, drops one trailing dot, and tells IP literals from DNS names. */
export function parseHost(raw: string): TargetHost | { readonly invalid: string } {
  if (raw.startsWith('[')) {
    const address = raw.endsWith(']') ? parseIPv6(raw.slice(1, -1)) : undefined;
    return address
      ? { kind: 'ip', address }
      : { invalid: `"${raw}" is not an IPv6 address (zone ids refused)` };
  }
  let host = raw.toLowerCase();
  if (host.endsWith('.')) host = host.slice(0, -1);
  if (host === '' || host.length > 253) return { invalid: 'empty or over-long host' };
  if (host.includes(':')) {
    const address = parseIPv6(host);
    return address ? { kind: 'ip', address } : { invalid: `"${raw}" is not a valid host` };
  }
  if (endsInNumber(host)) {
    const address = parseIPv4Loose(host);
    return address
      ? { kind: 'ip', address }
      : { invalid: `"${raw}" ends in a number but is not an IPv4 address` };
  }
  if (!host.split('.').every((label) => LABEL.test(label)))
    return { invalid: `"${raw}" is not a DNS name or IP address` };
  return { kind: 'name', name: host };
}

function port(text: string): number | undefined {
  if (!/^[0-9]{1,5}$/.test(text)) return undefined;
  const value = Number(text);
  return value >= 1 && value <= 65535 ? value : undefined;
}

/** `CONNECT host:port` (authority-form, RFC 9110 section 9.3.6): the port is required. */
export function parseConnectTarget(authority: string): TargetResult {
  const written = authority.slice(0, 300);
  const match = /^(\[[^\]]*\]|[^:[\]]*):([^:]*)$/.exec(authority);
  if (!match) return { invalid: 'CONNECT needs host:port', written };
  const p = port(match[2]!);
  if (p === undefined) return { invalid: 'invalid port', written };
  const host = parseHost(match[1]!);
  if ('invalid' in host) return { invalid: host.invalid, written };
  return { protocol: 'connect', written, host, port: p };
}

/**
 * `GET http://host[:port]/path` (absolute-form, RFC 9112 section 3.2.2). Only http: the client tunnels
 * https with CONNECT. Userinfo is refused outright: `http://allowed.example.com@169.254.169.254/` goes
 * to 169.254.169.254, and RFC 9110 forbids senders to generate userinfo anyway.
 */
export function parseAbsoluteTarget(uri: string): TargetResult {
  const scheme = /^[a-z][a-z0-9+.-]*:\/\/([^/?#]*)/i.exec(uri);
  if (!scheme)
    return {
      invalid: 'not a proxy request: expected an absolute-form URI such as http://host/path',
      written: uri.slice(0, 300),
    };
  const written = scheme[1]!.slice(0, 300);
  if (scheme[1]!.includes('@')) return { invalid: 'userinfo in the request URI is refused', written };
  if (!URL.canParse(uri)) return { invalid: 'unparseable request URI', written };
  const url = new URL(uri);
  if (url.protocol !== 'http:')
    return { invalid: `scheme ${url.protocol} is not proxied; use CONNECT for https`, written };
  if (url.username !== '' || url.password !== '')
    return { invalid: 'userinfo in the request URI is refused', written };
  // url.hostname is already WHATWG-normalised (IPv4 forms to dotted quads, IPv6 compressed, IDN to
  // punycode); parseHost classifies it the same way it classifies a CONNECT host.
  const host = parseHost(url.hostname);
  if ('invalid' in host) return { invalid: host.invalid, written };
  return {
    protocol: 'http',
    written,
    host,
    port: url.port === '' ? 80 : Number(url.port),
    path: `${url.pathname}${url.search}`,
    authority: url.host,
  };
}
