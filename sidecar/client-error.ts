import type { Duplex } from 'node:stream';
import type { Counter } from 'prom-client';
import { REJECT_TABLE, rejectionError, reject } from './reject.ts';

/**
 * A request Node's HTTP parser refused before the pipeline saw it (a malformed request line or header,
 * conflicting Content-Length and Transfer-Encoding, a bad chunk, headers over the size limit). The client
 * still gets a JSON-RPC error, as for every other refusal, and the connection is closed: after a framing
 * error nothing later on it can be read one way only. Nothing of the request is repeated: only the
 * parser's own error code, which is ours, not the client's.
 */
export function answerClientError(
  error: NodeJS.ErrnoException & { rawPacket?: Buffer },
  socket: Duplex,
  refusals: Counter<'code'>,
): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const tooLarge = error.code === 'HPE_HEADER_OVERFLOW';
  const code = error.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 'request_timeout' : 'malformed_request';
  const rejection = reject('invalid_request', `the HTTP request could not be read (${code})`);
  const body = JSON.stringify({ jsonrpc: '2.0', id: null, error: rejectionError(rejection, 'none') });
  const status = tooLarge ? 431 : REJECT_TABLE.invalid_request.httpStatus;
  const reason = tooLarge ? 'Request Header Fields Too Large' : 'Bad Request';
  refusals.inc({ code: 'invalid_request' });
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n${body}`,
  );
}
