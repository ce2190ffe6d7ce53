import { gzipSync } from 'node:zlib';
import type { FuzzCase, Intent, McpMutation, RpcMutation } from './fuzz-case.ts';
import { mulberry32, spellJson } from './spelled-json.ts';
import { encodeUtf7 } from './utf7.ts';

/** What a request needs from the run: where it goes and the callers' tokens. */
export interface RequestContext {
  /** host:port of the sidecar. */
  readonly host: string;
  readonly token: (caller: FuzzCase['caller']) => string;
  /** The caller's own tenant (the value a Force binding puts in place). */
  readonly tenantOf: (caller: FuzzCase['caller']) => string;
}

type Message = Record<string, unknown>;

const TOOL_ARGS = {
  echo: () => ({ text: 'hello' }),
  get_invoice: (tenant: string) => ({ customer_id: tenant, invoice_id: 'I-1' }),
  send_email: () => ({ to: 'ceo@example.com', body: 'wire the money' }),
};

function toolName(tool: string, mutation: McpMutation['toolName']): string {
  switch (mutation) {
    case 'exact':
      return tool;
    case 'upper':
      return tool.toUpperCase();
    case 'title':
      return tool[0]!.toUpperCase() + tool.slice(1);
    case 'cyrillic':
      return tool.replace('e', '\u0435');
    case 'dotless-i':
      return tool.replace('i', '\u0131');
    case 'trailing-space':
      return `${tool} `;
    case 'nul':
      return `${tool}\u0000`;
    case 'nfd':
      return tool.replace('e', 'e\u0301');
    case 'fullwidth':
      return [...tool].map((c) => String.fromCharCode(c.charCodeAt(0) + 0xfee0)).join('');
  }
}

function toolArgs(tool: keyof typeof TOOL_ARGS, tenant: string, mutation: McpMutation['args']): unknown {
  const args: Record<string, unknown> = TOOL_ARGS[tool](tenant);
  switch (mutation) {
    case 'plain':
      return args;
    case 'extra-member':
      return { ...args, cc: 'attacker@example.com' };
    case 'deep': {
      let node: unknown = 'bottom';
      for (let i = 0; i < 70; i++) node = { n: node };
      return { ...args, nested: node };
    }
    case 'array':
      return Object.values(args);
    case 'proto':
      return JSON.parse(`{"__proto__":{"admin":true},${JSON.stringify(args).slice(1)}`) as unknown;
    case 'tenant-homoglyph':
      return 'customer_id' in args ? { ...args, customer_id: 'glob\u0435x' } : args;
    case 'tenant-nfd':
      return 'customer_id' in args ? { ...args, customer_id: 'acme\u0301' } : args;
    case 'number-tenant':
      return 'customer_id' in args ? { ...args, customer_id: 42 } : args;
  }
}

function methodName(method: string, mutation: RpcMutation['method']): string {
  switch (mutation) {
    case 'exact':
      return method;
    case 'upper':
      return method.toUpperCase();
    case 'utf7':
      // Letters after the slash in UTF-7: the finding's "tools/+AGMAYQBsAGw-".
      return encodeUtf7(method, (c) => /[a-z]/.test(c) && method.indexOf('/') >= 0);
    case 'fullwidth':
      return method.replace(/[a-z]$/, (c) => String.fromCharCode(c.charCodeAt(0) + 0xfee0));
    case 'trailing-space':
      return `${method} `;
    case 'escaped':
      return `${method}\u0000`;
    case 'nfkc-ligature':
      return method.replace('s', '\u017f');
    case 'prefixed':
      return `notifications/${method}`;
  }
}

function idValue(mutation: RpcMutation['id'], n: number): unknown {
  switch (mutation) {
    case 'int':
      return n;
    case 'string':
      return `r-${n}`;
    case 'float-form':
      return n + 0.5;
    case 'null':
      return null;
    case 'absent':
      return undefined;
    case 'huge':
      return 2 ** 53 + n;
    case 'negative-zero':
      return -0;
    case 'object':
      return { n };
  }
}

function message(
  intent: Exclude<Intent, { kind: 'batch' }> | { kind: 'call'; tool: keyof typeof TOOL_ARGS },
  fuzz: FuzzCase,
  context: RequestContext,
  n: number,
): Message {
  const own = context.tenantOf(fuzz.caller);
  let method: string;
  let params: Record<string, unknown> = {};
  switch (intent.kind) {
    case 'call': {
      const tenant = 'tenant' in intent && intent.tenant !== undefined ? intent.tenant : own;
      method = 'tools/call';
      params = {
        name: toolName(intent.tool, fuzz.mcp.toolName),
        arguments: toolArgs(intent.tool, tenant, fuzz.mcp.args),
      };
      break;
    }
    case 'list':
      method = 'tools/list';
      break;
    case 'initialize':
      method = 'initialize';
      params = {
        protocolVersion: '2025-06-18',
        capabilities: {},
        clientInfo: { name: 'fuzz', version: '1' },
      };
      break;
    case 'ping':
      method = 'ping';
      break;
    case 'extension':
      method = 'acme.example/run';
      params = { name: 'send_email', arguments: TOOL_ARGS.send_email() };
      break;
  }
  if (fuzz.http.revision === '2026-07-28')
    params = { ...params, _meta: { 'io.modelcontextprotocol/protocolVersion': '2026-07-28' } };
  const id = idValue(fuzz.rpc.id, n);
  const out: Message = { jsonrpc: '2.0' };
  if (id !== undefined) out['id'] = id;
  out['method'] = methodName(method, fuzz.rpc.method);
  out['params'] = fuzz.rpc.extra === 'params-array' ? Object.values(params) : params;
  if (fuzz.rpc.extra === 'unknown-member') out['auth'] = { admin: true };
  return out;
}

/** The JSON-RPC body as a value: one message or a batch. */
export function bodyValue(fuzz: FuzzCase, context: RequestContext): unknown {
  const { intent } = fuzz;
  if (intent.kind !== 'batch') {
    const single = message(intent, fuzz, context, 1);
    return fuzz.rpc.extra === 'nested-batch' ? [[single]] : single;
  }
  return intent.tools.map((tool, i) =>
    message(tool === 'list' ? { kind: 'list' } : { kind: 'call', tool }, fuzz, context, i + 1),
  );
}

function duplicatesFor(fuzz: FuzzCase): Map<string, unknown> {
  switch (fuzz.json.duplicate) {
    case 'none':
      return new Map();
    case 'method':
      return new Map([['method', 'ping']]);
    case 'name':
      return new Map([['name', 'send_email']]);
    case 'customer_id':
      return new Map([['customer_id', 'globex']]);
    case 'id':
      return new Map([['id', 99]]);
    case 'arguments':
      return new Map([['arguments', TOOL_ARGS.send_email()]]);
  }
}

function bodyText(fuzz: FuzzCase, context: RequestContext): string {
  const value = bodyValue(fuzz, context);
  let text = spellJson(value, fuzz.json, duplicatesFor(fuzz));
  if (fuzz.rpc.extra === 'second-jsonrpc')
    text = text.replace('"jsonrpc":"2.0"', '"jsonrpc":"2.0","jsonrpc":"1.0"');
  return text;
}

const INJECTIONS: Record<Exclude<FuzzCase['bytes']['inject'], 'none'>, number[]> = {
  invalid: [0xff],
  'overlong-slash': [0xc0, 0xaf],
  'overlong-quote': [0xc0, 0xa2],
  'cesu-surrogate': [0xed, 0xa0, 0x80],
  nul: [0x00],
};

/** The body's bytes: the text in the case's encoding, with its hostile bytes. */
export function bodyBytes(fuzz: FuzzCase, context: RequestContext): Buffer {
  const text = bodyText(fuzz, context);
  let bytes: Buffer;
  switch (fuzz.bytes.encoding) {
    case 'utf8':
      bytes = Buffer.from(text, 'utf8');
      break;
    case 'utf8-bom':
      bytes = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(text, 'utf8')]);
      break;
    case 'utf16le':
      bytes = Buffer.from(text, 'utf16le');
      break;
    case 'utf16be-bom':
      bytes = Buffer.concat([Buffer.from([0xfe, 0xff]), Buffer.from(text, 'utf16le').swap16()]);
      break;
    case 'utf7':
      bytes = Buffer.from(encodeUtf7(text), 'latin1');
      break;
    case 'latin1':
      bytes = Buffer.from(text, 'latin1');
      break;
  }
  if (fuzz.bytes.inject === 'none') return bytes;
  const at = Math.min(bytes.length, Math.floor(fuzz.bytes.at * bytes.length));
  return Buffer.concat([
    bytes.subarray(0, at),
    Buffer.from(INJECTIONS[fuzz.bytes.inject]),
    bytes.subarray(at),
  ]);
}

const CONTENT_TYPES: Record<FuzzCase['http']['contentType'], string[]> = {
  json: ['application/json'],
  'json-utf8': ['application/json; charset=utf-8'],
  'json-utf8-quoted-upper': ['Application/JSON; Charset="UTF-8"'],
  'json-utf7': ['application/json; charset=utf-7'],
  'json-utf16': ['application/json; charset=utf-16'],
  'json-latin1': ['application/json; charset=iso-8859-1'],
  'text-plain': ['text/plain'],
  missing: [],
  duplicate: ['application/json', 'application/json; charset=utf-7'],
};

const ACCEPTS: Record<FuzzCase['http']['accept'], string[]> = {
  both: ['application/json, text/event-stream'],
  json: ['application/json'],
  any: ['*/*'],
  missing: [],
};

function headerName(name: string, style: FuzzCase['http']['headerCase']): string {
  if (style === 'lower') return name.toLowerCase();
  if (style === 'upper') return name.toUpperCase();
  return name.replace(/(^|-)([a-z])/g, (_m, dash: string, c: string) => dash + c.toUpperCase());
}

function mirroredHeaders(fuzz: FuzzCase, value: unknown): [string, string][] {
  const first = (Array.isArray(value) ? value[0] : value) as Message | undefined;
  const method = typeof first?.['method'] === 'string' ? first['method'] : 'tools/call';
  const params = (first?.['params'] ?? {}) as Record<string, unknown>;
  const name = typeof params['name'] === 'string' ? params['name'] : undefined;
  const safe = (v: string) =>
    /^[\x20-\x7e]*$/.test(v) ? v : `=?base64?${Buffer.from(v).toString('base64')}?=`;
  switch (fuzz.http.mirrored) {
    case 'none':
      return [];
    case 'matching':
      return [
        ['mcp-method', safe(method)],
        ...(name ? ([['mcp-name', safe(name)]] as [string, string][]) : []),
      ];
    case 'conflicting':
      return [
        ['mcp-method', 'tools/call'],
        ['mcp-name', 'echo'],
      ];
    case 'duplicated':
      return [
        ['mcp-method', safe(method)],
        ['mcp-method', 'ping'],
      ];
  }
}

function chunked(body: Buffer, seed: number, extensions: boolean): Buffer {
  const random = mulberry32(seed);
  const parts: Buffer[] = [];
  let offset = 0;
  while (offset < body.length) {
    const size = Math.max(1, Math.min(body.length - offset, Math.floor(random() * 64) + 1));
    const ext = extensions ? ';x=1' : '';
    parts.push(
      Buffer.from(`${size.toString(16)}${ext}\r\n`),
      body.subarray(offset, offset + size),
      Buffer.from('\r\n'),
    );
    offset += size;
  }
  parts.push(Buffer.from('0\r\n\r\n'));
  return Buffer.concat(parts);
}

/** The whole request, bytes on the wire: request line, headers, framing and body. */
export function requestBytes(fuzz: FuzzCase, context: RequestContext, keepAlive = false): Buffer {
  const { http } = fuzz;
  const value = bodyValue(fuzz, context);
  let body = bodyBytes(fuzz, context);
  const headers: [string, string][] = [['host', context.host]];
  for (const type of CONTENT_TYPES[http.contentType]) headers.push(['content-type', type]);
  for (const accept of ACCEPTS[http.accept]) headers.push(['accept', accept]);
  const token = context.token(fuzz.caller);
  if (http.authorization === 'bearer') headers.push(['authorization', `Bearer ${token}`]);
  if (http.authorization === 'lowercase-scheme') headers.push(['authorization', `bearer ${token}`]);
  if (http.authorization === 'twice')
    headers.push(
      ['authorization', `Bearer ${token}`],
      ['authorization', `Bearer ${context.token('mallory')}`],
    );
  if (http.revision === 'twice')
    headers.push(['mcp-protocol-version', '2025-06-18'], ['mcp-protocol-version', '2025-03-26']);
  else if (http.revision !== 'none') headers.push(['mcp-protocol-version', http.revision]);
  headers.push(...mirroredHeaders(fuzz, value));
  if (http.encoding === 'gzip') {
    body = gzipSync(body);
    headers.push(['content-encoding', 'gzip']);
  } else if (http.encoding === 'gzip-label-only') headers.push(['content-encoding', 'gzip']);
  else if (http.encoding === 'identity') headers.push(['content-encoding', 'identity']);
  const hasBody = http.verb !== 'GET';
  if (hasBody) {
    switch (http.framing) {
      case 'length':
        headers.push(['content-length', String(body.length)]);
        break;
      case 'chunked':
      case 'chunked-ext':
        headers.push(['transfer-encoding', 'chunked']);
        body = chunked(body, http.chunkSeed, http.framing === 'chunked-ext');
        break;
      case 'length-and-chunked':
        headers.push(['content-length', String(body.length)], ['transfer-encoding', 'chunked']);
        body = chunked(body, http.chunkSeed, false);
        break;
      case 'double-length':
        headers.push(['content-length', String(body.length)], ['content-length', String(body.length + 1)]);
        break;
      case 'te-list':
        headers.push(['transfer-encoding', 'gzip, chunked']);
        body = chunked(body, http.chunkSeed, false);
        break;
    }
  }
  headers.push(['connection', keepAlive ? 'keep-alive' : 'close']);
  const head =
    `${http.verb} ${http.path} HTTP/1.1\r\n` +
    headers.map(([name, v]) => `${headerName(name, http.headerCase)}: ${v}\r\n`).join('') +
    '\r\n';
  return Buffer.concat([Buffer.from(head, 'latin1'), hasBody ? body : Buffer.alloc(0)]);
}
