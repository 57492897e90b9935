import pg from "pg";
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

/** Connections per replica: intake's group commit needs one at a time, reads and anchoring a few more. */
const POOL_MAX = 10;
/** Rows per statement when many are written at once (a group commit, a batch's certificates). */
const ROWS_PER_STATEMENT = 2_000;
/** The database clock in milliseconds since the epoch: leases are timed by one clock, whatever the replicas' clocks say. */
const DB_NOW_MS = "(extract(epoch FROM clock_timestamp()) * 1000)::bigint";

/** A statement run inside a transaction (or alone, on the pool). */
type Query = <T extends pg.QueryResultRow = Record<string, unknown>>(
  sql: string,
  params?: unknown[],
) => Promise<pg.QueryResult<T>>;

/**
 * The store across replicas: PostgreSQL through a connection pool. The same contract and
 * the same status derivation as the SQLite engine, with the same invariants enforced by
 * the database (migrations.ts). Each method is one statement or one transaction, and
 * resolves after PostgreSQL's COMMIT with synchronous_commit on (the default, re-asserted
 * on every connection if the server had it off), so what it wrote is on the server's disk.
 *
 * Where two replicas could race, the database decides: items are locked (`FOR UPDATE`, in
 * `seq` order, so two sealers never deadlock) before they are sealed into a batch; a
 * batch is completed only from `sealed`; the anchoring lease is one atomic upsert timed by
 * the database's clock.
 */
export class PostgresEvidenceStore implements EvidenceStore {
  readonly engine = "postgres";
  readonly #pool: pg.Pool;

  private constructor(pool: pg.Pool) {
    this.#pool = pool;
  }

  /**
   * Connects to `databaseUrl` (postgres://user:password@host:port/database, with any of
   * libpq's parameters pg understands, e.g. `sslmode`, `options=-c search_path=…`), refuses
   * a server that does not flush its commits (fsync off), and applies the migrations not
   * yet recorded in `schema_version` under an advisory lock, so replicas starting together
   * migrate once.
   */
  static async open(databaseUrl: string, options: { poolSize?: number } = {}): Promise<PostgresEvidenceStore> {
    let store = new PostgresEvidenceStore(newPool(databaseUrl, options.poolSize));
    try {
      const { rows } = await store.#query<{ fsync: string; synchronous_commit: string }>(
        "SELECT current_setting('fsync') AS fsync, current_setting('synchronous_commit') AS synchronous_commit",
      );
      if (rows[0]?.fsync !== "on") {
        throw new Error("the PostgreSQL server runs with fsync off: a committed write could be lost; turn fsync on");
      }
      if (rows[0].synchronous_commit === "off") {
        // A commit is durable only with synchronous_commit on (or stronger): this
        // service's connections overrule a server or role set to off.
        await store.close();
        store = new PostgresEvidenceStore(
          newPool(withStartupOption(databaseUrl, "-c synchronous_commit=on"), options.poolSize),
        );
      }
      await store.#migrate();
    } catch (e) {
      await store.close().catch(() => undefined);
      throw e;
    }
    return store;
  }

  async close(): Promise<void> {
    if (!this.#pool.ended) await this.#pool.end();
  }

  #query: Query = async (sql, params) => {
    try {
      return await this.#pool.query(sql, params);
    } catch (e) {
      throw storeError(e);
    }
  };

  /** Runs `fn` in one transaction on one connection: all of it is committed, or none. */
  async #transaction<T>(fn: (query: Query) => Promise<T>): Promise<T> {
    let client: pg.PoolClient;
    try {
      client = await this.#pool.connect();
    } catch (e) {
      throw storeError(e);
    }
    let broken: Error | undefined;
    try {
      await client.query("BEGIN");
      const result = await fn((sql, params) => client.query(sql, params));
      await client.query("COMMIT");
      return result;
    } catch (e) {
      // A connection that cannot even roll back is broken: the pool must not hand it out again.
      await client.query("ROLLBACK").catch((err: Error) => (broken = err));
      throw storeError(e);
    } finally {
      client.release(broken);
    }
  }

  // --- meta ---

  async getMeta(key: string): Promise<string | undefined> {
    const { rows } = await this.#query<{ value: string }>("SELECT value FROM meta WHERE key = $1", [key]);
    return rows[0]?.value;
  }

  async setMeta(key: string, value: string): Promise<void> {
    await this.#query(
      "INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
      [key, value],
    );
  }

  // --- accounts ---

  async insertAccount(account: Account): Promise<void> {
    await this.#query("INSERT INTO accounts (id, name, key_hash, created_at) VALUES ($1, $2, $3, $4)", [
      account.id,
      account.name,
      account.keyHash,
      account.createdAt,
    ]);
  }

  async accountByKeyHash(keyHash: string): Promise<Account | undefined> {
    const { rows } = await this.#query<RawAccount>("SELECT * FROM accounts WHERE key_hash = $1", [keyHash]);
    return rows[0] && toAccount(rows[0]);
  }

  async accountById(id: string): Promise<Account | undefined> {
    const { rows } = await this.#query<RawAccount>("SELECT * FROM accounts WHERE id = $1", [id]);
    return rows[0] && toAccount(rows[0]);
  }

  async listAccounts(): Promise<Account[]> {
    const { rows } = await this.#query<RawAccount>("SELECT * FROM accounts ORDER BY created_at, id");
    return rows.map(toAccount);
  }

  async countAccounts(): Promise<number> {
    const { rows } = await this.#query<{ n: number }>("SELECT count(*) AS n FROM accounts");
    return rows[0]!.n;
  }

  // --- intake ---

  async insertEvidence(items: readonly NewEvidence[]): Promise<void> {
    if (items.length === 0) return;
    await this.#transaction((query) => insertEvidence(query, items));
  }

  async evidence(id: string): Promise<EvidenceRow | undefined> {
    const { rows } = await this.#query<RawEvidence>(
      `SELECT e.id, e.account_id, e.record, e.file_stored, ${STATUS_SQL} AS status, b.lost_at
       FROM evidence e LEFT JOIN batches b ON b.id = e.batch_id WHERE e.id = $1`,
      [id],
    );
    const row = rows[0];
    if (!row) return undefined;
    const certificate =
      row.status === "anchored" ? ((await this.certificateHistory(id)).at(-1)?.certificate ?? null) : null;
    return toEvidenceRow(row, certificate);
  }

  async evidenceOfAccount(accountId: string, limit: number, beforeSeq?: number): Promise<EvidenceListRow[]> {
    const { rows } = await this.#query<{
      seq: number;
      id: string;
      account_id: string;
      record: string;
      status: EvidenceStatus;
    }>(
      `SELECT e.seq, e.id, e.account_id, e.record, ${STATUS_SQL} AS status
       FROM evidence e LEFT JOIN batches b ON b.id = e.batch_id
       WHERE e.account_id = $1 AND e.seq < $2 ORDER BY e.seq DESC LIMIT $3`,
      [accountId, beforeSeq ?? Number.MAX_SAFE_INTEGER, limit],
    );
    return rows.map((row) => ({
      seq: row.seq,
      id: row.id,
      accountId: row.account_id,
      record: JSON.parse(row.record) as EvidenceRecord,
      status: row.status,
    }));
  }

  async isObjectReferenced(contentHash: string): Promise<boolean> {
    const { rows } = await this.#query(
      `SELECT 1 AS yes FROM evidence WHERE content_hash = $1 AND file_stored = 1
       UNION ALL SELECT 1 FROM capture_files WHERE content_hash = $1 LIMIT 1`,
      [contentHash],
    );
    return rows.length > 0;
  }

  // --- captures ---

  async insertCapture(capture: NewCapture): Promise<void> {
    await this.#query(
      "INSERT INTO captures (id, account_id, url, request, requested_at, status) VALUES ($1, $2, $3, $4, $5, 'queued')",
      [capture.id, capture.accountId, capture.url, capture.request, capture.requestedAt],
    );
  }

  async capture(id: string): Promise<CaptureRow | undefined> {
    const { rows } = await this.#query<RawCapture>("SELECT * FROM captures WHERE id = $1", [id]);
    return rows[0] && toCapture(rows[0]);
  }

  async unfinishedCaptures(): Promise<CaptureRow[]> {
    const { rows } = await this.#query<RawCapture>(
      "SELECT * FROM captures WHERE status IN ('queued', 'capturing') ORDER BY requested_at",
    );
    return rows.map(toCapture);
  }

  async capturesOfAccount(accountId: string, limit: number): Promise<CaptureRow[]> {
    const { rows } = await this.#query<RawCapture>(
      "SELECT * FROM captures WHERE account_id = $1 AND status <> 'recorded' ORDER BY requested_at DESC, id DESC LIMIT $2",
      [accountId, limit],
    );
    return rows.map(toCapture);
  }

  async updateCapture(
    id: string,
    change: { status: CaptureRow["status"]; error?: { code: string; message: string } | null; attempts?: number },
  ): Promise<void> {
    await this.#query(
      "UPDATE captures SET status = $1, error = coalesce($2::text, error), attempts = coalesce($3::integer, attempts) WHERE id = $4",
      [change.status, change.error ? JSON.stringify(change.error) : null, change.attempts ?? null, id],
    );
  }

  async completeCapture(id: string, item: NewEvidence, files: readonly string[]): Promise<void> {
    await this.#transaction(async (query) => {
      await insertEvidence(query, [item]);
      await addCaptureFiles(query, item.record.id, files);
      await query("UPDATE captures SET status = 'recorded', error = NULL WHERE id = $1", [id]);
    });
  }

  async capturesWithoutFiles(limit: number): Promise<{ id: string; contentHash: string }[]> {
    const { rows } = await this.#query<{ id: string; contentHash: string }>(
      `SELECT e.id, e.content_hash AS "contentHash" FROM captures c JOIN evidence e ON e.id = c.id
        WHERE c.status = 'recorded' AND NOT EXISTS (SELECT 1 FROM capture_files f WHERE f.evidence_id = e.id)
        ORDER BY e.seq LIMIT $1`,
      [limit],
    );
    return rows;
  }

  async addCaptureFiles(evidenceId: string, files: readonly string[]): Promise<void> {
    await addCaptureFiles(this.#query, evidenceId, files);
  }

  async dismissCapture(accountId: string, id: string): Promise<"dismissed" | CaptureRow["status"] | undefined> {
    // One statement: the row is removed when failed, and its status read either way, so a
    // capture that fails meanwhile is never answered "not failed, it is failed".
    const { rows } = await this.#query<{ status: CaptureRow["status"]; dismissed: boolean }>(
      `WITH removed AS (
         DELETE FROM captures WHERE id = $1 AND account_id = $2 AND status = 'failed' RETURNING status
       )
       SELECT status, true AS dismissed FROM removed
       UNION ALL
       SELECT status, false FROM captures WHERE id = $1 AND account_id = $2 AND NOT EXISTS (SELECT 1 FROM removed)`,
      [id, accountId],
    );
    const row = rows[0];
    return row?.dismissed ? "dismissed" : row?.status;
  }

  // --- batching ---

  async pendingSummary(): Promise<PendingSummary> {
    const { rows } = await this.#query<PendingSummary>(
      "SELECT count(*) AS count, min(created_at) AS oldest, max(created_at) AS newest FROM evidence WHERE batch_id IS NULL",
    );
    return rows[0]!;
  }

  async pendingLeaves(limit: number): Promise<{ seq: number; leafHash: Hex32 }[]> {
    const { rows } = await this.#query<{ seq: number; leaf_hash: Hex32 }>(
      "SELECT seq, leaf_hash FROM evidence WHERE batch_id IS NULL ORDER BY seq LIMIT $1",
      [limit],
    );
    return rows.map((r) => ({ seq: r.seq, leafHash: r.leaf_hash }));
  }

  async sealBatch(root: Hex32, seqs: readonly number[], sealedAt: string): Promise<number> {
    return this.#transaction(async (query) => {
      // Locked in seq order: two replicas sealing overlapping items wait for each other
      // instead of deadlocking, and the second then sees the first one's batch.
      const { rows: locked } = await query<{ seq: number; batch_id: number | null }>(
        "SELECT seq, batch_id FROM evidence WHERE seq = ANY($1::bigint[]) ORDER BY seq FOR UPDATE",
        [seqs],
      );
      const found = new Map(locked.map((r) => [r.seq, r.batch_id]));
      for (const seq of seqs) {
        if (found.get(seq) !== null) throw new Error(`evidence ${seq} is already in a batch`);
      }
      const { rows } = await query<{ id: number }>(
        "INSERT INTO batches (root, tree_size, sealed_at, status) VALUES ($1, $2, $3, 'sealed') RETURNING id",
        [root, seqs.length, sealedAt],
      );
      const batchId = rows[0]!.id;
      const { rowCount } = await query(
        `UPDATE evidence e SET batch_id = $1, leaf_index = v.position - 1
         FROM unnest($2::bigint[]) WITH ORDINALITY AS v(seq, position) WHERE e.seq = v.seq AND e.batch_id IS NULL`,
        [batchId, seqs],
      );
      if (rowCount !== seqs.length) throw new Error(`an item of batch ${batchId} is already in a batch`);
      return batchId;
    });
  }

  async unanchoredBatches(): Promise<SealedBatch[]> {
    const { rows } = await this.#query<RawBatch>("SELECT * FROM batches WHERE status = 'sealed' ORDER BY id");
    return rows.map(toSealedBatch);
  }

  async recordSent(batchId: number, txHash: Hex32, sentAt: string): Promise<void> {
    await this.#query("UPDATE batches SET tx_hash = $1, tx_sent_at = $2, send_count = send_count + 1 WHERE id = $3", [
      txHash,
      sentAt,
      batchId,
    ]);
  }

  async batchLeaves(batchId: number): Promise<{ id: string; leafHash: Hex32; record: EvidenceRecord }[]> {
    const { rows } = await this.#query<{ id: string; leaf_hash: Hex32; record: string }>(
      "SELECT id, leaf_hash, record FROM evidence WHERE batch_id = $1 ORDER BY leaf_index",
      [batchId],
    );
    return rows.map((r) => ({ id: r.id, leafHash: r.leaf_hash, record: JSON.parse(r.record) as EvidenceRecord }));
  }

  async batchLeafHashes(batchId: number): Promise<Hex32[]> {
    const { rows } = await this.#query<{ leaf_hash: Hex32 }>(
      "SELECT leaf_hash FROM evidence WHERE batch_id = $1 ORDER BY leaf_index",
      [batchId],
    );
    return rows.map((r) => r.leaf_hash);
  }

  async addBatchTimestamps(batchId: number, tokens: readonly TimestampToken[]): Promise<void> {
    await this.#transaction(async (query) => {
      const { rows } = await query<{ timestamps: string }>("SELECT timestamps FROM batches WHERE id = $1 FOR UPDATE", [
        batchId,
      ]);
      if (!rows[0]) throw new Error(`no batch ${batchId}`);
      const known = JSON.parse(rows[0].timestamps) as TimestampToken[];
      const merged = [...known, ...tokens.filter((t) => !known.some((k) => k.token === t.token))];
      await query("UPDATE batches SET timestamps = $1 WHERE id = $2", [JSON.stringify(merged), batchId]);
    });
  }

  async completeBatch(
    batchId: number,
    anchor: BatchAnchor,
    certificates: BatchCertificates,
    now: string,
    reason: IssueReason,
  ): Promise<void> {
    await this.#transaction(async (query) => {
      // A second replica completing the same batch waits for the first one's row lock,
      // then finds it anchored and fails: the certificates are issued once.
      const { rowCount } = await query(
        `UPDATE batches SET status = 'anchored', anchor_tx = $1, block_number = $2, block_hash = $3, timestamp = $4, anchored_at = $5
         WHERE id = $6 AND status = 'sealed'`,
        [anchor.txHash, anchor.blockNumber, anchor.blockHash, anchor.timestamp, now, batchId],
      );
      if (rowCount !== 1) throw new Error(`batch ${batchId} is not waiting to be anchored`);
      await issue(query, batchId, anchor.blockNumber, certificates, reason);
    });
  }

  async addCertificates(batchId: number, certificates: BatchCertificates, reason: IssueReason): Promise<void> {
    await this.#transaction(async (query) => {
      // FOR SHARE: the batch cannot be reopened while certificates naming its anchor are added.
      const { rows } = await query<{ status: string; block_number: number }>(
        "SELECT status, block_number FROM batches WHERE id = $1 FOR SHARE",
        [batchId],
      );
      if (rows[0]?.status !== "anchored") throw new Error(`batch ${batchId} is not anchored`);
      await issue(query, batchId, rows[0].block_number, certificates, reason);
    });
  }

  async anchoredBatches(): Promise<AnchoredBatch[]> {
    const { rows } = await this.#query<RawBatch>("SELECT * FROM batches WHERE status = 'anchored' ORDER BY id");
    return rows.map(toAnchoredBatch);
  }

  async batchesToTimestamp(wanted: number, limit: number): Promise<AnchoredBatch[]> {
    const { rows } = await this.#query<RawBatch>(
      "SELECT * FROM batches WHERE status = 'anchored' AND json_array_length(timestamps::json) < $1 ORDER BY id LIMIT $2",
      [wanted, limit],
    );
    return rows.map(toAnchoredBatch);
  }

  async reopenBatch(batchId: number, lostAt: string): Promise<void> {
    await this.#query(
      `UPDATE batches SET status = 'sealed', lost_at = $1, tx_hash = NULL, tx_sent_at = NULL,
         anchor_tx = NULL, block_number = NULL, block_hash = NULL, timestamp = NULL, anchored_at = NULL
       WHERE id = $2 AND status = 'anchored'`,
      [lostAt, batchId],
    );
  }

  // --- certificates ---

  async certificateHistory(
    evidenceId: string,
  ): Promise<{ entry: CertificateHistoryEntry; certificate: Certificate }[]> {
    const { rows: items } = await this.#query<{
      record: string;
      leaf_hash: Hex32;
      leaf_index: number | null;
      batch_id: number | null;
      tree_size: number | null;
      status: EvidenceStatus;
    }>(
      `SELECT e.record, e.leaf_hash, e.leaf_index, e.batch_id, b.tree_size, ${STATUS_SQL} AS status
       FROM evidence e LEFT JOIN batches b ON b.id = e.batch_id WHERE e.id = $1`,
      [evidenceId],
    );
    const item = items[0];
    if (!item || item.batch_id === null) return [];
    const [own, ofBatch] = await Promise.all([
      this.#query<RawItemIssue>(
        "SELECT seq, reason, block_number, certificate, issued_at FROM issued_certificates WHERE evidence_id = $1 ORDER BY seq",
        [evidenceId],
      ),
      this.#query<RawBatchIssue>(
        "SELECT seq, reason, block_number, statement, signature, issued_at FROM batch_certificates WHERE batch_id = $1 ORDER BY seq",
        [item.batch_id],
      ),
    ]);
    const issues: StoredIssue[] = [...own.rows.map(toItemIssue), ...ofBatch.rows.map(toBatchIssue)];
    return historyOf(issues, item.status, async () => {
      const leafIndex = item.leaf_index!;
      const treeSize = item.tree_size!;
      const { first, end } = blockOf(leafIndex, treeSize);
      const [block, tree] = await Promise.all([
        this.#query<{ leaf_hash: Hex32 }>(
          "SELECT leaf_hash FROM evidence WHERE batch_id = $1 AND leaf_index >= $2 AND leaf_index < $3 ORDER BY leaf_index",
          [item.batch_id, first, end],
        ),
        this.#query<{ upper: Buffer }>("SELECT upper FROM batch_trees WHERE batch_id = $1", [item.batch_id]),
      ]);
      return {
        record: JSON.parse(item.record) as EvidenceRecord,
        leafHash: item.leaf_hash,
        leafIndex,
        treeSize,
        blockLeafHashes: block.rows.map((r) => r.leaf_hash),
        upper: new Uint8Array(tree.rows[0]!.upper),
      };
    });
  }

  async counts(): Promise<Record<"pending" | "anchoring" | "anchored", number>> {
    const { rows } = await this.#query<{ status: EvidenceStatus; n: number }>(
      `SELECT ${STATUS_SQL} AS status, count(*) AS n FROM evidence e LEFT JOIN batches b ON b.id = e.batch_id GROUP BY 1`,
    );
    const counts = { pending: 0, anchoring: 0, anchored: 0 };
    for (const row of rows) counts[row.status as keyof typeof counts] = row.n;
    return counts;
  }

  // --- checkpoints ---

  async insertCheckpoint(checkpoint: Checkpoint): Promise<void> {
    await this.#query(
      `INSERT INTO checkpoints (block_number, block_hash, chain_id, taken_at, timestamps) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (block_number) DO NOTHING`,
      [
        checkpoint.blockNumber,
        checkpoint.blockHash,
        checkpoint.chainId,
        checkpoint.takenAt,
        JSON.stringify(checkpoint.timestamps),
      ],
    );
  }

  async checkpoints(limit: number): Promise<Checkpoint[]> {
    const { rows } = await this.#query<{
      block_number: number;
      block_hash: Hex32;
      chain_id: number;
      taken_at: string;
      timestamps: string;
    }>("SELECT * FROM checkpoints ORDER BY block_number DESC LIMIT $1", [limit]);
    return rows.map((r) => ({
      blockNumber: r.block_number,
      blockHash: r.block_hash,
      chainId: r.chain_id,
      takenAt: r.taken_at,
      timestamps: JSON.parse(r.timestamps) as TimestampToken[],
    }));
  }

  // --- lease ---

  /**
   * One atomic upsert: the row lock ON CONFLICT takes decides between replicas asking at
   * the same moment, and the database's clock decides expiry (replicas' clocks may differ).
   * The fence grows whenever the holder changes.
   */
  async acquireLease(name: string, holder: string, ttlMs: number): Promise<number | null> {
    const { rows } = await this.#query<{ fence: number }>(
      `INSERT INTO leases AS l (name, holder, fence, expires_at) VALUES ($1, $2, 1, ${DB_NOW_MS} + $3)
       ON CONFLICT (name) DO UPDATE SET
         holder = excluded.holder,
         fence = CASE WHEN l.holder = excluded.holder THEN l.fence ELSE l.fence + 1 END,
         expires_at = excluded.expires_at
       WHERE l.holder = excluded.holder OR l.expires_at <= ${DB_NOW_MS}
       RETURNING fence`,
      [name, holder, Math.round(ttlMs)],
    );
    return rows[0]?.fence ?? null;
  }

  async releaseLease(name: string, holder: string): Promise<void> {
    await this.#query("UPDATE leases SET expires_at = 0 WHERE name = $1 AND holder = $2", [name, holder]);
  }

  /**
   * Applies the migrations `schema_version` does not list yet, each in its own transaction
   * (PostgreSQL's DDL is transactional), holding a session advisory lock named after the
   * schema meanwhile: a replica starting at the same moment waits, then finds nothing to do.
   */
  async #migrate(): Promise<void> {
    let client: pg.PoolClient;
    try {
      client = await this.#pool.connect();
    } catch (e) {
      throw storeError(e);
    }
    const lock = "hashtextextended('evidence-anchor migrations ' || current_schema(), 0)";
    try {
      await client.query(`SELECT pg_advisory_lock(${lock})`);
      try {
        await client.query(
          `CREATE TABLE IF NOT EXISTS schema_version (
             version     INTEGER PRIMARY KEY,
             name        TEXT NOT NULL,
             applied_at  TIMESTAMPTZ NOT NULL DEFAULT now()
           )`,
        );
        const { rows } = await client.query<{ version: number }>(
          "SELECT coalesce(max(version), 0) AS version FROM schema_version",
        );
        const version = rows[0]!.version;
        if (version > MIGRATIONS.length) {
          throw new Error(`the database has schema version ${version}, newer than this service (${MIGRATIONS.length})`);
        }
        for (const [i, migration] of MIGRATIONS.slice(version).entries()) {
          await client.query("BEGIN");
          try {
            await client.query(migration.postgres);
            await client.query("INSERT INTO schema_version (version, name) VALUES ($1, $2)", [
              version + i + 1,
              migration.name,
            ]);
            await client.query("COMMIT");
          } catch (e) {
            await client.query("ROLLBACK");
            throw e;
          }
        }
      } finally {
        await client.query(`SELECT pg_advisory_unlock(${lock})`);
      }
      client.release();
    } catch (e) {
      client.release(true);
      throw storeError(e);
    }
  }
}

async function insertEvidence(query: Query, items: readonly NewEvidence[]): Promise<void> {
  for (let start = 0; start < items.length; start += ROWS_PER_STATEMENT) {
    const chunk = items.slice(start, start + ROWS_PER_STATEMENT);
    // One statement per chunk; WITH ORDINALITY keeps the intake order in `seq`.
    await query(
      `INSERT INTO evidence (id, account_id, record, content_hash, leaf_hash, file_stored, created_at)
       SELECT id, account_id, record, content_hash, leaf_hash, file_stored, created_at
       FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::integer[], $7::text[])
         WITH ORDINALITY AS v(id, account_id, record, content_hash, leaf_hash, file_stored, created_at, position)
       ORDER BY position`,
      [
        chunk.map((i) => i.record.id),
        chunk.map((i) => i.accountId),
        chunk.map((i) => i.canonicalRecord),
        chunk.map((i) => i.record.contentHash),
        chunk.map((i) => i.leafHash),
        chunk.map((i) => (i.fileStored ? 1 : 0)),
        chunk.map((i) => i.record.submittedAt),
      ],
    );
  }
}

async function issue(
  query: Query,
  batchId: number,
  blockNumber: number,
  certificates: BatchCertificates,
  reason: IssueReason,
): Promise<void> {
  if (isSignedBatch(certificates)) await insertStatement(query, batchId, blockNumber, certificates, reason);
  else await insertCertificates(query, batchId, blockNumber, certificates, reason);
}

/** A version 2 batch: its statement once, and its tree's upper levels the first time. */
async function insertStatement(
  query: Query,
  batchId: number,
  blockNumber: number,
  signed: SignedBatch,
  reason: IssueReason,
): Promise<void> {
  const { rows } = await query<{ root: string; tree_size: number }>(
    "SELECT root, tree_size FROM batches WHERE id = $1",
    [batchId],
  );
  checkSignedBatch(batchId, rows[0]!.root, rows[0]!.tree_size, signed);
  await query(
    "INSERT INTO batch_certificates (batch_id, reason, block_number, statement, signature, issued_at) VALUES ($1, $2, $3, $4, $5, $6)",
    [batchId, reason, blockNumber, JSON.stringify(signed.statement), signed.signature, signed.statement.issuedAt],
  );
  await query("INSERT INTO batch_trees (batch_id, upper) VALUES ($1, $2) ON CONFLICT (batch_id) DO NOTHING", [
    batchId,
    Buffer.from(upperLevelsOf(signed.tree)),
  ]);
}

/** Adds certificates to the history of items of `batchId`; fails (and so rolls back) if one is not in it. */
async function insertCertificates(
  query: Query,
  batchId: number,
  blockNumber: number,
  certificates: readonly Certificate[],
  reason: IssueReason,
): Promise<void> {
  for (let start = 0; start < certificates.length; start += ROWS_PER_STATEMENT) {
    const chunk = certificates.slice(start, start + ROWS_PER_STATEMENT);
    const ids = chunk.map((c) => c.record.id);
    const { rowCount } = await query(
      `INSERT INTO issued_certificates (evidence_id, batch_id, reason, block_number, certificate, issued_at)
       SELECT v.id, $1, $2, $3, v.certificate, v.issued_at
       FROM unnest($4::text[], $5::text[], $6::text[]) WITH ORDINALITY AS v(id, certificate, issued_at, position)
         JOIN evidence e ON e.id = v.id AND e.batch_id = $1
       ORDER BY v.position`,
      [
        batchId,
        reason,
        blockNumber,
        ids,
        chunk.map((c) => JSON.stringify(c)),
        chunk.map((c) => (c.version === 1 ? c.issuedAt : c.batch.issuedAt)),
      ],
    );
    if (rowCount !== chunk.length) {
      const { rows } = await query<{ id: string }>(
        "SELECT v.id FROM unnest($1::text[]) AS v(id) WHERE NOT EXISTS (SELECT 1 FROM evidence e WHERE e.id = v.id AND e.batch_id = $2)",
        [ids, batchId],
      );
      throw new Error(`evidence ${rows[0]?.id ?? "(repeated)"} is not in batch ${batchId}`);
    }
  }
}

async function addCaptureFiles(query: Query, evidenceId: string, files: readonly string[]): Promise<void> {
  if (files.length === 0) return;
  await query(
    `INSERT INTO capture_files (evidence_id, content_hash)
       SELECT $1, f FROM unnest($2::text[]) AS f ON CONFLICT DO NOTHING`,
    [evidenceId, [...files]],
  );
}

export function newPool(databaseUrl: string, max = POOL_MAX): pg.Pool {
  const pool = new pg.Pool({
    connectionString: databaseUrl,
    max,
    // A replica whose database is unreachable answers 503 within seconds rather than queueing.
    connectionTimeoutMillis: 10_000,
    idleTimeoutMillis: 30_000,
    keepAlive: true,
    application_name: "evidence-anchor",
    types: { getTypeParser: typeParser } as pg.CustomTypesConfig,
  });
  // An idle connection that breaks (a server restart) is dropped by the pool; the error
  // must not crash the process. The next query opens a new connection.
  pool.on("error", () => undefined);
  // One handed out (in a transaction, between two of its queries) that breaks emits "error"
  // on its own client, where the pool does not listen: unheard, it would end the process (a
  // database failover under load took replicas down). Its next query fails instead (503), and
  // the pool drops it when it is given back.
  pool.on("connect", (client) => client.on("error", () => undefined));
  return pool;
}

/** Adds a server setting for every connection of a URL (libpq's `options`, as `-c name=value`). */
function withStartupOption(databaseUrl: string, option: string): string {
  const url = new URL(databaseUrl);
  const prior = url.searchParams.get("options");
  url.searchParams.set("options", prior ? `${prior} ${option}` : option);
  return url.toString();
}

/**
 * BIGINT (int8) and count(*) arrive as text: read them as numbers. Every such value here
 * (sequence numbers, block numbers, counts) stays far below 2^53.
 */
function typeParser(oid: number, format?: string): (value: string) => unknown {
  if (oid === pg.types.builtins.INT8) {
    return (value: string) => {
      const n = Number(value);
      if (!Number.isSafeInteger(n))
        throw new RangeError(`${value} is beyond the integers JavaScript represents exactly`);
      return n;
    };
  }
  return pg.types.getTypeParser(oid, (format ?? "text") as "text");
}

/** Errors of the connection itself, not of a statement: the database is unreachable for now. */
const CONNECTION_ERRNOS = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EPIPE",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENOTFOUND",
  "EAI_AGAIN",
]);
const CONNECTION_MESSAGES =
  /Connection terminated|timeout exceeded when trying to connect|is not queryable|Connection ended|connection timeout/i;

/**
 * A PostgreSQL error keeps its SQLSTATE in `code` (http/problem.ts maps 53100 disk full to
 * 507 and classes 08, 53, 57P to 503). A lost or refused connection has no SQLSTATE: it
 * becomes {@link StoreUnavailableError}, SQLSTATE 08006 (connection_failure), so it too is
 * answered 503 and never as an internal error.
 * https://www.postgresql.org/docs/current/errcodes-appendix.html
 */
function storeError(e: unknown): unknown {
  const err = e as { code?: unknown; message?: unknown };
  if (typeof err?.code === "string" && /^[0-9A-Z]{5}$/.test(err.code)) return e;
  const lost =
    (typeof err?.code === "string" && CONNECTION_ERRNOS.has(err.code)) ||
    (typeof err?.message === "string" && CONNECTION_MESSAGES.test(err.message));
  return lost ? new StoreUnavailableError(`the database is unreachable: ${String(err.message)}`, { cause: e }) : e;
}

export class StoreUnavailableError extends Error {
  override name = "StoreUnavailableError";
  /** SQLSTATE connection_failure. */
  readonly code = "08006";
}
