import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * The real `portcullis egress-lock` in a real network namespace, against the real kernel: a "pod"
 * namespace joined by a veth pair to an "outside" namespace that listens on a private address, on
 * outside-looking ones (TEST-NET-3, 2001:db8::) and on DNS. Processes of the "server" UID must reach only
 * loopback (the sidecar's egress proxy) and be refused fast; the "sidecar" UID reaches everything. Every
 * namespace is new (unshare --net): the host's own rules are never read or written. Needs root.
 */
const ROOT = join(import.meta.dirname, '../..');
const MAIN = join(ROOT, 'cli/main.ts');
const SIDECAR_UID = 1337;
const SERVER_UID = 4242;
const OUTSIDE = ['10.77.0.1', 'fd77::1', '203.0.113.9', '2001:db8::9'];
const PROXY_PORT = 15001;
const OUTSIDE_PORT = 7000;
/** A bound on every command: a hung one fails the test instead of the run. */
const COMMAND_MS = 15_000;

const isRoot = process.getuid?.() === 0;
if (!isRoot) console.log('egress-lock.int.test.ts: skipped: needs root (network namespaces, iptables)');

interface Ran {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

function run(file: string, args: readonly string[]): Promise<Ran> {
  return new Promise((resolve) => {
    execFile(file, [...args], { timeout: COMMAND_MS, cwd: ROOT }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/** A network namespace held open by a sleeping process (bounded: it ends by itself). */
class Namespace {
  readonly #holder: ChildProcess;
  readonly pid: number;

  private constructor(holder: ChildProcess) {
    this.#holder = holder;
    this.pid = holder.pid!;
  }

  static async create(): Promise<Namespace> {
    const holder = spawn('unshare', ['--net', 'sleep', '300'], { stdio: 'ignore' });
    const ns = new Namespace(holder);
    const own = readlinkSync('/proc/self/ns/net');
    // unshare(2) happens just after the spawn: wait until the holder is in a namespace of its own.
    for (let i = 0; i < 100; i++) {
      try {
        if (readlinkSync(`/proc/${ns.pid}/ns/net`) !== own) return ns;
      } catch {
        // not there yet
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    holder.kill('SIGKILL');
    throw new Error('unshare --net did not create a network namespace');
  }

  /** nsenter into this namespace only; refuses to run anything if it would be the test's own. */
  args(command: readonly string[]): string[] {
    if (readlinkSync(`/proc/${this.pid}/ns/net`) === readlinkSync('/proc/self/ns/net')) {
      throw new Error('refusing to run in the host network namespace');
    }
    return [`--net=/proc/${this.pid}/ns/net`, ...command];
  }

  exec(command: readonly string[]): Promise<Ran> {
    return run('nsenter', this.args(command));
  }

  async sh(script: string): Promise<void> {
    const ran = await this.exec(['sh', '-euc', script]);
    if (ran.code !== 0) throw new Error(`setup failed (${ran.code}): ${ran.stderr}`);
  }

  /** A node script as a long-lived process in this namespace, once it printed "ready". */
  async serve(script: string, args: readonly string[]): Promise<ChildProcess> {
    const child = spawn('nsenter', this.args([process.execPath, '-e', script, ...args]), {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('listener not ready')), COMMAND_MS);
      child.stdout!.setEncoding('utf8').on('data', (text: string) => {
        if (text.includes('ready')) {
          clearTimeout(timer);
          resolve();
        }
      });
      child.once('exit', (code) => reject(new Error(`listener exited ${code}`)));
    });
    return child;
  }

  close(): void {
    this.#holder.kill('SIGKILL');
  }
}

/** TCP listeners on every address given, UDP echo on port 53 of each; ends by itself after two minutes. */
const LISTENER = `
const net = require('node:net');
const dgram = require('node:dgram');
const [port, ...hosts] = process.argv.slice(1);
let pending = hosts.length * 2;
const up = () => { if (--pending === 0) console.log('ready'); };
// An address added a moment ago was once not yet bindable under load (EADDRNOTAVAIL, in CI): retried, bounded.
const bound = (open, tries = 0) => open((error) => {
  if (error.code !== 'EADDRNOTAVAIL' || tries >= 50) throw error;
  setTimeout(() => bound(open, tries + 1), 100);
});
for (const host of hosts) {
  bound((failed) => net.createServer((c) => { c.on('error', () => {}); c.end('hi'); })
    .once('error', failed).listen(Number(port), host, up));
  bound((failed) => {
    const udp = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');
    udp.on('message', (m, from) => udp.send(m, from.port, from.address));
    udp.once('error', failed).bind(53, host, up);
  });
}
setTimeout(() => process.exit(0), 120_000);
`;

/**
 * Becomes `uid` (no groups, no capabilities left), then one TCP connect or one UDP exchange. Prints the
 * outcome: connected, echoed, an errno code, timeout or silent, and how long it took.
 */
const PROBE = `
const [uid, kind, host, port] = process.argv.slice(1);
process.setgroups([]);
process.setgid(Number(uid));
process.setuid(Number(uid));
const started = performance.now();
const done = (outcome) => { console.log(JSON.stringify({ outcome, ms: Math.round(performance.now() - started) })); process.exit(0); };
if (kind === 'tcp') {
  const socket = require('node:net').connect({ host, port: Number(port) });
  socket.setTimeout(3000, () => done('timeout'));
  socket.on('connect', () => done('connected'));
  socket.on('error', (e) => done(e.code));
} else {
  const udp = require('node:dgram').createSocket(host.includes(':') ? 'udp6' : 'udp4');
  udp.on('message', () => done('echoed'));
  udp.on('error', (e) => done(e.code));
  udp.send('ping', Number(port), host, (e) => { if (e) done(e.code); });
  setTimeout(() => done('silent'), 1500);
}
`;

interface Outcome {
  readonly outcome: string;
  readonly ms: number;
}

async function probe(ns: Namespace, uid: number, kind: 'tcp' | 'udp', host: string, port: number) {
  const ran = await ns.exec([process.execPath, '-e', PROBE, String(uid), kind, host, String(port)]);
  if (ran.code !== 0) throw new Error(`probe failed: ${ran.stderr}`);
  return JSON.parse(ran.stdout) as Outcome;
}

/** The pod side and the outside, wired, with listeners on both. */
async function podWithOutside(): Promise<{ pod: Namespace; outside: Namespace; listeners: ChildProcess[] }> {
  const outside = await Namespace.create();
  const pod = await Namespace.create();
  // No duplicate address detection: addresses are usable at once.
  const noDad = 'for f in all default; do echo 0 > /proc/sys/net/ipv6/conf/$f/accept_dad; done';
  await outside.sh(noDad);
  await pod.sh(`${noDad}
    ip link set lo up
    ip link add pod0 type veth peer name out0 netns ${outside.pid}
    ip addr add 10.77.0.2/24 dev pod0
    ip -6 addr add fd77::2/64 dev pod0 nodad
    ip link set pod0 up
    ip route add default via 10.77.0.1
    ip -6 route add default via fd77::1`);
  await outside.sh(`
    ip link set lo up
    ip addr add 10.77.0.1/24 dev out0
    ip -6 addr add fd77::1/64 dev out0 nodad
    ip link set out0 up
    ip addr add 203.0.113.9/32 dev lo
    ip -6 addr add 2001:db8::9/128 dev lo`);
  const listeners = [
    await outside.serve(LISTENER, [String(OUTSIDE_PORT), ...OUTSIDE]),
    // The sidecar's egress proxy, on loopback.
    await pod.serve(LISTENER, [String(PROXY_PORT), '127.0.0.1', '::1']),
  ];
  return { pod, outside, listeners };
}

const lock = (ns: Namespace, extra: readonly string[] = []) =>
  ns.exec([process.execPath, MAIN, 'egress-lock', '--sidecar-uid', String(SIDECAR_UID), ...extra]);

/** The filter table as iptables-save lists it, inside the namespace. */
async function saved(ns: Namespace, family: 'ipv4' | 'ipv6', backend: string): Promise<string> {
  const base = family === 'ipv4' ? 'iptables' : 'ip6tables';
  const ran = await ns.exec([backend === 'legacy' ? `${base}-legacy-save` : `${base}-save`, '-t', 'filter']);
  expect(ran.code, ran.stderr).toBe(0);
  return ran.stdout;
}

const count = (text: string, line: string) => text.split('\n').filter((l) => l.trim() === line).length;
const chainRules = (text: string) =>
  text.split('\n').filter((l) => l.startsWith('-A PORTCULLIS_EGRESS ')).length;

describe.skipIf(!isRoot).each(['auto', 'legacy'])(
  'egress lock (backend %s) in a real network namespace',
  (backend) => {
    let pod: Namespace;
    let outside: Namespace;
    let listeners: ChildProcess[] = [];
    const backendArgs = backend === 'auto' ? [] : ['--backend', backend];

    beforeAll(async () => {
      ({ pod, outside, listeners } = await podWithOutside());
    });

    afterAll(() => {
      for (const listener of listeners) listener.kill('SIGKILL');
      pod?.close();
      outside?.close();
    });

    it('lets every UID out before the lock (the namespaces are wired)', async () => {
      for (const host of OUTSIDE) {
        expect((await probe(pod, SERVER_UID, 'tcp', host, OUTSIDE_PORT)).outcome, host).toBe('connected');
      }
      expect((await probe(pod, SERVER_UID, 'udp', '10.77.0.1', 53)).outcome).toBe('echoed');
    });

    it('installs for IPv4 and IPv6 and says so', async () => {
      const ran = await lock(pod, backendArgs);
      expect(ran.stderr).toBe('');
      expect(ran.code).toBe(0);
      expect(ran.stdout).toContain('ipv4 locked: only UID 1337 sends beyond loopback');
      expect(ran.stdout).toContain('ipv6 locked: only UID 1337 sends beyond loopback');
    });

    it('refuses the server UID fast everywhere beyond loopback, DNS included', async () => {
      for (const host of OUTSIDE) {
        const result = await probe(pod, SERVER_UID, 'tcp', host, OUTSIDE_PORT);
        expect(result.outcome, host).toBe('ECONNREFUSED');
        expect(result.ms, host).toBeLessThan(1000);
      }
      for (const host of ['10.77.0.1', 'fd77::1']) {
        const dns = await probe(pod, SERVER_UID, 'udp', host, 53);
        expect(dns.outcome, host).toBe('EPERM');
      }
    });

    it('lets the server UID reach the egress proxy on loopback', async () => {
      expect((await probe(pod, SERVER_UID, 'tcp', '127.0.0.1', PROXY_PORT)).outcome).toBe('connected');
      expect((await probe(pod, SERVER_UID, 'tcp', '::1', PROXY_PORT)).outcome).toBe('connected');
    });

    it('refuses root too: only the sidecar UID is let out, not privilege', async () => {
      expect((await probe(pod, 0, 'tcp', '10.77.0.1', OUTSIDE_PORT)).outcome).toBe('ECONNREFUSED');
      expect((await probe(pod, 0, 'tcp', '2001:db8::9', OUTSIDE_PORT)).outcome).toBe('ECONNREFUSED');
    });

    it('lets the sidecar UID out, TCP and UDP', async () => {
      for (const host of OUTSIDE) {
        expect((await probe(pod, SIDECAR_UID, 'tcp', host, OUTSIDE_PORT)).outcome, host).toBe('connected');
      }
      expect((await probe(pod, SIDECAR_UID, 'udp', '10.77.0.1', 53)).outcome).toBe('echoed');
      expect((await probe(pod, SIDECAR_UID, 'udp', 'fd77::1', 53)).outcome).toBe('echoed');
    });

    it('leaves one copy when run again, first in OUTPUT, and still locks', async () => {
      // Someone put an ACCEPT first: the lock moves back in front of it.
      const insert = await pod.exec([
        backend === 'legacy' ? 'iptables-legacy' : 'iptables',
        '-I',
        'OUTPUT',
        '1',
        '-j',
        'ACCEPT',
      ]);
      expect(insert.code, insert.stderr).toBe(0);
      expect((await lock(pod, backendArgs)).code).toBe(0);
      expect((await lock(pod, backendArgs)).code).toBe(0);
      const v4 = await saved(pod, 'ipv4', backend);
      const v6 = await saved(pod, 'ipv6', backend);
      expect(count(v4, '-A OUTPUT -j PORTCULLIS_EGRESS')).toBe(1);
      expect(v4.split('\n').find((l) => l.startsWith('-A OUTPUT '))).toBe('-A OUTPUT -j PORTCULLIS_EGRESS');
      expect(chainRules(v4)).toBe(7);
      expect(count(v6, '-A OUTPUT -j PORTCULLIS_EGRESS')).toBe(1);
      expect(chainRules(v6)).toBe(11);
      expect((await probe(pod, SERVER_UID, 'tcp', '203.0.113.9', OUTSIDE_PORT)).outcome).toBe('ECONNREFUSED');
      expect((await probe(pod, SIDECAR_UID, 'tcp', '203.0.113.9', OUTSIDE_PORT)).outcome).toBe('connected');
    });
  },
);

describe.skipIf(!isRoot)('egress lock failing closed', () => {
  it('exits 1 with iptables_refused when the kernel refuses (no CAP_NET_ADMIN), installing nothing', async () => {
    const ns = await Namespace.create();
    try {
      // Root without NET_ADMIN and NET_RAW: an init container whose capabilities were not granted.
      const ran = await ns.exec([
        'setpriv',
        '--bounding-set=-net_admin,-net_raw',
        '--inh-caps=-net_admin,-net_raw',
        process.execPath,
        MAIN,
        'egress-lock',
        '--sidecar-uid',
        String(SIDECAR_UID),
      ]);
      expect(ran.code).toBe(1);
      expect(ran.stderr).toMatch(/^portcullis egress-lock: iptables_refused: /);
      expect(ran.stdout).toBe('');
      expect(await saved(ns, 'ipv4', 'auto')).not.toContain('PORTCULLIS_EGRESS');
    } finally {
      ns.close();
    }
  });
});
