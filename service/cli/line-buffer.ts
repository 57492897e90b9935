/**
 * Lines written to stdout in large writes: one write per line would make the output, not
 * the verification, the limit of a bulk run. Each line is encoded into a byte chunk as it
 * comes (joining many lines into one string first, then encoding it, is several times slower
 * once a line holds any non-Latin-1 character: "‖", "—", every Chinese text). When more than
 * 1 MB waits to be written, `line` and `flush` return a promise of its draining.
 */
export class LineBuffer {
  static readonly CHUNK_BYTES = 256 * 1024;
  static readonly MAX_WAITING_BYTES = 1024 * 1024;
  readonly #out: NodeJS.WritableStream & { writableLength: number };
  #chunk = Buffer.allocUnsafe(LineBuffer.CHUNK_BYTES);
  #used = 0;
  #drained: Promise<void> | undefined;

  constructor(out: NodeJS.WritableStream & { writableLength: number } = process.stdout) {
    this.#out = out;
  }

  line(text: string): Promise<void> | undefined {
    const most = text.length * 3 + 1; // UTF-8 takes at most 3 bytes per UTF-16 code unit
    if (this.#used + most > this.#chunk.length) this.#send();
    if (most > this.#chunk.length) {
      this.#out.write(`${text}\n`);
    } else {
      this.#used += this.#chunk.write(text, this.#used);
      this.#chunk[this.#used++] = 0x0a;
    }
    return this.#room();
  }

  flush(): Promise<void> | undefined {
    this.#send();
    return this.#room();
  }

  #send(): void {
    if (this.#used === 0) return;
    // The stream may keep the bytes until written: the next lines go into a new chunk.
    this.#out.write(this.#chunk.subarray(0, this.#used));
    this.#chunk = Buffer.allocUnsafe(LineBuffer.CHUNK_BYTES);
    this.#used = 0;
  }

  #room(): Promise<void> | undefined {
    if (this.#out.writableLength <= LineBuffer.MAX_WAITING_BYTES) return undefined;
    // One listener, however many lines wait for it.
    return (this.#drained ??= new Promise<void>((resolve) => this.#out.once("drain", resolve)).then(() => {
      this.#drained = undefined;
    }));
  }
}
