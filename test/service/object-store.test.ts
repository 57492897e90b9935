import { expect } from "chai";
import { createHash, randomBytes } from "node:crypto";
import { readFileSync, rmSync } from "node:fs";
import { Readable } from "node:stream";
import { ObjectStore } from "../../service/intake/object-store.ts";
import { sha256Hex } from "../helpers/hash.ts";
import { tempDir } from "../helpers/processes.ts";

/** `total` random bytes in chunks of uneven sizes, as a network delivers them. */
function unevenChunks(total: number): Buffer[] {
  const chunks: Buffer[] = [];
  for (let left = total, i = 0; left > 0; i++) {
    const size = Math.min(left, 1 + ((i * 7919) % (3 << 20)));
    chunks.push(randomBytes(size));
    left -= size;
  }
  return chunks;
}

describe("the object store (real files on disk)", () => {
  let dir: string;
  let store: ObjectStore;

  beforeEach(() => {
    dir = tempDir("objects");
    store = new ObjectStore(dir);
  });

  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("stores exactly the bytes streamed, under their SHA-256, across several flushes to the disk", async () => {
    const chunks = unevenChunks(100 * 1024 * 1024 + 12_345);
    const expected = createHash("sha256");
    for (const c of chunks) expected.update(c);
    const stored = await store.put(Readable.from(chunks));
    const contentHash = expected.digest("hex");
    expect([stored.contentHash, stored.size]).to.deep.equal([contentHash, 100 * 1024 * 1024 + 12_345]);
    expect(sha256Hex(readFileSync(store.pathOf(contentHash)))).to.equal(contentHash);
    expect(store.temporaryFiles()).to.deep.equal([]);
  });

  it("stores an empty stream as the empty file", async () => {
    const stored = await store.put(Readable.from([]));
    expect(stored.contentHash).to.equal(sha256Hex(""));
    expect(readFileSync(stored.path).length).to.equal(0);
  });

  it("keeps one copy of content stored twice", async () => {
    const bytes = randomBytes(1000);
    const first = await store.put(Readable.from([bytes]));
    const second = await store.put(Readable.from([bytes]));
    expect(second.path).to.equal(first.path);
    expect(store.temporaryFiles()).to.deep.equal([]);
  });

  it("passes on a source that fails after 40 MiB, and leaves no file behind", async () => {
    const source = Readable.from(
      (async function* () {
        for (let i = 0; i < 40; i++) yield randomBytes(1024 * 1024);
        throw new Error("the client went away");
      })(),
    );
    let error: Error | undefined;
    await store.put(source).catch((e: Error) => (error = e));
    expect(error?.message).to.equal("the client went away");
    expect(store.temporaryFiles()).to.deep.equal([]);
  });
});
