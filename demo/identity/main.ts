// The demo identity provider as its own process, started by the demo stack:
//   node demo/identity/main.ts --listen 127.0.0.1:PORT --issuer URL --resource URI... --server NS/NAME... --token-ttl S
// Prints one line {"url":"http://127.0.0.1:<port>"} once listening; stops on SIGTERM/SIGINT. The stack
// runs it under demo/stack/lifeline.sh, which stops it when the stack's process is gone.
import { createServer } from 'node:http';
import { parseArgs } from 'node:util';
import { createDemoIdentityProvider } from './provider.ts';
import { listenOn } from '../stack/listen.ts';

const { values } = parseArgs({
  options: {
    listen: { type: 'string' },
    issuer: { type: 'string' },
    resource: { type: 'string', multiple: true, default: [] },
    server: { type: 'string', multiple: true, default: [] },
    'token-ttl': { type: 'string', default: '3600' },
  },
});
if (values.listen === undefined || values.issuer === undefined) {
  process.stderr.write(
    'usage: main.ts --listen HOST:PORT --issuer URL [--resource URI]... [--server NS/NAME]...\n',
  );
  process.exit(2);
}

const provider = await createDemoIdentityProvider({
  issuer: values.issuer,
  resources: values.resource,
  servers: values.server.map((ref) => {
    const [namespace = '', name = ''] = ref.split('/');
    return { namespace, name };
  }),
  accessTokenTtlSeconds: Number(values['token-ttl']),
});
const server = createServer((request, response) => provider.handle(request, response));
const url = await listenOn(server, values.listen);

const stop = () => {
  server.closeAllConnections();
  server.close(() => process.exit(0));
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
process.stdout.write(`${JSON.stringify({ url })}\n`);
