// Runs in a pod of the e2e cluster: an HTTP listener the egress tests try to reach. It answers every
// request with BODY and logs who connected, so a test can tell a refused connection from a silent one.
// A `delay` query parameter (milliseconds, at most 10 s) holds the answer back: a slow web page, so
// calls of a tool that fetches it overlap and a concurrency limit has something to refuse.
//   env PORT  the port to listen on
//   env BODY  the text to answer
import { createServer } from 'node:http';

const MAX_DELAY_MS = 10_000;
const port = Number(process.env['PORT'] ?? '8080');
const body = process.env['BODY'] ?? 'hello';
createServer((request, response) => {
  console.log(JSON.stringify({ at: Date.now(), from: request.socket.remoteAddress, url: request.url }));
  const asked = Number(new URL(request.url ?? '/', 'http://listener').searchParams.get('delay') ?? '0');
  const delay = Number.isFinite(asked) ? Math.min(Math.max(asked, 0), MAX_DELAY_MS) : 0;
  setTimeout(() => response.writeHead(200, { 'content-type': 'text/plain' }).end(body), delay);
}).listen(port, '0.0.0.0', () => console.log(`listening on :${port}`));
