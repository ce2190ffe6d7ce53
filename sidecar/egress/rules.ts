import type { McpServerSpec } from '../../api/v1alpha1/mcpserver.ts';
import { cidrContains, formatAddress, parseCidr, specialUse, type Cidr, type IpAddress } from './ip.ts';

/**
 * spec.egress compiled once per policy into matchers, and the two questions the proxy asks of them:
 * may this name be resolved (before any DNS query), and may this address be connected to (after).
 *
 * - `host` rules allow DNS names (exact, or `*.suffix` for any name below the suffix, not the suffix
 *   itself) on their ports, and only to public addresses: a name that resolves to a private, loopback,
 *   link-local or other special-use address is refused, whatever the name.
 * - `cidr` rules allow addresses on their ports, however they were named (an IP literal, or a name that
 *   resolved into the range). They are the only way to reach special-use addresses and IP literals.
 */
export type EgressSpec = McpServerSpec['egress'];

interface HostRule {
  readonly text: string;
  readonly exact?: string;
  /** `.example.com` for `*.example.com`. */
  readonly suffix?: string;
  readonly ports: ReadonlySet<number>;
}

interface CidrRule {
  readonly text: string;
  readonly cidr: Cidr;
  readonly ports: ReadonlySet<number>;
}

export interface EgressRules {
  readonly hosts: readonly HostRule[];
  readonly cidrs: readonly CidrRule[];
  /** Ports any cidr rule allows: a name outside the host rules is resolved only for these. */
  readonly cidrPorts: ReadonlySet<number>;
  readonly maxConnections: number;
}

export const DEFAULT_MAX_CONNECTIONS = 64;

export function compileEgress(spec: EgressSpec): EgressRules {
  const hosts: HostRule[] = [];
  const cidrs: CidrRule[] = [];
  for (const rule of spec?.allow ?? []) {
    const ports = new Set(rule.ports);
    if (rule.host !== undefined) {
      const host = rule.host.toLowerCase();
      hosts.push(
        host.startsWith('*.')
          ? { text: rule.host, suffix: host.slice(1), ports }
          : { text: rule.host, exact: host, ports },
      );
    } else if (rule.cidr !== undefined) {
      const cidr = parseCidr(rule.cidr);
      // The API validates CIDRs; one that still does not parse allows nothing (fail closed).
      if (cidr) cidrs.push({ text: rule.cidr, cidr, ports });
    }
  }
  const cidrPorts = new Set(cidrs.flatMap((c) => [...c.ports]));
  return { hosts, cidrs, cidrPorts, maxConnections: spec?.maxConnections ?? DEFAULT_MAX_CONNECTIONS };
}

const hostMatches = (rule: HostRule, name: string) =>
  rule.exact !== undefined ? rule.exact === name : name.endsWith(rule.suffix!);

export type NameVerdict =
  | { readonly resolve: true; readonly hostRule?: string }
  | {
      readonly resolve: false;
      readonly code: 'host_not_allowed' | 'port_not_allowed';
      readonly reason: string;
    };

/** Before DNS: is there any rule under which this name, on this port, could be allowed? */
export function checkName(rules: EgressRules, name: string, port: number): NameVerdict {
  const matching = rules.hosts.filter((r) => hostMatches(r, name));
  const hostRule = matching.find((r) => r.ports.has(port));
  if (hostRule) return { resolve: true, hostRule: `host:${hostRule.text}` };
  if (rules.cidrPorts.has(port)) return { resolve: true };
  if (matching.length > 0)
    return {
      resolve: false,
      code: 'port_not_allowed',
      reason: `port ${port} is not allowed for ${name} (allowed: ${[...new Set(matching.flatMap((r) => [...r.ports]))].join(', ')})`,
    };
  return {
    resolve: false,
    code: 'host_not_allowed',
    reason: `${name}:${port} matches no egress rule`,
  };
}

export type AddressVerdict =
  | { readonly allowed: true; readonly rule: string }
  | {
      readonly allowed: false;
      readonly code: 'forbidden_address' | 'address_not_allowed' | 'port_not_allowed';
      readonly reason: string;
    };

/**
 * After DNS (or for an IP literal): may we connect to this address? `hostRule` is the host rule the
 * name matched, if any. A cidr rule wins; a host rule allows public addresses only.
 */
export function checkAddress(
  rules: EgressRules,
  address: IpAddress,
  port: number,
  hostRule: string | undefined,
  name?: string,
): AddressVerdict {
  const inRange = rules.cidrs.filter((r) => cidrContains(r.cidr, address));
  const cidrRule = inRange.find((r) => r.ports.has(port));
  if (cidrRule) return { allowed: true, rule: `cidr:${cidrRule.text}` };
  const text = formatAddress(address);
  const shown = name ? `${name} resolved to ${text}, which` : text;
  const special = specialUse(address);
  if (special)
    return {
      allowed: false,
      code: 'forbidden_address',
      reason: `${shown} is ${special}; only a cidr rule naming it allows it${inRange.length > 0 ? ` (and none allows port ${port})` : ''}`,
    };
  if (hostRule) return { allowed: true, rule: hostRule };
  if (inRange.length > 0)
    return { allowed: false, code: 'port_not_allowed', reason: `port ${port} is not allowed for ${text}` };
  return {
    allowed: false,
    code: 'address_not_allowed',
    reason: name
      ? `${shown} is in no cidr rule (and ${name} matches no host rule on port ${port})`
      : `${text} is in no cidr rule (IP literals are allowed by cidr rules only)`,
  };
}
