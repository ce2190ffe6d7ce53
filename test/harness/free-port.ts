import { createServer, type Server } from 'node:net';

/**
 * One free TCP port on 127.0.0.1 per name, all distinct. The ports are held open together so the
 * kernel cannot hand out the same one twice; another process could still take one before our
 * server binds it, a window small enough to accept for tests.
 */
export async function freeLoopbackPorts<Name extends string>(
  names: readonly Name[],
): Promise<Record<Name, number>> {
  const servers = await Promise.all(names.map(listenOnEphemeralPort));
  const ports = servers.map((server) => {
    const address = server.address();
    if (address === null || typeof address === 'string') {
      throw new Error('a TCP server listening on 127.0.0.1 reported no port');
    }
    return address.port;
  });
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  return Object.fromEntries(names.map((name, i) => [name, ports[i]])) as Record<Name, number>;
}

function listenOnEphemeralPort(): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: 0, exclusive: true }, () => resolve(server));
  });
}
