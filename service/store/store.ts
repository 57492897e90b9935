import type {
  AnchorJson,
  Certificate,
  CertificateHistoryEntry,
  EvidenceRecord,
  EvidenceStatus,
  Hex32,
  IssueReason,
  TimestampToken,
} from "../core/index.ts";
import type { BatchCertificates } from "./batch-certificates.ts";

/** The items waiting for a batch: how many, and the `created_at` of the oldest and the newest (null when none). */
export interface PendingSummary {
  count: number;
  oldest: string | null;
  newest: string | null;
}

/**
 * The store contract: everything the service keeps durably. Two engines fill it — SQLite
 * for one machine (sqlite-store.ts), PostgreSQL for several replicas (postgres-store.ts) —
 * with one set of migrations (migrations.ts), and both enforce the invariants in the
 * database itself: an item is in at most one batch, a root is anchored by one batch, an
 * issued certificate is never changed or deleted.
 *
 * Every method resolves only once what it wrote is durable (committed).
 */
export interface EvidenceStore {
  readonly engine: "sqlite" | "postgres";

  // --- meta: small facts of the deployment (contract address, chain id) ---
  getMeta(key: string): Promise<string | undefined>;
  setMeta(key: string, value: string): Promise<void>;

  // --- accounts ---
  insertAccount(account: Account): Promise<void>;
  accountByKeyHash(keyHash: string): Promise<Account | undefined>;
  accountById(id: string): Promise<Account | undefined>;
  listAccounts(): Promise<Account[]>;
  countAccounts(): Promise<number>;

  // --- intake ---
  /** Inserts items in one transaction: all of them, or none. */
  insertEvidence(items: readonly NewEvidence[]): Promise<void>;
  evidence(id: string): Promise<EvidenceRow | undefined>;
  /** The account's evidence, newest first, from before `beforeSeq`. */
  evidenceOfAccount(accountId: string, limit: number, beforeSeq?: number): Promise<EvidenceListRow[]>;
  /** Whether any evidence row, or any recorded capture's list of files, refers to the stored file with this content hash. */
  isObjectReferenced(contentHash: string): Promise<boolean>;

  // --- captures (web pages recorded by the service) ---
  insertCapture(capture: NewCapture): Promise<void>;
  capture(id: string): Promise<CaptureRow | undefined>;
  /** Captures not finished: queued or interrupted by a stop. */
  unfinishedCaptures(): Promise<CaptureRow[]>;
  /**
   * The account's captures that are not (yet) evidence — queued, capturing or failed — newest
   * first. A recorded capture is in {@link evidenceOfAccount}.
   */
  capturesOfAccount(accountId: string, limit: number): Promise<CaptureRow[]>;
  updateCapture(
    id: string,
    change: { status: CaptureRow["status"]; error?: { code: string; message: string } | null; attempts?: number },
  ): Promise<void>;
  /**
   * Records the capture's evidence, the files its manifest lists (by content hash) and marks
   * it recorded, in one transaction.
   */
  completeCapture(id: string, item: NewEvidence, files: readonly string[]): Promise<void>;
  /** Recorded captures whose files are not listed yet (recorded by an earlier version). */
  capturesWithoutFiles(limit: number): Promise<{ id: string; contentHash: string }[]>;
  /** Lists files of a recorded capture (those already listed are left as they are). */
  addCaptureFiles(evidenceId: string, files: readonly string[]): Promise<void>;
  /**
   * Removes the account's failed capture from its list ("dismissed"); any other capture is
   * left as it is and its status returned; undefined when the account has no such capture.
   */
  dismissCapture(accountId: string, id: string): Promise<"dismissed" | CaptureRow["status"] | undefined>;

  // --- batching and anchoring ---
  /** How many items wait for a batch, and when the oldest and the newest of them arrived. */
  pendingSummary(): Promise<PendingSummary>;
  /** The oldest items not in a batch, in intake order. */
  pendingLeaves(limit: number): Promise<{ seq: number; leafHash: Hex32 }[]>;
  /**
   * Seals a batch: its root is persisted and each item gets its place in the tree, in one
   * transaction, before any transaction for it is sent. Throws if an item is already in one.
   */
  sealBatch(root: Hex32, seqs: readonly number[], sealedAt: string): Promise<number>;
  /** Batches sealed and not anchored (or whose anchor the chain lost), oldest first. */
  unanchoredBatches(): Promise<SealedBatch[]>;
  recordSent(batchId: number, txHash: Hex32, sentAt: string): Promise<void>;
  batchLeaves(batchId: number): Promise<{ id: string; leafHash: Hex32; record: EvidenceRecord }[]>;
  /** The batch's leaf hashes alone, in tree order: enough to rebuild and check its tree. */
  batchLeafHashes(batchId: number): Promise<Hex32[]>;
  /** Adds time-stamp tokens on the batch's root (kept for the certificates issued after). */
  addBatchTimestamps(batchId: number, tokens: readonly TimestampToken[]): Promise<void>;
  /**
   * Marks a batch anchored at `anchor` and stores its items' certificates, in one
   * transaction: version 1 certificates one by one, or a version 2 batch's signed statement
   * once (batch-certificates.ts). Certificates are added to each item's history, never
   * replacing one.
   */
  completeBatch(
    batchId: number,
    anchor: BatchAnchor,
    certificates: BatchCertificates,
    now: string,
    reason: IssueReason,
  ): Promise<void>;
  /** Adds certificates to the history of an anchored batch's items (a time-stamp upgrade). */
  addCertificates(batchId: number, certificates: BatchCertificates, reason: IssueReason): Promise<void>;
  /** Batches recorded as anchored, for reconciliation with the chain. */
  anchoredBatches(): Promise<AnchoredBatch[]>;
  /** Anchored batches that have fewer time-stamp tokens than `wanted`, oldest first. */
  batchesToTimestamp(wanted: number, limit: number): Promise<AnchoredBatch[]>;
  /**
   * The chain no longer holds this batch's anchor (a rollback): it goes back to be
   * anchored again. Its certificates stay in the history; the items show `anchoring`.
   */
  reopenBatch(batchId: number, lostAt: string): Promise<void>;

  // --- certificates ---
  /** Every certificate issued for the evidence, oldest first. */
  certificateHistory(evidenceId: string): Promise<{ entry: CertificateHistoryEntry; certificate: Certificate }[]>;
  counts(): Promise<Record<"pending" | "anchoring" | "anchored", number>>;

  // --- time-stamped checkpoints of the chain ---
  insertCheckpoint(checkpoint: Checkpoint): Promise<void>;
  checkpoints(limit: number): Promise<Checkpoint[]>;

  // --- the anchoring lease: one anchorer at a time across replicas ---
  /**
   * Takes or renews the lease named `name` for `holder` until `ttlMs` from now, if it is
   * free, expired or already held by `holder`. Returns the fencing token (it grows with
   * every new holder), or null when another holder has it.
   */
  acquireLease(name: string, holder: string, ttlMs: number): Promise<number | null>;
  releaseLease(name: string, holder: string): Promise<void>;

  close(): Promise<void>;
}

export interface Account {
  id: string;
  name: string;
  keyHash: string;
  createdAt: string;
}

export interface NewEvidence {
  record: EvidenceRecord;
  accountId: string;
  /** JCS of the record: exactly the committed bytes. */
  canonicalRecord: string;
  leafHash: Hex32;
  /** The file itself is kept in the object store under its content hash. */
  fileStored: boolean;
}

export interface EvidenceRow {
  id: string;
  accountId: string;
  record: EvidenceRecord;
  status: EvidenceStatus;
  /** The certificate in force, when anchored. */
  certificate: Certificate | null;
  /** When the batch's anchor was lost and it is being anchored again. */
  reanchoring: boolean;
  fileStored: boolean;
}

export type EvidenceListRow = Omit<EvidenceRow, "certificate" | "reanchoring" | "fileStored"> & { seq: number };

export interface SealedBatch {
  id: number;
  root: Hex32;
  treeSize: number;
  sealedAt: string;
  txHash: Hex32 | null;
  txSentAt: string | null;
  sendCount: number;
  timestamps: TimestampToken[];
  /** When reconciliation found the chain without this batch's anchor; it is being anchored again. */
  lostAt: string | null;
}

/** Where a batch was anchored: a certificate's anchor without the chain and contract, which the service knows. */
export type BatchAnchor = Pick<AnchorJson, "blockNumber" | "timestamp"> & { txHash: Hex32; blockHash: Hex32 };

export interface AnchoredBatch {
  id: number;
  root: Hex32;
  treeSize: number;
  anchor: BatchAnchor;
  timestamps: TimestampToken[];
}

export interface NewCapture {
  id: string;
  accountId: string;
  url: string;
  /** The capture request as accepted (JSON). */
  request: string;
  requestedAt: string;
}

export interface CaptureRow extends NewCapture {
  status: "queued" | "capturing" | "recorded" | "failed";
  error: { code: string; message: string } | null;
  attempts: number;
}

export interface Checkpoint {
  blockNumber: number;
  blockHash: Hex32;
  chainId: number;
  takenAt: string;
  timestamps: TimestampToken[];
}
