import { expect } from "chai";
import { createHash, randomBytes } from "node:crypto";
import { readFileSync, rmSync, statSync } from "node:fs";
import path from "node:path";
import { Readable } from "node:stream";
import { FileObjectStore } from "../../service/objects/file-object-store.ts";
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
  let store: FileObjectStore;

  beforeEach(async () => {
    dir = tempDir("objects");
    store = await FileObjectStore.open(dir);
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
    expect(await store.temporaryFiles()).to.deep.equal([]);
  });

  it("stores an empty stream as the empty file", async () => {
    const stored = await store.put(Readable.from([]));
    expect(stored.contentHash).to.equal(sha256Hex(""));
    expect(readFileSync(store.pathOf(stored.contentHash)).length).to.equal(0);
  });

  it("keeps one copy of content stored twice", async () => {
    const bytes = randomBytes(1000);
    const first = await store.put(Readable.from([bytes]));
    const second = await store.put(Readable.from([bytes]));
    expect(second.contentHash).to.equal(first.contentHash);
    expect(readFileSync(store.pathOf(first.contentHash)).equals(bytes)).to.equal(true);
    expect(await store.temporaryFiles()).to.deep.equal([]);
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
    expect(await store.temporaryFiles()).to.deep.equal([]);
  });

  it("keeps files readable by their owner only: 0600 files in 0700 directories", async () => {
    const stored = await store.put(Readable.from([randomBytes(10)]));
    const file = store.pathOf(stored.contentHash);
    expect(statSync(file).mode & 0o777).to.equal(0o600);
    expect(statSync(path.dirname(file)).mode & 0o777).to.equal(0o700);
    expect(statSync(store.root).mode & 0o777).to.equal(0o700);
  });

  describe("removeIfUnreferenced", () => {
    it("removes an object no evidence refers to", async () => {
      const stored = await store.put(Readable.from([randomBytes(100)]));
      stored.release();
      expect(await store.removeIfUnreferenced(stored.contentHash, async () => false)).to.equal(true);
      expect(await store.has(stored.contentHash)).to.equal(false);
    });

    it("keeps an object evidence refers to", async () => {
      const stored = await store.put(Readable.from([randomBytes(100)]));
      stored.release();
      expect(await store.removeIfUnreferenced(stored.contentHash, async () => true)).to.equal(false);
      expect(await store.has(stored.contentHash)).to.equal(true);
    });

    it("keeps an object while another upload of the same content holds it", async () => {
      const bytes = randomBytes(100);
      const failed = await store.put(Readable.from([bytes]));
      const other = await store.put(Readable.from([bytes])); // the same content, uploaded meanwhile
      failed.release();
      expect(await store.removeIfUnreferenced(failed.contentHash, async () => false)).to.equal(false);
      other.release();
      expect(await store.has(other.contentHash)).to.equal(true);
    });

    it("makes an upload of the same content wait for a removal under way, so its copy survives", async () => {
      const bytes = randomBytes(100);
      const stored = await store.put(Readable.from([bytes]));
      stored.release();
      let finishCheck!: () => void;
      const checking = new Promise<void>((resolve) => (finishCheck = resolve));
      // The removal has begun: it is asking the database whether anything refers to the object.
      const removal = store.removeIfUnreferenced(stored.contentHash, async () => {
        await checking;
        return false;
      });
      const upload = store.put(Readable.from([bytes]));
      finishCheck();
      expect(await removal).to.equal(true);
      const again = await upload;
      expect(await store.has(again.contentHash), "the new upload's object exists").to.equal(true);
      again.release();
    });
  });
});
