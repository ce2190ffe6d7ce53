/**
 * The sidecar's view of the MCP server container: Streamable HTTP semantics whatever the real
 * transport. The HTTP upstream forwards; the stdio bridge synthesises the same answers from a child
 * process's stdin/stdout. Transports know nothing about MCP methods or policy.
 */
export interface UpstreamRequest {
  readonly method: 'POST' | 'GET' | 'DELETE';
  readonly headers: Readonly<Record<string, string>>;
  readonly body?: string | Buffer;
  readonly signal?: AbortSignal;
}

export interface UpstreamResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly body: AsyncIterable<Buffer | string>;
  /** Stop reading and release the connection (cancels upstream work on the modern revisions). */
  cancel(): void;
}

export interface Upstream {
  send(request: UpstreamRequest): Promise<UpstreamResponse>;
  close(): Promise<void>;
}
