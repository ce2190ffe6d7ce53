import { Readable } from 'node:stream';

/** Why a body was not read whole: larger than its cap (the source has been destroyed). */
export const TOO_LARGE = Symbol('too large');

/**
 * Reads a request or response body whole, up to `limit` bytes; a larger one is abandoned as soon as it
 * passes the cap, and its stream destroyed. Same contract as a `for await` loop over the stream (an
 * error or a close before the end rejects), with plain listeners on a Readable: the async iterator
 * costs ~5 KB of short-lived objects per body and two promise hops per chunk, twice on every call
 * (docs/performance.md).
 */
export function readBounded(
  source: AsyncIterable<Buffer | string>,
  limit: number,
): Promise<Buffer | typeof TOO_LARGE> {
  if (!(source instanceof Readable)) return readIterable(source, limit);
  const stream = source;
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const settle = () => {
      stream.off('data', onData);
      stream.off('end', onEnd);
      stream.off('error', onError);
      stream.off('close', onClose);
    };
    const onData = (chunk: Buffer | string) => {
      const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      size += buffer.length;
      if (size <= limit) return void chunks.push(buffer);
      settle();
      stream.destroy();
      resolve(TOO_LARGE);
    };
    const onEnd = () => {
      settle();
      resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
    };
    const onError = (error: Error) => {
      settle();
      reject(error);
    };
    const onClose = () => {
      settle();
      reject(Object.assign(new Error('Premature close'), { code: 'ERR_STREAM_PREMATURE_CLOSE' }));
    };
    if (stream.readableEnded) return resolve(Buffer.alloc(0));
    if (stream.destroyed) return onClose();
    stream.on('data', onData);
    stream.on('end', onEnd);
    stream.on('error', onError);
    stream.on('close', onClose);
  });
}

async function readIterable(
  source: AsyncIterable<Buffer | string>,
  limit: number,
): Promise<Buffer | typeof TOO_LARGE> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of source) {
    const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    size += buffer.length;
    if (size > limit) return TOO_LARGE;
    chunks.push(buffer);
  }
  return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size);
}
