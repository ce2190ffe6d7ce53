import fc from 'fast-check';
import {
  plainCase,
  type ByteMutation,
  type FuzzCase,
  type HttpMutation,
  type Intent,
  type JsonMutation,
  type McpMutation,
  type RpcMutation,
} from './fuzz-case.ts';

/**
 * fast-check arbitraries for fuzzer cases. A case starts as the plain request an SDK client would send
 * and turns hostile in up to four places (FIELDS), so most cases carry one or two oddities
 * rather than ten (which the first check would refuse, hiding the rest); shrinking drops the oddities that
 * do not matter and leaves the one that does.
 */
function mostly<T>(...values: T[]): fc.Arbitrary<T> {
  return fc.constantFrom(...values);
}

const tool = fc.constantFrom('echo', 'get_invoice', 'send_email') as fc.Arbitrary<
  'echo' | 'get_invoice' | 'send_email'
>;

const intent: fc.Arbitrary<Intent> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('call' as const), tool }) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('call' as const),
      tool: fc.constant('get_invoice' as const),
      tenant: fc.constantFrom('globex', 'ACME', 'acme '),
    }),
  },
  { weight: 2, arbitrary: fc.constant({ kind: 'list' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'initialize' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'ping' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'extension' as const }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('batch' as const),
      tools: fc.array(
        fc.constantFrom('echo', 'get_invoice', 'send_email', 'list') as fc.Arbitrary<
          'echo' | 'get_invoice' | 'send_email' | 'list'
        >,
        { minLength: 1, maxLength: 3 },
      ),
    }),
  },
);

const mcp: fc.Arbitrary<McpMutation> = fc.record({
  toolName: mostly<McpMutation['toolName']>(
    'exact',
    'upper',
    'title',
    'cyrillic',
    'dotless-i',
    'trailing-space',
    'nul',
    'nfd',
    'fullwidth',
  ),
  args: mostly<McpMutation['args']>(
    'plain',
    'extra-member',
    'deep',
    'array',
    'proto',
    'tenant-homoglyph',
    'tenant-nfd',
    'number-tenant',
  ),
});

const rpc: fc.Arbitrary<RpcMutation> = fc.record({
  method: mostly<RpcMutation['method']>(
    'exact',
    'upper',
    'utf7',
    'fullwidth',
    'trailing-space',
    'escaped',
    'nfkc-ligature',
    'prefixed',
  ),
  id: mostly<RpcMutation['id']>(
    'int',
    'string',
    'float-form',
    'null',
    'absent',
    'huge',
    'negative-zero',
    'object',
  ),
  extra: mostly<RpcMutation['extra']>(
    'none',
    'unknown-member',
    'second-jsonrpc',
    'params-array',
    'nested-batch',
  ),
});

const json: fc.Arbitrary<JsonMutation> = fc.record({
  seed: fc.nat(),
  escapeRate: fc.oneof({ weight: 3, arbitrary: fc.constant(0) }, fc.constantFrom(0.1, 0.5, 1)),
  whitespace: mostly<JsonMutation['whitespace']>('none', 'space', 'mixed'),
  numberForms: fc.boolean(),
  duplicate: mostly<JsonMutation['duplicate']>('none', 'method', 'name', 'customer_id', 'id', 'arguments'),
});

const bytes: fc.Arbitrary<ByteMutation> = fc.record({
  encoding: mostly<ByteMutation['encoding']>('utf8', 'utf8-bom', 'utf16le', 'utf16be-bom', 'utf7', 'latin1'),
  inject: mostly<ByteMutation['inject']>(
    'none',
    'invalid',
    'overlong-slash',
    'overlong-quote',
    'cesu-surrogate',
    'nul',
  ),
  at: fc.double({ min: 0, max: 1, noNaN: true }),
});

const http: fc.Arbitrary<HttpMutation> = fc.record({
  verb: mostly<HttpMutation['verb']>('POST', 'post', 'GET', 'PUT'),
  path: mostly<HttpMutation['path']>('/mcp', '/mcp/', '/MCP', '/mcp?x=1', '//mcp', '/mcp;x'),
  contentType: mostly<HttpMutation['contentType']>(
    'json',
    'json-utf8',
    'json-utf8-quoted-upper',
    'json-utf7',
    'json-utf16',
    'json-latin1',
    'text-plain',
    'missing',
    'duplicate',
  ),
  encoding: mostly<HttpMutation['encoding']>('none', 'gzip', 'gzip-label-only', 'identity'),
  framing: mostly<HttpMutation['framing']>(
    'length',
    'chunked',
    'chunked-ext',
    'length-and-chunked',
    'double-length',
    'te-list',
  ),
  chunkSeed: fc.nat(),
  revision: mostly<HttpMutation['revision']>(
    '2025-06-18',
    'none',
    '2025-03-26',
    '2025-11-25',
    '2026-07-28',
    'twice',
  ),
  mirrored: mostly<HttpMutation['mirrored']>('none', 'matching', 'conflicting', 'duplicated'),
  accept: mostly<HttpMutation['accept']>('both', 'json', 'any', 'missing'),
  headerCase: mostly<HttpMutation['headerCase']>('lower', 'title', 'upper'),
  authorization: mostly<HttpMutation['authorization']>('bearer', 'twice', 'lowercase-scheme', 'missing'),
  smuggle: mostly<HttpMutation['smuggle']>('none', 'pipelined-call'),
});

const FIELDS = [
  'mcp.toolName',
  'mcp.args',
  'rpc.method',
  'rpc.id',
  'rpc.extra',
  'json.spelling',
  'json.duplicate',
  'bytes.encoding',
  'bytes.inject',
  'http.verb',
  'http.path',
  'http.contentType',
  'http.encoding',
  'http.framing',
  'http.revision',
  'http.mirrored',
  'http.accept',
  'http.headerCase',
  'http.authorization',
  'http.smuggle',
] as const;

type Field = (typeof FIELDS)[number];

function pick<T extends object>(plain: T, hostile: T, layer: string, fields: ReadonlySet<Field>): T {
  const out = { ...plain } as Record<string, unknown>;
  for (const key of Object.keys(hostile)) {
    const field = `${layer}.${key}` as Field;
    if (fields.has(field)) out[key] = (hostile as Record<string, unknown>)[key];
  }
  return out as T;
}

export const fuzzCase: fc.Arbitrary<FuzzCase> = fc
  .record({
    caller: fc.constantFrom('alice', 'mallory') as fc.Arbitrary<'alice' | 'mallory'>,
    intent,
    mcp,
    rpc,
    json,
    bytes,
    http,
    fields: fc.subarray([...FIELDS], { minLength: 0, maxLength: 4 }),
  })
  .map(({ caller, intent: meaning, fields, ...hostile }) => {
    const plain = plainCase(caller, meaning);
    const chosen = new Set<Field>(fields);
    const spelling = chosen.has('json.spelling');
    return {
      caller,
      intent: meaning,
      mcp: pick(plain.mcp, hostile.mcp, 'mcp', chosen),
      rpc: pick(plain.rpc, hostile.rpc, 'rpc', chosen),
      json: spelling
        ? { ...hostile.json, duplicate: chosen.has('json.duplicate') ? hostile.json.duplicate : 'none' }
        : { ...plain.json, duplicate: chosen.has('json.duplicate') ? hostile.json.duplicate : 'none' },
      bytes: {
        encoding: chosen.has('bytes.encoding') ? hostile.bytes.encoding : plain.bytes.encoding,
        inject: chosen.has('bytes.inject') ? hostile.bytes.inject : 'none',
        at: chosen.has('bytes.inject') ? hostile.bytes.at : 0,
      },
      http: { ...pick(plain.http, hostile.http, 'http', chosen), chunkSeed: hostile.http.chunkSeed },
    };
  });
