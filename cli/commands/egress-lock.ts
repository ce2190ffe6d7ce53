import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import {
  EGRESS_LOCK_CHAIN,
  countJumps,
  egressLockProblems,
  egressLockRestoreInput,
  egressLockRules,
  isValidUid,
  parseFilterListing,
  type EgressLockOptions,
  type IpFamily,
} from '../../operator/builders/egress-lock.ts';
import { EXIT, type CliIo } from '../io.ts';

export const EGRESS_LOCK_HELP = `portcullis egress-lock — let only the sidecar's UID send beyond loopback in this pod

Usage:
  portcullis egress-lock --sidecar-uid N [flags]

The operator runs it as the pod's first init container (root, CAP_NET_ADMIN and CAP_NET_RAW; it exits
before the server starts). It installs chain ${EGRESS_LOCK_CHAIN} in the filter table's OUTPUT chain, for
IPv4 and IPv6, through iptables-restore --noflush: loopback and the sidecar's sockets pass; every other
process's packets, DNS included, are refused at once (TCP reset, ICMP port unreachable), so the server
container reaches the world only through the sidecar's egress proxy. Running it again leaves one copy.
The installed rules are read back and compared; any difference fails the command, and the pod with it.

Flags:
  --sidecar-uid N     the sidecar container's runAsUser (1..4294967294; required)
  --ipv6 MODE         auto: lock IPv6 when this network namespace has it (default); on: lock it or fail;
                      off: IPv4 only (IPv6 stays open: only for kernels without ip6tables support)
  --backend NAME      auto: iptables-restore as installed (default); nft or legacy: iptables-nft-* or
                      iptables-legacy-* (legacy takes /run/xtables.lock or $XTABLES_LOCKFILE: keep it writable)
  --dry-run           print the iptables-restore input for a fresh pod and change nothing
  -h, --help          show this help

Exit codes: 0 locked (or printed), 1 iptables missing, refused or not as built, 2 invalid flags.
`;

const FLAGS = {
  'sidecar-uid': { type: 'string' },
  ipv6: { type: 'string' },
  backend: { type: 'string' },
  'dry-run': { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

const IPV6_MODES = ['auto', 'on', 'off'] as const;
const BACKENDS = ['auto', 'nft', 'legacy'] as const;
type Backend = (typeof BACKENDS)[number];

/** A child process that does not answer within this is treated as a refusal: an init container must end. */
const COMMAND_TIMEOUT_MS = 10_000;

/** Why the lock is not in place. Every code fails the init container, so the pod does not start unlocked. */
export type EgressLockErrorCode =
  'iptables_missing' | 'iptables_refused' | 'iptables_timeout' | 'verify_failed' | 'ipv6_unavailable';

export class EgressLockError extends Error {
  readonly code: EgressLockErrorCode;

  constructor(code: EgressLockErrorCode, message: string) {
    super(message);
    this.name = 'EgressLockError';
    this.code = code;
  }
}

function binary(family: IpFamily, backend: Backend, tool: 'restore' | 'save'): string {
  const base = family === 'ipv4' ? 'iptables' : 'ip6tables';
  return backend === 'auto' ? `${base}-${tool}` : `${base}-${backend}-${tool}`;
}

interface Ran {
  readonly stdout: string;
}

function run(file: string, args: string[], input: string, env: CliIo['env']): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { env: { ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(
        new EgressLockError('iptables_timeout', `${file} did not finish within ${COMMAND_TIMEOUT_MS} ms`),
      );
    }, COMMAND_TIMEOUT_MS);
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(
        error.code === 'ENOENT'
          ? new EgressLockError(
              'iptables_missing',
              `${file} not found on PATH: the image needs the iptables package (iptables-restore, ip6tables-restore)`,
            )
          : new EgressLockError('iptables_refused', `${file}: ${error.message}`),
      );
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) return resolve({ stdout });
      const why = stderr.trim() || `exit ${code ?? signal}`;
      reject(
        new EgressLockError(
          'iptables_refused',
          `${file} ${args.join(' ')} failed: ${why} (it needs root with CAP_NET_ADMIN in the pod's network namespace, CAP_NET_RAW too for the legacy backend, and a kernel with the owner, conntrack and REJECT matches)`,
        ),
      );
    });
    // EPIPE when the child exits before reading everything: the exit status reports why.
    child.stdin.on('error', () => {});
    child.stdin.end(input);
  });
}

/** Installs the lock for one family, then reads it back: returns the number of rules in the chain. */
async function lockFamily(
  family: IpFamily,
  options: EgressLockOptions,
  backend: Backend,
  env: CliIo['env'],
): Promise<number> {
  const save = binary(family, backend, 'save');
  const before = await run(save, ['-t', 'filter'], '', env);
  const input = egressLockRestoreInput(family, options, countJumps(parseFilterListing(before.stdout)));
  await run(binary(family, backend, 'restore'), ['--noflush'], input, env);
  const after = await run(save, ['-t', 'filter'], '', env);
  const problems = egressLockProblems(family, options, after.stdout);
  if (problems.length > 0) {
    throw new EgressLockError(
      'verify_failed',
      `${family} rules read back differ from the ones installed: ${problems.join('; ')}`,
    );
  }
  return egressLockRules(family, options).length;
}

/** This network namespace has IPv6 when the kernel lists its IPv6 addresses. */
const hasIpv6 = () => existsSync('/proc/net/if_inet6');

export async function runEgressLock(args: readonly string[], io: CliIo): Promise<number> {
  let values: ReturnType<typeof parseArgs<{ options: typeof FLAGS }>>['values'];
  try {
    ({ values } = parseArgs({ args: [...args], options: FLAGS, strict: true, allowPositionals: false }));
  } catch (error) {
    return usage(io, (error as Error).message);
  }
  if (values.help) {
    io.out(EGRESS_LOCK_HELP);
    return EXIT.ok;
  }
  const uidText = values['sidecar-uid'];
  if (uidText === undefined) return usage(io, '--sidecar-uid is required');
  const sidecarUid = /^\d+$/.test(uidText) ? Number(uidText) : NaN;
  if (!isValidUid(sidecarUid))
    return usage(io, `--sidecar-uid must be an integer 1..4294967294, not ${uidText}`);
  const ipv6 = values.ipv6 ?? 'auto';
  if (!(IPV6_MODES as readonly string[]).includes(ipv6)) return usage(io, '--ipv6 must be auto, on or off');
  const backend = (values.backend ?? 'auto') as Backend;
  if (!BACKENDS.includes(backend)) return usage(io, '--backend must be auto, nft or legacy');
  const options: EgressLockOptions = { sidecarUid };

  if (values['dry-run']) {
    const families: IpFamily[] = ipv6 === 'off' ? ['ipv4'] : ['ipv4', 'ipv6'];
    for (const family of families) {
      io.out(`# ${family}: ${binary(family, backend, 'restore')} --noflush\n`);
      io.out(egressLockRestoreInput(family, options, 0));
    }
    return EXIT.ok;
  }

  try {
    const families: IpFamily[] = ['ipv4'];
    if (ipv6 === 'on' && !hasIpv6()) {
      throw new EgressLockError('ipv6_unavailable', '--ipv6 on, but this network namespace has no IPv6');
    }
    if (ipv6 === 'on' || (ipv6 === 'auto' && hasIpv6())) families.push('ipv6');
    for (const family of families) {
      const rules = await lockFamily(family, options, backend, io.env);
      io.out(
        `portcullis egress-lock: ${family} locked: only UID ${sidecarUid} sends beyond loopback (chain ${EGRESS_LOCK_CHAIN}, ${rules} rules)\n`,
      );
    }
    if (!families.includes('ipv6')) {
      io.out(
        ipv6 === 'off'
          ? 'portcullis egress-lock: ipv6 not locked (--ipv6 off): IPv6 egress stays open to every process\n'
          : 'portcullis egress-lock: ipv6 not locked: this network namespace has no IPv6\n',
      );
    }
    return EXIT.ok;
  } catch (error) {
    if (!(error instanceof EgressLockError)) throw error;
    io.err(`portcullis egress-lock: ${error.code}: ${error.message}\n`);
    return EXIT.failure;
  }
}

function usage(io: CliIo, message: string): number {
  io.err(`portcullis egress-lock: ${message}\nRun 'portcullis egress-lock --help' for usage.\n`);
  return EXIT.usage;
}
