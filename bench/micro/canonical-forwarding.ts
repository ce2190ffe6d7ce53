/**
 * What canonical forwarding adds to a call, step by step, for tools/call bodies of about 1 KB and 100 KB:
 * the UTF-8 check, the media-type, repeated-header, method and tool-name checks, and the re-serialization
 * of the decided message (JSON.stringify + the UTF-8 Buffer the upstream request sends). Before, an
 * unbound call's body was forwarded as received, so all of this is new work on the hot path.
 * Run: node bench/micro/canonical-forwarding.ts  (best of 7 rounds; the machine's load shows in the numbers).
 */
import { isUtf8 } from 'node:buffer';
import { nanosecondsPerCall } from './timing.ts';
import { checkJsonMediaType } from '../../sidecar/protocol/media-type.ts';
import { checkClientMethod } from '../../sidecar/protocol/methods.ts';
import { repeatedSingletonHeader } from '../../sidecar/protocol/repeated-headers.ts';
import { toolNameProblem } from '../../sidecar/protocol/tool-name.ts';

function toolsCallBody(argumentCount: number): Buffer {
  const args: Record<string, unknown> = {};
  for (let i = 0; i < argumentCount; i++) args[`field_${i}`] = i % 2 === 0 ? `some text ${i}` : i * 1.5;
  const message = { jsonrpc: '2.0', id: 42, method: 'tools/call', params: { name: 'echo', arguments: args } };
  return Buffer.from(JSON.stringify(message));
}

// What an SDK client sends, as Node's rawHeaders hands it over.
const rawHeaders = [
  'Host',
  '127.0.0.1:8080',
  'Content-Type',
  'application/json',
  'Accept',
  'application/json, text/event-stream',
  'Authorization',
  'Bearer x',
  'MCP-Protocol-Version',
  '2025-06-18',
  'Content-Length',
  '1000',
  'Connection',
  'keep-alive',
];
const us = (ns: number) => `${(ns / 1000).toFixed(2)} µs`;

for (const [label, body, iterations] of [
  ['tools/call ~1 KB', toolsCallBody(40), 200_000],
  ['tools/call ~100 KB', toolsCallBody(4000), 2_000],
] as const) {
  const message = JSON.parse(body.toString('utf8')) as Record<string, unknown>;
  const steps = {
    'UTF-8 check': nanosecondsPerCall(() => isUtf8(body), iterations),
    'header checks': nanosecondsPerCall(
      () => checkJsonMediaType('application/json') && repeatedSingletonHeader(rawHeaders),
      iterations,
    ),
    'method + tool name': nanosecondsPerCall(
      () => checkClientMethod('tools/call', 'request') && toolNameProblem('echo'),
      iterations,
    ),
    're-serialization': nanosecondsPerCall(() => Buffer.from(JSON.stringify(message), 'utf8'), iterations),
  };
  const total = Object.values(steps).reduce((sum, ns) => sum + ns, 0);
  console.log(
    `${label} (${body.length} bytes): ${Object.entries(steps)
      .map(([step, ns]) => `${step} ${us(ns)}`)
      .join(', ')}; total ${us(total)}`,
  );
}
