import { readSync } from 'node:fs';

/** Random access to the bytes of one segment, for the recovery scan. */
export interface ByteSource {
  readonly size: number;
  /** Exactly length bytes from position; position + length must not exceed size. */
  read(position: number, length: number): Buffer;
}

export function bufferSource(buffer: Buffer): ByteSource {
  return { size: buffer.length, read: (position, length) => buffer.subarray(position, position + length) };
}

const WINDOW_BYTES = 1024 * 1024;

/**
 * A segment file read through a 1 MiB window: the scan reads a header, then a record, then the next header,
 * which are almost always already in the window, so a 256 MiB WAL recovers in a few hundred reads instead
 * of one per record, and a hostile file of any size never has to fit in memory.
 */
export class FileWindow implements ByteSource {
  readonly size: number;
  readonly #fd: number;
  #window = Buffer.alloc(0);
  #windowStart = 0;

  constructor(fd: number, size: number) {
    this.#fd = fd;
    this.size = size;
  }

  read(position: number, length: number): Buffer {
    const end = position + length;
    if (position < this.#windowStart || end > this.#windowStart + this.#window.length) {
      const windowLength = Math.min(Math.max(length, WINDOW_BYTES), this.size - position);
      const window = Buffer.allocUnsafe(windowLength);
      let filled = 0;
      while (filled < windowLength) {
        const read = readSync(this.#fd, window, filled, windowLength - filled, position + filled);
        if (read === 0) break; // the file shrank under us: what is missing reads as zeros, i.e. damage
        filled += read;
      }
      window.fill(0, filled);
      this.#window = window;
      this.#windowStart = position;
    }
    return this.#window.subarray(position - this.#windowStart, end - this.#windowStart);
  }
}
