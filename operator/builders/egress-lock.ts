/**
 * The egress lock: a packet filter in the pod's network namespace, installed by the `egress-lock` init
 * container (`portcullis egress-lock`), that lets only the sidecar's UID send beyond loopback. NetworkPolicy
 * is per pod and cannot tell the server container from the sidecar; the kernel can, by socket owner
 * (`-m owner`, the way istio-init tells Envoy from the application). So the server container reaches the
 * world only through the sidecar's egress proxy on 127.0.0.1, whatever its HTTP_PROXY says.
 *
 * Pure: builds `iptables-restore` input and checks an `iptables-save` listing; the CLI does the I/O.
 * Rules are written the way iptables-save prints them, so a listing can be compared rule by rule.
 */

export const EGRESS_LOCK_CHAIN = 'PORTCULLIS_EGRESS';

export type IpFamily = 'ipv4' | 'ipv6';

export interface EgressLockOptions {
  /** The sidecar container's runAsUser: the only UID whose sockets may send beyond loopback. */
  readonly sidecarUid: number;
}

/** Every UID a process can have ((uid_t)-1 is "no UID"). Matches only sockets a process owns. */
const ANY_PROCESS = '0-4294967294';

const FAMILY = {
  ipv4: { loopback: '127.0.0.0/8', unreachable: 'icmp-port-unreachable' },
  ipv6: { loopback: '::1/128', unreachable: 'icmp6-port-unreachable' },
} as const;

/**
 * IPv6 neighbour discovery and multicast listener reports: router solicitation (133), neighbour
 * solicitation (135) and advertisement (136), MLDv2 report (143). The kernel sends them from no process's
 * socket and conntrack does not track them; without them the sidecar's IPv6 stops working. No process in
 * the pod can forge them: that needs a raw socket, and every container drops NET_RAW.
 */
const NEIGHBOUR_DISCOVERY = [133, 135, 136, 143];

export function isValidUid(uid: number): boolean {
  return Number.isInteger(uid) && uid >= 1 && uid <= 4_294_967_294;
}

/**
 * The chain's rules, in order. First match wins; RETURN hands the packet back to OUTPUT (so rules other
 * tools add after the jump still apply), REJECT refuses it at once: a TCP reset or an ICMP error, so a
 * client fails fast instead of hanging until its connect timeout.
 */
export function egressLockRules(family: IpFamily, options: EgressLockOptions): string[] {
  if (!isValidUid(options.sidecarUid)) throw new RangeError(`invalid sidecar UID ${options.sidecarUid}`);
  const { loopback, unreachable } = FAMILY[family];
  const rule = (spec: string) => `-A ${EGRESS_LOCK_CHAIN} ${spec}`;
  return [
    // Loopback never leaves the pod: the egress proxy, and the sidecar's hop to an HTTP server.
    rule(`-d ${loopback} -o lo -j RETURN`),
    // The sidecar: its egress is the proxy's default-deny policy and the pod's NetworkPolicy.
    rule(`-m owner --uid-owner ${options.sidecarUid} -j RETURN`),
    // Any other process's socket (the server, root included), in any connection state: so no reply to an
    // inbound connection either, and DNS too (the proxy resolves names; DNS would be a way out).
    rule(`-p tcp -m owner --uid-owner ${ANY_PROCESS} -j REJECT --reject-with tcp-reset`),
    rule(`-m owner --uid-owner ${ANY_PROCESS} -j REJECT --reject-with ${unreachable}`),
    // What no process owns: sockets already closed (FIN, TIME_WAIT ACKs) and kernel errors, of flows the
    // rules above admitted.
    rule('-m conntrack --ctstate RELATED,ESTABLISHED -j RETURN'),
    ...(family === 'ipv6'
      ? NEIGHBOUR_DISCOVERY.map((type) => rule(`-p ipv6-icmp -m icmp6 --icmpv6-type ${type} -j RETURN`))
      : []),
    rule('-p tcp -j REJECT --reject-with tcp-reset'),
    rule(`-j REJECT --reject-with ${unreachable}`),
  ];
}

export const JUMP_RULE = `-A OUTPUT -j ${EGRESS_LOCK_CHAIN}`;

/**
 * Input for `iptables-restore --noflush` (one transaction: all of it or none). Declaring the chain
 * flushes it when it exists, and the jumps a previous run left are deleted before the one jump is inserted
 * first in OUTPUT: running it again leaves one copy, ahead of any rule that could accept first.
 */
export function egressLockRestoreInput(
  family: IpFamily,
  options: EgressLockOptions,
  existingJumps: number,
): string {
  return [
    '*filter',
    `:${EGRESS_LOCK_CHAIN} - [0:0]`,
    ...Array.from({ length: existingJumps }, () => `-D OUTPUT -j ${EGRESS_LOCK_CHAIN}`),
    `-I OUTPUT 1 -j ${EGRESS_LOCK_CHAIN}`,
    ...egressLockRules(family, options),
    'COMMIT',
    '',
  ].join('\n');
}

/** The filter table's OUTPUT rules and the lock chain's rules, from `iptables-save -t filter`. */
export interface FilterListing {
  readonly output: string[];
  readonly chain: string[];
}

export function parseFilterListing(save: string): FilterListing {
  const output: string[] = [];
  const chain: string[] = [];
  let inFilter = false;
  for (const raw of save.split('\n')) {
    const line = raw.trim();
    if (line.startsWith('*')) inFilter = line === '*filter';
    else if (inFilter && line.startsWith('-A OUTPUT ')) output.push(line);
    else if (inFilter && line.startsWith(`-A ${EGRESS_LOCK_CHAIN} `)) chain.push(line);
  }
  return { output, chain };
}

export function countJumps(listing: FilterListing): number {
  return listing.output.filter((line) => sameRule(line, JUMP_RULE)).length;
}

/**
 * What is wrong with an installed lock, empty when nothing is: the jump is OUTPUT's first rule and its
 * only jump to the chain, and the chain holds exactly the rules built here, in order.
 */
export function egressLockProblems(family: IpFamily, options: EgressLockOptions, save: string): string[] {
  const listing = parseFilterListing(save);
  const problems: string[] = [];
  const jumps = countJumps(listing);
  if (jumps !== 1) problems.push(`OUTPUT jumps to ${EGRESS_LOCK_CHAIN} ${jumps} times, not once`);
  else if (!sameRule(listing.output[0] ?? '', JUMP_RULE)) {
    problems.push(`the jump to ${EGRESS_LOCK_CHAIN} is not OUTPUT's first rule`);
  }
  const expected = egressLockRules(family, options);
  if (listing.chain.length !== expected.length) {
    problems.push(`${EGRESS_LOCK_CHAIN} has ${listing.chain.length} rules, expected ${expected.length}`);
  } else {
    expected.forEach((want, i) => {
      const got = listing.chain[i]!;
      if (!sameRule(got, want)) problems.push(`rule ${i + 1} is "${got}", expected "${want}"`);
    });
  }
  return problems;
}

/** iptables versions spell the ICMPv6 protocol three ways. */
const PROTOCOL_ALIASES: Readonly<Record<string, string>> = { icmpv6: 'ipv6-icmp', '58': 'ipv6-icmp' };

/**
 * Two rules are the same when they have the same options with the same values, whatever order the
 * listing prints them in (iptables versions differ) and whatever order a value list (RELATED,ESTABLISHED)
 * has.
 */
export function sameRule(a: string, b: string): boolean {
  return canonicalRule(a) === canonicalRule(b);
}

function canonicalRule(rule: string): string {
  const groups: string[][] = [];
  for (const token of rule.trim().split(/\s+/)) {
    if (token.startsWith('-') || groups.length === 0) groups.push([token]);
    else groups.at(-1)!.push(token.split(',').sort().join(','));
  }
  const options = groups.map(([flag, ...values]) => {
    const normalized = flag === '-p' ? values.map((v) => PROTOCOL_ALIASES[v] ?? v) : values;
    return [flag, ...normalized].join(' ');
  });
  // A match's options follow its `-m`: keep each module's options together with it, then sort the modules.
  const modules: string[] = [];
  for (const option of options) {
    if (option.startsWith('-m ') || modules.length === 0) modules.push(option);
    else if (option.startsWith('--')) modules[modules.length - 1] += ` ${option}`;
    else modules.push(option);
  }
  return modules.sort().join(' | ');
}
