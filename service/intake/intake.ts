import {
  buildRecord,
  recordLeaf,
  toHex32,
  type DigestItem,
  type EvidenceRecord,
  type IntakeItem,
  type RecordDetails,
  type SubmissionDetails,
} from "../core/index.ts";
import type { HeldObject, ObjectStore } from "../objects/object-store.ts";
import type { Account, EvidenceStore, NewEvidence } from "../store/store.ts";
import { GroupCommit } from "./group-commit.ts";

/** A file of an upload, stored and held (see ObjectStore) until its evidence is committed. */
export interface UploadedFile extends HeldObject {
  fileName?: string;
  mediaType?: string;
}

export interface IntakeOptions {
  store: EvidenceStore;
  objects: ObjectStore;
  /** Called once new evidence is committed: wakes the anchorer. */
  onCommitted: () => void;
}

/**
 * Where evidence is acknowledged. Every way in — uploads, digests, web captures — builds
 * records, commits them durably (a group commit shared with the requests of the same
 * moment), wakes the anchorer, and only then hands back the items the `201` lists. The
 * HTTP routes only translate; nothing is acknowledged anywhere else.
 */
export class Intake {
  readonly #store: EvidenceStore;
  readonly #objects: ObjectStore;
  readonly #commits: GroupCommit;
  readonly #onCommitted: () => void;

  constructor(options: IntakeOptions) {
    this.#store = options.store;
    this.#objects = options.objects;
    this.#commits = new GroupCommit(options.store);
    this.#onCommitted = options.onCommitted;
  }

  /** Files already stored in the object store: one record each, committed together. */
  async acceptUploads(
    account: Account,
    files: readonly UploadedFile[],
    details: SubmissionDetails,
  ): Promise<IntakeItem[]> {
    try {
      const submittedAt = new Date();
      const items = files.map((file) =>
        newEvidence(
          buildRecord({
            ...details,
            ...(file.fileName !== undefined ? { fileName: file.fileName } : {}),
            ...(file.mediaType !== undefined ? { mediaType: file.mediaType } : {}),
            contentHash: file.contentHash,
            size: file.size,
            submitter: account.id,
            submittedAt,
          }),
          account,
          true,
        ),
      );
      await this.#commit(items);
      return items.map((i) => intakeItem(i.record));
    } catch (e) {
      await this.discard(files);
      throw e;
    } finally {
      for (const file of files) file.release();
    }
  }

  /** Content hashes whose files never leave the client. */
  async acceptDigests(account: Account, digests: readonly DigestItem[]): Promise<IntakeItem[]> {
    const submittedAt = new Date();
    const items = digests.map(({ contentHash, ...details }) =>
      newEvidence(
        buildRecord({
          ...(details as RecordDetails),
          contentHash: contentHash.toLowerCase(),
          submitter: account.id,
          submittedAt,
        }),
        account,
        false,
      ),
    );
    await this.#commit(items);
    return items.map((i) => intakeItem(i.record));
  }

  /** A web capture's manifest, once the page is recorded: its id was given when it was requested. */
  async acceptCapture(
    captureId: string,
    account: Account,
    record: Omit<Parameters<typeof buildRecord>[0], "submitter" | "id">,
    files: readonly string[],
  ): Promise<EvidenceRecord> {
    const item = newEvidence(buildRecord({ ...record, id: captureId, submitter: account.id }), account, true);
    await this.#store.completeCapture(captureId, item, files);
    this.#onCommitted();
    return item.record;
  }

  /**
   * Removes the files of a request that failed, unless another item refers to the same
   * content. Holds are released by the caller.
   */
  async discard(files: readonly UploadedFile[]): Promise<void> {
    for (const file of files) file.release();
    await Promise.all(
      files.map((f) =>
        this.#objects
          .removeIfUnreferenced(f.contentHash, (hash) => this.#store.isObjectReferenced(hash))
          .catch(() => false),
      ),
    );
  }

  /** Commits what is queued; later submissions are refused. */
  close(): Promise<void> {
    return this.#commits.close();
  }

  async #commit(items: NewEvidence[]): Promise<void> {
    await this.#commits.commit(items);
    this.#onCommitted();
  }
}

/** A record ready to insert: its canonical bytes and leaf hash computed once. */
export function newEvidence(record: EvidenceRecord, account: Pick<Account, "id">, fileStored: boolean): NewEvidence {
  const { canonical, leafHash } = recordLeaf(record);
  return { record, accountId: account.id, canonicalRecord: canonical, leafHash: toHex32(leafHash), fileStored };
}

function intakeItem(record: EvidenceRecord): IntakeItem {
  return {
    id: record.id,
    contentHash: record.contentHash,
    ...(record.size !== undefined ? { size: record.size } : {}),
    status: "pending",
    record,
  };
}
