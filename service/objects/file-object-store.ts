import { createHash, randomBytes } from "node:crypto";
import { createReadStream } from "node:fs";
import { type FileHandle, link, mkdir, open, readdir, realpath, rm, stat, unlink } from "node:fs/promises";
import path from "node:path";
import { Writable, type Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { ObjectHolds, ObjectNotFoundError, type HeldObject, type ObjectStore } from "./object-store.ts";
import { makeDirectory } from "../make-directory.ts";

/**
 * Evidence files in a directory, content-addressed: `objects/ab/abcdef…` by SHA-256. A
 * file is hashed while it streams to a temporary file (one pass, never whole in memory),
 * made durable (fsync of the file, then of the directory it is linked into), and linked
 * into place. Names given by users never touch the disk. The directory may be local or on
 * a shared file system (NFS, CephFS) that several replicas mount; files are 0600 and
 * directories 0700.
 */
export class FileObjectStore implements ObjectStore {
  readonly root: string;
  readonly #tmp: string;
  /** The objects/xx/ directories known to be synced into objects/. */
  readonly #durableDirectories = new Set<string>();
  readonly #holds = new ObjectHolds();
  /** Whether other replicas stage their uploads beside this one's (`tmp/<replica>/`). */
  readonly #shared: boolean;

  private constructor(root: string, tmp: string, shared: boolean) {
    this.root = root;
    this.#tmp = tmp;
    this.#shared = shared;
  }

  /**
   * `objects/` and `tmp/` under `dir` (the data directory, or OBJECTS_DIR on shared
   * storage). Replicas sharing the directory each name themselves (`replica`): each stages
   * its uploads in `tmp/<replica>/`, on the same file system as `objects/` (a link cannot
   * cross file systems), so one replica's clean-up never removes another's upload in flight.
   */
  static async open(dir: string, options: { replica?: string } = {}): Promise<FileObjectStore> {
    const tmp = options.replica === undefined ? path.join(dir, "tmp") : path.join(dir, "tmp", options.replica);
    const store = new FileObjectStore(path.join(dir, "objects"), tmp, options.replica !== undefined);
    makeDirectory(store.root);
    makeDirectory(store.#tmp);
    return store;
  }

  /**
   * Removes this store's temporary files; in a shared directory also those other replicas
   * left more than a day ago (a replica that never came back), never younger ones: a
   * request lasts an hour at most.
   */
  async cleanTemporaryFiles(): Promise<number> {
    // Files only: a folder here is another replica's staging area, from a time this data
    // directory was shared (tmp/<replica>/), and not this store's to remove.
    const names = (await readdir(this.#tmp, { withFileTypes: true }))
      .filter((e) => !e.isDirectory())
      .map((e) => e.name);
    await Promise.all(names.map((name) => rm(path.join(this.#tmp, name), { force: true })));
    let removed = names.length;
    if (this.#shared) {
      const parent = path.dirname(this.#tmp);
      const cutoff = Date.now() - STALE_TEMPORARY_MS;
      for (const replica of await readdir(parent)) {
        const dir = path.join(parent, replica);
        if (dir === this.#tmp) continue;
        for (const name of await readdir(dir).catch(() => [])) {
          const file = path.join(dir, name);
          const info = await stat(file).catch(() => undefined);
          if (info && info.mtimeMs < cutoff) {
            await rm(file, { force: true });
            removed++;
          }
        }
      }
    }
    return removed;
  }

  /** Temporary files now (uploads under way, or left by a crash). */
  async temporaryFiles(): Promise<string[]> {
    return readdir(this.#tmp);
  }

  get where(): string {
    return this.root;
  }

  async isSameAs(other: ObjectStore): Promise<boolean> {
    if (!(other instanceof FileObjectStore)) return false;
    const [mine, theirs] = await Promise.all([realpath(this.root), realpath(other.root)]);
    return mine === theirs;
  }

  pathOf(contentHash: string): string {
    return path.join(this.root, contentHash.slice(0, 2), contentHash);
  }

  /**
   * Streams `source` to disk while hashing it. On any failure — the client gone, a limit,
   * a full disk — the temporary file is removed and the error passed on.
   */
  async put(source: Readable): Promise<HeldObject> {
    const tmpPath = path.join(this.#tmp, `${Date.now()}-${randomBytes(8).toString("hex")}`);
    const hash = createHash("sha256");
    try {
      const handle = await open(tmpPath, "wx", 0o600);
      // The writer hashes what it writes: one stream stage fewer for every chunk of a file.
      const writer = durableWriter(handle, (chunk) => hash.update(chunk));
      try {
        await pipeline(source, writer.stream);
        await handle.sync();
      } finally {
        await writer.idle();
        await handle.close();
      }
      const size = writer.written();
      const contentHash = hash.digest("hex");
      const release = await this.#holds.keep(contentHash, async () => {
        const finalPath = this.pathOf(contentHash);
        const dir = path.dirname(finalPath);
        // A new objects/xx/ is itself an entry of objects/: synced there too, or a power cut
        // could lose the directory with the file in it. Whoever made it, since another upload
        // may have made it a moment ago and not synced it yet: once per directory and process.
        if (!this.#durableDirectories.has(dir)) {
          await mkdir(dir, { recursive: true, mode: 0o700 });
          await syncDirectory(path.dirname(dir));
          this.#durableDirectories.add(dir);
        }
        try {
          await link(tmpPath, finalPath);
        } catch (e) {
          // The same content is already stored: keep the first copy. Its entry is synced
          // below all the same, since the upload that made it may not have got that far.
          if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
        }
        await syncDirectory(dir);
        await unlink(tmpPath);
      });
      return { contentHash, size, release };
    } catch (e) {
      await unlink(tmpPath).catch(() => undefined);
      throw e;
    }
  }

  async get(contentHash: string): Promise<Readable> {
    const file = this.pathOf(contentHash);
    if (!(await this.has(contentHash))) throw new ObjectNotFoundError(`no object ${contentHash}`);
    return createReadStream(file, { highWaterMark: 1 << 20 });
  }

  async has(contentHash: string): Promise<boolean> {
    return stat(this.pathOf(contentHash)).then(
      () => true,
      () => false,
    );
  }

  async removeIfUnreferenced(
    contentHash: string,
    isReferenced: (contentHash: string) => Promise<boolean>,
  ): Promise<boolean> {
    return this.#holds.removeUnlessHeld(contentHash, async () => {
      if (await isReferenced(contentHash)) return false;
      await rm(this.pathOf(contentHash), { force: true });
      return true;
    });
  }
}

/** fsync of a directory, so a new entry in it survives a power cut. */
async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Another replica's temporary file this old is a leftover: uploads time out after an hour. */
const STALE_TEMPORARY_MS = 24 * 3600 * 1000;

/** How much of a file is written between two flushes to the disk. */
const FLUSH_EVERY_BYTES = 32 * 1024 * 1024;

/**
 * Writes a stream to `handle`, flushing each 32 MiB to the disk (fdatasync) while the
 * next is being received: the disk works during the upload instead of all of it after,
 * and an upload never holds more than about 64 MiB of unwritten data in the page cache.
 */
function durableWriter(
  handle: FileHandle,
  onChunk: (chunk: Buffer) => void,
): { stream: Writable; idle: () => Promise<void>; written: () => number } {
  let unflushed = 0;
  let written = 0;
  let flushing: Promise<void> = Promise.resolve();
  const stream = new Writable({
    highWaterMark: 1 << 20,
    async writev(chunks, callback) {
      try {
        const buffers = chunks.map((c) => c.chunk as Buffer);
        for (const b of buffers) onChunk(b);
        let offset = 0;
        const total = buffers.reduce((n, b) => n + b.length, 0);
        written += total;
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
  return { stream, idle: () => flushing.catch(() => undefined), written: () => written };
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
