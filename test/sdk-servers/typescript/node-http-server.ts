// typescript-node-http: the TypeScript SDK on a plain node:http server, no framework. The transport
// reads and decodes the body itself (UTF-8, whatever the Content-Type says), so it shows how a server
// without body-parser reads the same bytes.
//
//   node test/sdk-servers/typescript/node-http-server.ts --port P --log FILE
import { createServer } from 'node:http';
import { executionLog } from './execution-log.ts';
import { refuseNonPost, serveStatelessPost } from './stateless-mcp.ts';
import { announceReady, exitOnStdinEndOrSignal, parseServerArgs } from './server-process.ts';

const sdk = 'typescript-node-http';
const args = parseServerArgs(process.argv.slice(2));
const log = executionLog(sdk, args.logPath);

const server = createServer((request, response) => {
  if (new URL(request.url ?? '/', 'http://127.0.0.1').pathname !== '/mcp') {
    response.writeHead(404).end();
  } else if (request.method !== 'POST') {
    refuseNonPost(response);
  } else {
    // The transport's own DNS-rebinding check (no framework here to do it): our own Host only.
    void serveStatelessPost(sdk, log, request, response, undefined, {
      enableDnsRebindingProtection: true,
      allowedHosts: [`127.0.0.1:${args.port}`],
    });
  }
});
server.once('error', (error) => {
  process.stderr.write(`${sdk}: cannot listen on 127.0.0.1:${args.port}: ${error.message}\n`);
  process.exit(1);
});
server.listen(args.port, '127.0.0.1', () => announceReady(args.port));
exitOnStdinEndOrSignal(
  () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
);
