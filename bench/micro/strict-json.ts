/**
 * What strict parsing costs over JSON.parse, for tools/call bodies of about 1 KB and 100 KB.
 * Run: node bench/micro/strict-json.ts  (best of 7 rounds; the machine's load shows in the numbers).
 */
import { nanosecondsPerCall } from './timing.ts';
import { parseStrictJson } from '../../sidecar/protocol/strict-json.ts';

function toolsCallBody(argumentCount: number, indent?: number): string {
  const args: Record<string, unknown> = {};
  for (let i = 0; i < argumentCount; i++) {
    args[`field_${i}`] =
      i % 3 === 0
        ? `some text ${i} with "quotes" and a \\ backslash`
        : i % 3 === 1
          ? i * 1.5
          : { nested: [i, true, null], label: `n${i}` };
  }
  const body = {
    jsonrpc: '2.0',
    id: 42,
    method: 'tools/call',
    params: {
      name: 'read_invoice',
      arguments: args,
      _meta: { progressToken: 'abc', 'io.modelcontextprotocol/protocolVersion': '2026-07-28' },
    },
  };
  return JSON.stringify(body, null, indent);
}

/** Python's json.dumps escapes every non-ASCII character, so emoji arrive as escaped surrogate pairs. */
const asciiEscaped = (text: string) =>
  text.replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16)}`);

const bodies: [string, string, number][] = [
  ['tools/call ~1 KB', toolsCallBody(20), 200_000],
  ['tools/call ~100 KB', toolsCallBody(2300), 2_000],
  ['~1 KB, pretty-printed', toolsCallBody(12, 2), 200_000],
  [
    '~1 KB, escaped emoji (per-string checks)',
    asciiEscaped(toolsCallBody(19).replace('read_invoice', 'read_invoice 😀')),
    200_000,
  ],
  [
    '~1 KB, refused: duplicate name at the end (exact scanner)',
    toolsCallBody(20).replace(/}$/, ',"id":1}'),
    200_000,
  ],
];

for (const [label, text, iterations] of bodies) {
  const parse = nanosecondsPerCall(() => JSON.parse(text), iterations);
  const strict = nanosecondsPerCall(() => parseStrictJson(text), iterations);
  const us = (ns: number) => `${(ns / 1000).toFixed(2)} µs`;
  console.log(
    `${label} (${text.length} chars): JSON.parse ${us(parse)}, parseStrictJson ${us(strict)}, ` +
      `+${us(strict - parse)} (x${(strict / parse).toFixed(2)})`,
  );
}
