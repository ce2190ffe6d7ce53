import { closeSync, openSync, readSync } from 'node:fs';
import { replaceFileAtomically } from './atomic-file.ts';
import { systemErrorCode, WalIoError } from './errors.ts';

/**
 * A small file of WAL state (the ack cursor, the lost ranges) replaced atomically on every change. Saves are
 * serialised and coalesced: while one write is in flight, later saves wait and the newest content wins, so
 * a burst of acknowledgements costs two writes, not one per ack, and two writes never share the temporary.
 */
export class StateFile {
  readonly path: string;
  #latest = '';
  #version = 0;
  #durableVersion = 0;
  #writing: Promise<void> | undefined;

  constructor(path: string) {
    this.path = path;
  }

  /** Resolves once this content, or newer content, is durable. */
  async save(content: string): Promise<void> {
    this.#latest = content;
    const target = ++this.#version;
    while (this.#durableVersion < target) {
      if (this.#writing !== undefined) {
        await this.#writing.catch(() => undefined); // its failure is its saver's; we write our own
        continue;
      }
      const version = this.#version;
      this.#writing = replaceFileAtomically(this.path, this.#latest).finally(() => {
        this.#writing = undefined;
      });
      try {
        await this.#writing;
      } catch (error) {
        throw new WalIoError(`could not write ${this.path}: ${systemErrorCode(error) ?? String(error)}`, {
          cause: error,
        });
      }
      this.#durableVersion = Math.max(this.#durableVersion, version);
    }
  }

  /** Resolves when no write is in flight (for close). */
  async settled(): Promise<void> {
    while (this.#writing !== undefined) await this.#writing.catch(() => undefined);
  }
}

/**
 * The first maxBytes of a small file, or undefined when it does not exist. Bounded so that a hostile
 * multi-gigabyte "identity" cannot exhaust memory.
 */
export function readSmallFile(path: string, maxBytes: number): Buffer | undefined {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (error) {
    if (systemErrorCode(error) === 'ENOENT') return undefined;
    throw new WalIoError(`could not open ${path}: ${systemErrorCode(error) ?? String(error)}`, {
      cause: error,
    });
  }
  try {
    const buffer = Buffer.alloc(maxBytes);
    let filled = 0;
    for (;;) {
      const read = readSync(fd, buffer, filled, maxBytes - filled, filled);
      if (read === 0 || (filled += read) === maxBytes) break;
    }
    return buffer.subarray(0, filled);
  } catch (error) {
    throw new WalIoError(`could not read ${path}: ${systemErrorCode(error) ?? String(error)}`, {
      cause: error,
    });
  } finally {
    closeSync(fd);
  }
}
