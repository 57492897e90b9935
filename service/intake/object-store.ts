import { createHash, randomBytes } from "node:crypto";
import { mkdirSync, readdirSync, rmSync } from "node:fs";
import { type FileHandle, link, open, unlink, stat } from "node:fs/promises";
import path from "node:path";
import { Transform, Writable, type Readable } from "node:stream";
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
      const handle = await open(tmpPath, "wx");
      const writer = durableWriter(handle);
      try {
        await pipeline(source, hasher, writer.stream);
        await handle.sync();
      } finally {
        await writer.idle();
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

/** How much of a file is written between two flushes to the disk. */
const FLUSH_EVERY_BYTES = 32 * 1024 * 1024;

/**
 * Writes a stream to `handle`, flushing each 32 MiB to the disk (fdatasync) while the
 * next is being received: the disk works during the upload instead of all of it after,
 * and an upload never holds more than about 64 MiB of unwritten data in the page cache.
 */
function durableWriter(handle: FileHandle): { stream: Writable; idle: () => Promise<void> } {
  let unflushed = 0;
  let flushing: Promise<void> = Promise.resolve();
  const stream = new Writable({
    highWaterMark: 1 << 20,
    async writev(chunks, callback) {
      try {
        const buffers = chunks.map((c) => c.chunk as Buffer);
        let offset = 0;
        const total = buffers.reduce((n, b) => n + b.length, 0);
        while (offset < total) {
          // writev may write less than asked: go on from where it stopped.
          const { bytesWritten } = await handle.writev(offset === 0 ? buffers : remaining(buffers, offset));
          offset += bytesWritten;
        }
        unflushed += total;
        if (unflushed >= FLUSH_EVERY_BYTES) {
          unflushed = 0;
          await flushing; // at most one flush in flight: the disk sets the pace
          flushing = handle.datasync();
          // Its failure is reported by the next write or by final(); never left unhandled.
          flushing.catch(() => undefined);
        }
        callback();
      } catch (e) {
        callback(e as Error);
      }
    },
    final(callback) {
      flushing.then(() => callback(), callback);
    },
  });
  // Settles once no flush is running, so the file can be closed (or removed) safely.
  return { stream, idle: () => flushing.catch(() => undefined) };
}

/** The buffers past the first `offset` bytes. */
function remaining(buffers: Buffer[], offset: number): Buffer[] {
  const out: Buffer[] = [];
  for (const b of buffers) {
    if (offset >= b.length) offset -= b.length;
    else {
      out.push(offset === 0 ? b : b.subarray(offset));
      offset = 0;
    }
  }
  return out;
}
