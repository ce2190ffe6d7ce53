import { lookup } from 'node:dns/promises';
import { connect, type Socket } from 'node:net';

/**
 * The egress proxy's two doors to the network, injectable so tests can prove what the proxy would have
 * done without sending a packet anywhere but loopback.
 */

/** All addresses of a DNS name (text form), in the order to try them. */
export type Resolver = (name: string) => Promise<readonly string[]>;

/** Opens a TCP connection to an IP address (never a name: the proxy has already resolved and checked it). */
export type Dialer = (address: string, port: number) => Socket;

export const systemResolver: Resolver = async (name) =>
  (await lookup(name, { all: true, order: 'verbatim' })).map((entry) => entry.address);

export const systemDialer: Dialer = (address, port) => connect({ host: address, port, noDelay: true });
