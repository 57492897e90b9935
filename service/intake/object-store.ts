import { createHash, randomBytes } from "node:crypto";
import { createWriteStream, mkdirSync, readdirSync, rmSync } from "node:fs";
import { link, open, unlink, stat } from "node:fs/promises";
import path from "node:path";
import { Transform, type Readable } from "node:stream";
import { pipeline } from "node:stream/promises";

export interface StoredObject {
  contentHash: string;
  size: number;
  path: string;
}

/**
 * Evidence files on disk, content-addressed: `objects/ab/abcdef…` by SHA-256. A file is
 * hashed while it streams to a temporary file (one pass, never whole in memory), made
 * durable (fsync), then linked into place. Names given by users never touch the disk.
 */
export class ObjectStore {
  readonly root: string;
  readonly #tmp: string;

  constructor(dataDir: string) {
    this.root = path.join(dataDir, "objects");
    this.#tmp = path.join(dataDir, "tmp");
    mkdirSync(this.root, { recursive: true });
    mkdirSync(this.#tmp, { recursive: true });
  }

  /** Removes temporary files left by a crash: nothing acknowledged refers to them. */
  cleanTemporaryFiles(): number {
    const names = readdirSync(this.#tmp);
    for (const name of names) rmSync(path.join(this.#tmp, name), { force: true });
    return names.length;
  }

  temporaryFiles(): string[] {
    return readdirSync(this.#tmp);
  }

  pathOf(contentHash: string): string {
    return path.join(this.root, contentHash.slice(0, 2), contentHash);
  }

  /**
   * Streams `source` to disk while hashing it. On any failure — the client gone, a limit,
   * a full disk — the temporary file is removed and the error passed on.
   */
  async put(source: Readable): Promise<StoredObject> {
    const tmpPath = path.join(this.#tmp, `${Date.now()}-${randomBytes(8).toString("hex")}`);
    const hash = createHash("sha256");
    let size = 0;
    const hasher = new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        hash.update(chunk);
        size += chunk.length;
        callback(null, chunk);
      },
    });
    try {
      await pipeline(source, hasher, createWriteStream(tmpPath, { flags: "wx", highWaterMark: 1 << 20 }));
      const handle = await open(tmpPath, "r+");
      try {
        await handle.sync();
      } finally {
        await handle.close();
      }
      const contentHash = hash.digest("hex");
      const finalPath = this.pathOf(contentHash);
      mkdirSync(path.dirname(finalPath), { recursive: true });
      try {
        await link(tmpPath, finalPath);
      } catch (e) {
        // The same content is already stored: keep the first copy.
        if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
      }
      await unlink(tmpPath);
      return { contentHash, size, path: finalPath };
    } catch (e) {
      await unlink(tmpPath).catch(() => undefined);
      throw e;
    }
  }

  async has(contentHash: string): Promise<boolean> {
    return stat(this.pathOf(contentHash)).then(
      () => true,
      () => false,
    );
  }
}
