// Runs in a pod of the e2e cluster: an HTTP listener the egress tests try to reach. It answers every
// request with BODY and logs who connected, so a test can tell a refused connection from a silent one.
//   env PORT  the port to listen on
//   env BODY  the text to answer
import { createServer } from 'node:http';

const port = Number(process.env['PORT'] ?? '8080');
const body = process.env['BODY'] ?? 'hello';
createServer((request, response) => {
  console.log(JSON.stringify({ at: Date.now(), from: request.socket.remoteAddress, url: request.url }));
  response.writeHead(200, { 'content-type': 'text/plain' }).end(body);
}).listen(port, '0.0.0.0', () => console.log(`listening on :${port}`));
