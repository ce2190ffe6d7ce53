import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  createSseParser,
  formatSseEvent,
  KEEP_ALIVE_COMMENT,
  type SseEvent,
  type SseParseError,
  type SseParserOptions,
} from './sse.ts';

interface Outcome {
  readonly events: SseEvent[];
  readonly errors: SseParseError[];
}

/** Feeds the chunks and ends the stream; events without their undefined members, for readable diffs. */
function parseChunks(
  chunks: readonly (string | Uint8Array)[],
  options: Partial<SseParserOptions> = {},
): Outcome {
  const events: SseEvent[] = [];
  const errors: SseParseError[] = [];
  const parser = createSseParser({
    ...options,
    onEvent: (event) => events.push(withoutUndefined(event)),
    onError: (error) => errors.push(error),
  });
  for (const chunk of chunks) parser.feed(chunk);
  parser.end();
  return { events, errors };
}

function withoutUndefined(event: SseEvent): SseEvent {
  return Object.fromEntries(Object.entries(event).filter(([, v]) => v !== undefined)) as unknown as SseEvent;
}

const utf8 = (text: string) => new TextEncoder().encode(text);

describe('SSE parser', () => {
  it.each([
    ['one event', 'data: {"a":1}\n\n', [{ data: '{"a":1}' }]],
    ['id and event', 'id: 7\nevent: message\ndata: x\n\n', [{ id: '7', event: 'message', data: 'x' }]],
    ['multi-line data', 'data: a\ndata:  b\ndata\n\n', [{ data: 'a\n b\n' }]],
    ['CRLF lines', 'data: a\r\ndata: b\r\n\r\n', [{ data: 'a\nb' }]],
    ['CR lines', 'data: a\rdata: b\r\r', [{ data: 'a\nb' }]],
    [
      'comments and keep-alives',
      `: hi\n${KEEP_ALIVE_COMMENT}data: x\n\n${KEEP_ALIVE_COMMENT}`,
      [{ data: 'x' }],
    ],
    ['a block without data is no event', 'id: 1\nevent: e\n\ndata: x\n\n', [{ data: 'x' }]],
    ['retry rides on the next event', 'retry: 1500\n\ndata: x\n\n', [{ data: 'x', retry: 1500 }]],
    ['a malformed retry is ignored', 'retry: 1.5\ndata: x\n\n', [{ data: 'x' }]],
    ['unknown fields are ignored', 'foo: bar\ndata: x\n\n', [{ data: 'x' }]],
    ['an id with NUL is ignored', 'id: a\u0000b\ndata: x\n\n', [{ data: 'x' }]],
    ['one leading BOM is dropped', '\ufeffdata: x\n\n', [{ data: 'x' }]],
    ['a second BOM is not', '\ufeff\ufeffdata: x\n\n', []],
    ['a mis-decoded BOM is not special', '\u00ef\u00bb\u00bfdata: x\n\n', []],
    ['no space after the colon', 'data:x\n\n', [{ data: 'x' }]],
    ['a CR at the very end ends the last blank line', 'data: x\n\r', [{ data: 'x' }]],
  ] as const)('%s', (_name, text, expected) => {
    const whole = parseChunks([text]);
    expect(whole).toEqual({ events: expected, errors: [] });
    // One character at a time, and as UTF-8 bytes one at a time: the same.
    expect(parseChunks([...text])).toEqual(whole);
    expect(parseChunks([...utf8(text)].map((byte) => Uint8Array.of(byte)))).toEqual(whole);
  });

  it('drops a UTF-8 BOM split across byte chunks', () => {
    const bytes = utf8('\ufeffdata: é\n\n');
    expect(parseChunks([bytes.subarray(0, 1), bytes.subarray(1, 2), bytes.subarray(2)]).events).toEqual([
      { data: 'é' },
    ]);
  });

  it('reports a stream that ends inside an event', () => {
    for (const text of ['data: x', 'data: x\n', 'data: x\r', 'id: 1\ndata: x\n']) {
      expect(parseChunks([text])).toEqual({
        events: [],
        errors: [{ code: 'truncated', message: expect.any(String) }],
      });
    }
    expect(parseChunks(['data: x\n\n: comment without newline']).errors).toEqual([]);
    expect(parseChunks(['data: x\n\nid: 5']).errors).toEqual([]);
  });

  it('refuses an event larger than the bound, however it is chunked', () => {
    const big = `data: ${'x'.repeat(2000)}\n\n`;
    const small = 'data: ok\n\n';
    for (const chunks of [[small + big], [small, big], [...(small + big)]]) {
      const outcome = parseChunks(chunks, { maxEventSize: 1000 });
      expect(outcome.events).toEqual([{ data: 'ok' }]);
      expect(outcome.errors.map((e) => e.code)).toEqual(['event_too_large']);
    }
  });

  it('stops buffering an endless line', () => {
    const errors: SseParseError[] = [];
    const parser = createSseParser({
      onEvent: () => expect.fail('no event'),
      onError: (e) => errors.push(e),
      maxEventSize: 100,
    });
    for (let i = 0; i < 10_000; i++) parser.feed('data: xxxxxxxxxx');
    expect(parser.failed).toBe(true);
    expect(errors.map((e) => e.code)).toEqual(['event_too_large']);
    parser.end();
    expect(errors).toHaveLength(1);
  });

  it('accepts an event exactly at the bound', () => {
    const text = `data: ${'x'.repeat(600)}\ndata: ${'y'.repeat(399)}\n\n`;
    expect(parseChunks([...text], { maxEventSize: 1000 }).errors).toEqual([]);
  });
});

/** Any string, including CR, LF, NUL, lone surrogates and field syntax. */
const hostileString = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 20 }),
  fc.string({
    unit: fc.constantFrom(
      '\r',
      '\n',
      '\r\n',
      '\0',
      ':',
      ' ',
      'data: ',
      'event: ',
      'id: ',
      'retry: 1',
      'x',
      '\ufeff',
    ),
    maxLength: 12,
  }),
);

const eventArb = (text: fc.Arbitrary<string>): fc.Arbitrary<SseEvent> =>
  fc.record(
    {
      id: text,
      event: text,
      data: text,
      retry: fc.oneof(fc.nat(), fc.constantFrom(-1, 1.5, Number.NaN, Infinity, 1e21)),
    },
    { requiredKeys: ['data'] },
  );

/** What a reader gets back from formatSseEvent(event). */
function expectedRoundTrip(event: SseEvent): SseEvent {
  const strip = (value: string) => value.replace(/[\r\n\0]/g, '');
  const name = event.event === undefined ? undefined : strip(event.event);
  const retry = event.retry;
  return withoutUndefined({
    id: event.id === undefined ? undefined : strip(event.id),
    event: name === '' ? undefined : name,
    data: event.data.replace(/\r\n|\r|\n/g, '\n'),
    retry: retry !== undefined && Number.isSafeInteger(retry) && retry >= 0 ? retry : undefined,
  });
}

/** Splits text at random points. */
function splitAt(text: string, cuts: readonly number[]): string[] {
  const points = [...new Set(cuts.map((c) => c % (text.length + 1)))].sort((a, b) => a - b);
  const pieces: string[] = [];
  let from = 0;
  for (const point of points) {
    pieces.push(text.slice(from, point));
    from = point;
  }
  pieces.push(text.slice(from));
  return pieces;
}

describe('formatSseEvent', () => {
  it.each([
    ['data that tries to end the event', { data: 'a\n\ndata: evil\n\n' }],
    ['data with CR and CRLF', { data: 'a\rb\r\n\r\nc' }],
    ['an id that tries to start a field', { id: '1\nevent: admin', data: 'x' }],
    ['an id that tries to end the event', { id: '1\r\n\r\ndata: evil', data: 'x' }],
    ['an id with NUL', { id: 'a\u0000b', data: 'x' }],
    ['an event name that is only line breaks', { event: '\r\n', data: 'x' }],
    ['an event name that tries to add data', { event: 'e\rdata: evil', data: 'x' }],
    ['a comment-looking data line', { data: ': not a comment' }],
    ['a leading space in every field', { id: ' 1', event: ' e', data: ' d' }],
    ['a NaN retry', { data: 'x', retry: Number.NaN }],
    ['a negative retry', { data: 'x', retry: -5 }],
    ['empty data', { data: '' }],
  ] as const)('%s: exactly one event', (_name, event: SseEvent) => {
    const text = formatSseEvent(event);
    expect(text.endsWith('\n\n')).toBe(true);
    expect(parseChunks([text])).toEqual({ events: [expectedRoundTrip(event)], errors: [] });
  });

  it('writes the fields a reader expects', () => {
    expect(formatSseEvent({ id: '1', event: 'message', data: 'a\nb', retry: 10 })).toBe(
      'id: 1\nevent: message\nretry: 10\ndata: a\ndata: b\n\n',
    );
    expect(KEEP_ALIVE_COMMENT).toBe(': keep-alive\n\n');
  });

  it('never lets any field produce an extra event', () => {
    fc.assert(
      fc.property(eventArb(hostileString), (event) => {
        const outcome = parseChunks([formatSseEvent(event)]);
        expect(outcome).toEqual({ events: [expectedRoundTrip(event)], errors: [] });
      }),
      { numRuns: 1000 },
    );
  });
});

describe('SSE round trip under any chunking', () => {
  it('gives the same events for any split of the text or of its bytes', () => {
    const wellFormed = fc.string({ unit: 'grapheme', maxLength: 12 });
    const streamArb = fc.array(
      fc.oneof(
        {
          weight: 4,
          arbitrary: eventArb(
            fc.oneof(
              wellFormed,
              hostileString.filter((s) => s.isWellFormed()),
            ),
          ),
        },
        { weight: 1, arbitrary: fc.constant(undefined) },
      ),
      { maxLength: 6 },
    );
    fc.assert(
      fc.property(streamArb, fc.array(fc.nat(), { maxLength: 8 }), fc.boolean(), (stream, cuts, crlf) => {
        const events = stream.filter((e): e is SseEvent => e !== undefined);
        let text = stream.map((e) => (e === undefined ? KEEP_ALIVE_COMMENT : formatSseEvent(e))).join('');
        // Writers use LF; readers must also take CRLF (which the data itself cannot contain any more).
        if (crlf) text = text.replace(/\n/g, '\r\n');
        const expected = { events: events.map(expectedRoundTrip), errors: [] };
        expect(parseChunks([text])).toEqual(expected);
        expect(parseChunks(splitAt(text, cuts))).toEqual(expected);
        const bytes = utf8(text);
        const byteCuts = splitAt('x'.repeat(bytes.length), cuts).map((piece) => piece.length);
        const byteChunks: Uint8Array[] = [];
        let from = 0;
        for (const length of byteCuts) {
          byteChunks.push(bytes.subarray(from, from + length));
          from += length;
        }
        expect(parseChunks(byteChunks)).toEqual(expected);
      }),
      { numRuns: 500 },
    );
  });
});
