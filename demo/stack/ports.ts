import { createServer, type Server } from 'node:net';
import { StackError } from './errors.ts';

/** The loopback ports of the stack's processes. */
export interface StackPorts {
  /** The sidecar's MCP endpoint: what clients connect to. */
  readonly mcp: number;
  readonly sidecarAdmin: number;
  readonly collector: number;
  readonly collectorMetrics: number;
  readonly identity: number;
  /** The demo billing server, behind the sidecar. */
  readonly billing: number;
  /** The sidecar's egress proxy (the billing server has no use for it, but the sidecar always runs one). */
  readonly egress: number;
}

const ORDER = [
  'mcp',
  'sidecarAdmin',
  'collector',
  'collectorMetrics',
  'identity',
  'billing',
  'egress',
] as const;

/** `portcullis dev`'s fixed layout, so a configured MCP client keeps working across restarts. */
export const DEFAULT_PORT_BASE = 7400;

/** base, base+1, ... in the order of StackPorts' fields (documented in `portcullis dev --help`). */
export function portsFrom(base: number): StackPorts {
  return Object.fromEntries(ORDER.map((name, offset) => [name, base + offset])) as Record<
    (typeof ORDER)[number],
    number
  >;
}

/**
 * Distinct free ports, held open together so the kernel cannot hand out one twice; another process
 * could still take one before our child binds it, a window small enough for a demo.
 */
export async function freePorts(): Promise<StackPorts> {
  const servers = await Promise.all(ORDER.map(() => listenOnAnyPort()));
  const ports = servers.map((server) => (server.address() as { port: number }).port);
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  return Object.fromEntries(ORDER.map((name, i) => [name, ports[i]])) as Record<
    (typeof ORDER)[number],
    number
  >;
}

function listenOnAnyPort(): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: 0, exclusive: true }, () => resolve(server));
  });
}

/** Fails fast, naming the port, when one is taken (a second `portcullis dev`, another program). */
export async function assertPortsFree(ports: StackPorts): Promise<void> {
  for (const name of ORDER) {
    const port = ports[name];
    const free = await new Promise<boolean>((resolve) => {
      const server = createServer();
      server.once('error', () => resolve(false));
      server.listen({ host: '127.0.0.1', port, exclusive: true }, () => server.close(() => resolve(true)));
    });
    if (!free) {
      throw new StackError(
        'port_in_use',
        `port ${port} on 127.0.0.1 (${name}) is in use: pass --port-base with another base, or 0 for any free ports`,
      );
    }
  }
}
