/** What a raw POST to an MCP endpoint came back with. */
export interface RawMcpReply {
  readonly status: number;
  readonly contentType: string;
  readonly body: string;
  /** The JSON-RPC messages of the body: the JSON body itself, or every SSE `data:` event. */
  readonly messages: readonly unknown[];
}

/**
 * POSTs `body` exactly as given (no session, no initialize, no SDK) with the headers a Streamable
 * HTTP client sends; `contentType` may be anything, so tests can send what no SDK client would.
 */
export async function postRawMcp(
  url: string,
  body: string | Uint8Array<ArrayBuffer>,
  contentType = 'application/json',
): Promise<RawMcpReply> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': contentType, accept: 'application/json, text/event-stream' },
    body,
  });
  const text = await response.text();
  const replyType = response.headers.get('content-type') ?? '';
  return {
    status: response.status,
    contentType: replyType,
    body: text,
    messages: messagesOf(replyType, text),
  };
}

function messagesOf(contentType: string, body: string): unknown[] {
  if (contentType.startsWith('text/event-stream')) {
    // One JSON-RPC message per event; our servers never split one over several data: lines.
    return body
      .split('\n')
      .filter((line) => line.startsWith('data:'))
      .map((line) => line.slice('data:'.length).trim())
      .filter((data) => data !== '')
      .map((data) => JSON.parse(data) as unknown);
  }
  if (body.trim() === '') return [];
  try {
    return [JSON.parse(body) as unknown];
  } catch {
    return [];
  }
}
