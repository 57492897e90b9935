import { createHash, randomBytes } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { readdir, rm, unlink } from "node:fs/promises";
import path from "node:path";
import { Readable, Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  PutObjectCommand,
  S3Client,
  type S3ClientConfig,
} from "@aws-sdk/client-s3";
import { ConfigError } from "../config.ts";
import { ObjectHolds, ObjectNotFoundError, type HeldObject, type ObjectStore } from "./object-store.ts";
import { makeDirectory } from "../make-directory.ts";

/**
 * The largest object one PutObject may carry (Amazon S3, and the S3-compatible stores
 * follow it). Larger files would need a multipart upload, which this store does not do:
 * MAX_FILE_BYTES must stay at or below this with OBJECT_STORE_URL.
 * https://docs.aws.amazon.com/AmazonS3/latest/userguide/upload-objects.html
 */
export const MAX_OBJECT_BYTES = 5 * 1024 ** 3;

/** Where objects go: parsed from `s3://bucket/prefix?endpoint=…&region=…&forcePathStyle=true`. */
export interface S3Location {
  bucket: string;
  /** Key prefix without leading or trailing slashes; "" for the bucket's root. */
  prefix: string;
  /** The S3-compatible service's URL (MinIO, Ceph RGW, OSS, OBS); unset: Amazon S3 of the region. */
  endpoint: string | undefined;
  region: string;
  /** `https://endpoint/bucket/key` instead of `https://bucket.endpoint/key`. */
  forcePathStyle: boolean;
}

/** Reads OBJECT_STORE_URL; a region not in it comes from AWS_REGION, else us-east-1. */
export function parseObjectStoreUrl(raw: string, env: NodeJS.ProcessEnv = process.env): S3Location {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError(`OBJECT_STORE_URL must look like s3://bucket/prefix?endpoint=…, got "${raw}"`);
  }
  if (url.protocol !== "s3:" || url.hostname === "") {
    throw new ConfigError(`OBJECT_STORE_URL must look like s3://bucket/prefix?endpoint=…, got "${raw}"`);
  }
  if (url.username !== "" || url.password !== "") {
    throw new ConfigError(
      "OBJECT_STORE_URL must not carry credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY",
    );
  }
  for (const key of url.searchParams.keys()) {
    if (!["endpoint", "region", "forcePathStyle"].includes(key)) {
      throw new ConfigError(`OBJECT_STORE_URL has an unknown parameter "${key}" (endpoint, region, forcePathStyle)`);
    }
  }
  const endpoint = url.searchParams.get("endpoint") ?? undefined;
  if (endpoint !== undefined && !/^https?:\/\/[^/]+/.test(endpoint)) {
    throw new ConfigError(`OBJECT_STORE_URL's endpoint must be an http or https URL, got "${endpoint}"`);
  }
  const style = url.searchParams.get("forcePathStyle") ?? "false";
  if (style !== "true" && style !== "false") {
    throw new ConfigError(`OBJECT_STORE_URL's forcePathStyle must be true or false, got "${style}"`);
  }
  return {
    bucket: decodeURIComponent(url.hostname),
    prefix: decodeURIComponent(url.pathname).replace(/^\/+|\/+$/g, ""),
    endpoint,
    region: url.searchParams.get("region") ?? env.AWS_REGION ?? "us-east-1",
    forcePathStyle: style === "true",
  };
}

/**
 * Evidence files in an S3-compatible bucket, content-addressed: `<prefix>/ab/abcdef…` by
 * SHA-256, as in the file store. A file is hashed while it streams to a local temporary
 * file (one pass, never whole in memory), then sent with one PutObject carrying its
 * SHA-256 as the signed payload hash and its MD5 as Content-MD5, so the service checks
 * what it received against what we hashed; `put` resolves once the service has answered
 * 200, which is when S3 has stored it durably. An object already there is kept, not sent
 * again. Credentials come from the standard AWS sources (AWS_ACCESS_KEY_ID and
 * AWS_SECRET_ACCESS_KEY, a profile, or an instance role).
 */
export class S3ObjectStore implements ObjectStore {
  readonly location: S3Location;
  readonly #client: S3Client;
  readonly #tmp: string;
  readonly #holds = new ObjectHolds();

  private constructor(location: S3Location, client: S3Client, tmp: string) {
    this.location = location;
    this.#client = client;
    this.#tmp = tmp;
  }

  /**
   * Opens the bucket named by `url` and checks it answers (a wrong endpoint, bucket or key
   * fails the start, not the first upload). `tmpDir` holds files while they are hashed.
   */
  static async open(
    url: string,
    options: { tmpDir: string; client?: Partial<S3ClientConfig> },
  ): Promise<S3ObjectStore> {
    const location = parseObjectStoreUrl(url);
    const client = new S3Client({
      region: location.region,
      ...(location.endpoint !== undefined ? { endpoint: location.endpoint } : {}),
      forcePathStyle: location.forcePathStyle,
      // S3-compatible services do not all take the SDK's default CRC32 trailers; the
      // SHA-256 payload hash and Content-MD5 are what every one of them checks.
      requestChecksumCalculation: "WHEN_REQUIRED",
      responseChecksumValidation: "WHEN_REQUIRED",
      maxAttempts: 3,
      ...options.client,
    });
    try {
      await client.send(new HeadBucketCommand({ Bucket: location.bucket }));
    } catch (e) {
      client.destroy();
      throw new ConfigError(`the bucket of OBJECT_STORE_URL (${location.bucket}) cannot be reached: ${describe(e)}`);
    }
    makeDirectory(options.tmpDir);
    return new S3ObjectStore(location, client, options.tmpDir);
  }

  /** Closes the client's connections. */
  destroy(): void {
    this.#client.destroy();
  }

  get where(): string {
    const { bucket, prefix, endpoint } = this.location;
    return `s3://${bucket}/${prefix}${endpoint === undefined ? "" : ` at ${endpoint}`}`;
  }

  async isSameAs(other: ObjectStore): Promise<boolean> {
    if (!(other instanceof S3ObjectStore)) return false;
    const [a, b] = [this.location, other.location];
    // Bucket names are global on Amazon S3; elsewhere a bucket belongs to its endpoint.
    return a.bucket === b.bucket && a.prefix === b.prefix && endpointOf(a) === endpointOf(b);
  }

  keyOf(contentHash: string): string {
    const key = `${contentHash.slice(0, 2)}/${contentHash}`;
    return this.location.prefix === "" ? key : `${this.location.prefix}/${key}`;
  }

  async cleanTemporaryFiles(): Promise<number> {
    // Files only: a folder here is another replica's staging area, from a time this data
    // directory was shared (tmp/<replica>/), and not this store's to remove.
    const names = (await readdir(this.#tmp, { withFileTypes: true }))
      .filter((e) => !e.isDirectory())
      .map((e) => e.name);
    await Promise.all(names.map((name) => rm(path.join(this.#tmp, name), { force: true })));
    return names.length;
  }

  /** Temporary files now (uploads under way, or left by a crash). */
  async temporaryFiles(): Promise<string[]> {
    return readdir(this.#tmp);
  }

  async put(source: Readable): Promise<HeldObject> {
    const tmpPath = path.join(this.#tmp, `${Date.now()}-${randomBytes(8).toString("hex")}`);
    const sha256 = createHash("sha256");
    const md5 = createHash("md5");
    let size = 0;
    const hasher = new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        size += chunk.length;
        if (size > MAX_OBJECT_BYTES) {
          callback(new RangeError(`a file in S3 object storage is at most ${MAX_OBJECT_BYTES} bytes (one PutObject)`));
          return;
        }
        sha256.update(chunk);
        md5.update(chunk);
        callback(null, chunk);
      },
    });
    try {
      // The local copy is only a staging area: S3's acknowledgement, not an fsync here,
      // is what makes the object durable.
      await pipeline(source, hasher, createWriteStream(tmpPath, { flags: "wx", mode: 0o600, highWaterMark: 1 << 20 }));
      const contentHash = sha256.digest("hex");
      const release = await this.#holds.keep(contentHash, async () => {
        if (!(await this.has(contentHash))) await this.#upload(tmpPath, contentHash, md5.digest("base64"), size);
        await unlink(tmpPath);
      });
      return { contentHash, size, release };
    } catch (e) {
      await unlink(tmpPath).catch(() => undefined);
      throw storageError(e);
    }
  }

  async #upload(file: string, contentHash: string, contentMd5: string, size: number): Promise<void> {
    const command = new PutObjectCommand({
      Bucket: this.location.bucket,
      Key: this.keyOf(contentHash),
      Body: size === 0 ? new Uint8Array(0) : createReadStream(file, { highWaterMark: 1 << 20 }),
      ContentLength: size,
      ContentMD5: contentMd5,
      ContentType: "application/octet-stream",
    });
    // The payload hash SigV4 signs is the file's SHA-256, known already: the SDK need not
    // read the file a second time, and the service rejects a body that does not match it.
    command.middlewareStack.add(
      (next) => async (args) => {
        (args.request as { headers: Record<string, string> }).headers["x-amz-content-sha256"] = contentHash;
        return next(args);
      },
      { step: "build", name: "evidenceContentSha256" },
    );
    await this.#client.send(command);
  }

  async get(contentHash: string): Promise<Readable> {
    try {
      const { Body } = await this.#client.send(
        new GetObjectCommand({ Bucket: this.location.bucket, Key: this.keyOf(contentHash) }),
      );
      if (!(Body instanceof Readable)) throw new Error("the S3 client returned no stream");
      return Body;
    } catch (e) {
      if (isNotFound(e)) throw new ObjectNotFoundError(`no object ${contentHash}`);
      throw storageError(e);
    }
  }

  async has(contentHash: string): Promise<boolean> {
    try {
      await this.#client.send(new HeadObjectCommand({ Bucket: this.location.bucket, Key: this.keyOf(contentHash) }));
      return true;
    } catch (e) {
      if (isNotFound(e)) return false;
      throw storageError(e);
    }
  }

  async removeIfUnreferenced(
    contentHash: string,
    isReferenced: (contentHash: string) => Promise<boolean>,
  ): Promise<boolean> {
    return this.#holds.removeUnlessHeld(contentHash, async () => {
      if (await isReferenced(contentHash)) return false;
      try {
        await this.#client.send(
          new DeleteObjectCommand({ Bucket: this.location.bucket, Key: this.keyOf(contentHash) }),
        );
      } catch (e) {
        throw storageError(e);
      }
      return true;
    });
  }
}

/** The endpoint as one string however it was written (`HTTP://Host:80/` is `http://host`). */
function endpointOf(location: S3Location): string | undefined {
  if (location.endpoint === undefined) return undefined;
  const url = new URL(location.endpoint);
  return `${url.origin}${url.pathname.replace(/\/+$/, "")}`;
}

function isNotFound(e: unknown): boolean {
  const err = e as { name?: string; $metadata?: { httpStatusCode?: number } };
  return err?.name === "NoSuchKey" || err?.name === "NotFound" || err?.$metadata?.httpStatusCode === 404;
}

function describe(e: unknown): string {
  const err = e as { name?: string; message?: string; $metadata?: { httpStatusCode?: number } };
  const status = err?.$metadata?.httpStatusCode;
  return `${err?.name ?? "Error"}${status ? ` (HTTP ${status})` : ""}${err?.message ? `: ${err.message}` : ""}`;
}

/**
 * An object storage that fails or cannot be reached is a storage failure (`EIO`, which
 * http/problem.ts answers 503), not an internal error. Local errors (a full disk under the
 * temporary directory, a size limit, a client that went away) pass through as they are.
 */
function storageError(e: unknown): unknown {
  const err = e as { $metadata?: unknown; code?: string };
  if (
    err?.$metadata === undefined &&
    !["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EPIPE", "ENOTFOUND"].includes(err?.code ?? "")
  ) {
    return e;
  }
  return new ObjectStorageError(`the object storage failed: ${describe(e)}`, { cause: e });
}

export class ObjectStorageError extends Error {
  override name = "ObjectStorageError";
  /** Reported like an I/O error of a disk. */
  readonly code = "EIO";
}
