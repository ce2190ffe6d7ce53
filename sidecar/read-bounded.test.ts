import { PassThrough, Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { readBounded, TOO_LARGE } from './read-bounded.ts';

describe('readBounded', () => {
  it('reads a stream whole, one chunk or many, bytes or text', async () => {
    expect((await readBounded(Readable.from([Buffer.from('abc')]), 10)) as Buffer).toEqual(
      Buffer.from('abc'),
    );
    const many = Readable.from(['ab', Buffer.from('cd'), 'é']);
    expect(((await readBounded(many, 10)) as Buffer).toString()).toBe('abcdé');
    expect(await readBounded(Readable.from([]), 10)).toEqual(Buffer.alloc(0));
  });

  it('gives up past the cap and destroys the stream, at the cap it reads', async () => {
    const stream = new PassThrough();
    const read = readBounded(stream, 4);
    stream.write('abc');
    stream.write('de');
    expect(await read).toBe(TOO_LARGE);
    expect(stream.destroyed).toBe(true);
    expect(((await readBounded(Readable.from(['ab', 'cd']), 4)) as Buffer).toString()).toBe('abcd');
  });

  it('rejects on an error and on a close before the end, and leaves no listener behind', async () => {
    const failing = new PassThrough();
    const read = readBounded(failing, 10);
    failing.write('ab');
    failing.destroy(new Error('connection reset'));
    await expect(read).rejects.toThrow('connection reset');

    const closed = new PassThrough();
    const cut = readBounded(closed, 10);
    closed.write('ab');
    closed.destroy();
    await expect(cut).rejects.toMatchObject({ code: 'ERR_STREAM_PREMATURE_CLOSE' });
    await expect(readBounded(closed, 10)).rejects.toMatchObject({ code: 'ERR_STREAM_PREMATURE_CLOSE' });

    const fine = new PassThrough();
    const whole = readBounded(fine, 10);
    fine.end('ok');
    await whole;
    for (const event of ['data', 'end', 'error', 'close']) expect(fine.listenerCount(event)).toBe(0);
  });

  it('reads any other async iterable the same way (the stdio transport)', async () => {
    const iterable = (async function* () {
      yield 'ab';
      yield Buffer.from('c');
    })();
    expect(((await readBounded(iterable, 10)) as Buffer).toString()).toBe('abc');
    const large = (async function* () {
      yield 'abcdef';
    })();
    expect(await readBounded(large, 3)).toBe(TOO_LARGE);
  });
});
