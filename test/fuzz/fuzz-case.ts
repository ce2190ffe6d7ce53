/**
 * One differential-fuzzer case: what the request means (the intent) and how it is written at every
 * layer (MCP, JSON-RPC, JSON, bytes, HTTP). A case is plain JSON, so a minimized finding is kept as a
 * file in corpus/ and replayed by the regression test.
 */
export type Caller = 'alice' | 'mallory';

export type Intent =
  | { readonly kind: 'call'; readonly tool: 'echo' | 'get_invoice' | 'send_email'; readonly tenant?: string }
  | { readonly kind: 'list' }
  | { readonly kind: 'initialize' }
  | { readonly kind: 'ping' }
  | { readonly kind: 'extension' }
  | { readonly kind: 'batch'; readonly tools: readonly ('echo' | 'get_invoice' | 'send_email' | 'list')[] };

/** MCP layer: how the tool name and arguments are written. */
export interface McpMutation {
  readonly toolName:
    'exact' | 'upper' | 'title' | 'cyrillic' | 'dotless-i' | 'trailing-space' | 'nul' | 'nfd' | 'fullwidth';
  readonly args:
    | 'plain'
    | 'extra-member'
    | 'deep'
    | 'array'
    | 'proto'
    | 'tenant-homoglyph'
    | 'tenant-nfd'
    | 'number-tenant';
}

/** JSON-RPC layer: method spelling, id, extra members, notification form. */
export interface RpcMutation {
  readonly method:
    'exact' | 'upper' | 'utf7' | 'fullwidth' | 'trailing-space' | 'escaped' | 'nfkc-ligature' | 'prefixed';
  readonly id: 'int' | 'string' | 'float-form' | 'null' | 'absent' | 'huge' | 'negative-zero' | 'object';
  readonly extra: 'none' | 'unknown-member' | 'second-jsonrpc' | 'params-array' | 'nested-batch';
}

/** JSON layer: spelling plus duplicate members and nesting. */
export interface JsonMutation {
  readonly seed: number;
  readonly escapeRate: number;
  readonly whitespace: 'none' | 'space' | 'mixed';
  readonly numberForms: boolean;
  /** Writes this member twice (the second copy with another value). */
  readonly duplicate: 'none' | 'method' | 'name' | 'customer_id' | 'id' | 'arguments';
}

/** Byte layer: the text's encoding. */
export interface ByteMutation {
  readonly encoding: 'utf8' | 'utf8-bom' | 'utf16le' | 'utf16be-bom' | 'utf7' | 'latin1';
  /** Insert one hostile byte sequence at a relative position (0..1). */
  readonly inject: 'none' | 'invalid' | 'overlong-slash' | 'overlong-quote' | 'cesu-surrogate' | 'nul';
  readonly at: number;
}

/** HTTP layer. */
export interface HttpMutation {
  readonly verb: 'POST' | 'post' | 'GET' | 'PUT';
  readonly path: '/mcp' | '/mcp/' | '/MCP' | '/mcp?x=1' | '//mcp' | '/mcp;x';
  readonly contentType:
    | 'json'
    | 'json-utf8'
    | 'json-utf8-quoted-upper'
    | 'json-utf7'
    | 'json-utf16'
    | 'json-latin1'
    | 'text-plain'
    | 'missing'
    | 'duplicate';
  readonly encoding: 'none' | 'gzip' | 'gzip-label-only' | 'identity';
  readonly framing: 'length' | 'chunked' | 'chunked-ext' | 'length-and-chunked' | 'double-length' | 'te-list';
  /** Random chunk sizes for chunked framing. */
  readonly chunkSeed: number;
  readonly revision: 'none' | '2025-03-26' | '2025-06-18' | '2025-11-25' | '2026-07-28' | 'twice';
  readonly mirrored: 'none' | 'matching' | 'conflicting' | 'duplicated';
  readonly accept: 'both' | 'json' | 'any' | 'missing';
  readonly headerCase: 'lower' | 'title' | 'upper';
  readonly authorization: 'bearer' | 'twice' | 'lowercase-scheme' | 'missing';
  readonly smuggle: 'none' | 'pipelined-call';
}

export interface FuzzCase {
  readonly caller: Caller;
  readonly intent: Intent;
  readonly mcp: McpMutation;
  readonly rpc: RpcMutation;
  readonly json: JsonMutation;
  readonly bytes: ByteMutation;
  readonly http: HttpMutation;
}

/** The case that writes the intent plainly, the way an SDK client would. */
export function plainCase(caller: Caller, intent: Intent): FuzzCase {
  return {
    caller,
    intent,
    mcp: { toolName: 'exact', args: 'plain' },
    rpc: { method: 'exact', id: 'int', extra: 'none' },
    json: { seed: 0, escapeRate: 0, whitespace: 'none', numberForms: false, duplicate: 'none' },
    bytes: { encoding: 'utf8', inject: 'none', at: 0 },
    http: {
      verb: 'POST',
      path: '/mcp',
      contentType: 'json',
      encoding: 'none',
      framing: 'length',
      chunkSeed: 0,
      revision: '2025-06-18',
      mirrored: 'none',
      accept: 'both',
      headerCase: 'lower',
      authorization: 'bearer',
      smuggle: 'none',
    },
  };
}
