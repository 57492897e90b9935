import { mkdirSync } from "node:fs";
import path from "node:path";
import { DatabaseSync, type SQLInputValue } from "node:sqlite";
import { recordLeaf, toHex32, type Certificate, type EvidenceRecord, type Hex32 } from "../core/index.ts";
import { MIGRATIONS } from "./migrations.ts";

export type EvidenceStatus = "pending" | "anchoring" | "anchored";

export interface EvidenceRow {
  id: string;
  accountId: string;
  record: EvidenceRecord;
  status: EvidenceStatus;
  certificate: Certificate | null;
}

export interface NewEvidence {
  record: EvidenceRecord;
  canonicalRecord: string;
  leafHash: Hex32;
  fileStored: boolean;
}

/** A record ready to insert: its canonical bytes and leaf hash computed once. */
export function newEvidence(record: EvidenceRecord, fileStored: boolean): NewEvidence {
  const { canonical, leafHash } = recordLeaf(record);
  return { record, canonicalRecord: canonical, leafHash: toHex32(leafHash), fileStored };
}

export interface SealedBatch {
  id: number;
  root: Hex32;
  treeSize: number;
  sealedAt: string;
  txHash: Hex32 | null;
  txSentAt: string | null;
  sendCount: number;
}

export interface BatchAnchor {
  txHash: Hex32;
  blockNumber: number;
  blockHash: Hex32;
  timestamp: number;
}

export interface Account {
  id: string;
  name: string;
  keyHash: string;
  createdAt: string;
}

/**
 * The service's durable state in SQLite (node:sqlite), WAL with synchronous=FULL: a
 * committed write survives a crash of the process or of the machine, so a 201 is only
 * sent after the commit that makes it true.
 */
export class EvidenceStore {
  readonly db: DatabaseSync;
  /** Requests whose items wait for the next group commit. */
  readonly #intake: PendingIntake[] = [];

  constructor(file: string) {
    mkdirSync(path.dirname(file), { recursive: true });
    this.db = new DatabaseSync(file);
    this.db.exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;");
    this.db.exec("PRAGMA busy_timeout = 5000;");
    this.#migrate();
  }

  /** Commits what intake has queued, then closes the database. */
  close(): void {
    this.#commitIntake();
    if (this.db.isOpen) this.db.close();
  }

  /** Runs `fn` in one IMMEDIATE transaction: all of it is committed, or none. */
  transaction<T>(fn: () => T): T {
    this.db.exec("BEGIN IMMEDIATE");
    try {
      const result = fn();
      this.db.exec("COMMIT");
      return result;
    } catch (e) {
      if (this.db.isTransaction) this.db.exec("ROLLBACK");
      throw e;
    }
  }

  // --- meta ---

  getMeta(key: string): string | undefined {
    const row = this.db.prepare("SELECT value FROM meta WHERE key = ?").get(key) as { value: string } | undefined;
    return row?.value;
  }

  setMeta(key: string, value: string): void {
    this.db
      .prepare("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value")
      .run(key, value);
  }

  // --- accounts ---

  insertAccount(account: Account): void {
    this.db
      .prepare("INSERT INTO accounts (id, name, key_hash, created_at) VALUES (?, ?, ?, ?)")
      .run(account.id, account.name, account.keyHash, account.createdAt);
  }

  accountByKeyHash(keyHash: string): Account | undefined {
    const row = this.db.prepare("SELECT * FROM accounts WHERE key_hash = ?").get(keyHash) as
      { id: string; name: string; key_hash: string; created_at: string } | undefined;
    return row && { id: row.id, name: row.name, keyHash: row.key_hash, createdAt: row.created_at };
  }

  countAccounts(): number {
    return (this.db.prepare("SELECT count(*) AS n FROM accounts").get() as { n: number }).n;
  }

  // --- intake ---

  /** Inserts the items of one request in one transaction. */
  insertEvidence(accountId: string, items: readonly NewEvidence[]): void {
    this.transaction(() => this.#insertEvidence(accountId, items));
  }

  /**
   * Commits one request's items durably, in a group commit: the requests whose items are
   * ready in the same turn of the event loop share one transaction, so one fsync makes
   * them all durable. Resolves once this request's items are committed; a request is
   * never answered before that.
   */
  commitEvidence(accountId: string, items: readonly NewEvidence[]): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.#intake.push({ accountId, items, resolve, reject }) === 1) setImmediate(() => this.#commitIntake());
    });
  }

  #commitIntake(): void {
    const group = this.#intake.splice(0);
    if (group.length === 0) return;
    if (!this.db.isOpen) {
      for (const request of group) request.reject(new Error("the evidence store is closed"));
      return;
    }
    try {
      this.transaction(() => {
        for (const request of group) this.#insertEvidence(request.accountId, request.items);
      });
      for (const request of group) request.resolve();
    } catch (e) {
      if (group.length === 1) return group[0]!.reject(e);
      // The group failed as a whole: commit each request alone, so each gets its own outcome.
      for (const request of group) {
        try {
          this.insertEvidence(request.accountId, request.items);
          request.resolve();
        } catch (err) {
          request.reject(err);
        }
      }
    }
  }

  #insertEvidence(accountId: string, items: readonly NewEvidence[]): void {
    const insert = this.db.prepare(
      "INSERT INTO evidence (id, account_id, record, content_hash, leaf_hash, file_stored, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
    );
    for (const item of items) {
      insert.run(
        item.record.id,
        accountId,
        item.canonicalRecord,
        item.record.contentHash,
        item.leafHash,
        item.fileStored ? 1 : 0,
        item.record.submittedAt,
      );
    }
  }

  evidence(id: string): EvidenceRow | undefined {
    const row = this.db
      .prepare(
        `SELECT e.id, e.account_id, e.record, e.batch_id, c.certificate
         FROM evidence e LEFT JOIN certificates c ON c.evidence_id = e.id WHERE e.id = ?`,
      )
      .get(id) as RawEvidence | undefined;
    return row && toEvidenceRow(row);
  }

  /** The account's evidence, newest first, without the certificates (a list does not show them). */
  evidenceOfAccount(
    accountId: string,
    limit: number,
    beforeSeq?: number,
  ): (Omit<EvidenceRow, "certificate"> & { seq: number })[] {
    const rows = this.db
      .prepare(
        `SELECT e.seq, e.id, e.account_id, e.record, e.batch_id, c.evidence_id IS NOT NULL AS certified
         FROM evidence e LEFT JOIN certificates c ON c.evidence_id = e.id
         WHERE e.account_id = ? AND e.seq < ? ORDER BY e.seq DESC LIMIT ?`,
      )
      .all(accountId, beforeSeq ?? Number.MAX_SAFE_INTEGER, limit) as unknown as (Omit<RawEvidence, "certificate"> & {
      seq: number;
      certified: number;
    })[];
    return rows.map((row) => ({
      seq: row.seq,
      id: row.id,
      accountId: row.account_id,
      record: JSON.parse(row.record) as EvidenceRecord,
      status: statusOf(row.batch_id, row.certified === 1),
    }));
  }

  // --- batching ---

  /** When the oldest item not yet in a batch arrived, and how many such items there are. */
  pendingSummary(): { count: number; oldest: string | null } {
    return this.db
      .prepare("SELECT count(*) AS count, min(created_at) AS oldest FROM evidence WHERE batch_id IS NULL")
      .get() as { count: number; oldest: string | null };
  }

  /** The oldest items not in a batch: their ids and leaf hashes, in intake order. */
  pendingLeaves(limit: number): { seq: number; leafHash: Hex32 }[] {
    return (
      this.db.prepare("SELECT seq, leaf_hash FROM evidence WHERE batch_id IS NULL ORDER BY seq LIMIT ?").all(limit) as {
        seq: number;
        leaf_hash: Hex32;
      }[]
    ).map((r) => ({ seq: r.seq, leafHash: r.leaf_hash }));
  }

  /**
   * Seals a batch: the root is persisted, and each item gets its place in the tree, in
   * one transaction — before any transaction for it is sent.
   */
  sealBatch(root: Hex32, seqs: readonly number[], sealedAt: string): number {
    return this.transaction(() => {
      const { lastInsertRowid } = this.db
        .prepare("INSERT INTO batches (root, tree_size, sealed_at, status) VALUES (?, ?, ?, 'sealed')")
        .run(root, seqs.length, sealedAt);
      const batchId = Number(lastInsertRowid);
      const assign = this.db.prepare(
        "UPDATE evidence SET batch_id = ?, leaf_index = ? WHERE seq = ? AND batch_id IS NULL",
      );
      seqs.forEach((seq, index) => {
        const { changes } = assign.run(batchId, index, seq);
        if (changes !== 1) throw new Error(`evidence ${seq} is already in a batch`);
      });
      return batchId;
    });
  }

  /** Batches sealed but not yet anchored, oldest first. */
  unanchoredBatches(): SealedBatch[] {
    return (
      this.db.prepare("SELECT * FROM batches WHERE status = 'sealed' ORDER BY id").all() as unknown as RawBatch[]
    ).map((b) => ({
      id: b.id,
      root: b.root,
      treeSize: b.tree_size,
      sealedAt: b.sealed_at,
      txHash: b.tx_hash,
      txSentAt: b.tx_sent_at,
      sendCount: b.send_count,
    }));
  }

  /** Records a transaction sent for a batch, before waiting for it. */
  recordSent(batchId: number, txHash: Hex32, sentAt: string): void {
    this.db
      .prepare("UPDATE batches SET tx_hash = ?, tx_sent_at = ?, send_count = send_count + 1 WHERE id = ?")
      .run(txHash, sentAt, batchId);
  }

  batchLeaves(batchId: number): { id: string; leafHash: Hex32; record: string }[] {
    return (
      this.db
        .prepare("SELECT id, leaf_hash, record FROM evidence WHERE batch_id = ? ORDER BY leaf_index")
        .all(batchId) as { id: string; leaf_hash: Hex32; record: string }[]
    ).map((r) => ({ id: r.id, leafHash: r.leaf_hash, record: r.record }));
  }

  /**
   * Marks a batch anchored and stores its items' certificates, in one transaction.
   * A certificate once issued is never replaced.
   */
  completeBatch(batchId: number, anchor: BatchAnchor, certificates: readonly Certificate[], now: string): void {
    this.transaction(() => {
      this.db
        .prepare(
          `UPDATE batches SET status = 'anchored', anchor_tx = ?, block_number = ?, block_hash = ?, timestamp = ?, anchored_at = ?
           WHERE id = ? AND status = 'sealed'`,
        )
        .run(anchor.txHash, anchor.blockNumber, anchor.blockHash, anchor.timestamp, now, batchId);
      const insert = this.db.prepare(
        "INSERT INTO certificates (evidence_id, certificate, issued_at) VALUES (?, ?, ?) ON CONFLICT(evidence_id) DO NOTHING",
      );
      for (const c of certificates) insert.run(c.record.id, JSON.stringify(c), c.issuedAt);
    });
  }

  counts(): Record<EvidenceStatus, number> {
    const row = this.db
      .prepare(
        `SELECT
           sum(CASE WHEN e.batch_id IS NULL THEN 1 ELSE 0 END) AS pending,
           sum(CASE WHEN e.batch_id IS NOT NULL AND b.status = 'sealed' THEN 1 ELSE 0 END) AS anchoring,
           sum(CASE WHEN b.status = 'anchored' THEN 1 ELSE 0 END) AS anchored
         FROM evidence e LEFT JOIN batches b ON b.id = e.batch_id`,
      )
      .get() as Record<EvidenceStatus, number | null>;
    return { pending: row.pending ?? 0, anchoring: row.anchoring ?? 0, anchored: row.anchored ?? 0 };
  }

  /** Raw query access for tests and tools. */
  all(sql: string, ...params: SQLInputValue[]): unknown[] {
    return this.db.prepare(sql).all(...params);
  }

  #migrate(): void {
    const { user_version: version } = this.db.prepare("PRAGMA user_version").get() as { user_version: number };
    if (version > MIGRATIONS.length) {
      throw new Error(`the database has schema version ${version}, newer than this service (${MIGRATIONS.length})`);
    }
    MIGRATIONS.slice(version).forEach((sql, i) => {
      this.transaction(() => {
        this.db.exec(sql);
        this.db.exec(`PRAGMA user_version = ${version + i + 1}`);
      });
    });
  }
}

interface PendingIntake {
  accountId: string;
  items: readonly NewEvidence[];
  resolve: () => void;
  reject: (e: unknown) => void;
}

interface RawEvidence {
  id: string;
  account_id: string;
  record: string;
  batch_id: number | null;
  certificate: string | null;
}

interface RawBatch {
  id: number;
  root: Hex32;
  tree_size: number;
  sealed_at: string;
  tx_hash: Hex32 | null;
  tx_sent_at: string | null;
  send_count: number;
}

function toEvidenceRow(row: RawEvidence): EvidenceRow {
  const certificate = row.certificate === null ? null : (JSON.parse(row.certificate) as Certificate);
  return {
    id: row.id,
    accountId: row.account_id,
    record: JSON.parse(row.record) as EvidenceRecord,
    status: statusOf(row.batch_id, certificate !== null),
    certificate,
  };
}

/** Anchored once certified; anchoring once in a batch; pending before. */
function statusOf(batchId: number | null, certified: boolean): EvidenceStatus {
  return certified ? "anchored" : batchId === null ? "pending" : "anchoring";
}
