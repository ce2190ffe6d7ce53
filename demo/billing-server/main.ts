// The demo billing MCP server as its own process, started by the demo stack:
//   node demo/billing-server/main.ts --listen 127.0.0.1:PORT
// Prints one line {"url":"http://127.0.0.1:<port>/mcp"} once listening; stops on SIGTERM/SIGINT. The
// stack runs it under demo/stack/lifeline.sh, which stops it when the stack's process is gone.
import { parseArgs } from 'node:util';
import { listenOn } from '../stack/listen.ts';
import { billingHttpServer, MCP_PATH } from './http.ts';

const { values } = parseArgs({ options: { listen: { type: 'string', default: '127.0.0.1:0' } } });
const server = billingHttpServer();
const url = `${await listenOn(server, values.listen)}${MCP_PATH}`;

const stop = () => {
  server.closeAllConnections();
  server.close(() => process.exit(0));
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
process.stdout.write(`${JSON.stringify({ url })}\n`);
