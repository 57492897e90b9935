import { expect } from "chai";
import { randomBytes } from "node:crypto";
import path from "node:path";
import { rmSync } from "node:fs";
import { DatabaseSync } from "node:sqlite";
import pg from "pg";
import {
  buildCertificates,
  buildRecord,
  type Certificate,
  type Hex32,
  type IssueReason,
} from "../../service/core/index.ts";
import { treeOf } from "../../service/anchoring/seal-batch.ts";
import { InProcessSigner } from "../../service/anchoring/signers.ts";
import { newEvidence } from "../../service/intake/intake.ts";
import { MIGRATIONS } from "../../service/store/migrations.ts";
import { PostgresEvidenceStore } from "../../service/store/postgres-store.ts";
import { SqliteEvidenceStore } from "../../service/store/sqlite-store.ts";
import type { Account, BatchAnchor, EvidenceStore, NewEvidence } from "../../service/store/store.ts";
import { SERVICE_KEY } from "../helpers/consortium.ts";
import { sha256Hex } from "../helpers/hash.ts";
import { startPostgres, type PostgresServer } from "../helpers/postgres.ts";
import { tempDir, until } from "../helpers/processes.ts";

/**
 * One specification of the store contract (service/store/store.ts), run on each engine:
 * SQLite in a temporary directory and PostgreSQL on a throwaway server. The invariants the
 * service relies on are proven against the database itself: a second connection attempts
 * each violation with raw SQL, and the database must refuse it.
 */

/** A second, raw connection to the same database, outside the store's code. */
interface RawConnection {
  run(sql: string): Promise<void>;
  rows<T = Record<string, unknown>>(sql: string): Promise<T[]>;
  close(): Promise<void>;
}

/** One empty database, on which any number of store instances can be opened. */
interface TestDatabase {
  open(): Promise<EvidenceStore>;
  raw(): Promise<RawConnection>;
  dispose(): Promise<void>;
}

interface Engine {
  name: string;
  /** Whether the SQL dialect has TRUNCATE (a way to delete rows without DELETE). */
  hasTruncate: boolean;
  setUp(): Promise<void>;
  tearDown(): Promise<void>;
  fresh(): Promise<TestDatabase>;
  /** How many migrations the database records as applied. */
  schemaVersion(raw: RawConnection): Promise<number>;
  /** Records a schema version as if a newer service had migrated the database. */
  recordSchemaVersion(raw: RawConnection, version: number): Promise<void>;
  /** The indexes the engine's plan for `query` reads (none when it scans the tables). */
  indexesUsed(raw: RawConnection, query: string): Promise<string[]>;
}

function sqliteEngine(): Engine {
  return {
    name: "SQLite (a file in a temporary directory)",
    hasTruncate: false,
    async schemaVersion(raw) {
      return (await raw.rows<{ user_version: number }>("PRAGMA user_version"))[0]!.user_version;
    },
    async recordSchemaVersion(raw, version) {
      await raw.run(`PRAGMA user_version = ${version}`);
    },
    async indexesUsed(raw, query) {
      const plan = await raw.rows<{ detail: string }>(`EXPLAIN QUERY PLAN ${query}`);
      return plan.flatMap((step) => [...step.detail.matchAll(/USING (?:COVERING )?INDEX (\w+)/g)].map((m) => m[1]!));
    },
    async setUp() {},
    async tearDown() {},
    async fresh() {
      const dir = tempDir("store");
      return {
        open: async () => SqliteEvidenceStore.open(dir),
        async raw() {
          const db = new DatabaseSync(path.join(dir, "evidence.db"));
          db.exec("PRAGMA busy_timeout = 5000");
          return {
            async run(sql) {
              db.exec(sql);
            },
            async rows<T>(sql: string) {
              return db.prepare(sql).all() as T[];
            },
            async close() {
              db.close();
            },
          };
        },
        async dispose() {
          rmSync(dir, { recursive: true, force: true });
        },
      };
    },
  };
}

function postgresEngine(): Engine {
  let server: PostgresServer | undefined;
  return {
    name: "PostgreSQL (a throwaway server, one schema per test)",
    hasTruncate: true,
    async schemaVersion(raw) {
      const rows = await raw.rows<{ version: number }>("SELECT version FROM schema_version ORDER BY version");
      expect(
        rows.map((r) => r.version),
        "each migration recorded once",
      ).to.deep.equal(rows.map((_, i) => i + 1));
      return rows.length;
    },
    async recordSchemaVersion(raw, version) {
      await raw.run(`INSERT INTO schema_version (version, name) VALUES (${version}, 'from a newer service')`);
    },
    async indexesUsed(raw, query) {
      // A table of a few rows is read whole whatever its indexes; the question is whether one serves the query.
      await raw.run("SET enable_seqscan = off");
      const plan = await raw.rows<{ "QUERY PLAN": string }>(`EXPLAIN ${query}`);
      await raw.run("RESET enable_seqscan");
      return plan.flatMap((step) =>
        [...step["QUERY PLAN"].matchAll(/Index (?:Only )?Scan(?: Backward)? (?:using|on) (\w+)/g)].map((m) => m[1]!),
      );
    },
    async setUp() {
      server = await startPostgres();
    },
    async tearDown() {
      await server?.stop();
    },
    async fresh() {
      const url = await server!.createSchema();
      return {
        open: () => PostgresEvidenceStore.open(url),
        async raw() {
          const client = new pg.Client({ connectionString: url });
          await client.connect();
          return {
            async run(sql) {
              await client.query(sql);
            },
            async rows<T>(sql: string) {
              return (await client.query(sql)).rows as T[];
            },
            async close() {
              await client.end();
            },
          };
        },
        async dispose() {},
      };
    },
  };
}

// --- test data ---------------------------------------------------------------------

let accounts = 0;
function newAccount(name = "rights holder"): Account {
  accounts++;
  return {
    id: `acct_${accounts}_${randomBytes(6).toString("hex")}`,
    name,
    keyHash: sha256Hex(`key ${accounts} ${randomBytes(8).toString("hex")}`),
    createdAt: new Date(Date.UTC(2026, 0, 1, 0, 0, accounts)).toISOString(),
  };
}

let items = 0;
function newItem(
  account: Account,
  options: { fileStored?: boolean; contentHash?: string; at?: Date } = {},
): NewEvidence {
  items++;
  const record = buildRecord({
    contentHash: options.contentHash ?? sha256Hex(`item ${items}`),
    submitter: account.id,
    submittedAt: options.at ?? new Date(Date.UTC(2026, 0, 2, 0, 0, 0, items)),
    fileName: `item-${items}.txt`,
  });
  return newEvidence(record, account, options.fileStored ?? false);
}

const signer = new InProcessSigner(SERVICE_KEY);

function anchorAt(blockNumber: number): BatchAnchor {
  return {
    txHash: `0x${sha256Hex(`tx ${blockNumber}`)}` as Hex32,
    blockNumber,
    blockHash: `0x${sha256Hex(`block ${blockNumber}`)}` as Hex32,
    timestamp: 1_790_000_000 + blockNumber,
  };
}

/** Seals every pending item into one batch, as the anchorer does; returns its id and root. */
async function sealPending(store: EvidenceStore): Promise<{ batchId: number; root: Hex32; seqs: number[] }> {
  const leaves = await store.pendingLeaves(1_000_000);
  const root = `0x${Buffer.from(treeOf(leaves).root()).toString("hex")}` as Hex32;
  const seqs = leaves.map((l) => l.seq);
  return { batchId: await store.sealBatch(root, seqs, new Date().toISOString()), root, seqs };
}

/** The batch's certificates, built and signed as the anchorer builds them. */
async function certificatesFor(
  store: EvidenceStore,
  batchId: number,
  anchor: BatchAnchor,
  issuedAt = new Date(),
): Promise<Certificate[]> {
  const leaves = await store.batchLeaves(batchId);
  return buildCertificates(
    {
      version: 2,
      leaves,
      tree: treeOf(leaves),
      anchor: { chainId: 31337, contract: "0x5FbDB2315678afecb367f032d93F642f64180aa3", ...anchor },
      issuerName: "Contract test",
      issuedAt: issuedAt.toISOString(),
    },
    signer,
  );
}

async function anchorBatch(
  store: EvidenceStore,
  batchId: number,
  blockNumber: number,
  reason: IssueReason = "anchored",
) {
  const anchor = anchorAt(blockNumber);
  const certificates = await certificatesFor(store, batchId, anchor);
  await store.completeBatch(batchId, anchor, certificates, new Date().toISOString(), reason);
  return { anchor, certificates };
}

/** Resolves to the error `promise` rejected with; fails the test if it fulfilled. */
async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (e) {
    return e as Error;
  }
  throw new Error("expected a rejection, but it fulfilled");
}

function sql(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}

// --- the contract ------------------------------------------------------------------

function defineStoreContract(engine: Engine): void {
  describe(`the store contract on ${engine.name}`, function () {
    this.timeout(60_000);
    let db: TestDatabase;
    let store: EvidenceStore;
    let raw: RawConnection;
    let alice: Account;

    before(() => engine.setUp());
    after(() => engine.tearDown());

    beforeEach(async () => {
      db = await engine.fresh();
      store = await db.open();
      raw = await db.raw();
      alice = newAccount("alice");
      await store.insertAccount(alice);
    });

    afterEach(async () => {
      await raw.close();
      await store.close();
      await db.dispose();
    });

    describe("open", () => {
      it("opens an existing database again without migrating it twice", async () => {
        const again = await db.open();
        try {
          expect(await again.accountById(alice.id)).to.deep.equal(alice);
          expect(await engine.schemaVersion(raw)).to.equal(MIGRATIONS.length);
        } finally {
          await again.close();
        }
      });

      it("migrates a new database once when several instances open it at the same moment", async () => {
        const other = await engine.fresh();
        const instances = await Promise.all([other.open(), other.open(), other.open()]);
        const otherRaw = await other.raw();
        try {
          expect(await engine.schemaVersion(otherRaw)).to.equal(MIGRATIONS.length);
          await instances[0]!.insertAccount(newAccount());
          expect(await instances[2]!.countAccounts()).to.equal(1);
        } finally {
          await otherRaw.close();
          await Promise.all(instances.map((i) => i.close()));
          await other.dispose();
        }
      });

      it("refuses a database migrated by a newer version of the service", async () => {
        await engine.recordSchemaVersion(raw, MIGRATIONS.length + 1);
        const error = await rejection(db.open());
        expect(error.message).to.match(new RegExp(`schema version ${MIGRATIONS.length + 1}, newer than this service`));
      });
    });

    describe("getMeta / setMeta", () => {
      it("answers undefined for a key never set", async () => {
        expect(await store.getMeta("contract")).to.equal(undefined);
      });

      it("stores a value and replaces it", async () => {
        await store.setMeta("contract", "0xabc");
        await store.setMeta("contract", "0xdef");
        expect(await store.getMeta("contract")).to.equal("0xdef");
      });
    });

    describe("accounts", () => {
      it("finds an account by its key hash and by its id", async () => {
        expect(await store.accountByKeyHash(alice.keyHash)).to.deep.equal(alice);
        expect(await store.accountById(alice.id)).to.deep.equal(alice);
        expect(await store.accountByKeyHash(sha256Hex("no such key"))).to.equal(undefined);
        expect(await store.accountById("acct_none")).to.equal(undefined);
      });

      it("rejects a second account with the same key hash", async () => {
        await rejection(store.insertAccount({ ...newAccount(), keyHash: alice.keyHash }));
        expect(await store.countAccounts()).to.equal(1);
      });

      it("lists accounts in order of creation and counts them", async () => {
        const bob = newAccount("bob");
        await store.insertAccount(bob);
        expect(await store.listAccounts()).to.deep.equal([alice, bob]);
        expect(await store.countAccounts()).to.equal(2);
      });
    });

    describe("insertEvidence / evidence", () => {
      it("records items as pending, with the record exactly as committed", async () => {
        const item = newItem(alice, { fileStored: true });
        await store.insertEvidence([item]);
        expect(await store.evidence(item.record.id)).to.deep.equal({
          id: item.record.id,
          accountId: alice.id,
          record: item.record,
          status: "pending",
          certificate: null,
          reanchoring: false,
          fileStored: true,
        });
        const [row] = await raw.rows<{ record: string }>(
          `SELECT record FROM evidence WHERE id = ${sql(item.record.id)}`,
        );
        expect(row!.record).to.equal(item.canonicalRecord);
      });

      it("answers undefined for an unknown id", async () => {
        expect(await store.evidence("AAAAAAAAAAAAAAAAAAAAAAAA")).to.equal(undefined);
      });

      it("inserts all items or none: a repeated id fails the whole call", async () => {
        const first = newItem(alice);
        await store.insertEvidence([first]);
        const error = await rejection(store.insertEvidence([newItem(alice), newItem(alice), first]));
        expect(error).to.be.an("error");
        expect(await store.counts()).to.deep.equal({ pending: 1, anchoring: 0, anchored: 0 });
      });

      it("rejects an item of an unknown account", async () => {
        await rejection(store.insertEvidence([newItem(newAccount("never inserted"))]));
        expect(await store.counts()).to.deep.equal({ pending: 0, anchoring: 0, anchored: 0 });
      });

      it("keeps intake order across a large group commit", async () => {
        const group = Array.from({ length: 5_001 }, () => newItem(alice));
        await store.insertEvidence(group);
        const leaves = await store.pendingLeaves(10_000);
        expect(leaves.map((l) => l.leafHash)).to.deep.equal(group.map((i) => i.leafHash));
      });
    });

    describe("evidenceOfAccount", () => {
      it("lists an account's items newest first, a page at a time", async () => {
        const bob = newAccount("bob");
        await store.insertAccount(bob);
        const mine = Array.from({ length: 5 }, () => newItem(alice));
        await store.insertEvidence([...mine.slice(0, 2), newItem(bob), ...mine.slice(2)]);
        const page1 = await store.evidenceOfAccount(alice.id, 3);
        expect(page1.map((r) => r.id)).to.deep.equal(
          mine
            .slice(2)
            .reverse()
            .map((i) => i.record.id),
        );
        expect(page1[0]).to.include({ accountId: alice.id, status: "pending" });
        expect(page1[0]!.record).to.deep.equal(mine[4]!.record);
        const page2 = await store.evidenceOfAccount(alice.id, 3, page1[2]!.seq);
        expect(page2.map((r) => r.id)).to.deep.equal(
          mine
            .slice(0, 2)
            .reverse()
            .map((i) => i.record.id),
        );
      });
    });

    describe("isObjectReferenced", () => {
      it("is true only while an item refers to a stored file with that content hash", async () => {
        const contentHash = sha256Hex("shared content");
        expect(await store.isObjectReferenced(contentHash)).to.equal(false);
        await store.insertEvidence([newItem(alice, { contentHash, fileStored: false })]);
        expect(await store.isObjectReferenced(contentHash), "a digest only").to.equal(false);
        await store.insertEvidence([newItem(alice, { contentHash, fileStored: true })]);
        expect(await store.isObjectReferenced(contentHash)).to.equal(true);
      });
    });

    describe("captures", () => {
      const request = (id: string, at: string) => ({
        id,
        accountId: "",
        url: `https://example.org/${id}`,
        request: JSON.stringify({ url: `https://example.org/${id}` }),
        requestedAt: at,
      });

      it("records a capture as queued and lists the unfinished ones in request order", async () => {
        const [a, b, c] = ["capAAAAAAAAAAAAAAAA", "capBBBBBBBBBBBBBBBB", "capCCCCCCCCCCCCCCCC"];
        await store.insertCapture({ ...request(b, "2026-01-01T00:00:02.000Z"), accountId: alice.id });
        await store.insertCapture({ ...request(a, "2026-01-01T00:00:01.000Z"), accountId: alice.id });
        await store.insertCapture({ ...request(c, "2026-01-01T00:00:03.000Z"), accountId: alice.id });
        expect(await store.capture(a)).to.deep.equal({
          ...request(a, "2026-01-01T00:00:01.000Z"),
          accountId: alice.id,
          status: "queued",
          error: null,
          attempts: 0,
        });
        await store.updateCapture(b, { status: "capturing", attempts: 1 });
        await store.updateCapture(c, {
          status: "failed",
          error: { code: "TIMEOUT", message: "the page did not load" },
        });
        expect((await store.unfinishedCaptures()).map((u) => [u.id, u.status])).to.deep.equal([
          [a, "queued"],
          [b, "capturing"],
        ]);
        expect(await store.capture("capNONEXXXXXXXXXXXX")).to.equal(undefined);
      });

      it("lists an account's captures that are not evidence, newest first, at most `limit`, and no one else's", async () => {
        const bob = newAccount("bob");
        await store.insertAccount(bob);
        const [a, b, c, d] = [
          "capFFFFFFFFFFFFFFFF",
          "capGGGGGGGGGGGGGGGG",
          "capHHHHHHHHHHHHHHHH",
          "capIIIIIIIIIIIIIIII",
        ];
        await store.insertCapture({ ...request(a, "2026-01-01T00:00:01.000Z"), accountId: alice.id });
        await store.insertCapture({ ...request(b, "2026-01-01T00:00:02.000Z"), accountId: alice.id });
        await store.insertCapture({ ...request(c, "2026-01-01T00:00:03.000Z"), accountId: alice.id });
        await store.insertCapture({ ...request(d, "2026-01-01T00:00:04.000Z"), accountId: bob.id });
        const recorded = newItem(alice, { fileStored: true });
        await store.insertCapture({ ...request(recorded.record.id, "2026-01-01T00:00:05.000Z"), accountId: alice.id });
        await store.completeCapture(recorded.record.id, recorded, []);
        await store.updateCapture(a, { status: "failed", error: { code: "TIMEOUT", message: "too slow" } });
        await store.updateCapture(b, { status: "capturing", attempts: 1 });
        const listed = await store.capturesOfAccount(alice.id, 10);
        expect(listed.map((r) => [r.id, r.status])).to.deep.equal([
          [c, "queued"],
          [b, "capturing"],
          [a, "failed"],
        ]);
        expect(listed[2]!.error).to.deep.equal({ code: "TIMEOUT", message: "too slow" });
        expect((await store.capturesOfAccount(alice.id, 2)).map((r) => r.id)).to.deep.equal([c, b]);
        expect((await store.capturesOfAccount(bob.id, 10)).map((r) => r.id)).to.deep.equal([d]);
      });

      it("finds an account's captures that are not evidence through an index, not by reading every capture", async () => {
        const query = `SELECT * FROM captures WHERE account_id = ${sql(alice.id)} AND status <> 'recorded' ORDER BY requested_at DESC, id DESC LIMIT 50`;
        expect(await engine.indexesUsed(raw, query)).to.deep.equal(["captures_account"]);
      });

      it("dismisses the account's failed capture, and leaves any other as it is, saying what it is", async () => {
        const bob = newAccount("bob");
        await store.insertAccount(bob);
        const [failed, queued, capturing] = ["capJJJJJJJJJJJJJJJJ", "capKKKKKKKKKKKKKKKK", "capLLLLLLLLLLLLLLLL"];
        for (const [id, at] of [
          [failed, "2026-01-01T00:00:01.000Z"],
          [queued, "2026-01-01T00:00:02.000Z"],
          [capturing, "2026-01-01T00:00:03.000Z"],
        ] as const) {
          await store.insertCapture({ ...request(id, at), accountId: alice.id });
        }
        const recorded = newItem(alice, { fileStored: true });
        await store.insertCapture({ ...request(recorded.record.id, "2026-01-01T00:00:04.000Z"), accountId: alice.id });
        await store.completeCapture(recorded.record.id, recorded, []);
        await store.updateCapture(failed, { status: "failed", error: { code: "TIMEOUT", message: "too slow" } });
        await store.updateCapture(capturing, { status: "capturing", attempts: 1 });

        expect(await store.dismissCapture(bob.id, failed), "another account's").to.equal(undefined);
        expect(await store.dismissCapture(alice.id, queued)).to.equal("queued");
        expect(await store.dismissCapture(alice.id, capturing)).to.equal("capturing");
        expect(await store.dismissCapture(alice.id, recorded.record.id)).to.equal("recorded");
        expect(await store.dismissCapture(alice.id, failed)).to.equal("dismissed");
        expect(await store.dismissCapture(alice.id, failed), "dismissed already").to.equal(undefined);
        expect((await store.capturesOfAccount(alice.id, 10)).map((r) => r.id)).to.deep.equal([capturing, queued]);
        expect(await store.evidence(recorded.record.id), "the recorded capture's evidence").to.not.equal(undefined);
      });

      it("keeps a capture's error and attempts unless the update names them", async () => {
        const id = "capDDDDDDDDDDDDDDDD";
        await store.insertCapture({ ...request(id, "2026-01-01T00:00:01.000Z"), accountId: alice.id });
        await store.updateCapture(id, {
          status: "failed",
          error: { code: "DNS", message: "no such host" },
          attempts: 2,
        });
        await store.updateCapture(id, { status: "queued" });
        expect(await store.capture(id)).to.include({ status: "queued", attempts: 2 });
        expect((await store.capture(id))!.error).to.deep.equal({ code: "DNS", message: "no such host" });
      });

      it("records a capture's evidence and marks it recorded in one transaction", async () => {
        const item = newItem(alice, { fileStored: true });
        const id = item.record.id;
        await store.insertCapture({ ...request(id, "2026-01-01T00:00:01.000Z"), accountId: alice.id });
        await store.updateCapture(id, { status: "capturing", error: { code: "X", message: "earlier" } });
        await store.completeCapture(id, item, [sha256Hex("screenshot"), sha256Hex("page.html")]);
        expect(await store.capture(id)).to.include({ status: "recorded", error: null });
        expect((await store.evidence(id))!.record).to.deep.equal(item.record);
      });

      it("counts the files a recorded capture lists as referenced, like the evidence's own file", async () => {
        const item = newItem(alice, { fileStored: true });
        const id = item.record.id;
        const [screenshot, page] = [sha256Hex("a capture's screenshot"), sha256Hex("a capture's page")];
        expect(await store.isObjectReferenced(screenshot), "before the capture is recorded").to.equal(false);
        await store.insertCapture({ ...request(id, "2026-01-01T00:00:01.000Z"), accountId: alice.id });
        await store.completeCapture(id, item, [screenshot, page]);
        expect(await store.isObjectReferenced(item.record.contentHash), "the manifest").to.equal(true);
        expect(await store.isObjectReferenced(screenshot), "the screenshot").to.equal(true);
        expect(await store.isObjectReferenced(page), "the page").to.equal(true);
        expect(await store.isObjectReferenced(sha256Hex("another file")), "another file").to.equal(false);
        expect(await store.capturesWithoutFiles(10)).to.deep.equal([]);
      });

      it("lists the recorded captures whose files are not listed yet, until they are", async () => {
        const item = newItem(alice, { fileStored: true });
        const id = item.record.id;
        await store.insertCapture({ ...request(id, "2026-01-01T00:00:01.000Z"), accountId: alice.id });
        // As a capture recorded before its files were listed.
        await store.completeCapture(id, item, []);
        const queued = "capMMMMMMMMMMMMMMMM";
        await store.insertCapture({ ...request(queued, "2026-01-01T00:00:02.000Z"), accountId: alice.id });
        expect(await store.capturesWithoutFiles(10)).to.deep.equal([{ id, contentHash: item.record.contentHash }]);
        const screenshot = sha256Hex("an earlier capture's screenshot");
        await store.addCaptureFiles(id, [screenshot]);
        await store.addCaptureFiles(id, [screenshot]);
        expect(await store.capturesWithoutFiles(10)).to.deep.equal([]);
        expect(await store.isObjectReferenced(screenshot)).to.equal(true);
      });

      it("leaves the capture unrecorded when its evidence cannot be inserted", async () => {
        const taken = newItem(alice);
        await store.insertEvidence([taken]);
        const id = "capEEEEEEEEEEEEEEEE";
        await store.insertCapture({ ...request(id, "2026-01-01T00:00:01.000Z"), accountId: alice.id });
        await rejection(store.completeCapture(id, taken, [sha256Hex("a file")]));
        expect(await store.capture(id)).to.include({ status: "queued" });
        expect(await store.isObjectReferenced(sha256Hex("a file")), "its files not listed").to.equal(false);
      });
    });

    describe("pendingSummary / pendingLeaves", () => {
      it("counts the items waiting for a batch and names the oldest and the newest", async () => {
        expect(await store.pendingSummary()).to.deep.equal({ count: 0, oldest: null, newest: null });
        const group = [
          newItem(alice, { at: new Date("2026-02-01T00:00:00.500Z") }),
          newItem(alice, { at: new Date("2026-02-01T00:00:00.100Z") }),
          newItem(alice, { at: new Date("2026-02-01T00:00:00.300Z") }),
        ];
        await store.insertEvidence(group);
        expect(await store.pendingSummary()).to.deep.equal({
          count: 3,
          oldest: "2026-02-01T00:00:00.100Z",
          newest: "2026-02-01T00:00:00.500Z",
        });
        const leaves = await store.pendingLeaves(2);
        expect(leaves.map((l) => l.leafHash)).to.deep.equal(group.slice(0, 2).map((i) => i.leafHash));
        expect(leaves[0]!.seq).to.be.lessThan(leaves[1]!.seq);
      });
    });

    describe("sealBatch", () => {
      it("puts the items in a new batch, in tree order, and they show anchoring", async () => {
        const group = [newItem(alice), newItem(alice), newItem(alice)];
        await store.insertEvidence(group);
        const sealedAt = "2026-03-01T00:00:00.000Z";
        const leaves = await store.pendingLeaves(10);
        const root = `0x${"ab".repeat(32)}` as Hex32;
        const batchId = await store.sealBatch(
          root,
          leaves.map((l) => l.seq),
          sealedAt,
        );
        expect(await store.unanchoredBatches()).to.deep.equal([
          {
            id: batchId,
            root,
            treeSize: 3,
            sealedAt,
            txHash: null,
            txSentAt: null,
            sendCount: 0,
            timestamps: [],
            lostAt: null,
          },
        ]);
        expect((await store.batchLeaves(batchId)).map((l) => l.id)).to.deep.equal(group.map((i) => i.record.id));
        expect((await store.batchLeaves(batchId))[1]).to.deep.equal({
          id: group[1]!.record.id,
          leafHash: group[1]!.leafHash,
          record: group[1]!.record,
        });
        expect((await store.evidence(group[0]!.record.id))!.status).to.equal("anchoring");
        expect(await store.pendingSummary()).to.deep.equal({ count: 0, oldest: null, newest: null });
        expect(await store.counts()).to.deep.equal({ pending: 0, anchoring: 3, anchored: 0 });
      });

      it("rejects an item already in a batch, and seals nothing", async () => {
        const [a, b] = [newItem(alice), newItem(alice)];
        await store.insertEvidence([a]);
        const first = await sealPending(store);
        await store.insertEvidence([b]);
        const [pending] = await store.pendingLeaves(10);
        const error = await rejection(
          store.sealBatch(`0x${"cd".repeat(32)}` as Hex32, [pending!.seq, first.seqs[0]!], new Date().toISOString()),
        );
        expect(error.message).to.match(/already in a batch/);
        expect((await store.unanchoredBatches()).map((u) => u.id)).to.deep.equal([first.batchId]);
        expect((await store.evidence(b.record.id))!.status).to.equal("pending");
      });

      it("seals the same items once when two store instances race to seal them", async () => {
        await store.insertEvidence(Array.from({ length: 200 }, () => newItem(alice)));
        const other = await db.open();
        try {
          const leaves = await store.pendingLeaves(1000);
          const root = `0x${Buffer.from(treeOf(leaves).root()).toString("hex")}` as Hex32;
          const seqs = leaves.map((l) => l.seq);
          const results = await Promise.allSettled([
            store.sealBatch(root, seqs, new Date().toISOString()),
            other.sealBatch(root, seqs, new Date().toISOString()),
          ]);
          expect(results.map((r) => r.status).sort()).to.deep.equal(["fulfilled", "rejected"]);
          const reason = (results.find((r) => r.status === "rejected") as PromiseRejectedResult).reason as Error;
          expect(reason.message).to.match(/already in a batch|UNIQUE constraint failed|duplicate key/);
          expect((await other.unanchoredBatches()).length).to.equal(1);
          const rows = await raw.rows<{ n: number | string }>("SELECT count(DISTINCT batch_id) AS n FROM evidence");
          expect(Number(rows[0]!.n)).to.equal(1);
        } finally {
          await other.close();
        }
      });

      it("seals overlapping sets of items once each when two store instances race", async () => {
        await store.insertEvidence(Array.from({ length: 300 }, () => newItem(alice)));
        const other = await db.open();
        try {
          const leaves = await store.pendingLeaves(1000);
          const [firstSet, secondSet] = [leaves.slice(0, 200), leaves.slice(100)];
          const rootOf = (set: typeof leaves) => `0x${Buffer.from(treeOf(set).root()).toString("hex")}` as Hex32;
          const results = await Promise.allSettled([
            store.sealBatch(
              rootOf(firstSet),
              firstSet.map((l) => l.seq),
              new Date().toISOString(),
            ),
            other.sealBatch(
              rootOf(secondSet.toReversed()),
              secondSet.toReversed().map((l) => l.seq),
              new Date().toISOString(),
            ),
          ]);
          expect(results.map((r) => r.status).sort()).to.deep.equal(["fulfilled", "rejected"]);
          const sealed = await raw.rows<{ n: number | string }>(
            "SELECT count(*) AS n FROM evidence WHERE batch_id IS NOT NULL",
          );
          expect(Number(sealed[0]!.n)).to.equal(200);
        } finally {
          await other.close();
        }
      });
    });

    describe("recordSent", () => {
      it("records the transaction sent and counts the sends", async () => {
        await store.insertEvidence([newItem(alice)]);
        const { batchId } = await sealPending(store);
        const tx = `0x${"01".repeat(32)}` as Hex32;
        await store.recordSent(batchId, `0x${"00".repeat(32)}` as Hex32, "2026-03-01T00:00:00.000Z");
        await store.recordSent(batchId, tx, "2026-03-01T00:02:00.000Z");
        expect(await store.unanchoredBatches())
          .to.have.deep.nested.property("[0]")
          .that.includes({
            txHash: tx,
            txSentAt: "2026-03-01T00:02:00.000Z",
            sendCount: 2,
          });
      });
    });

    describe("addBatchTimestamps", () => {
      it("adds tokens once each, keeping those already there", async () => {
        await store.insertEvidence([newItem(alice)]);
        const { batchId } = await sealPending(store);
        const [t1, t2] = [
          { type: "rfc3161" as const, token: "AAAA" },
          { type: "rfc3161" as const, token: "BBBB" },
        ];
        await store.addBatchTimestamps(batchId, [t1]);
        await store.addBatchTimestamps(batchId, [t1, t2]);
        expect((await store.unanchoredBatches())[0]!.timestamps).to.deep.equal([t1, t2]);
      });

      it("rejects an unknown batch", async () => {
        await rejection(store.addBatchTimestamps(999, [{ type: "rfc3161", token: "AAAA" }]));
      });
    });

    describe("completeBatch", () => {
      it("marks the batch anchored and issues each item's certificate, current", async () => {
        const group = [newItem(alice), newItem(alice)];
        await store.insertEvidence(group);
        const { batchId, root } = await sealPending(store);
        const { anchor, certificates } = await anchorBatch(store, batchId, 12);
        expect(await store.unanchoredBatches()).to.deep.equal([]);
        expect(await store.anchoredBatches()).to.deep.equal([
          { id: batchId, root, treeSize: 2, anchor, timestamps: [] },
        ]);
        const row = await store.evidence(group[1]!.record.id);
        expect(row).to.include({ status: "anchored", reanchoring: false });
        expect(row!.certificate).to.deep.equal(certificates[1]);
        const history = await store.certificateHistory(group[1]!.record.id);
        expect(history).to.deep.equal([
          {
            entry: {
              issuedAt: (certificates[1] as any).batch.issuedAt,
              reason: "anchored",
              current: true,
              blockNumber: 12,
            },
            certificate: certificates[1],
          },
        ]);
        expect(await store.counts()).to.deep.equal({ pending: 0, anchoring: 0, anchored: 2 });
      });

      it("fails the second time, and issues nothing more", async () => {
        const item = newItem(alice);
        await store.insertEvidence([item]);
        const { batchId } = await sealPending(store);
        await anchorBatch(store, batchId, 12);
        const error = await rejection(anchorBatch(store, batchId, 13));
        expect(error.message).to.match(/not waiting to be anchored/);
        expect(await store.certificateHistory(item.record.id)).to.have.length(1);
        expect((await store.anchoredBatches())[0]!.anchor.blockNumber).to.equal(12);
      });

      it("completes once when two store instances complete the same batch at once", async () => {
        const group = Array.from({ length: 50 }, () => newItem(alice));
        await store.insertEvidence(group);
        const { batchId } = await sealPending(store);
        const other = await db.open();
        try {
          const [mine, theirs] = [anchorAt(20), anchorAt(21)];
          const [c1, c2] = [await certificatesFor(store, batchId, mine), await certificatesFor(other, batchId, theirs)];
          const results = await Promise.allSettled([
            store.completeBatch(batchId, mine, c1, new Date().toISOString(), "anchored"),
            other.completeBatch(batchId, theirs, c2, new Date().toISOString(), "anchored"),
          ]);
          expect(results.map((r) => r.status).sort()).to.deep.equal(["fulfilled", "rejected"]);
          const reason = (results.find((r) => r.status === "rejected") as PromiseRejectedResult).reason as Error;
          expect(reason.message).to.match(/not waiting to be anchored/);
          const rows = await raw.rows<{ n: number | string }>("SELECT count(*) AS n FROM issued_certificates");
          expect(Number(rows[0]!.n)).to.equal(50);
        } finally {
          await other.close();
        }
      });

      it("rolls back when a certificate names an item outside the batch", async () => {
        const [a, b] = [newItem(alice), newItem(alice)];
        await store.insertEvidence([a]);
        const first = await sealPending(store);
        await store.insertEvidence([b]);
        const second = await sealPending(store);
        const anchor = anchorAt(30);
        const stray = await certificatesFor(store, second.batchId, anchor);
        const own = await certificatesFor(store, first.batchId, anchor);
        const error = await rejection(
          store.completeBatch(first.batchId, anchor, [...own, ...stray], new Date().toISOString(), "anchored"),
        );
        expect(error.message).to.match(new RegExp(`evidence ${b.record.id} is not in batch ${first.batchId}`));
        expect((await store.unanchoredBatches()).map((u) => u.id)).to.deep.equal([first.batchId, second.batchId]);
        expect(await store.certificateHistory(a.record.id)).to.deep.equal([]);
      });
    });

    describe("addCertificates / batchesToTimestamp", () => {
      it("adds a time-stamped certificate that becomes the current one; the first stays in the history", async () => {
        const item = newItem(alice);
        await store.insertEvidence([item]);
        const { batchId } = await sealPending(store);
        const { anchor, certificates } = await anchorBatch(store, batchId, 40);
        expect((await store.batchesToTimestamp(1, 10)).map((b) => b.id)).to.deep.equal([batchId]);
        const token = { type: "rfc3161" as const, token: "AAAA" };
        await store.addBatchTimestamps(batchId, [token]);
        expect(await store.batchesToTimestamp(1, 10)).to.deep.equal([]);
        expect((await store.batchesToTimestamp(2, 10))[0]!.timestamps).to.deep.equal([token]);
        const upgraded = await certificatesFor(store, batchId, anchor, new Date(Date.now() + 1000));
        await store.addCertificates(batchId, upgraded, "time-stamped");
        const history = await store.certificateHistory(item.record.id);
        expect(history.map((h) => [h.entry.reason, h.entry.current])).to.deep.equal([
          ["anchored", false],
          ["time-stamped", true],
        ]);
        expect(history.map((h) => h.certificate)).to.deep.equal([certificates[0], upgraded[0]]);
        expect((await store.evidence(item.record.id))!.certificate).to.deep.equal(upgraded[0]);
      });

      it("lists at most `limit` batches to time-stamp, oldest first", async () => {
        const ids: number[] = [];
        for (let i = 0; i < 3; i++) {
          await store.insertEvidence([newItem(alice)]);
          const { batchId } = await sealPending(store);
          await anchorBatch(store, batchId, 50 + i);
          ids.push(batchId);
        }
        expect((await store.batchesToTimestamp(1, 2)).map((b) => b.id)).to.deep.equal(ids.slice(0, 2));
      });

      it("rejects certificates for a batch that is not anchored", async () => {
        await store.insertEvidence([newItem(alice)]);
        const { batchId } = await sealPending(store);
        const error = await rejection(
          store.addCertificates(batchId, await certificatesFor(store, batchId, anchorAt(1)), "time-stamped"),
        );
        expect(error.message).to.match(/is not anchored/);
      });
    });

    describe("reopenBatch", () => {
      it("sends the items back to anchoring, keeps their history, and certifies them again", async () => {
        const item = newItem(alice);
        await store.insertEvidence([item]);
        const { batchId, root } = await sealPending(store);
        const first = await anchorBatch(store, batchId, 60);
        await store.recordSent(batchId, first.anchor.txHash, new Date().toISOString());
        const lostAt = "2026-04-01T00:00:00.000Z";
        await store.reopenBatch(batchId, lostAt);

        expect(await store.evidence(item.record.id)).to.include({
          status: "anchoring",
          reanchoring: true,
          certificate: null,
        });
        expect(await store.anchoredBatches()).to.deep.equal([]);
        expect(await store.unanchoredBatches()).to.deep.equal([
          {
            id: batchId,
            root,
            treeSize: 1,
            sealedAt: (await raw.rows<{ sealed_at: string }>(`SELECT sealed_at FROM batches WHERE id = ${batchId}`))[0]!
              .sealed_at,
            txHash: null,
            txSentAt: null,
            sendCount: 1,
            timestamps: [],
            lostAt,
          },
        ]);
        const kept = await store.certificateHistory(item.record.id);
        expect(kept.map((h) => [h.entry.reason, h.entry.current])).to.deep.equal([["anchored", false]]);
        expect(kept[0]!.certificate).to.deep.equal(first.certificates[0]);

        const again = await anchorBatch(store, batchId, 70, "re-anchored");
        const history = await store.certificateHistory(item.record.id);
        expect(history.map((h) => [h.entry.reason, h.entry.current, h.entry.blockNumber])).to.deep.equal([
          ["anchored", false, 60],
          ["re-anchored", true, 70],
        ]);
        expect(await store.evidence(item.record.id)).to.deep.include({
          status: "anchored",
          reanchoring: false,
          certificate: again.certificates[0],
        });
      });

      it("leaves a batch that is not anchored as it is", async () => {
        await store.insertEvidence([newItem(alice)]);
        const { batchId } = await sealPending(store);
        await store.reopenBatch(batchId, "2026-04-01T00:00:00.000Z");
        expect((await store.unanchoredBatches())[0]!.lostAt).to.equal(null);
      });
    });

    describe("certificateHistory", () => {
      it("is empty for an item not anchored and for an unknown id", async () => {
        const item = newItem(alice);
        await store.insertEvidence([item]);
        expect(await store.certificateHistory(item.record.id)).to.deep.equal([]);
        expect(await store.certificateHistory("AAAAAAAAAAAAAAAAAAAAAAAA")).to.deep.equal([]);
      });
    });

    describe("counts", () => {
      it("counts items by status, derived from where they are", async () => {
        await store.insertEvidence([newItem(alice)]);
        const anchored = await sealPending(store);
        await anchorBatch(store, anchored.batchId, 80);
        await store.insertEvidence([newItem(alice), newItem(alice)]);
        await sealPending(store);
        await store.insertEvidence([newItem(alice), newItem(alice), newItem(alice)]);
        expect(await store.counts()).to.deep.equal({ pending: 3, anchoring: 2, anchored: 1 });
      });
    });

    describe("insertCheckpoint / checkpoints", () => {
      it("keeps the first checkpoint of a block and lists the newest first", async () => {
        const checkpoint = (blockNumber: number, token: string) => ({
          blockNumber,
          blockHash: anchorAt(blockNumber).blockHash,
          chainId: 31337,
          takenAt: `2026-05-01T00:00:0${blockNumber % 10}.000Z`,
          timestamps: [{ type: "rfc3161" as const, token }],
        });
        await store.insertCheckpoint(checkpoint(101, "AAAA"));
        await store.insertCheckpoint(checkpoint(103, "CCCC"));
        await store.insertCheckpoint(checkpoint(102, "BBBB"));
        await store.insertCheckpoint(checkpoint(101, "DDDD"));
        expect(await store.checkpoints(2)).to.deep.equal([checkpoint(103, "CCCC"), checkpoint(102, "BBBB")]);
        expect((await store.checkpoints(10))[2]).to.deep.equal(checkpoint(101, "AAAA"));
      });
    });

    describe("acquireLease / releaseLease", () => {
      it("gives the lease to one holder, renews it for that holder, and refuses others", async () => {
        expect(await store.acquireLease("anchoring", "replica-a", 60_000)).to.equal(1);
        expect(await store.acquireLease("anchoring", "replica-a", 60_000)).to.equal(1);
        expect(await store.acquireLease("anchoring", "replica-b", 60_000)).to.equal(null);
        expect(await store.acquireLease("other", "replica-b", 60_000), "another lease").to.equal(1);
      });

      it("passes a released lease on with a larger fence", async () => {
        await store.acquireLease("anchoring", "replica-a", 60_000);
        await store.releaseLease("anchoring", "replica-b"); // not the holder: no effect
        expect(await store.acquireLease("anchoring", "replica-b", 60_000)).to.equal(null);
        await store.releaseLease("anchoring", "replica-a");
        expect(await store.acquireLease("anchoring", "replica-b", 60_000)).to.equal(2);
        expect(await store.acquireLease("anchoring", "replica-a", 60_000)).to.equal(null);
      });

      it("lets one of two instances win; the other gets null until expiry, then takes over with a larger fence", async () => {
        const other = await db.open();
        try {
          const ttlMs = 1_500;
          const started = Date.now();
          const answers = await Promise.all([
            store.acquireLease("anchoring", "replica-a", ttlMs),
            other.acquireLease("anchoring", "replica-b", ttlMs),
          ]);
          expect(answers.filter((a) => a !== null)).to.deep.equal([1]);
          const [winner, loser] = answers[0] === 1 ? [store, other] : [other, store];
          const [winnerName, loserName] = answers[0] === 1 ? ["replica-a", "replica-b"] : ["replica-b", "replica-a"];
          expect(await loser.acquireLease("anchoring", loserName, ttlMs)).to.equal(null);
          const fence = await until(
            async () => (await loser.acquireLease("anchoring", loserName, ttlMs)) ?? undefined,
            "the lease to expire",
            10_000,
          );
          // Taken over no earlier than the lease's end (the same machine's clock; 5 ms for rounding).
          expect(Date.now() - started, "not before the lease expired").to.be.at.least(ttlMs - 5);
          expect(fence).to.equal(2);
          expect(await winner.acquireLease("anchoring", winnerName, ttlMs), "the former holder").to.equal(null);
        } finally {
          await other.close();
        }
      });

      it("gives the lease to exactly one of many holders asking at once", async () => {
        const others = await Promise.all([db.open(), db.open(), db.open()]);
        try {
          const instances = [store, ...others];
          const answers = await Promise.all(
            instances.flatMap((s, i) => [0, 1, 2].map((j) => s.acquireLease("anchoring", `replica-${i}-${j}`, 60_000))),
          );
          expect(answers.filter((a) => a !== null)).to.deep.equal([1]);
        } finally {
          await Promise.all(others.map((o) => o.close()));
        }
      });
    });

    describe("invariants the database itself enforces (raw SQL through a second connection)", () => {
      async function twoBatches() {
        const [a, b] = [newItem(alice), newItem(alice)];
        await store.insertEvidence([a]);
        const first = await sealPending(store);
        await store.insertEvidence([b]);
        const second = await sealPending(store);
        return { a, b, first, second };
      }

      it("refuses to move an item to a second batch, or out of its batch", async () => {
        const { a, first, second } = await twoBatches();
        for (const change of [`batch_id = ${second.batchId}`, "batch_id = NULL", "leaf_index = 5"]) {
          const error = await rejection(raw.run(`UPDATE evidence SET ${change} WHERE id = ${sql(a.record.id)}`));
          expect(error.message).to.match(/an item sealed into a batch never moves/);
        }
        expect((await store.batchLeaves(first.batchId)).map((l) => l.id)).to.deep.equal([a.record.id]);
      });

      it("refuses a second batch with the same root", async () => {
        const { first } = await twoBatches();
        const error = await rejection(
          raw.run(
            `INSERT INTO batches (root, tree_size, sealed_at, status) VALUES (${sql(first.root)}, 1, '2026-01-01T00:00:00.000Z', 'sealed')`,
          ),
        );
        expect(error.message).to.match(
          /UNIQUE constraint failed: batches.root|duplicate key value violates unique constraint "batches_root_key"/,
        );
        expect(await store.unanchoredBatches()).to.have.length(2);
      });

      it("refuses to change or delete an issued certificate", async () => {
        const item = newItem(alice);
        await store.insertEvidence([item]);
        const { batchId } = await sealPending(store);
        await anchorBatch(store, batchId, 90);
        const before = await store.certificateHistory(item.record.id);
        const refused = async (statement: string, reason: RegExp) =>
          expect((await rejection(raw.run(statement))).message, statement).to.match(reason);
        const changed = /an issued certificate is never changed/;
        const deleted = /an issued certificate is never deleted/;
        await refused(
          `UPDATE issued_certificates SET certificate = '{}' WHERE evidence_id = ${sql(item.record.id)}`,
          changed,
        );
        await refused(`UPDATE issued_certificates SET reason = 're-anchored'`, changed);
        await refused(`DELETE FROM issued_certificates WHERE evidence_id = ${sql(item.record.id)}`, deleted);
        await refused(`DELETE FROM issued_certificates`, deleted);
        if (engine.hasTruncate) {
          await refused(`TRUNCATE issued_certificates`, deleted);
          await refused(`TRUNCATE evidence, batches, issued_certificates`, deleted);
        }
        expect(await store.certificateHistory(item.record.id)).to.deep.equal(before);
      });
    });
  });
}

defineStoreContract(sqliteEngine());
defineStoreContract(postgresEngine());
