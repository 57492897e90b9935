import { expect } from "chai";
import { randomBytes } from "node:crypto";
import { rmSync } from "node:fs";
import { Readable } from "node:stream";
import { GetObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { ConfigError } from "../../service/config.ts";
import { toProblem } from "../../service/http/problem.ts";
import { FileObjectStore } from "../../service/objects/file-object-store.ts";
import { openObjectStore } from "../../service/objects/open-object-store.ts";
import {
  MAX_OBJECT_BYTES,
  parseObjectStoreUrl,
  S3ObjectStore,
  type S3Location,
} from "../../service/objects/s3-object-store.ts";
import { sha256Hex } from "../helpers/hash.ts";
import { tempDir } from "../helpers/processes.ts";
import { S3RVER_CREDENTIALS, startS3Server, type S3Server } from "../helpers/s3.ts";
import { loadVector } from "../helpers/vectors.ts";

// What every object store does is specified in object-store-contract.test.ts; here, what
// only the S3 store does: its URL, its key layout, and how it talks to the service.

interface UrlVectors {
  valid: { desc: string; url: string; env?: Record<string, string>; want: Partial<S3Location> }[];
  invalid: { desc: string; url: string; wantError: string }[];
}

describe("parseObjectStoreUrl", () => {
  const vectors = loadVector<UrlVectors>("objects/object-store-urls.json");

  for (const c of vectors.valid) {
    it(`reads ${c.desc}`, () => {
      expect(parseObjectStoreUrl(c.url, c.env ?? {})).to.deep.equal({ endpoint: undefined, ...c.want });
    });
  }

  for (const c of vectors.invalid) {
    it(`rejects ${c.desc}`, () => {
      expect(() => parseObjectStoreUrl(c.url, {}))
        .to.throw(ConfigError)
        .with.property("message")
        .that.includes(c.wantError);
    });
  }
});

describe("S3ObjectStore (against s3rver on loopback)", function () {
  this.timeout(60_000);
  let server: S3Server;
  let tmpDir: string;
  const saved: Record<string, string | undefined> = {};

  before(async () => {
    server = await startS3Server();
    for (const [key, value] of Object.entries(S3RVER_CREDENTIALS)) {
      saved[key] = process.env[key];
      process.env[key] = value;
    }
  });

  after(async () => {
    for (const [key, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
    await server.stop();
  });

  beforeEach(() => (tmpDir = tempDir("s3-staging")));
  afterEach(() => rmSync(tmpDir, { recursive: true, force: true }));

  it("keeps each object at <prefix>/<aa>/<sha256>, readable by any S3 client", async () => {
    const store = await S3ObjectStore.open(server.url("evidence/objects"), { tmpDir });
    try {
      const bytes = randomBytes(4096);
      const stored = await store.put(Readable.from([bytes]));
      const key = `evidence/objects/${stored.contentHash.slice(0, 2)}/${stored.contentHash}`;
      expect(store.keyOf(stored.contentHash)).to.equal(key);
      const client = new S3Client({
        region: "us-east-1",
        endpoint: server.endpoint,
        forcePathStyle: true,
        credentials: {
          accessKeyId: S3RVER_CREDENTIALS.AWS_ACCESS_KEY_ID,
          secretAccessKey: S3RVER_CREDENTIALS.AWS_SECRET_ACCESS_KEY,
        },
      });
      const { Body } = await client.send(new GetObjectCommand({ Bucket: server.bucket, Key: key }));
      expect(Buffer.from(await Body!.transformToByteArray()).equals(bytes)).to.equal(true);
      client.destroy();
    } finally {
      store.destroy();
    }
  });

  it("does not send content the bucket already holds", async () => {
    const store = await S3ObjectStore.open(server.url("dedup"), { tmpDir });
    try {
      const bytes = randomBytes(1000);
      const first = await store.put(Readable.from([bytes]));
      const written = server.created.length;
      expect(server.created.at(-1)).to.equal(store.keyOf(first.contentHash));
      await store.put(Readable.from([bytes]));
      expect(server.created.length, "a second PUT of the same key").to.equal(written);
    } finally {
      store.destroy();
    }
  });

  it("refuses to open a bucket that does not exist", async () => {
    let error: unknown;
    await S3ObjectStore.open(server.url("x").replace("s3://evidence/", "s3://no-such-bucket/"), { tmpDir }).catch(
      (e: unknown) => (error = e),
    );
    expect(error).to.be.instanceOf(ConfigError);
    expect((error as Error).message).to.include("no-such-bucket");
  });

  it("reports an object storage that stops answering as a storage failure (503), not an internal error", async () => {
    const other = await startS3Server("outage");
    const store = await S3ObjectStore.open(other.url(), { tmpDir, client: { maxAttempts: 1 } });
    try {
      await other.stop();
      let error: unknown;
      await store.put(Readable.from([randomBytes(100)])).catch((e: unknown) => (error = e));
      expect(toProblem(error)).to.include({ status: 503, code: "STORAGE_FAILURE" });
      expect(await store.temporaryFiles()).to.deep.equal([]);
      await store.has(sha256Hex("x")).catch((e: unknown) => (error = e));
      expect(toProblem(error)).to.include({ status: 503, code: "STORAGE_FAILURE" });
    } finally {
      store.destroy();
    }
  });

  describe("openObjectStore", () => {
    it("opens the bucket when OBJECT_STORE_URL is set, even with OBJECTS_DIR", async () => {
      const store = await openObjectStore({ dataDir: tmpDir, objects: { dir: tmpDir, url: server.url("chosen") } });
      expect(store).to.be.instanceOf(S3ObjectStore);
      (store as S3ObjectStore).destroy();
    });

    it("opens a directory otherwise", async () => {
      expect(await openObjectStore({ dataDir: tmpDir, objects: { dir: undefined, url: undefined } })).to.be.instanceOf(
        FileObjectStore,
      );
    });

    it("refuses a file size limit larger than one PutObject can carry", async () => {
      let error: unknown;
      await openObjectStore({
        dataDir: tmpDir,
        objects: { dir: undefined, url: server.url() },
        limits: { fileSizeBytes: MAX_OBJECT_BYTES + 1 },
      }).catch((e: unknown) => (error = e));
      expect(error).to.be.instanceOf(ConfigError);
    });
  });
});
