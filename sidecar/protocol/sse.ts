/**
 * Server-Sent Events in both directions: a bounded streaming parser for upstream response streams (wrapping
 * eventsource-parser) and a writer whose output is always exactly one event, whatever its fields contain.
 *
 * Parsing follows the WHATWG event stream rules: lines end at CRLF, LF or CR; one leading byte order mark is
 * dropped; comments, unknown fields and malformed `retry` values are ignored; a block without `data` is not an
 * event. Chunk boundaries never change the result. Unlike a browser, `id` and `event` are reported only on the
 * event that set them (the proxy re-emits events one to one), and a `retry` is reported on the next event.
 */
import { TextDecoder } from 'node:util';
import {
  createParser,
  type EventSourceMessage,
  type EventSourceParser,
  type ParseError,
} from 'eventsource-parser';

export interface SseEvent {
  readonly id?: string;
  readonly event?: string;
  readonly data: string;
  /** Reconnection time in milliseconds, from a `retry` field since the previous event. */
  readonly retry?: number;
}

export interface SseParseError {
  /** `event_too_large`: an event or a line outgrew maxEventSize. `truncated`: the stream ended inside an event. */
  readonly code: 'event_too_large' | 'truncated';
  readonly message: string;
}

export interface SseParserOptions {
  readonly onEvent: (event: SseEvent) => void;
  /** Called at most once; afterwards the parser ignores input. */
  readonly onError?: (error: SseParseError) => void;
  /** Most UTF-16 code units of `data` in one event. Default 16 MiB. */
  readonly maxEventSize?: number;
}

export interface SseParser {
  /** Bytes (decoded as UTF-8, across chunk boundaries) or text; do not mix the two on one stream. */
  feed(chunk: Uint8Array | string): void;
  /** The stream ended: reports `truncated` if it stopped inside an event. */
  end(): void;
  readonly failed: boolean;
}

export const DEFAULT_MAX_SSE_EVENT_SIZE = 16 * 1024 * 1024;

/** A comment line and a blank line: keeps idle connections open and dispatches nothing. */
export const KEEP_ALIVE_COMMENT = ': keep-alive\n\n';

/**
 * Errors are reported to onError, never thrown; exceptions thrown by the callbacks propagate to the caller
 * of feed/end, after which the parser must not be used.
 */
export function createSseParser(options: SseParserOptions): SseParser {
  return new BoundedSseParser(options);
}

/**
 * The library bounds event data plus the one line it is still reading; this much extra room keeps the verdict
 * about an event's data from depending on how its last line was chunked.
 */
const LINE_ALLOWANCE = 4096;
const CR = 0x0d;
const BYTE_ORDER_MARK = 0xfeff;
const STREAM = { stream: true } as const;

class BoundedSseParser implements SseParser {
  readonly #parser: EventSourceParser;
  readonly #onEvent: (event: SseEvent) => void;
  readonly #onError: ((error: SseParseError) => void) | undefined;
  readonly #maxEventSize: number;
  #decoder: TextDecoder | undefined;
  #pendingRetry: number | undefined;
  #sawText = false;
  #endsWithCr = false;
  /** Set while end() flushes: an event dispatched then had no blank line of its own. */
  #ending = false;
  #cutOff = false;
  #done = false;
  #failed = false;

  constructor(options: SseParserOptions) {
    this.#onEvent = options.onEvent;
    this.#onError = options.onError;
    this.#maxEventSize = options.maxEventSize ?? DEFAULT_MAX_SSE_EVENT_SIZE;
    this.#parser = createParser({
      onEvent: (message) => this.#dispatch(message),
      onRetry: (retry) => {
        if (Number.isSafeInteger(retry)) this.#pendingRetry = retry;
      },
      onError: (error) => this.#libraryError(error),
      maxBufferSize: this.#maxEventSize + LINE_ALLOWANCE,
    });
    // The library strips a mis-decoded UTF-8 BOM ("ï»¿") from its first chunk only, so whether it does
    // depends on where chunks split. An empty first chunk switches that off; we drop the real U+FEFF ourselves.
    this.#parser.feed('');
  }

  get failed(): boolean {
    return this.#failed;
  }

  feed(chunk: Uint8Array | string): void {
    if (this.#failed || this.#done) return;
    if (typeof chunk === 'string') {
      this.#feedText(chunk);
    } else {
      // TextDecoder drops a leading BOM itself, even one split across chunks.
      this.#decoder ??= new TextDecoder('utf-8');
      this.#sawText = true;
      this.#feedText(this.#decoder.decode(chunk, STREAM));
    }
  }

  end(): void {
    if (this.#failed || this.#done) return;
    if (this.#decoder !== undefined) this.#feedText(this.#decoder.decode());
    this.#done = true;
    if (this.#failed) return;
    // A CR at the end of the stream ends its line; the library is still waiting to see whether an LF follows.
    if (this.#endsWithCr) this.#parser.feed('\n');
    // Blank lines complete whatever is pending; an event that completes now was cut off mid-way.
    this.#ending = true;
    this.#parser.feed('\n\n');
    this.#parser.reset();
    if (this.#cutOff) this.#fail('truncated', 'the stream ended inside an event');
  }

  #feedText(text: string): void {
    if (text.length === 0) return;
    if (!this.#sawText) {
      this.#sawText = true;
      if (text.charCodeAt(0) === BYTE_ORDER_MARK) text = text.slice(1);
      if (text.length === 0) return;
    }
    this.#endsWithCr = text.charCodeAt(text.length - 1) === CR;
    this.#parser.feed(text);
  }

  #dispatch(message: EventSourceMessage): void {
    if (this.#failed) return;
    if (this.#ending) {
      this.#cutOff = true;
      return;
    }
    if (message.data.length > this.#maxEventSize) {
      this.#fail('event_too_large', `an event's data is longer than ${this.#maxEventSize} characters`);
      return;
    }
    const retry = this.#pendingRetry;
    this.#pendingRetry = undefined;
    this.#onEvent({ id: message.id, event: message.event, data: message.data, retry });
  }

  #libraryError(error: ParseError): void {
    // The event stream format ignores unknown fields and bad retry values; only the buffer bound is fatal.
    if (error.type === 'max-buffer-size-exceeded') {
      this.#fail('event_too_large', `an event or line is longer than ${this.#maxEventSize} characters`);
    }
  }

  #fail(code: SseParseError['code'], message: string): void {
    if (this.#failed) return;
    this.#failed = true;
    this.#onError?.({ code, message });
  }
}

/**
 * One event, always exactly one, whatever the fields contain:
 * - data: every CRLF, CR or LF starts a new `data:` line, so the reader gets the text back with line breaks as
 *   LF (the format cannot carry CR);
 * - id, event: CR, LF and NUL are stripped (a NUL would make readers drop the id); an event name that ends up
 *   empty is left out, which readers take as "message";
 * - retry: written only when it is a non-negative safe integer.
 * Every field is written as `name: value`, so a value's own leading space survives the reader's stripping of one.
 */
export function formatSseEvent(event: SseEvent): string {
  let text = '';
  if (event.id !== undefined) text += `id: ${event.id.replace(FIELD_BREAKERS, '')}\n`;
  if (event.event !== undefined) {
    const name = event.event.replace(FIELD_BREAKERS, '');
    if (name !== '') text += `event: ${name}\n`;
  }
  const retry = event.retry;
  if (retry !== undefined && Number.isSafeInteger(retry) && retry >= 0) text += `retry: ${retry}\n`;
  return `${text}data: ${event.data.replace(LINE_BREAKS, '\ndata: ')}\n\n`;
}

const LINE_BREAKS = /\r\n|\r|\n/g;
const FIELD_BREAKERS = /[\r\n\0]/g;
