import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  classifyBody,
  classifyMessage,
  JSON_RPC_ERROR_CODES,
  jsonRpcError,
  type MessageClassification,
} from './jsonrpc.ts';
import { parseStrictJson } from './strict-json.ts';

/** Parsed the way the sidecar parses bodies, so the cases are the wire texts an attacker would send. */
function parse(text: string): unknown {
  const result = parseStrictJson(text);
  if (!result.ok) throw new Error(`test text is not strict JSON: ${result.error.message}`);
  return result.value;
}

interface Case {
  readonly name: string;
  readonly text: string;
  readonly kind: MessageClassification['kind'];
  /** For invalid messages: a fragment of the reason, and the id to answer with. */
  readonly reason?: string;
  readonly id?: string | number | null;
}

const cases: Case[] = [
  // Requests
  {
    name: 'a request',
    text: '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"x"}}',
    kind: 'request',
  },
  { name: 'a string id', text: '{"jsonrpc":"2.0","id":"a-1","method":"ping"}', kind: 'request' },
  { name: 'an empty string id', text: '{"jsonrpc":"2.0","id":"","method":"ping"}', kind: 'request' },
  { name: 'a negative integer id', text: '{"jsonrpc":"2.0","id":-7,"method":"ping"}', kind: 'request' },
  {
    name: 'an integer written with an exponent',
    text: '{"jsonrpc":"2.0","id":1e3,"method":"ping"}',
    kind: 'request',
  },
  { name: 'empty params', text: '{"jsonrpc":"2.0","id":1,"method":"ping","params":{}}', kind: 'request' },
  {
    name: 'a null id',
    text: '{"jsonrpc":"2.0","id":null,"method":"ping"}',
    kind: 'invalid',
    reason: 'null',
    id: null,
  },
  {
    name: 'a fractional id',
    text: '{"jsonrpc":"2.0","id":1.5,"method":"ping"}',
    kind: 'invalid',
    reason: 'fractional',
    id: null,
  },
  {
    name: 'an unsafe integer id',
    text: '{"jsonrpc":"2.0","id":9007199254740993,"method":"ping"}',
    kind: 'invalid',
    reason: '2^53',
    id: null,
  },
  {
    name: 'a boolean id',
    text: '{"jsonrpc":"2.0","id":true,"method":"ping"}',
    kind: 'invalid',
    reason: 'string or an integer',
    id: null,
  },
  { name: 'an object id', text: '{"jsonrpc":"2.0","id":{"a":1},"method":"ping"}', kind: 'invalid', id: null },
  { name: 'an array id', text: '{"jsonrpc":"2.0","id":[1],"method":"ping"}', kind: 'invalid', id: null },
  {
    name: 'array params',
    text: '{"jsonrpc":"2.0","id":4,"method":"tools/call","params":["x"]}',
    kind: 'invalid',
    reason: 'by-position',
    id: 4,
  },
  {
    name: 'null params',
    text: '{"jsonrpc":"2.0","id":4,"method":"tools/call","params":null}',
    kind: 'invalid',
    reason: '"params" must be an object',
    id: 4,
  },
  {
    name: 'string params',
    text: '{"jsonrpc":"2.0","id":4,"method":"x","params":"a"}',
    kind: 'invalid',
    id: 4,
  },
  {
    name: 'an empty method',
    text: '{"jsonrpc":"2.0","id":2,"method":""}',
    kind: 'invalid',
    reason: 'non-empty',
    id: 2,
  },
  { name: 'a numeric method', text: '{"jsonrpc":"2.0","id":2,"method":5}', kind: 'invalid', id: 2 },
  {
    name: 'a reserved rpc. method',
    text: '{"jsonrpc":"2.0","id":2,"method":"rpc.discover"}',
    kind: 'invalid',
    reason: 'rpc.',
    id: 2,
  },
  {
    name: 'an extra member',
    text: '{"jsonrpc":"2.0","id":3,"method":"ping","tool":"rm"}',
    kind: 'invalid',
    reason: '"tool"',
    id: 3,
  },
  {
    name: 'method and result together',
    text: '{"jsonrpc":"2.0","id":3,"method":"ping","result":{}}',
    kind: 'invalid',
    id: 3,
  },
  {
    name: 'method and error together',
    text: '{"jsonrpc":"2.0","id":3,"method":"ping","error":{"code":1,"message":""}}',
    kind: 'invalid',
    id: 3,
  },

  // Version
  { name: 'no jsonrpc member', text: '{"id":1,"method":"ping"}', kind: 'invalid', reason: '"2.0"', id: 1 },
  { name: 'jsonrpc 1.0', text: '{"jsonrpc":"1.0","id":1,"method":"ping"}', kind: 'invalid', id: 1 },
  { name: 'jsonrpc as a number', text: '{"jsonrpc":2.0,"id":1,"method":"ping"}', kind: 'invalid', id: 1 },
  { name: 'jsonrpc with a space', text: '{"jsonrpc":"2.0 ","id":1,"method":"ping"}', kind: 'invalid', id: 1 },

  // Notifications
  {
    name: 'a notification',
    text: '{"jsonrpc":"2.0","method":"notifications/initialized"}',
    kind: 'notification',
  },
  {
    name: 'a notification with params',
    text: '{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":1}}',
    kind: 'notification',
  },

  // Responses
  { name: 'a result', text: '{"jsonrpc":"2.0","id":1,"result":{"tools":[]}}', kind: 'response' },
  {
    name: 'a result without id',
    text: '{"jsonrpc":"2.0","result":{}}',
    kind: 'invalid',
    reason: '"id"',
    id: null,
  },
  { name: 'a null result id', text: '{"jsonrpc":"2.0","id":null,"result":{}}', kind: 'invalid', id: null },
  {
    name: 'a non-object result',
    text: '{"jsonrpc":"2.0","id":1,"result":5}',
    kind: 'invalid',
    reason: '"result" must be an object',
    id: 1,
  },
  { name: 'an array result', text: '{"jsonrpc":"2.0","id":1,"result":[]}', kind: 'invalid', id: 1 },
  {
    name: 'result and error',
    text: '{"jsonrpc":"2.0","id":1,"result":{},"error":{"code":1,"message":"x"}}',
    kind: 'invalid',
    reason: 'not both',
    id: 1,
  },
  {
    name: 'params on a response',
    text: '{"jsonrpc":"2.0","id":1,"result":{},"params":{}}',
    kind: 'invalid',
    id: 1,
  },
  {
    name: 'an error',
    text: '{"jsonrpc":"2.0","id":1,"error":{"code":-32601,"message":"Method not found"}}',
    kind: 'error-response',
  },
  {
    name: 'an error with data',
    text: '{"jsonrpc":"2.0","id":"a","error":{"code":-1,"message":"x","data":[1]}}',
    kind: 'error-response',
  },
  {
    name: 'an error with a null id (JSON-RPC)',
    text: '{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"Parse error"}}',
    kind: 'error-response',
  },
  {
    name: 'an error without id (MCP 2026-07-28)',
    text: '{"jsonrpc":"2.0","error":{"code":-32020,"message":"x"}}',
    kind: 'error-response',
  },
  {
    name: 'an error with a fractional code',
    text: '{"jsonrpc":"2.0","id":1,"error":{"code":1.5,"message":"x"}}',
    kind: 'invalid',
    reason: 'integer',
    id: 1,
  },
  {
    name: 'an error without message',
    text: '{"jsonrpc":"2.0","id":1,"error":{"code":1}}',
    kind: 'invalid',
    id: 1,
  },
  {
    name: 'an error with an extra member',
    text: '{"jsonrpc":"2.0","id":1,"error":{"code":1,"message":"x","stack":"..."}}',
    kind: 'invalid',
    reason: '"stack"',
    id: 1,
  },
  {
    name: 'an error that is a string',
    text: '{"jsonrpc":"2.0","id":1,"error":"boom"}',
    kind: 'invalid',
    id: 1,
  },
  {
    name: 'an error with a boolean id',
    text: '{"jsonrpc":"2.0","id":false,"error":{"code":1,"message":"x"}}',
    kind: 'invalid',
    id: null,
  },

  // Not messages at all
  { name: 'an empty object', text: '{}', kind: 'invalid', reason: '"2.0"', id: null },
  {
    name: 'only jsonrpc and id',
    text: '{"jsonrpc":"2.0","id":9}',
    kind: 'invalid',
    reason: '"method", "result" or "error"',
    id: 9,
  },
  { name: 'a string', text: '"tools/call"', kind: 'invalid', id: null },
  { name: 'null', text: 'null', kind: 'invalid', id: null },
];

describe('classifyMessage', () => {
  it.each(cases)('$name', ({ text, kind, reason, id }) => {
    const value = parse(text);
    const classification = classifyMessage(value);
    expect(classification.kind).toBe(kind);
    if (classification.kind === 'invalid') {
      if (reason !== undefined) expect(classification.reason).toContain(reason);
      expect(classification.id).toBe(id ?? null);
    } else {
      expect(classification.message).toBe(value);
    }
  });

  it('refuses objects that are not plain JSON objects', () => {
    class Impostor {
      jsonrpc = '2.0';
      id = 1;
      method = 'ping';
    }
    expect(classifyMessage(new Impostor()).kind).toBe('invalid');
    expect(classifyMessage({ jsonrpc: '2.0', id: 1, method: 'x', params: new Map() }).kind).toBe('invalid');
  });

  it('accepts null-prototype objects (what a reviver-free parse could also produce)', () => {
    const message = Object.assign(Object.create(null) as object, { jsonrpc: '2.0', id: 1, method: 'ping' });
    expect(classifyMessage(message).kind).toBe('request');
  });

  it('never throws, whatever the value', () => {
    fc.assert(
      fc.property(fc.oneof(fc.anything(), fc.jsonValue()), (value) => {
        classifyMessage(value);
        classifyBody(value);
      }),
      { numRuns: 1000 },
    );
  });
});

const request = (id: number | string, method = 'tools/call', name = 'read') => ({
  jsonrpc: '2.0',
  id,
  method,
  params: { name },
});

describe('classifyBody', () => {
  it('classifies a single message', () => {
    expect(classifyBody(request(1))).toMatchObject({ kind: 'single', message: { kind: 'request' } });
    expect(classifyBody('x')).toMatchObject({ kind: 'single', message: { kind: 'invalid' } });
  });

  it('refuses an empty batch', () => {
    expect(classifyBody([])).toEqual({ kind: 'invalid', reason: 'an empty batch' });
  });

  it('refuses a batch longer than the limit', () => {
    const batch = [request(1), request(2), request(3)];
    expect(classifyBody(batch, { maxBatchLength: 2 })).toMatchObject({ kind: 'invalid' });
    expect(classifyBody(batch, { maxBatchLength: 3 })).toMatchObject({ kind: 'batch' });
  });

  it('refuses two requests sharing an id, also across string and number', () => {
    expect(classifyBody([request(1), request(1, 'tools/call', 'delete')])).toMatchObject({ kind: 'invalid' });
    expect(classifyBody([request(1), request('1', 'tools/call', 'delete')])).toMatchObject({
      kind: 'invalid',
    });
  });

  it('reports every element, so a forbidden call cannot hide behind an allowed one', () => {
    const body = classifyBody([
      request(1, 'tools/call', 'read'),
      { jsonrpc: '2.0', method: 'notifications/progress' },
      request(2, 'tools/call', 'delete'),
      [request(3)],
      { jsonrpc: '2.0', id: 4, method: 'tools/call', params: ['positional'] },
    ]);
    if (body.kind !== 'batch') return expect.fail(body.kind);
    expect(body.elements.map((element) => element.kind)).toEqual([
      'request',
      'notification',
      'request',
      'invalid',
      'invalid',
    ]);
    expect(body.invalidCount).toBe(2);
    const names = body.elements.flatMap((e) => (e.kind === 'request' ? [e.message.params?.name] : []));
    expect(names).toEqual(['read', 'delete']);
  });

  it('classifies each batch element exactly as it would be classified alone', () => {
    const elementArb = fc.oneof(
      fc.jsonValue(),
      fc.record({
        jsonrpc: fc.constantFrom('2.0', '1.0'),
        id: fc.oneof(fc.integer(), fc.string(), fc.constant(null), fc.double()),
        method: fc.constantFrom('tools/call', '', 'rpc.x'),
        params: fc.oneof(fc.dictionary(fc.string(), fc.jsonValue()), fc.array(fc.jsonValue())),
      }),
    );
    fc.assert(
      fc.property(fc.array(elementArb, { minLength: 1, maxLength: 10 }), (batch) => {
        const body = classifyBody(batch);
        if (body.kind !== 'batch') return body.kind === 'invalid';
        const alone = batch.map((element) => classifyMessage(element));
        expect(body.elements).toEqual(alone);
        expect(body.invalidCount).toBe(alone.filter((element) => element.kind === 'invalid').length);
        return true;
      }),
      { numRuns: 500 },
    );
  });
});

describe('jsonRpcError', () => {
  it('builds error responses that classify as error responses', () => {
    const withId = jsonRpcError(7, JSON_RPC_ERROR_CODES.headerMismatch, 'Header mismatch');
    expect(withId).toEqual({ jsonrpc: '2.0', id: 7, error: { code: -32020, message: 'Header mismatch' } });
    const withNull = jsonRpcError(null, JSON_RPC_ERROR_CODES.parseError, 'Parse error', { position: 3 });
    expect(withNull).toEqual({
      jsonrpc: '2.0',
      id: null,
      error: { code: -32700, message: 'Parse error', data: { position: 3 } },
    });
    const withoutId = jsonRpcError(undefined, JSON_RPC_ERROR_CODES.invalidRequest, 'Invalid Request');
    expect('id' in withoutId).toBe(false);
    for (const response of [withId, withNull, withoutId]) {
      expect(classifyMessage(JSON.parse(JSON.stringify(response))).kind).toBe('error-response');
    }
  });
});
