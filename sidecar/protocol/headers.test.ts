import { Buffer } from 'node:buffer';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  allowsJsonRpcBatches,
  checkMirroredHeaders,
  decodeMirroredHeaderValue,
  LATEST_PROTOCOL_REVISION,
  type MirroredHeaders,
  parseProtocolVersionHeader,
  PROTOCOL_REVISIONS,
  PROTOCOL_VERSION_META_KEY,
  type ProtocolRevision,
  requiresMirroredHeaders,
} from './headers.ts';
import type { JsonRpcNotification, JsonRpcRequest } from './jsonrpc.ts';

const meta = { [PROTOCOL_VERSION_META_KEY]: '2026-07-28' };
const call = (method: string, params: Record<string, unknown> = {}): JsonRpcRequest => ({
  jsonrpc: '2.0',
  id: 1,
  method,
  params: { ...params, _meta: meta },
});
const encoded = (value: string) => `=?base64?${Buffer.from(value, 'utf8').toString('base64')}?=`;

describe('parseProtocolVersionHeader', () => {
  it.each(PROTOCOL_REVISIONS)('accepts %s', (revision) => {
    expect(parseProtocolVersionHeader(revision)).toEqual({ ok: true, revision });
  });

  it.each([
    ['missing', undefined],
    ['unsupported', '2025-13-01'],
    ['unsupported', 'DRAFT-2026-v1'],
    ['unsupported', ' 2026-07-28'],
    ['unsupported', '2025-06-18, 2026-07-28'],
    ['unsupported', ''],
    ['repeated', ['2025-06-18', '2026-07-28']],
  ] as const)('%s: %j', (code, value) => {
    expect(parseProtocolVersionHeader(value)).toMatchObject({ ok: false, code });
  });

  it('quotes a hostile value safely', () => {
    const result = parseProtocolVersionHeader(`x\r\n${'y'.repeat(500)}`);
    expect(!result.ok && result.reason).not.toMatch(/[\r\n]/);
    expect(!result.ok && result.reason.length).toBeLessThan(200);
  });

  it('knows which revisions mirror headers and which batch', () => {
    expect(LATEST_PROTOCOL_REVISION).toBe(PROTOCOL_REVISIONS.at(-1));
    expect(PROTOCOL_REVISIONS.filter(requiresMirroredHeaders)).toEqual(['2026-07-28']);
    expect(PROTOCOL_REVISIONS.filter(allowsJsonRpcBatches)).toEqual(['2025-03-26']);
  });
});

interface Case {
  readonly name: string;
  readonly headers: MirroredHeaders;
  readonly message: JsonRpcRequest | JsonRpcNotification;
  readonly revision?: ProtocolRevision;
  /** undefined: the headers match. */
  readonly code?: 'missing_header' | 'malformed_header' | 'header_mismatch';
  readonly header?: 'MCP-Protocol-Version' | 'Mcp-Method' | 'Mcp-Name';
}

const cases: Case[] = [
  {
    name: 'tools/call, matching',
    headers: { method: 'tools/call', name: 'get_weather' },
    message: call('tools/call', { name: 'get_weather' }),
  },
  {
    name: 'prompts/get, matching',
    headers: { method: 'prompts/get', name: 'summary' },
    message: call('prompts/get', { name: 'summary' }),
  },
  {
    name: 'resources/read names the uri',
    headers: { method: 'resources/read', name: 'file:///a/b.json' },
    message: call('resources/read', { uri: 'file:///a/b.json' }),
  },
  { name: 'tools/list needs no name', headers: { method: 'tools/list' }, message: call('tools/list') },
  {
    name: 'a base64 name',
    headers: { method: 'tools/call', name: encoded('Hello, 世界') },
    message: call('tools/call', { name: 'Hello, 世界' }),
  },
  {
    name: 'a name with spaces, base64',
    headers: { method: 'tools/call', name: encoded(' padded ') },
    message: call('tools/call', { name: ' padded ' }),
  },
  {
    name: 'a plain name that looks like the sentinel, encoded',
    headers: { method: 'tools/call', name: encoded('=?base64?x?=') },
    message: call('tools/call', { name: '=?base64?x?=' }),
  },
  {
    name: 'a notification without headers',
    headers: {},
    message: { jsonrpc: '2.0', method: 'notifications/cancelled' },
  },

  // The smuggling this exists for
  {
    name: 'method mismatch',
    headers: { method: 'tools/list', name: 'rm' },
    message: call('tools/call', { name: 'rm' }),
    code: 'header_mismatch',
    header: 'Mcp-Method',
  },
  {
    name: 'tool name mismatch',
    headers: { method: 'tools/call', name: 'read_file' },
    message: call('tools/call', { name: 'delete_repo' }),
    code: 'header_mismatch',
    header: 'Mcp-Name',
  },
  {
    name: 'method differs only in case',
    headers: { method: 'Tools/Call', name: 'a' },
    message: call('tools/call', { name: 'a' }),
    code: 'header_mismatch',
    header: 'Mcp-Method',
  },
  {
    name: 'name differs only in case',
    headers: { method: 'tools/call', name: 'Read' },
    message: call('tools/call', { name: 'read' }),
    code: 'header_mismatch',
    header: 'Mcp-Name',
  },
  {
    name: 'base64 of another name',
    headers: { method: 'tools/call', name: encoded('read') },
    message: call('tools/call', { name: 'delete' }),
    code: 'header_mismatch',
    header: 'Mcp-Name',
  },
  {
    name: 'resources/read naming params.name, not uri',
    headers: { method: 'resources/read', name: 'x' },
    message: call('resources/read', { name: 'x', uri: 'file:///etc/passwd' }),
    code: 'header_mismatch',
    header: 'Mcp-Name',
  },
  {
    name: 'a name on a method without one',
    headers: { method: 'tools/list', name: 'admin' },
    message: call('tools/list'),
    code: 'header_mismatch',
    header: 'Mcp-Name',
  },
  {
    name: 'a name on a method called "constructor"',
    headers: { method: 'constructor', name: 'x' },
    message: call('constructor'),
    code: 'header_mismatch',
    header: 'Mcp-Name',
  },
  {
    name: 'a body name that is not a string',
    headers: { method: 'tools/call', name: '1' },
    message: call('tools/call', { name: 1 }),
    code: 'header_mismatch',
    header: 'Mcp-Name',
  },
  {
    name: 'a body without a name',
    headers: { method: 'tools/call', name: 'x' },
    message: call('tools/call'),
    code: 'header_mismatch',
    header: 'Mcp-Name',
  },
  {
    name: 'Node-joined repeated header',
    headers: { method: 'tools/call', name: 'a, a' },
    message: call('tools/call', { name: 'a' }),
    code: 'header_mismatch',
    header: 'Mcp-Name',
  },
  {
    name: 'a repeated header as an array',
    headers: { method: ['tools/call', 'tools/list'] },
    message: call('tools/call', { name: 'a' }),
    code: 'malformed_header',
    header: 'Mcp-Method',
  },

  // Encoding
  {
    name: 'raw non-ASCII (Latin-1 from Node)',
    headers: { method: 'tools/call', name: 'caf\u00e9' },
    message: call('tools/call', { name: 'café' }),
    code: 'malformed_header',
    header: 'Mcp-Name',
  },
  {
    name: 'a raw control character',
    headers: { method: 'tools/call', name: 'a\u0001' },
    message: call('tools/call', { name: 'a\u0001' }),
    code: 'malformed_header',
    header: 'Mcp-Name',
  },
  {
    name: 'a method with a control character',
    headers: { method: 'tools/call\u0000' },
    message: call('tools/call\u0000'),
    code: 'malformed_header',
    header: 'Mcp-Method',
  },
  {
    name: 'base64 that is not UTF-8',
    headers: { method: 'tools/call', name: '=?base64?/w==?=' },
    message: call('tools/call', { name: '\ufffd' }),
    code: 'malformed_header',
    header: 'Mcp-Name',
  },
  {
    name: 'base64 with non-zero padding bits',
    headers: { method: 'tools/call', name: '=?base64?SGl=?=' },
    message: call('tools/call', { name: 'Hi' }),
    code: 'malformed_header',
    header: 'Mcp-Name',
  },
  {
    name: 'base64 without padding',
    headers: { method: 'tools/call', name: '=?base64?SGk?=' },
    message: call('tools/call', { name: 'Hi' }),
    code: 'malformed_header',
    header: 'Mcp-Name',
  },
  {
    name: 'URL-safe base64',
    headers: { method: 'tools/call', name: `=?base64?${Buffer.from('~~~').toString('base64url')}?=` },
    message: call('tools/call', { name: '~~~' }),
    code: 'malformed_header',
    header: 'Mcp-Name',
  },
  {
    name: 'base64 with whitespace',
    headers: { method: 'tools/call', name: '=?base64?SG k=?=' },
    message: call('tools/call', { name: 'Hi' }),
    code: 'malformed_header',
    header: 'Mcp-Name',
  },
  {
    name: 'an upper-case sentinel is plain text',
    headers: { method: 'tools/call', name: '=?BASE64?SGk=?=' },
    message: call('tools/call', { name: 'Hi' }),
    code: 'header_mismatch',
    header: 'Mcp-Name',
  },

  // Required from 2026-07-28 on
  {
    name: 'missing Mcp-Method',
    headers: { name: 'a' },
    message: call('tools/call', { name: 'a' }),
    code: 'missing_header',
    header: 'Mcp-Method',
  },
  {
    name: 'missing Mcp-Name',
    headers: { method: 'tools/call' },
    message: call('tools/call', { name: 'a' }),
    code: 'missing_header',
    header: 'Mcp-Name',
  },
  {
    name: 'no _meta protocol version',
    headers: { method: 'tools/list' },
    message: { jsonrpc: '2.0', id: 1, method: 'tools/list' },
    code: 'header_mismatch',
    header: 'MCP-Protocol-Version',
  },
  {
    name: 'another _meta protocol version',
    headers: { method: 'tools/list' },
    message: {
      jsonrpc: '2.0',
      id: 1,
      method: 'tools/list',
      params: { _meta: { [PROTOCOL_VERSION_META_KEY]: '2025-11-25' } },
    },
    code: 'header_mismatch',
    header: 'MCP-Protocol-Version',
  },

  // Older revisions: optional, but never allowed to lie
  {
    name: 'no headers on 2025-06-18',
    headers: {},
    message: call('tools/call', { name: 'a' }),
    revision: '2025-06-18',
  },
  {
    name: 'no _meta on 2025-11-25',
    headers: { method: 'tools/list' },
    message: { jsonrpc: '2.0', id: 1, method: 'tools/list' },
    revision: '2025-11-25',
  },
  {
    name: 'a lying header on 2025-06-18',
    headers: { method: 'tools/call', name: 'read' },
    message: call('tools/call', { name: 'write' }),
    revision: '2025-06-18',
    code: 'header_mismatch',
    header: 'Mcp-Name',
  },
  {
    name: 'a lying method on 2025-03-26',
    headers: { method: 'ping' },
    message: call('tools/call', { name: 'write' }),
    revision: '2025-03-26',
    code: 'header_mismatch',
    header: 'Mcp-Method',
  },
];

describe('checkMirroredHeaders', () => {
  it.each(cases)('$name', ({ headers, message, revision, code, header }) => {
    const result = checkMirroredHeaders(headers, message, revision);
    if (code === undefined) {
      expect(result).toEqual({ ok: true });
    } else {
      expect(result).toMatchObject({ ok: false, code, header });
    }
  });

  it('matches a name exactly when the header carries it, whatever the name', () => {
    const nameArb = fc.string({ unit: 'grapheme', maxLength: 30 });
    fc.assert(
      fc.property(nameArb, nameArb, fc.boolean(), (name, other, plainIfSafe) => {
        const safe = /^[\x21-\x7e]([\x20-\x7e]*[\x21-\x7e])?$/.test(name) && !name.startsWith('=?base64?');
        const header = plainIfSafe && safe ? name : encoded(name);
        const message = call('tools/call', { name });
        expect(checkMirroredHeaders({ method: 'tools/call', name: header }, message).ok).toBe(true);
        const lie = checkMirroredHeaders({ method: 'tools/call', name: encoded(other) }, message);
        expect(lie.ok).toBe(other === name);
      }),
      { numRuns: 500 },
    );
  });
});

describe('decodeMirroredHeaderValue', () => {
  // The specification's own examples.
  it.each([
    ['us-west1', 'us-west1'],
    ['=?base64?SGVsbG8sIOS4lueVjA==?=', 'Hello, 世界'],
    ['=?base64?IHBhZGRlZCA=?=', ' padded '],
    ['=?base64?bGluZTEKbGluZTI=?=', 'line1\nline2'],
    ['=?base64?PT9iYXNlNjQ/bGl0ZXJhbD89?=', '=?base64?literal?='],
    ['=?base64??=', ''],
  ])('%s', (raw, value) => {
    expect(decodeMirroredHeaderValue(raw)).toEqual({ ok: true, value });
  });

  it('never throws on any header text', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({ unit: 'binary' }),
          fc.string().map((s) => `=?base64?${s}?=`),
        ),
        (raw) => {
          decodeMirroredHeaderValue(raw);
        },
      ),
    );
  });
});
