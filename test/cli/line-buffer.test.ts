import { expect } from "chai";
import { Writable } from "node:stream";
import { LineBuffer } from "../../service/cli/line-buffer.ts";

/** A stream that keeps every write pending until `release()`, as a pipe whose reader is slow. */
class HeldStream extends Writable {
  readonly bytes: Buffer[] = [];
  readonly #held: (() => void)[] = [];

  constructor() {
    super({ highWaterMark: 16 * 1024 });
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: (error?: Error | null) => void): void {
    this.bytes.push(chunk);
    this.#held.push(() => done());
  }

  /** Lets every write through, the ones queued behind the held ones too. */
  release(): void {
    while (this.#held.length > 0) this.#held.shift()!();
  }

  get text(): string {
    return Buffer.concat(this.bytes).toString("utf8");
  }
}

describe("the CLI's buffered line output (cli/line-buffer.ts)", () => {
  it("writes every line in order, as UTF-8, in chunks, including lines longer than a chunk", async () => {
    const stream = new HeldStream();
    const out = new LineBuffer(stream);
    const lines = [
      "ascii",
      "有效——文件与存证一致",
      "the leaf hash is SHA-256(0x00 ‖ JCS(record))",
      "𝄞 outside the basic plane",
      "x".repeat(LineBuffer.CHUNK_BYTES + 10),
      ...Array.from({ length: 2000 }, (_, i) => `line ${i} 证书 ‖`),
    ];
    for (const line of lines) void out.line(line);
    void out.flush();
    stream.release();
    expect(stream.text).to.equal(lines.map((l) => `${l}\n`).join(""));
    expect(stream.bytes.length, "writes").to.be.below(lines.length / 10);
  });

  it("asks callers to wait while more than 1 MB is unwritten, with one drain listener however many wait", async () => {
    const stream = new HeldStream();
    const out = new LineBuffer(stream);
    const line = "证".repeat(1000); // 3,000 bytes
    const waits: Promise<void>[] = [];
    for (let i = 0; i < 1000; i++) {
      const wait = out.line(line);
      if (wait) waits.push(wait);
    }
    const flushed = out.flush();
    expect(stream.writableLength).to.be.above(LineBuffer.MAX_WAITING_BYTES);
    expect(waits.length, "lines that had to wait").to.be.above(0);
    expect(flushed).to.be.instanceOf(Promise);
    expect(stream.listenerCount("drain")).to.equal(1);

    let resolved = false;
    void Promise.all([...waits, flushed]).then(() => (resolved = true));
    await Promise.resolve();
    expect(resolved, "resolved before the stream drained").to.equal(false);
    stream.release();
    await Promise.all([...waits, flushed]);
    expect(stream.listenerCount("drain")).to.equal(0);
    expect(stream.text).to.equal(`${line}\n`.repeat(1000));
    expect(out.line("after the drain")).to.equal(undefined);
  });
});
