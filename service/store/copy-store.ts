import { createHash } from "node:crypto";
import path from "node:path";
import { DatabaseSync, type SQLOutputValue } from "node:sqlite";
import type pg from "pg";
import { listCaptureFiles } from "../capture/capture-files.ts";
import { firstLineOf } from "../core/errors.ts";
import type { ObjectStore } from "../objects/object-store.ts";
import { newPool, PostgresEvidenceStore } from "./postgres-store.ts";
import { markMoved, MOVED_FILE } from "./moved.ts";
import { SqliteEvidenceStore } from "./sqlite-store.ts";

/**
 * Moving one machine's store onto the store replicas share: the SQLite database of a data
 * directory into PostgreSQL, and the evidence files kept there into the shared object store
 * (docs/deployment.md, "Moving from one machine").
 *
 * Rows keep their keys — batch ids, intake sequence numbers, certificate history — so every
 * certificate already handed out is served again byte for byte, and every item waiting for a
 * batch keeps its place. Files are copied first (a file present without its row is harmless,
 * and a second run skips it); then all rows are written in one PostgreSQL transaction, read
 * back and compared with the source, and committed only if every table is equal. A copy that
 * fails at any point leaves the database as it was.
 */

/**
 * The tables copied, parents before children, each read in the order of its primary key.
 * `leases` is not copied: a lease belongs to a running service. A table not in this list
 * (added by a later migration) stops the copy rather than being left behind.
 */
const TABLES: readonly { name: string; key: string }[] = [
  { name: "meta", key: "key" },
  { name: "accounts", key: "id" },
  { name: "batches", key: "id" },
  { name: "evidence", key: "seq" },
  { name: "issued_certificates", key: "seq" },
  { name: "batch_certificates", key: "seq" },
  { name: "batch_trees", key: "batch_id" },
  { name: "captures", key: "id" },
  { name: "capture_files", key: "seq" },
  { name: "checkpoints", key: "block_number" },
];
const NOT_COPIED = new Set(["leases"]);
/** Rows per INSERT, and per page when reading back: far below PostgreSQL's 65,535 parameters. */
const ROWS_PER_STATEMENT = 1_000;
/** Files copied at once: object storage answers each PUT after a round trip. */
const FILES_AT_ONCE = 8;

export interface CopyReport {
  tables: { name: string; rows: number }[];
  /**
   * With `inPlace`, the source is the target itself: every file was checked there against
   * its hash (`present` of them) and none written.
   */
  files: { copied: number; present: number; bytes: number; inPlace: boolean };
  evidence: { items: number; certified: number; waiting: number };
  /** Who signed the newest certificate, and in which version: the replicas must issue alike. */
  issuer: { name: string; address: string; certificateVersion: number } | null;
}

export class CopyRefusedError extends Error {
  override name = "CopyRefusedError";
}

/**
 * Copies `dataDir`'s store into the PostgreSQL database at `databaseUrl` (migrated first,
 * and required to be empty) and its evidence files from `source` into `target`. The caller
 * holds the data directory's lock, so no service writes to it meanwhile.
 *
 * When `source` is `target` (a machine that kept its files where the replicas will), the
 * files are checked in place and nothing is written to, or removed from, that store: not
 * even the staging files a copy clears, which may be the machine's own.
 */
export async function copyStore(options: {
  dataDir: string;
  databaseUrl: string;
  source: ObjectStore;
  target: ObjectStore;
  progress?: (line: string) => void;
  /** Told when the COMMIT is about to be sent, and once it is done and the data directory marked MOVED. */
  phase?: (phase: "committing" | "committed") => void;
}): Promise<CopyReport> {
  const { dataDir, databaseUrl, source, target } = options;
  const progress = options.progress ?? (() => undefined);
  const phase = options.phase ?? (() => undefined);
  // Opening each store brings its schema up to this version's, as a start of the service
  // would; captures recorded by an earlier version get their files listed, as at a start.
  const sqlite = await SqliteEvidenceStore.open(dataDir);
  try {
    await listCaptureFiles(sqlite, source, { info: progress, error: progress });
    // A capture whose files cannot be listed would lose them in the move: its package would
    // break on the replicas. Nothing is copied until every capture's files are known.
    const unlisted = await sqlite.capturesWithoutFiles(21);
    if (unlisted.length > 0) {
      const ids = unlisted.slice(0, 20).map((c) => c.id);
      const which =
        unlisted.length === 1
          ? `the manifest of capture ${ids[0]} cannot be read`
          : `the manifests of ${unlisted.length > 20 ? "more than 20" : unlisted.length} captures cannot be read (${ids.join(", ")})`;
      throw new CopyRefusedError(
        `${which}, so the files it lists cannot be copied: restore ${source.where} from a backup, then copy again`,
      );
    }
  } finally {
    await sqlite.close();
  }
  const db = new DatabaseSync(path.join(dataDir, "evidence.db"), { readOnly: true });
  db.prepare("SELECT 1").get();
  try {
    refuseEmbeddedChain(db, dataDir);
    refuseUnknownTables(db);
    await (await PostgresEvidenceStore.open(databaseUrl)).close();
    const pool = newPool(databaseUrl, 1);
    try {
      const client = await pool.connect();
      try {
        // What would refuse the rows is found before the files are copied, which can take hours.
        await refuseUnfitDatabase(client);
        const inPlace = await source.isSameAs(target);
        if (!inPlace) await target.cleanTemporaryFiles();
        const files = inPlace
          ? await checkFilesInPlace(db, source, progress)
          : await copyFiles(db, source, target, progress);
        const tables = await copyRows(db, client, progress, () => phase("committing"));
        // Marked at once, before anything else is awaited: the rows are the replicas' now.
        const moved = path.join(dataDir, MOVED_FILE);
        try {
          markMoved(dataDir, withoutPassword(databaseUrl));
        } catch (e) {
          throw new Error(
            `the copy is committed, but ${moved} could not be written (${firstLineOf(e)}): create it by hand, ` +
              "so that the service is not started on this data directory again",
            { cause: e },
          );
        }
        phase("committed");
        if (!files.inPlace) await target.cleanTemporaryFiles();
        return { tables, files, evidence: evidenceOf(db), issuer: issuerOf(db) };
      } finally {
        client.release();
      }
    } finally {
      await pool.end();
    }
  } finally {
    db.close();
  }
}

function withoutPassword(databaseUrl: string): string {
  try {
    const url = new URL(databaseUrl);
    url.password = "";
    url.search = "";
    return url.toString();
  } catch {
    return "PostgreSQL";
  }
}

function evidenceOf(db: DatabaseSync): CopyReport["evidence"] {
  const row = db
    .prepare(
      `SELECT count(*) AS items,
              coalesce(sum(b.status = 'anchored'), 0) AS certified
         FROM evidence e LEFT JOIN batches b ON b.id = e.batch_id`,
    )
    .get() as { items: number; certified: number };
  const items = Number(row.items);
  const certified = Number(row.certified);
  return { items, certified, waiting: items - certified };
}

function issuerOf(db: DatabaseSync): CopyReport["issuer"] {
  const newest = (table: string, column: string) =>
    db.prepare(`SELECT ${column} AS json, issued_at AS at FROM ${table} ORDER BY seq DESC LIMIT 1`).get() as
      { json: string; at: string } | undefined;
  const v2 = newest("batch_certificates", "statement");
  const v1 = newest("issued_certificates", "certificate");
  const latest = v2 && (!v1 || v2.at >= v1.at) ? { row: v2, version: 2 } : v1 ? { row: v1, version: 1 } : undefined;
  if (!latest) return null;
  const issuer = (JSON.parse(latest.row.json) as { issuer?: { name?: string; address?: string } }).issuer;
  return { name: issuer?.name ?? "", address: issuer?.address ?? "", certificateVersion: latest.version };
}

/** The database must hold no rows yet, and store text as UTF-8 (records hold any language). */
async function refuseUnfitDatabase(client: pg.PoolClient): Promise<void> {
  const { rows: setting } = await client.query<{ encoding: string }>(
    "SELECT current_setting('server_encoding') AS encoding",
  );
  const encoding = setting[0]?.encoding;
  if (encoding !== "UTF8") {
    throw new CopyRefusedError(
      `the database stores text as ${encoding}, which cannot hold every record: create it with ENCODING 'UTF8' TEMPLATE template0`,
    );
  }
  const filled: string[] = [];
  for (const { name } of TABLES) {
    const { rows } = await client.query(`SELECT EXISTS (SELECT 1 FROM ${name}) AS filled`);
    if ((rows[0] as { filled: boolean }).filled) filled.push(name);
  }
  if (filled.length > 0) {
    throw new CopyRefusedError(
      `the database already holds rows (in ${filled.join(", ")}): copy into a new database, before any replica has started on it`,
    );
  }
}

/**
 * The embedded chain lives in the data directory and answers on loopback only: its
 * certificates verify against it alone, and replicas cannot anchor on it.
 */
function refuseEmbeddedChain(db: DatabaseSync, dataDir: string): void {
  const contract = db.prepare("SELECT value FROM meta WHERE key = 'contract'").get() as { value: string } | undefined;
  if (contract === undefined) return;
  throw new CopyRefusedError(
    `${dataDir} anchors on the embedded development chain (contract ${contract.value}, in ${path.join(dataDir, "chain")}): ` +
      "its certificates verify only against that chain, and replicas need a consortium chain (CHAIN_RPC_URL). " +
      "Only a store that anchors on an external chain can be copied.",
  );
}

function refuseUnknownTables(db: DatabaseSync): void {
  const names = (
    db.prepare("SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%'").all() as {
      name: string;
    }[]
  ).map((t) => t.name);
  const known = new Set(TABLES.map((t) => t.name));
  const unknown = names.filter((n) => !known.has(n) && !NOT_COPIED.has(n));
  if (unknown.length > 0) throw new Error(`this version cannot copy the table(s) ${unknown.join(", ")}`);
}

/** Each file the rows refer to, with the evidence that refers to it: an item's own file, or a file of a capture. */
function filesOf(db: DatabaseSync): { hash: string; evidence: string }[] {
  return db
    .prepare(
      `SELECT content_hash AS hash, min(id) AS evidence FROM (
         SELECT content_hash, id FROM evidence WHERE file_stored = 1
         UNION ALL SELECT content_hash, evidence_id FROM capture_files
       ) GROUP BY content_hash ORDER BY content_hash`,
    )
    .all() as { hash: string; evidence: string }[];
}

/** Runs `each` on every file, a few at once. */
async function forEachFile(
  files: { hash: string; evidence: string }[],
  each: (file: { hash: string; evidence: string }) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < files.length) await each(files[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(FILES_AT_ONCE, files.length) }, worker));
}

/** Stops the copy if any file is missing or damaged, naming them (the first 20). */
function refuseFaults(faults: string[], source: ObjectStore, inPlace: boolean): void {
  if (faults.length === 0) return;
  const shown = faults.sort().slice(0, 20);
  const one = faults.length === 1;
  throw new CopyRefusedError(
    `${faults.length} evidence ${one ? "file" : "files"} in ${source.where} cannot be ${inPlace ? "used" : "copied"} ` +
      `(restore ${one ? "it" : "them"} from a backup, then copy again${inPlace ? "" : "; the files copied are kept"}): ` +
      shown.join("; ") +
      (faults.length > shown.length ? `; and ${faults.length - shown.length} more` : ""),
  );
}

/**
 * Checks every evidence file the rows refer to against its hash where it is, in a source
 * that is the target itself. Nothing is written or removed.
 */
async function checkFilesInPlace(
  db: DatabaseSync,
  source: ObjectStore,
  progress: (line: string) => void,
): Promise<CopyReport["files"]> {
  const files = filesOf(db);
  const report = { copied: 0, present: 0, bytes: 0, inPlace: true };
  const faults: string[] = [];
  await forEachFile(files, async ({ hash, evidence }) => {
    if (!(await source.has(hash))) {
      faults.push(`${hash} (of evidence ${evidence}) is missing`);
      return;
    }
    const digest = createHash("sha256");
    for await (const chunk of await source.get(hash)) digest.update(chunk as Buffer);
    const actual = digest.digest("hex");
    if (actual !== hash) {
      faults.push(`${hash} (of evidence ${evidence}) is damaged: its bytes hash to ${actual}`);
      return;
    }
    report.present++;
    if (report.present % 1_000 === 0) progress(`files: ${report.present} of ${files.length} checked in place`);
  });
  refuseFaults(faults, source, true);
  progress(`files: ${files.length} checked in place, none copied (${source.where} is the target)`);
  return report;
}

/** Copies every evidence file the rows refer to that the target does not hold yet. */
async function copyFiles(
  db: DatabaseSync,
  source: ObjectStore,
  target: ObjectStore,
  progress: (line: string) => void,
): Promise<CopyReport["files"]> {
  const files = filesOf(db);
  const wanted = new Set(files.map((f) => f.hash));
  const report = { copied: 0, present: 0, bytes: 0, inPlace: false };
  const faults: string[] = [];
  await forEachFile(files, async ({ hash, evidence }) => {
    if (await target.has(hash)) {
      report.present++;
      return;
    }
    if (!(await source.has(hash))) {
      faults.push(`${hash} (of evidence ${evidence}) is missing`);
      return;
    }
    const held = await target.put(await source.get(hash));
    held.release();
    if (held.contentHash !== hash) {
      // The damaged bytes may be another file the rows refer to, already in the target
      // (which may be the source itself, reached by a name not seen to be the same): it stays.
      await target.removeIfUnreferenced(held.contentHash, async (other) => wanted.has(other));
      faults.push(`${hash} (of evidence ${evidence}) is damaged: its bytes hash to ${held.contentHash}`);
      return;
    }
    report.copied++;
    report.bytes += held.size;
    if ((report.copied + report.present) % 1_000 === 0) {
      progress(`files: ${report.copied + report.present} of ${files.length}`);
    }
  });
  refuseFaults(faults, source, false);
  progress(`files: ${files.length} (${report.copied} copied, ${report.present} already there)`);
  return report;
}

/**
 * Writes every table in one transaction, reads each back in key order and compares a digest
 * of its rows with the source's, sets the identity sequences past the copied keys, commits.
 */
async function copyRows(
  db: DatabaseSync,
  client: pg.PoolClient,
  progress: (line: string) => void,
  committing: () => void,
): Promise<CopyReport["tables"]> {
  const report: CopyReport["tables"] = [];
  await client.query("SET synchronous_commit = on");
  await client.query("BEGIN");
  try {
    // Replicas started on the database meanwhile cannot write until the copy is committed.
    await client.query(`LOCK TABLE ${TABLES.map((t) => t.name).join(", ")} IN SHARE ROW EXCLUSIVE MODE`);
    await refuseUnfitDatabase(client);
    for (const table of TABLES) {
      const columns = await columnsOf(db, client, table.name);
      const written = await writeTable(db, client, table, columns, progress);
      const readBack = await readBackTable(client, table, columns);
      if (readBack.rows !== written.rows || readBack.digest !== written.digest) {
        throw new Error(
          `${table.name}: PostgreSQL holds ${readBack.rows} rows that differ from the ${written.rows} copied; nothing was committed`,
        );
      }
      await advanceIdentity(client, table.name, columns);
      report.push({ name: table.name, rows: written.rows });
      progress(`${table.name}: ${written.rows} ${written.rows === 1 ? "row" : "rows"}, read back equal`);
    }
    committing();
    await client.query("COMMIT");
  } catch (e) {
    await client.query("ROLLBACK").catch(() => undefined);
    throw e;
  }
  return report;
}

interface Column {
  name: string;
  kind: "integer" | "text" | "bytes";
  identity: boolean;
}

/** The table's columns, which both engines must have alike (one set of migrations). */
async function columnsOf(db: DatabaseSync, client: pg.PoolClient, table: string): Promise<Column[]> {
  const sqlite = db.prepare(`PRAGMA table_info(${table})`).all() as { name: string; type: string }[];
  const { rows } = await client.query<{ column_name: string; data_type: string; is_identity: string }>(
    `SELECT column_name, data_type, is_identity FROM information_schema.columns
      WHERE table_schema = current_schema() AND table_name = $1`,
    [table],
  );
  const postgres = new Map(rows.map((r) => [r.column_name, r]));
  const names = sqlite.map((c) => c.name);
  if (names.length !== postgres.size || names.some((n) => !postgres.has(n))) {
    throw new Error(
      `${table} has the columns ${names.join(", ")} in SQLite but ${[...postgres.keys()].join(", ")} in PostgreSQL`,
    );
  }
  return names.map((name) => {
    const pgColumn = postgres.get(name)!;
    const kind = /int/.test(pgColumn.data_type) ? "integer" : pgColumn.data_type === "bytea" ? "bytes" : "text";
    return { name, kind, identity: pgColumn.is_identity === "YES" };
  });
}

/** One cell as both engines' values compare: integers as decimal, bytes as hex. */
function cell(value: unknown, kind: Column["kind"]): string | null {
  if (value === null || value === undefined) return null;
  if (kind === "bytes") return Buffer.from(value as Uint8Array).toString("hex");
  return String(value);
}

class RowDigest {
  rows = 0;
  readonly #hash = createHash("sha256");

  add(cells: (string | null)[]): void {
    this.rows++;
    this.#hash.update(`${JSON.stringify(cells)}\n`);
  }

  result(): { rows: number; digest: string } {
    return { rows: this.rows, digest: this.#hash.digest("hex") };
  }
}

async function writeTable(
  db: DatabaseSync,
  client: pg.PoolClient,
  table: { name: string; key: string },
  columns: Column[],
  progress: (line: string) => void,
): Promise<{ rows: number; digest: string }> {
  const read = db.prepare(`SELECT ${columns.map((c) => c.name).join(", ")} FROM ${table.name} ORDER BY ${table.key}`);
  read.setReadBigInts(true);
  const digest = new RowDigest();
  let pending: (string | Buffer | null)[][] = [];
  const flush = async (): Promise<void> => {
    if (pending.length === 0) return;
    const width = columns.length;
    const values = pending.map((_, r) => `(${columns.map((__, c) => `$${r * width + c + 1}`).join(", ")})`);
    await client.query(
      `INSERT INTO ${table.name} (${columns.map((c) => c.name).join(", ")}) OVERRIDING SYSTEM VALUE VALUES ${values.join(", ")}`,
      pending.flat(),
    );
    pending = [];
  };
  for (const row of read.iterate() as Iterable<Record<string, SQLOutputValue>>) {
    const cells = columns.map((c) => cell(row[c.name], c.kind));
    digest.add(cells);
    pending.push(
      columns.map((c, i) => {
        const value = row[c.name];
        return c.kind === "bytes" && value instanceof Uint8Array ? Buffer.from(value) : (cells[i] ?? null);
      }),
    );
    if (pending.length === ROWS_PER_STATEMENT) await flush();
    if (digest.rows % 100_000 === 0) progress(`${table.name}: ${digest.rows} rows written`);
  }
  await flush();
  return digest.result();
}

/**
 * Reads the table back a page at a time in the source's order: text keys by their bytes
 * (COLLATE "C"), as SQLite orders them.
 */
async function readBackTable(
  client: pg.PoolClient,
  table: { name: string; key: string },
  columns: Column[],
): Promise<{ rows: number; digest: string }> {
  const textKey = columns.find((c) => c.name === table.key)?.kind === "text";
  const order = textKey ? `${table.key} COLLATE "C"` : table.key;
  const digest = new RowDigest();
  let after: unknown;
  for (;;) {
    const { rows } = await client.query<Record<string, unknown>>(
      `SELECT ${columns.map((c) => c.name).join(", ")} FROM ${table.name}
        ${after === undefined ? "" : `WHERE ${order} > $2`} ORDER BY ${order} LIMIT $1`,
      after === undefined ? [ROWS_PER_STATEMENT] : [ROWS_PER_STATEMENT, after],
    );
    for (const row of rows) digest.add(columns.map((c) => cell(row[c.name], c.kind)));
    if (rows.length < ROWS_PER_STATEMENT) return digest.result();
    after = rows.at(-1)![table.key];
  }
}

/** New rows continue after the copied ones: an identity column's sequence is set to its largest key. */
async function advanceIdentity(client: pg.PoolClient, table: string, columns: Column[]): Promise<void> {
  for (const column of columns.filter((c) => c.identity)) {
    await client.query(
      `SELECT setval(pg_get_serial_sequence($1, $2), m) FROM (SELECT max(${column.name}) AS m FROM ${table}) t WHERE m IS NOT NULL`,
      [table, column.name],
    );
  }
}
