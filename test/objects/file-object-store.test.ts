import { expect } from "chai";
import { createHash, randomBytes } from "node:crypto";
import { readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from "node:fs";
import path from "node:path";
import { Readable } from "node:stream";
import { FileObjectStore } from "../../service/objects/file-object-store.ts";
import { sha256Hex } from "../helpers/hash.ts";
import { tempDir, until } from "../helpers/processes.ts";

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

// What every object store does is specified in object-store-contract.test.ts; here, what
// only the directory does: its layout on disk, its flushes and its permissions.
describe("the object store in a directory (real files on disk)", () => {
  let dir: string;
  let store: FileObjectStore;

  beforeEach(async () => {
    dir = tempDir("objects");
    store = await FileObjectStore.open(dir);
  });

  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("stores exactly the bytes streamed at objects/<aa>/<sha256>, across several flushes to the disk", async () => {
    const chunks = unevenChunks(100 * 1024 * 1024 + 12_345);
    const expected = createHash("sha256");
    for (const c of chunks) expected.update(c);
    const stored = await store.put(Readable.from(chunks));
    const contentHash = expected.digest("hex");
    expect([stored.contentHash, stored.size]).to.deep.equal([contentHash, 100 * 1024 * 1024 + 12_345]);
    expect(store.pathOf(contentHash)).to.equal(path.join(dir, "objects", contentHash.slice(0, 2), contentHash));
    expect(sha256Hex(readFileSync(store.pathOf(contentHash)))).to.equal(contentHash);
    expect(await store.temporaryFiles()).to.deep.equal([]);
  });

  it("keeps files readable by their owner only: 0600 files in 0700 directories", async () => {
    const stored = await store.put(Readable.from([randomBytes(10)]));
    const file = store.pathOf(stored.contentHash);
    expect(statSync(file).mode & 0o777).to.equal(0o600);
    expect(statSync(path.dirname(file)).mode & 0o777).to.equal(0o700);
    expect(statSync(store.root).mode & 0o777).to.equal(0o700);
  });

  describe("shared by replicas (OBJECTS_DIR)", () => {
    it("leaves another replica's upload in flight alone when it cleans up after a restart", async () => {
      const a = await FileObjectStore.open(dir, { replica: "host-a" });
      let resume!: () => void;
      const midway = new Promise<void>((resolve) => (resume = resolve));
      const first = randomBytes(1024 * 1024);
      const upload = a.put(
        Readable.from(
          (async function* () {
            yield first;
            await midway; // replica b restarts while this upload is half-way
            yield Buffer.from("the rest");
          })(),
        ),
      );
      await until(async () => ((await a.temporaryFiles()).length === 1 ? true : undefined), "the upload to begin");
      const b = await FileObjectStore.open(dir, { replica: "host-b" });
      expect(await b.cleanTemporaryFiles()).to.equal(0);
      resume();
      const stored = await upload;
      expect(stored.contentHash).to.equal(sha256Hex(Buffer.concat([first, Buffer.from("the rest")])));
      expect(readdirSync(path.join(dir, "tmp")).sort()).to.deep.equal(["host-a", "host-b"]);
    });

    it("removes what a replica that never came back left more than a day ago", async () => {
      const gone = await FileObjectStore.open(dir, { replica: "host-gone" });
      const oldFile = path.join(dir, "tmp", "host-gone", "1700000000000-left");
      const recentFile = path.join(dir, "tmp", "host-gone", "1700000000001-recent");
      writeFileSync(oldFile, "x");
      writeFileSync(recentFile, "y");
      const twoDaysAgo = new Date(Date.now() - 48 * 3600 * 1000);
      utimesSync(oldFile, twoDaysAgo, twoDaysAgo);
      const b = await FileObjectStore.open(dir, { replica: "host-b" });
      expect(await b.cleanTemporaryFiles()).to.equal(1);
      expect(await gone.temporaryFiles()).to.deep.equal(["1700000000001-recent"]);
    });
  });
});
