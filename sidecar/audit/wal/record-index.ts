/**
 * Where each record of one segment starts, in seq order, so the shipper's reads go straight to the bytes
 * instead of re-parsing the segment. Seqs are kept explicitly because a recovered segment may have holes
 * (records skipped as damaged). Typed arrays: about 20 bytes per record, no object per record.
 */
export class RecordIndex {
  #seqs = new Float64Array(64);
  #offsets = new Float64Array(64);
  #payloadBytes = new Uint32Array(64);
  #count = 0;

  get count(): number {
    return this.#count;
  }

  /** The first seq, or 0 when empty. */
  get firstSeq(): number {
    return this.#count === 0 ? 0 : this.#seqs[0]!;
  }

  /** The last seq, or 0 when empty. */
  get lastSeq(): number {
    return this.#count === 0 ? 0 : this.#seqs[this.#count - 1]!;
  }

  /** Appends a record; seqs must ascend. */
  push(seq: number, offset: number, payloadBytes: number): void {
    if (this.#count === this.#seqs.length) this.#grow();
    this.#seqs[this.#count] = seq;
    this.#offsets[this.#count] = offset;
    this.#payloadBytes[this.#count] = payloadBytes;
    this.#count++;
  }

  seqAt(position: number): number {
    return this.#seqs[position]!;
  }

  offsetAt(position: number): number {
    return this.#offsets[position]!;
  }

  payloadBytesAt(position: number): number {
    return this.#payloadBytes[position]!;
  }

  /** The position of the first record with a seq above seq (count when there is none). */
  firstPositionAfter(seq: number): number {
    let low = 0;
    let high = this.#count;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (this.#seqs[middle]! <= seq) low = middle + 1;
      else high = middle;
    }
    return low;
  }

  #grow(): void {
    const capacity = this.#seqs.length * 2;
    const seqs = new Float64Array(capacity);
    seqs.set(this.#seqs);
    const offsets = new Float64Array(capacity);
    offsets.set(this.#offsets);
    const payloadBytes = new Uint32Array(capacity);
    payloadBytes.set(this.#payloadBytes);
    this.#seqs = seqs;
    this.#offsets = offsets;
    this.#payloadBytes = payloadBytes;
  }
}
