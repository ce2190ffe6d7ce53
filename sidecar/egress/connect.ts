import type { Socket } from 'node:net';
import type { LoadedPolicy } from '../../policy/load.ts';
import type { PolicyHolder } from '../policy/policy-holder.ts';
import { formatAddress, parseAddress, sameAddress, unmapped, type IpAddress } from './ip.ts';
import type { Dialer, Resolver } from './net.ts';
import { checkAddress, checkName, compileEgress, type EgressRules } from './rules.ts';
import type { Target } from './target.ts';

/**
 * One egress decision, from a parsed target to a connected socket or a refusal, in order:
 * policy in force -> kill switch -> name/port rules (before any DNS query) -> a connection slot ->
 * DNS, ONCE -> every answer checked -> connect to a checked address -> the connected peer checked again.
 * The socket connects to the IP that was checked, never to a name, so a second DNS answer (rebinding)
 * has nothing to change.
 */
export type EgressCode =
  | 'invalid_request'
  | 'headers_too_large'
  | 'policy_unavailable'
  | 'killed'
  | 'host_not_allowed'
  | 'port_not_allowed'
  | 'address_not_allowed'
  | 'forbidden_address'
  | 'connection_limit'
  | 'resolution_failed'
  | 'connect_failed'
  | 'connect_timeout';

/** HTTP status and audit decision of each refusal: one table. */
export const EGRESS_REFUSALS: Readonly<
  Record<EgressCode, { readonly status: number; readonly decision: 'denied' | 'errored' }>
> = {
  invalid_request: { status: 400, decision: 'denied' },
  headers_too_large: { status: 431, decision: 'denied' },
  policy_unavailable: { status: 503, decision: 'denied' },
  killed: { status: 403, decision: 'denied' },
  host_not_allowed: { status: 403, decision: 'denied' },
  port_not_allowed: { status: 403, decision: 'denied' },
  address_not_allowed: { status: 403, decision: 'denied' },
  forbidden_address: { status: 403, decision: 'denied' },
  connection_limit: { status: 503, decision: 'denied' },
  resolution_failed: { status: 502, decision: 'errored' },
  connect_failed: { status: 502, decision: 'errored' },
  connect_timeout: { status: 504, decision: 'errored' },
};

export interface Refusal {
  readonly code: EgressCode;
  readonly reason: string;
  readonly policy?: LoadedPolicy;
  /** The address refused or that could not be reached. */
  readonly address?: string;
}

export interface Opened {
  readonly socket: Socket;
  readonly policy: LoadedPolicy;
  readonly address: IpAddress;
  readonly rule: string;
  /** Give the connection slot back (exactly once, when the connection is over). */
  release(): void;
}

export interface ConnectorOptions {
  readonly policy: Pick<PolicyHolder, 'gate'>;
  readonly resolve: Resolver;
  readonly dial: Dialer;
  readonly resolveTimeoutMs: number;
  readonly connectTimeoutMs: number;
  /** Called with the number of reserved slots whenever it changes. */
  readonly onActive?: (active: number) => void;
}

/** Addresses tried per connection when the first cannot be reached (dual-stack names). */
const MAX_ATTEMPTS = 3;

const compiled = new WeakMap<LoadedPolicy, EgressRules>();

/** The compiled egress rules of a policy, built once per policy. */
export function egressRules(policy: LoadedPolicy): EgressRules {
  let rules = compiled.get(policy);
  if (!rules) {
    rules = compileEgress(policy.bundle.spec.egress);
    compiled.set(policy, rules);
  }
  return rules;
}

export function hostText(target: Target): string {
  return target.host.kind === 'name' ? target.host.name : formatAddress(target.host.address);
}

/**
 * Whether an open connection is still allowed under the policy in force (after a policy change): the
 * same checks, on the address it is connected to, without resolving again. Undefined when it is.
 */
export function recheck(
  holder: Pick<PolicyHolder, 'gate'>,
  target: Target,
  address: IpAddress,
): string | undefined {
  const policy = holder.gate();
  if ('code' in policy) return policy.reason;
  if (policy.serverKill) return 'the server is killed';
  const rules = egressRules(policy);
  let hostRule: string | undefined;
  if (target.host.kind === 'name') {
    const name = checkName(rules, target.host.name, target.port);
    if (!name.resolve) return name.reason;
    hostRule = name.hostRule;
  }
  const verdict = checkAddress(
    rules,
    address,
    target.port,
    hostRule,
    target.host.kind === 'name' ? target.host.name : undefined,
  );
  return verdict.allowed ? undefined : verdict.reason;
}

class ConnectError extends Error {
  readonly code: 'connect_failed' | 'connect_timeout';
  constructor(code: 'connect_failed' | 'connect_timeout', message: string) {
    super(message);
    this.code = code;
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

export class Connector {
  readonly #options: ConnectorOptions;
  #active = 0;

  constructor(options: ConnectorOptions) {
    this.#options = options;
  }

  /** Connection slots in use (reserved before DNS, released when a connection ends). */
  get active(): number {
    return this.#active;
  }

  async open(target: Target): Promise<Opened | Refusal> {
    const gated = this.#options.policy.gate();
    if ('code' in gated) return { code: 'policy_unavailable', reason: gated.reason };
    const policy = gated;
    if (policy.serverKill)
      return {
        code: 'killed',
        reason: `the server is killed (${policy.serverKill.source} ${policy.serverKill.name})`,
        policy,
      };
    const rules = egressRules(policy);

    // Before any DNS query or socket: what the rules say about the target as written.
    let hostRule: string | undefined;
    const name = target.host.kind === 'name' ? target.host.name : undefined;
    if (name !== undefined) {
      const verdict = checkName(rules, name, target.port);
      if (!verdict.resolve) return { code: verdict.code, reason: verdict.reason, policy };
      hostRule = verdict.hostRule;
    } else if (target.host.kind === 'ip') {
      const verdict = checkAddress(rules, target.host.address, target.port, undefined);
      if (!verdict.allowed)
        return {
          code: verdict.code,
          reason: verdict.reason,
          policy,
          address: formatAddress(target.host.address),
        };
    }

    if (this.#active >= rules.maxConnections)
      return {
        code: 'connection_limit',
        reason: `${this.#active} egress connections open (maxConnections ${rules.maxConnections})`,
        policy,
      };
    this.#reserve(1);
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      this.#reserve(-1);
    };

    try {
      const candidates: { address: IpAddress; rule: string }[] = [];
      if (target.host.kind === 'ip') {
        const verdict = checkAddress(rules, target.host.address, target.port, undefined);
        if (verdict.allowed) candidates.push({ address: unmapped(target.host.address), rule: verdict.rule });
      } else {
        const resolved = await this.#resolve(name!);
        if ('code' in resolved) {
          release();
          return { ...resolved, policy };
        }
        let first: Refusal | undefined;
        for (const address of resolved) {
          const verdict = checkAddress(rules, address, target.port, hostRule, name);
          // An IPv4-mapped answer is dialled as the IPv4 address it is (checked in both forms).
          if (verdict.allowed) candidates.push({ address: unmapped(address), rule: verdict.rule });
          else
            first ??= {
              code: verdict.code,
              reason: verdict.reason,
              policy,
              address: formatAddress(address),
            };
        }
        // A name with any refused answer is refused whole: mixing a public answer with a metadata one is
        // an attack, not a configuration.
        if (first) {
          release();
          return first;
        }
      }
      let failure: Refusal | undefined;
      for (const candidate of candidates.slice(0, MAX_ATTEMPTS)) {
        try {
          const socket = await this.#connect(candidate.address, target.port);
          return { socket, policy, address: candidate.address, rule: candidate.rule, release };
        } catch (error) {
          failure = {
            code: error instanceof ConnectError ? error.code : 'connect_failed',
            reason: (error as Error).message,
            policy,
            address: formatAddress(candidate.address),
          };
        }
      }
      release();
      return failure ?? { code: 'connect_failed', reason: 'no address to connect to', policy };
    } catch (error) {
      release();
      throw error;
    }
  }

  #reserve(delta: number): void {
    this.#active += delta;
    this.#options.onActive?.(this.#active);
  }

  async #resolve(name: string): Promise<IpAddress[] | Refusal> {
    let answers: readonly string[];
    try {
      answers = await withTimeout(
        this.#options.resolve(name),
        this.#options.resolveTimeoutMs,
        `resolving ${name} took longer than ${this.#options.resolveTimeoutMs} ms`,
      );
    } catch (error) {
      return { code: 'resolution_failed', reason: `cannot resolve ${name}: ${(error as Error).message}` };
    }
    const addresses = answers.slice(0, 32).flatMap((text) => parseAddress(text) ?? []);
    if (addresses.length === 0) return { code: 'resolution_failed', reason: `${name} has no usable address` };
    return addresses;
  }

  #connect(address: IpAddress, port: number): Promise<Socket> {
    const text = formatAddress(address);
    const timeoutMs = this.#options.connectTimeoutMs;
    return new Promise((resolve, reject) => {
      const socket = this.#options.dial(text, port);
      const fail = (error: Error) => {
        clearTimeout(timer);
        socket.destroy();
        reject(error);
      };
      const timer = setTimeout(
        () =>
          fail(
            new ConnectError('connect_timeout', `connecting to ${text}:${port} took over ${timeoutMs} ms`),
          ),
        timeoutMs,
      );
      socket.once('error', (error) =>
        fail(new ConnectError('connect_failed', `cannot connect to ${text}:${port}: ${error.message}`)),
      );
      socket.once('connect', () => {
        clearTimeout(timer);
        // The peer we reached is the one we checked (a dialer that resolved or redirected would fail here).
        const peer = parseAddress(socket.remoteAddress ?? '');
        if (!peer || !sameAddress(peer, address) || socket.remotePort !== port) {
          fail(
            new ConnectError(
              'connect_failed',
              `connected to ${socket.remoteAddress}:${socket.remotePort}, not the checked ${text}:${port}`,
            ),
          );
          return;
        }
        socket.removeAllListeners('error');
        // Never an unhandled 'error' (it would take the sidecar down); the owner listens for 'close'.
        socket.on('error', () => {});
        resolve(socket);
      });
    });
  }
}
