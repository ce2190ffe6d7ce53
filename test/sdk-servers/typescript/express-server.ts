// typescript-express: the TypeScript SDK's own server style, kept exactly as its examples write it,
// including what makes it dangerous behind a gate that forwards client bytes. createMcpExpressApp()
// is express() + localhost Host validation + app.use(express.json()), and body-parser decodes the
// body in whatever charset the Content-Type names (utf-7 included) before the SDK sees it.
//
//   node test/sdk-servers/typescript/express-server.ts --port P --log FILE
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createMcpExpressApp } from '@modelcontextprotocol/sdk/server/express.js';
import { executionLog } from './execution-log.ts';
import { refuseNonPost, serveStatelessPost } from './stateless-mcp.ts';
import { announceReady, exitOnStdinEndOrSignal, parseServerArgs } from './server-process.ts';

const sdk = 'typescript-express';
const args = parseServerArgs(process.argv.slice(2));
const log = executionLog(sdk, args.logPath);

// host 127.0.0.1: the SDK's DNS-rebinding guard, which accepts Host 127.0.0.1:<port>.
const app = createMcpExpressApp({ host: '127.0.0.1' });
app.post('/mcp', (request: IncomingMessage & { body?: unknown }, response: ServerResponse) =>
  serveStatelessPost(sdk, log, request, response, request.body),
);
app.get('/mcp', (_request: IncomingMessage, response: ServerResponse) => refuseNonPost(response));
app.delete('/mcp', (_request: IncomingMessage, response: ServerResponse) => refuseNonPost(response));

const listener = app.listen(args.port, '127.0.0.1', (error?: Error) => {
  if (error !== undefined) {
    process.stderr.write(`${sdk}: cannot listen on 127.0.0.1:${args.port}: ${error.message}\n`);
    process.exit(1);
  }
  announceReady(args.port);
});
exitOnStdinEndOrSignal(
  () => new Promise<void>((resolve) => listener.close(() => resolve()).closeAllConnections()),
);
