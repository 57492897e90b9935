import { chmodSync } from "node:fs";
import path from "node:path";
import { DatabaseSync, type SQLInputValue } from "node:sqlite";
import type {
  Certificate,
  CertificateHistoryEntry,
  EvidenceRecord,
  EvidenceStatus,
  Hex32,
  IssueReason,
  TimestampToken,
} from "../core/index.ts";
import { MIGRATIONS } from "./migrations.ts";
import {
  toAccount,
  toAnchoredBatch,
  toBatchIssue,
  toItemIssue,
  toCapture,
  toEvidenceRow,
  toSealedBatch,
  type RawAccount,
  type RawBatch,
  type RawBatchIssue,
  type RawItemIssue,
  type RawCapture,
  type RawEvidence,
} from "./rows.ts";

import type {
  Account,
  AnchoredBatch,
  BatchAnchor,
  CaptureRow,
  Checkpoint,
  EvidenceListRow,
  EvidenceRow,
  EvidenceStore,
  NewCapture,
  NewEvidence,
  PendingSummary,
  SealedBatch,
} from "./store.ts";
import { STATUS_SQL } from "./status.ts";
import {
  blockOf,
  checkSignedBatch,
  historyOf,
  isSignedBatch,
  upperLevelsOf,
  type BatchCertificates,
  type SignedBatch,
  type StoredIssue,
} from "./batch-certificates.ts";
import { makeDirectory } from "../make-directory.ts";

/**
 * The store on one machine: SQLite (node:sqlite) in WAL mode with synchronous=FULL, so a
 * committed write survives a crash of the process or of the machine. The database file is
 * readable by its owner only.
 */
export class SqliteEvidenceStore implements EvidenceStore {
  readonly engine = "sqlite";
  readonly #db: DatabaseSync;

  private constructor(file: string) {
    this.#db = new DatabaseSync(file);
    this.#db.exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;");
    this.#db.exec("PRAGMA busy_timeout = 5000;");
    this.#migrate();
  }

  /** Opens (and creates, or migrates) `<dataDir>/evidence.db`. */
  static open(dataDir: string): SqliteEvidenceStore {
    makeDirectory(dataDir);
    const file = path.join(dataDir, "evidence.db");
    const store = new SqliteEvidenceStore(file);
    for (const f of [file, `${file}-wal`, `${file}-shm`]) {
      try {
        chmodSync(f, 0o600);
      } catch {
        // The WAL and shared-memory files exist only while the database is open for writing.
      }
    }
    return store;
  }

  async close(): Promise<void> {
    if (this.#db.isOpen) this.#db.close();
  }

  /** Runs `fn` in one IMMEDIATE transaction: all of it is committed, or none. */
  #transaction<T>(fn: () => T): T {
    this.#db.exec("BEGIN IMMEDIATE");
    try {
      const result = fn();
      this.#db.exec("COMMIT");
      return result;
    } catch (e) {
      if (this.#db.isTransaction) this.#db.exec("ROLLBACK");
      throw e;
    }
  }

  #get<T>(sql: string, ...params: SQLInputValue[]): T | undefined {
    return this.#db.prepare(sql).get(...params) as T | undefined;
  }

  #all<T>(sql: string, ...params: SQLInputValue[]): T[] {
    return this.#db.prepare(sql).all(...params) as T[];
  }

  /** The first column of every row, without an object per row. */
  #column<T>(sql: string, ...params: SQLInputValue[]): T[] {
    const statement = this.#db.prepare(sql);
    statement.setReturnArrays(true);
    return (statement.all(...params) as unknown as [T][]).map((r) => r[0]);
  }

  #run(sql: string, ...params: SQLInputValue[]): { changes: number | bigint; lastInsertRowid: number | bigint } {
    return this.#db.prepare(sql).run(...params);
  }

  // --- meta ---

  async getMeta(key: string): Promise<string | undefined> {
    return this.#get<{ value: string }>("SELECT value FROM meta WHERE key = ?", key)?.value;
  }

  async setMeta(key: string, value: string): Promise<void> {
    this.#run(
      "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
      key,
      value,
    );
  }

  // --- accounts ---

  async insertAccount(account: Account): Promise<void> {
    this.#run(
      "INSERT INTO accounts (id, name, key_hash, created_at) VALUES (?, ?, ?, ?)",
      account.id,
      account.name,
      account.keyHash,
      account.createdAt,
    );
  }

  async accountByKeyHash(keyHash: string): Promise<Account | undefined> {
    const row = this.#get<RawAccount>("SELECT * FROM accounts WHERE key_hash = ?", keyHash);
    return row && toAccount(row);
  }

  async accountById(id: string): Promise<Account | undefined> {
    const row = this.#get<RawAccount>("SELECT * FROM accounts WHERE id = ?", id);
    return row && toAccount(row);
  }

  async listAccounts(): Promise<Account[]> {
    return this.#all<RawAccount>("SELECT * FROM accounts ORDER BY created_at, id").map(toAccount);
  }

  async countAccounts(): Promise<number> {
    return this.#get<{ n: number }>("SELECT count(*) AS n FROM accounts")!.n;
  }

  // --- intake ---

  async insertEvidence(items: readonly NewEvidence[]): Promise<void> {
    this.#transaction(() => this.#insertEvidence(items));
  }

  #insertEvidence(items: readonly NewEvidence[]): void {
    const insert = this.#db.prepare(
      "INSERT INTO evidence (id, account_id, record, content_hash, leaf_hash, file_stored, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
    );
    for (const item of items) {
      insert.run(
        item.record.id,
        item.accountId,
        item.canonicalRecord,
        item.record.contentHash,
        item.leafHash,
        item.fileStored ? 1 : 0,
        item.record.submittedAt,
      );
    }
  }

  async evidence(id: string): Promise<EvidenceRow | undefined> {
    const row = this.#get<RawEvidence>(
      `SELECT e.id, e.account_id, e.record, e.file_stored, ${STATUS_SQL} AS status, b.lost_at
       FROM evidence e LEFT JOIN batches b ON b.id = e.batch_id WHERE e.id = ?`,
      id,
    );
    if (!row) return undefined;
    const certificate =
      row.status === "anchored" ? ((await this.certificateHistory(id)).at(-1)?.certificate ?? null) : null;
    return toEvidenceRow(row, certificate);
  }

  async evidenceOfAccount(accountId: string, limit: number, beforeSeq?: number): Promise<EvidenceListRow[]> {
    return this.#all<{ seq: number; id: string; account_id: string; record: string; status: EvidenceStatus }>(
      `SELECT e.seq, e.id, e.account_id, e.record, ${STATUS_SQL} AS status
       FROM evidence e LEFT JOIN batches b ON b.id = e.batch_id
       WHERE e.account_id = ? AND e.seq < ? ORDER BY e.seq DESC LIMIT ?`,
      accountId,
      beforeSeq ?? Number.MAX_SAFE_INTEGER,
      limit,
    ).map((row) => ({
      seq: row.seq,
      id: row.id,
      accountId: row.account_id,
      record: JSON.parse(row.record) as EvidenceRecord,
      status: row.status,
    }));
  }

  async isObjectReferenced(contentHash: string): Promise<boolean> {
    return (
      this.#get(
        `SELECT 1 AS yes FROM evidence WHERE content_hash = ?1 AND file_stored = 1
         UNION ALL SELECT 1 FROM capture_files WHERE content_hash = ?1 LIMIT 1`,
        contentHash,
      ) !== undefined
    );
  }

  // --- captures ---

  async insertCapture(capture: NewCapture): Promise<void> {
    this.#run(
      "INSERT INTO captures (id, account_id, url, request, requested_at, status) VALUES (?, ?, ?, ?, ?, 'queued')",
      capture.id,
      capture.accountId,
      capture.url,
      capture.request,
      capture.requestedAt,
    );
  }

  async capture(id: string): Promise<CaptureRow | undefined> {
    const row = this.#get<RawCapture>("SELECT * FROM captures WHERE id = ?", id);
    return row && toCapture(row);
  }

  async unfinishedCaptures(): Promise<CaptureRow[]> {
    return this.#all<RawCapture>(
      "SELECT * FROM captures WHERE status IN ('queued', 'capturing') ORDER BY requested_at",
    ).map(toCapture);
  }

  async capturesOfAccount(accountId: string, limit: number): Promise<CaptureRow[]> {
    return this.#all<RawCapture>(
      "SELECT * FROM captures WHERE account_id = ? AND status <> 'recorded' ORDER BY requested_at DESC, id DESC LIMIT ?",
      accountId,
      limit,
    ).map(toCapture);
  }

  async updateCapture(
    id: string,
    change: { status: CaptureRow["status"]; error?: { code: string; message: string } | null; attempts?: number },
  ): Promise<void> {
    this.#run(
      "UPDATE captures SET status = ?, error = coalesce(?, error), attempts = coalesce(?, attempts) WHERE id = ?",
      change.status,
      change.error ? JSON.stringify(change.error) : null,
      change.attempts ?? null,
      id,
    );
  }

  async completeCapture(id: string, item: NewEvidence, files: readonly string[]): Promise<void> {
    this.#transaction(() => {
      this.#insertEvidence([item]);
      this.#addCaptureFiles(item.record.id, files);
      this.#run("UPDATE captures SET status = 'recorded', error = NULL WHERE id = ?", id);
    });
  }

  async capturesWithoutFiles(limit: number): Promise<{ id: string; contentHash: string }[]> {
    return this.#all<{ id: string; contentHash: string }>(
      `SELECT e.id, e.content_hash AS contentHash FROM captures c JOIN evidence e ON e.id = c.id
        WHERE c.status = 'recorded' AND NOT EXISTS (SELECT 1 FROM capture_files f WHERE f.evidence_id = e.id)
        ORDER BY e.seq LIMIT ?`,
      limit,
    );
  }

  async addCaptureFiles(evidenceId: string, files: readonly string[]): Promise<void> {
    this.#transaction(() => this.#addCaptureFiles(evidenceId, files));
  }

  #addCaptureFiles(evidenceId: string, files: readonly string[]): void {
    const insert = this.#db.prepare("INSERT OR IGNORE INTO capture_files (evidence_id, content_hash) VALUES (?, ?)");
    for (const file of files) insert.run(evidenceId, file);
  }

  async dismissCapture(accountId: string, id: string): Promise<"dismissed" | CaptureRow["status"] | undefined> {
    // A failed capture never changes again: the delete either removes the failed row or finds a row in another state.
    const { changes } = this.#run(
      "DELETE FROM captures WHERE id = ? AND account_id = ? AND status = 'failed'",
      id,
      accountId,
    );
    if (Number(changes) === 1) return "dismissed";
    return this.#get<{ status: CaptureRow["status"] }>(
      "SELECT status FROM captures WHERE id = ? AND account_id = ?",
      id,
      accountId,
    )?.status;
  }

  // --- batching ---

  async pendingSummary(): Promise<PendingSummary> {
    return this.#get<PendingSummary>(
      "SELECT count(*) AS count, min(created_at) AS oldest, max(created_at) AS newest FROM evidence WHERE batch_id IS NULL",
    )!;
  }

  async pendingLeaves(limit: number): Promise<{ seq: number; leafHash: Hex32 }[]> {
    return this.#all<{ seq: number; leaf_hash: Hex32 }>(
      "SELECT seq, leaf_hash FROM evidence WHERE batch_id IS NULL ORDER BY seq LIMIT ?",
      limit,
    ).map((r) => ({ seq: r.seq, leafHash: r.leaf_hash }));
  }

  async sealBatch(root: Hex32, seqs: readonly number[], sealedAt: string): Promise<number> {
    return this.#transaction(() => {
      const { lastInsertRowid } = this.#run(
        "INSERT INTO batches (root, tree_size, sealed_at, status) VALUES (?, ?, ?, 'sealed')",
        root,
        seqs.length,
        sealedAt,
      );
      const batchId = Number(lastInsertRowid);
      // One statement for the whole batch (json_each gives each seq its position as `key`):
      // 100,000 single-row updates cost seconds in the binding alone. MATERIALIZED makes the
      // list the outer loop, each item found by its primary key (a plain join scans instead).
      const { changes } = this.#run(
        `WITH j AS MATERIALIZED (SELECT value AS seq, key AS position FROM json_each(?))
         UPDATE evidence SET batch_id = ?, leaf_index = j.position
         FROM j WHERE evidence.seq = j.seq AND evidence.batch_id IS NULL`,
        JSON.stringify(seqs),
        batchId,
      );
      if (Number(changes) !== seqs.length) {
        const taken = seqs.find(
          (seq) =>
            this.#get<{ batch_id: number | null }>("SELECT batch_id FROM evidence WHERE seq = ?", seq)?.batch_id !==
            batchId,
        );
        throw new Error(`evidence ${taken ?? "(repeated)"} is already in a batch`);
      }
      return batchId;
    });
  }

  async unanchoredBatches(): Promise<SealedBatch[]> {
    return this.#all<RawBatch>("SELECT * FROM batches WHERE status = 'sealed' ORDER BY id").map(toSealedBatch);
  }

  async recordSent(batchId: number, txHash: Hex32, sentAt: string): Promise<void> {
    this.#run(
      "UPDATE batches SET tx_hash = ?, tx_sent_at = ?, send_count = send_count + 1 WHERE id = ?",
      txHash,
      sentAt,
      batchId,
    );
  }

  async batchLeaves(batchId: number): Promise<{ id: string; leafHash: Hex32; record: EvidenceRecord }[]> {
    return this.#all<{ id: string; leaf_hash: Hex32; record: string }>(
      "SELECT id, leaf_hash, record FROM evidence WHERE batch_id = ? ORDER BY leaf_index",
      batchId,
    ).map((r) => ({ id: r.id, leafHash: r.leaf_hash, record: JSON.parse(r.record) as EvidenceRecord }));
  }

  async batchLeafHashes(batchId: number): Promise<Hex32[]> {
    return this.#column<Hex32>("SELECT leaf_hash FROM evidence WHERE batch_id = ? ORDER BY leaf_index", batchId);
  }

  async addBatchTimestamps(batchId: number, tokens: readonly TimestampToken[]): Promise<void> {
    this.#transaction(() => {
      const row = this.#get<{ timestamps: string }>("SELECT timestamps FROM batches WHERE id = ?", batchId);
      if (!row) throw new Error(`no batch ${batchId}`);
      const known = JSON.parse(row.timestamps) as TimestampToken[];
      const merged = [...known, ...tokens.filter((t) => !known.some((k) => k.token === t.token))];
      this.#run("UPDATE batches SET timestamps = ? WHERE id = ?", JSON.stringify(merged), batchId);
    });
  }

  async completeBatch(
    batchId: number,
    anchor: BatchAnchor,
    certificates: BatchCertificates,
    now: string,
    reason: IssueReason,
  ): Promise<void> {
    this.#transaction(() => {
      const { changes } = this.#run(
        `UPDATE batches SET status = 'anchored', anchor_tx = ?, block_number = ?, block_hash = ?, timestamp = ?, anchored_at = ?
         WHERE id = ? AND status = 'sealed'`,
        anchor.txHash,
        anchor.blockNumber,
        anchor.blockHash,
        anchor.timestamp,
        now,
        batchId,
      );
      if (changes !== 1) throw new Error(`batch ${batchId} is not waiting to be anchored`);
      this.#issue(batchId, anchor.blockNumber, certificates, reason);
    });
  }

  async addCertificates(batchId: number, certificates: BatchCertificates, reason: IssueReason): Promise<void> {
    this.#transaction(() => {
      const batch = this.#get<{ status: string; block_number: number }>(
        "SELECT status, block_number FROM batches WHERE id = ?",
        batchId,
      );
      if (batch?.status !== "anchored") throw new Error(`batch ${batchId} is not anchored`);
      this.#issue(batchId, batch.block_number, certificates, reason);
    });
  }

  #issue(batchId: number, blockNumber: number, certificates: BatchCertificates, reason: IssueReason): void {
    if (isSignedBatch(certificates)) this.#insertStatement(batchId, blockNumber, certificates, reason);
    else this.#insertCertificates(batchId, blockNumber, certificates, reason);
  }

  /** A version 2 batch: its statement once, and its tree's upper levels the first time. */
  #insertStatement(batchId: number, blockNumber: number, signed: SignedBatch, reason: IssueReason): void {
    const batch = this.#get<{ root: string; tree_size: number }>(
      "SELECT root, tree_size FROM batches WHERE id = ?",
      batchId,
    )!;
    checkSignedBatch(batchId, batch.root, batch.tree_size, signed);
    this.#run(
      `INSERT INTO batch_certificates (batch_id, reason, block_number, statement, signature, issued_at) VALUES (?, ?, ?, ?, ?, ?)`,
      batchId,
      reason,
      blockNumber,
      JSON.stringify(signed.statement),
      signed.signature,
      signed.statement.issuedAt,
    );
    this.#run(
      "INSERT INTO batch_trees (batch_id, upper) VALUES (?, ?) ON CONFLICT (batch_id) DO NOTHING",
      batchId,
      upperLevelsOf(signed.tree),
    );
  }

  #insertCertificates(
    batchId: number,
    blockNumber: number,
    certificates: readonly Certificate[],
    reason: IssueReason,
  ): void {
    const insert = this.#db.prepare(
      `INSERT INTO issued_certificates (evidence_id, batch_id, reason, block_number, certificate, issued_at)
       SELECT ?, ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM evidence WHERE id = ? AND batch_id = ?)`,
    );
    for (const c of certificates) {
      const issuedAt = c.version === 1 ? c.issuedAt : c.batch.issuedAt;
      const { changes } = insert.run(
        c.record.id,
        batchId,
        reason,
        blockNumber,
        JSON.stringify(c),
        issuedAt,
        c.record.id,
        batchId,
      );
      if (changes !== 1) throw new Error(`evidence ${c.record.id} is not in batch ${batchId}`);
    }
  }

  async anchoredBatches(): Promise<AnchoredBatch[]> {
    return this.#all<RawBatch>("SELECT * FROM batches WHERE status = 'anchored' ORDER BY id").map(toAnchoredBatch);
  }

  async batchesToTimestamp(wanted: number, limit: number): Promise<AnchoredBatch[]> {
    return this.#all<RawBatch>(
      "SELECT * FROM batches WHERE status = 'anchored' AND json_array_length(timestamps) < ? ORDER BY id LIMIT ?",
      wanted,
      limit,
    ).map(toAnchoredBatch);
  }

  async reopenBatch(batchId: number, lostAt: string): Promise<void> {
    this.#run(
      `UPDATE batches SET status = 'sealed', lost_at = ?, tx_hash = NULL, tx_sent_at = NULL,
         anchor_tx = NULL, block_number = NULL, block_hash = NULL, timestamp = NULL, anchored_at = NULL
       WHERE id = ? AND status = 'anchored'`,
      lostAt,
      batchId,
    );
  }

  // --- certificates ---

  async certificateHistory(
    evidenceId: string,
  ): Promise<{ entry: CertificateHistoryEntry; certificate: Certificate }[]> {
    const item = this.#get<{
      record: string;
      leaf_hash: Hex32;
      leaf_index: number | null;
      batch_id: number | null;
      tree_size: number | null;
      status: EvidenceStatus;
    }>(
      `SELECT e.record, e.leaf_hash, e.leaf_index, e.batch_id, b.tree_size, ${STATUS_SQL} AS status
       FROM evidence e LEFT JOIN batches b ON b.id = e.batch_id WHERE e.id = ?`,
      evidenceId,
    );
    if (!item || item.batch_id === null) return [];
    const issues: StoredIssue[] = [
      ...this.#all<RawItemIssue>(
        "SELECT seq, reason, block_number, certificate, issued_at FROM issued_certificates WHERE evidence_id = ? ORDER BY seq",
        evidenceId,
      ).map(toItemIssue),
      ...this.#all<RawBatchIssue>(
        "SELECT seq, reason, block_number, statement, signature, issued_at FROM batch_certificates WHERE batch_id = ? ORDER BY seq",
        item.batch_id,
      ).map(toBatchIssue),
    ];
    return historyOf(issues, item.status, async () => {
      const leafIndex = item.leaf_index!;
      const treeSize = item.tree_size!;
      const { first, end } = blockOf(leafIndex, treeSize);
      const block = this.#column<Hex32>(
        "SELECT leaf_hash FROM evidence WHERE batch_id = ? AND leaf_index >= ? AND leaf_index < ? ORDER BY leaf_index",
        item.batch_id!,
        first,
        end,
      );
      const upper = this.#get<{ upper: Uint8Array }>(
        "SELECT upper FROM batch_trees WHERE batch_id = ?",
        item.batch_id,
      )!.upper;
      return {
        record: JSON.parse(item.record) as EvidenceRecord,
        leafHash: item.leaf_hash,
        leafIndex,
        treeSize,
        blockLeafHashes: block,
        upper,
      };
    });
  }

  async counts(): Promise<Record<"pending" | "anchoring" | "anchored", number>> {
    const rows = this.#all<{ status: EvidenceStatus; n: number }>(
      `SELECT ${STATUS_SQL} AS status, count(*) AS n FROM evidence e LEFT JOIN batches b ON b.id = e.batch_id GROUP BY 1`,
    );
    const counts = { pending: 0, anchoring: 0, anchored: 0 };
    for (const row of rows) counts[row.status as keyof typeof counts] = row.n;
    return counts;
  }

  // --- checkpoints ---

  async insertCheckpoint(checkpoint: Checkpoint): Promise<void> {
    this.#run(
      "INSERT INTO checkpoints (block_number, block_hash, chain_id, taken_at, timestamps) VALUES (?, ?, ?, ?, ?) ON CONFLICT(block_number) DO NOTHING",
      checkpoint.blockNumber,
      checkpoint.blockHash,
      checkpoint.chainId,
      checkpoint.takenAt,
      JSON.stringify(checkpoint.timestamps),
    );
  }

  async checkpoints(limit: number): Promise<Checkpoint[]> {
    return this.#all<{
      block_number: number;
      block_hash: Hex32;
      chain_id: number;
      taken_at: string;
      timestamps: string;
    }>("SELECT * FROM checkpoints ORDER BY block_number DESC LIMIT ?", limit).map((r) => ({
      blockNumber: r.block_number,
      blockHash: r.block_hash,
      chainId: r.chain_id,
      takenAt: r.taken_at,
      timestamps: JSON.parse(r.timestamps) as TimestampToken[],
    }));
  }

  // --- lease ---

  async acquireLease(name: string, holder: string, ttlMs: number): Promise<number | null> {
    return this.#transaction(() => {
      const now = Date.now();
      const row = this.#get<{ holder: string; fence: number; expires_at: number }>(
        "SELECT * FROM leases WHERE name = ?",
        name,
      );
      if (row && row.holder !== holder && row.expires_at > now) return null;
      const fence = row ? (row.holder === holder ? row.fence : row.fence + 1) : 1;
      this.#run(
        "INSERT INTO leases (name, holder, fence, expires_at) VALUES (?, ?, ?, ?) ON CONFLICT(name) DO UPDATE SET holder = excluded.holder, fence = excluded.fence, expires_at = excluded.expires_at",
        name,
        holder,
        fence,
        now + ttlMs,
      );
      return fence;
    });
  }

  async releaseLease(name: string, holder: string): Promise<void> {
    this.#run("UPDATE leases SET expires_at = 0 WHERE name = ? AND holder = ?", name, holder);
  }

  #migrate(): void {
    const { user_version: version } = this.#get<{ user_version: number }>("PRAGMA user_version")!;
    if (version > MIGRATIONS.length) {
      throw new Error(`the database has schema version ${version}, newer than this service (${MIGRATIONS.length})`);
    }
    MIGRATIONS.slice(version).forEach((migration, i) => {
      this.#transaction(() => {
        this.#db.exec(migration.sqlite);
        this.#db.exec(`PRAGMA user_version = ${version + i + 1}`);
      });
    });
  }
}
