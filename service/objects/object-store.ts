import type { Readable } from "node:stream";

/** A file in the object store: content-addressed by its SHA-256. */
export interface StoredObject {
  contentHash: string;
  size: number;
}

/**
 * An object just stored, held until the upload's evidence is committed (or has failed):
 * while held, it cannot be removed as unreferenced.
 */
export interface HeldObject extends StoredObject {
  release(): void;
}

/**
 * Where evidence files are kept, content-addressed by SHA-256. Implementations: a
 * directory (file-object-store.ts; local disk or a shared file system such as NFS or
 * CephFS) and S3-compatible storage (s3-object-store.ts).
 *
 * `put` resolves only once the object is durable, so intake may acknowledge it. Objects
 * may be shared by several evidence items. While a `put` of some content is under way,
 * that content is held: `removeIfUnreferenced` never removes an object another upload is
 * about to refer to.
 */
export interface ObjectStore {
  /** Streams `source` into the store while hashing it; never holds the whole file in memory. */
  put(source: Readable): Promise<HeldObject>;
  /** The object's bytes; throws NOT_FOUND when there is none. */
  get(contentHash: string): Promise<Readable>;
  has(contentHash: string): Promise<boolean>;
  /**
   * Removes the object unless `isReferenced` says an evidence row refers to it, or an
   * upload of the same content is under way. Returns whether it was removed.
   */
  removeIfUnreferenced(contentHash: string, isReferenced: (contentHash: string) => Promise<boolean>): Promise<boolean>;
  /** Removes what an interrupted upload left behind; returns how many. */
  cleanTemporaryFiles(): Promise<number>;
  /** Where the objects are kept, as an operator names it: a directory, or `s3://bucket/prefix`. */
  readonly where: string;
  /**
   * Whether `other` keeps its objects in the same place: the same directory (symbolic
   * links resolved), or the same bucket and prefix of the same service. Writing to one
   * then writes to the other, and removing from one removes from both.
   */
  isSameAs(other: ObjectStore): Promise<boolean>;
}

export class ObjectNotFoundError extends Error {
  override name = "ObjectNotFoundError";
  readonly code = "NOT_FOUND";
}

/**
 * Counts the uploads under way per content hash, and the removals in progress: an upload
 * waits for a removal of its content to finish before it links its copy, and a removal
 * does not start while an upload of that content is under way.
 */
export class ObjectHolds {
  readonly #uploads = new Map<string, number>();
  readonly #removals = new Map<string, Promise<unknown>>();

  hold(contentHash: string): () => void {
    this.#uploads.set(contentHash, (this.#uploads.get(contentHash) ?? 0) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const n = (this.#uploads.get(contentHash) ?? 1) - 1;
      if (n === 0) this.#uploads.delete(contentHash);
      else this.#uploads.set(contentHash, n);
    };
  }

  isHeld(contentHash: string): boolean {
    return this.#uploads.has(contentHash);
  }

  /**
   * Holds the content, waits for a removal of it to finish, then runs `keep` (which makes
   * the object durable in the store). Returns the release of the hold; on a failure the
   * hold is released and the error passed on.
   */
  async keep(contentHash: string, keep: () => Promise<void>): Promise<() => void> {
    const release = this.hold(contentHash);
    try {
      await this.settled(contentHash);
      await keep();
      return release;
    } catch (e) {
      release();
      throw e;
    }
  }

  /** Waits for a removal of this content, if one is running. */
  async settled(contentHash: string): Promise<void> {
    await this.#removals.get(contentHash)?.catch(() => undefined);
  }

  /**
   * Runs `remove` (which checks the database and removes, returning whether it did) unless
   * the content is held. From the moment it starts, uploads of the same content wait for
   * it in {@link settled} before they link their copy: so a row committed by such an upload
   * always finds its object.
   */
  async removeUnlessHeld(contentHash: string, remove: () => Promise<boolean>): Promise<boolean> {
    if (this.isHeld(contentHash) || this.#removals.has(contentHash)) return false;
    const running = remove();
    this.#removals.set(contentHash, running);
    try {
      return await running;
    } finally {
      this.#removals.delete(contentHash);
    }
  }
}
