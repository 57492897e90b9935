import { expect } from "chai";
import { createHash, randomBytes } from "node:crypto";
import { mkdirSync, readdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { Readable } from "node:stream";
import { FileObjectStore } from "../../service/objects/file-object-store.ts";
import { ObjectNotFoundError, type ObjectStore } from "../../service/objects/object-store.ts";
import { S3ObjectStore } from "../../service/objects/s3-object-store.ts";
import { sha256Hex } from "../helpers/hash.ts";
import { tempDir } from "../helpers/processes.ts";
import { S3RVER_CREDENTIALS, startS3Server, type S3Server } from "../helpers/s3.ts";
import { rmSync } from "node:fs";

/**
 * One specification of the object store (service/objects/object-store.ts), run on each
 * implementation: a directory on disk, and an S3-compatible bucket (s3rver on loopback,
 * a stand-in for MinIO, Ceph RGW or a cloud's object storage).
 */

interface OpenedStore {
  store: ObjectStore;
  /** The directory where uploads are staged while they are hashed. */
  tmpDir: string;
  temporaryFiles(): Promise<string[]>;
  dispose(): Promise<void>;
}

interface Implementation {
  name: string;
  setUp(): Promise<void>;
  tearDown(): Promise<void>;
  open(): Promise<OpenedStore>;
}

function fileImplementation(): Implementation {
  return {
    name: "a directory (real files on disk)",
    async setUp() {},
    async tearDown() {},
    async open() {
      const dir = tempDir("objects");
      const store = await FileObjectStore.open(dir);
      return {
        store,
        tmpDir: path.join(dir, "tmp"),
        temporaryFiles: () => store.temporaryFiles(),
        async dispose() {
          rmSync(dir, { recursive: true, force: true });
        },
      };
    },
  };
}

function s3Implementation(): Implementation {
  let server: S3Server | undefined;
  const saved: Record<string, string | undefined> = {};
  let stores = 0;
  return {
    name: "an S3-compatible bucket (s3rver on loopback, credentials from AWS_* variables)",
    async setUp() {
      server = await startS3Server();
      for (const [key, value] of Object.entries(S3RVER_CREDENTIALS)) {
        saved[key] = process.env[key];
        process.env[key] = value;
      }
    },
    async tearDown() {
      for (const [key, value] of Object.entries(saved)) {
        if (value === undefined) delete process.env[key];
        else process.env[key] = value;
      }
      await server?.stop();
    },
    async open() {
      const tmpDir = tempDir("s3-staging");
      // Each test its own prefix in the one bucket: objects of one test are not seen by the next.
      const store = await S3ObjectStore.open(server!.url(`test-${++stores}`), { tmpDir });
      return {
        store,
        tmpDir,
        temporaryFiles: () => store.temporaryFiles(),
        async dispose() {
          store.destroy();
          rmSync(tmpDir, { recursive: true, force: true });
        },
      };
    },
  };
}

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

async function readAll(stream: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of stream) parts.push(chunk as Buffer);
  return Buffer.concat(parts);
}

function defineObjectStoreContract(implementation: Implementation): void {
  describe(`the object store contract on ${implementation.name}`, function () {
    this.timeout(60_000);
    let opened: OpenedStore;
    let store: ObjectStore;

    before(() => implementation.setUp());
    after(() => implementation.tearDown());
    beforeEach(async () => {
      opened = await implementation.open();
      store = opened.store;
    });
    afterEach(() => opened.dispose());

    describe("put / get / has", () => {
      it("stores exactly the bytes streamed, under their SHA-256, and reads them back", async () => {
        const chunks = unevenChunks(20 * 1024 * 1024 + 12_345);
        const expected = createHash("sha256");
        for (const c of chunks) expected.update(c);
        const contentHash = expected.digest("hex");
        const stored = await store.put(Readable.from(chunks));
        stored.release();
        expect([stored.contentHash, stored.size]).to.deep.equal([contentHash, 20 * 1024 * 1024 + 12_345]);
        expect(await store.has(contentHash)).to.equal(true);
        expect(sha256Hex(await readAll(await store.get(contentHash)))).to.equal(contentHash);
        expect(await opened.temporaryFiles()).to.deep.equal([]);
      });

      it("stores an empty stream as the empty object", async () => {
        const stored = await store.put(Readable.from([]));
        expect([stored.contentHash, stored.size]).to.deep.equal([sha256Hex(""), 0]);
        expect((await readAll(await store.get(stored.contentHash))).length).to.equal(0);
      });

      it("keeps one copy of content stored twice", async () => {
        const bytes = randomBytes(1000);
        const first = await store.put(Readable.from([bytes]));
        const second = await store.put(Readable.from([bytes]));
        expect(second.contentHash).to.equal(first.contentHash);
        expect((await readAll(await store.get(first.contentHash))).equals(bytes)).to.equal(true);
        expect(await opened.temporaryFiles()).to.deep.equal([]);
      });

      it("rejects reading an object it does not have, with NOT_FOUND", async () => {
        const missing = sha256Hex("never stored");
        expect(await store.has(missing)).to.equal(false);
        let error: unknown;
        await store.get(missing).catch((e: unknown) => (error = e));
        expect(error).to.be.instanceOf(ObjectNotFoundError);
        expect((error as ObjectNotFoundError).code).to.equal("NOT_FOUND");
      });

      it("passes on a source that fails after 10 MiB, and leaves neither a temporary file nor an object", async () => {
        const sent = createHash("sha256");
        const source = Readable.from(
          (async function* () {
            for (let i = 0; i < 10; i++) {
              const chunk = randomBytes(1024 * 1024);
              sent.update(chunk);
              yield chunk;
            }
            throw new Error("the client went away");
          })(),
        );
        let error: Error | undefined;
        await store.put(source).catch((e: Error) => (error = e));
        expect(error?.message).to.equal("the client went away");
        expect(await opened.temporaryFiles()).to.deep.equal([]);
        expect(await store.has(sent.digest("hex")), "the partial content").to.equal(false);
      });
    });

    describe("cleanTemporaryFiles", () => {
      it("removes what an interrupted upload left behind and says how many", async () => {
        writeFileSync(path.join(opened.tmpDir, "1700000000000-left-by-a-crash"), randomBytes(100));
        expect(await store.cleanTemporaryFiles()).to.equal(1);
        expect(await opened.temporaryFiles()).to.deep.equal([]);
        expect(await store.cleanTemporaryFiles()).to.equal(0);
      });

      it("leaves a folder there alone: a replica's staging area from when the data directory was shared", async () => {
        const folder = path.join(opened.tmpDir, "replica-a");
        mkdirSync(folder);
        writeFileSync(path.join(folder, "upload-in-flight"), randomBytes(10));
        writeFileSync(path.join(opened.tmpDir, "1700000000000-left-by-a-crash"), randomBytes(10));
        expect(await store.cleanTemporaryFiles()).to.equal(1);
        expect(readdirSync(folder)).to.deep.equal(["upload-in-flight"]);
      });
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
}

defineObjectStoreContract(fileImplementation());
defineObjectStoreContract(s3Implementation());
