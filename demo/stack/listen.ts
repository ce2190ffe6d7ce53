import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** Listens on HOST:PORT (port 0: any free one) and resolves with http://HOST:PORT as bound. */
export async function listenOn(server: Server, hostPort: string): Promise<string> {
  const colon = hostPort.lastIndexOf(':');
  const host = hostPort.slice(0, colon);
  const port = Number(hostPort.slice(colon + 1));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port }, () => resolve());
  });
  const address = server.address() as AddressInfo;
  return `http://${host}:${address.port}`;
}
