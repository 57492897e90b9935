import { expect } from "chai";
import { randomBytes } from "node:crypto";
import { rmSync } from "node:fs";
import path from "node:path";
import { DatabaseSync } from "node:sqlite";
import pg from "pg";
import {
  buildCertificates,
  buildRecord,
  signBatchStatement,
  verifyCertificate,
  type AnchorJson,
  type Certificate,
  type ChainReader,
  type Hex32,
} from "../../service/core/index.ts";
import { treeOf } from "../../service/anchoring/seal-batch.ts";
import { InProcessSigner } from "../../service/anchoring/signers.ts";
import { newEvidence } from "../../service/intake/intake.ts";
import type { SignedBatch } from "../../service/store/batch-certificates.ts";
import { PostgresEvidenceStore } from "../../service/store/postgres-store.ts";
import { SqliteEvidenceStore } from "../../service/store/sqlite-store.ts";
import type { EvidenceStore } from "../../service/store/store.ts";
import { SERVICE_KEY } from "../helpers/consortium.ts";
import { startPostgres, type PostgresServer } from "../helpers/postgres.ts";
import { tempDir } from "../helpers/processes.ts";

/**
 * Version 2 batches certified by their signed statement alone (store/batch-certificates.ts),
 * on both engines: each item's certificate, assembled when read, must be exactly the one
 * buildCertificates gives for the same statement, across 256-leaf block boundaries.
 */

const signer = new InProcessSigner(SERVICE_KEY);
const ACCOUNT = { id: "acct_batch", name: "batch", keyHash: "0".repeat(64), createdAt: "2026-11-25T00:00:00.000Z" };
const CONTRACT = "0x5FbDB2315678afecb367f032d93F642f64180aa3";

interface Database {
  store: EvidenceStore;
  sql(statement: string): Promise<void>;
  close(): Promise<void>;
}

const engines: { name: string; setUp(): Promise<void>; tearDown(): Promise<void>; open(): Promise<Database> }[] = [
  (() => {
    const dirs: string[] = [];
    return {
      name: "SQLite",
      async setUp() {},
      async tearDown() {
        for (const d of dirs) rmSync(d, { recursive: true, force: true });
      },
      async open(): Promise<Database> {
        const dir = tempDir("batch-certificates");
        dirs.push(dir);
        const store = SqliteEvidenceStore.open(dir);
        const raw = new DatabaseSync(path.join(dir, "evidence.db"));
        return {
          store,
          async sql(statement) {
            raw.exec(statement);
          },
          async close() {
            raw.close();
            await store.close();
          },
        };
      },
    };
  })(),
  (() => {
    let server: PostgresServer | undefined;
    return {
      name: "PostgreSQL",
      async setUp() {
        server = await startPostgres();
      },
      async tearDown() {
        await server?.stop();
      },
      async open(): Promise<Database> {
        const url = await server!.createSchema();
        const store = await PostgresEvidenceStore.open(url);
        const raw = new pg.Client({ connectionString: url });
        await raw.connect();
        return {
          store,
          async sql(statement) {
            await raw.query(statement);
          },
          async close() {
            await raw.end();
            await store.close();
          },
        };
      },
    };
  })(),
];

function anchorAt(blockNumber: number): AnchorJson & { txHash: Hex32; blockHash: Hex32 } {
  return {
    chainId: 31337,
    contract: CONTRACT,
    txHash: `0x${randomBytes(32).toString("hex")}`,
    blockNumber,
    blockHash: `0x${randomBytes(32).toString("hex")}`,
    timestamp: 1_790_000_000 + blockNumber,
  };
}

/** n items in, sealed into one batch. */
async function sealed(store: EvidenceStore, n: number): Promise<{ batchId: number; ids: string[] }> {
  const items = Array.from({ length: n }, (_, i) =>
    newEvidence(
      buildRecord({ contentHash: randomBytes(32).toString("hex"), submitter: ACCOUNT.id, fileName: `f-${i}` }),
      ACCOUNT,
      false,
    ),
  );
  await store.insertEvidence(items);
  const leaves = await store.pendingLeaves(1_000_000);
  const batchId = await store.sealBatch(
    `0x${Buffer.from(treeOf(leaves).root()).toString("hex")}` as Hex32,
    leaves.map((l) => l.seq),
    new Date().toISOString(),
  );
  return { batchId, ids: items.map((i) => i.record.id) };
}

async function signedFor(
  store: EvidenceStore,
  batchId: number,
  anchor: AnchorJson,
  issuedAt: string,
  timestamps = [] as { type: "rfc3161"; token: string }[],
): Promise<SignedBatch> {
  const tree = treeOf(await store.batchLeaves(batchId));
  return {
    ...(await signBatchStatement({ tree, anchor, issuerName: "Store test", issuedAt, timestamps }, signer)),
    tree,
  };
}

/** What buildCertificates gives for the same batch and statement: the reference. */
async function expectedFor(
  store: EvidenceStore,
  batchId: number,
  anchor: AnchorJson,
  issuedAt: string,
): Promise<Certificate[]> {
  const leaves = await store.batchLeaves(batchId);
  return buildCertificates(
    { version: 2, leaves, tree: treeOf(leaves), anchor, issuerName: "Store test", issuedAt },
    signer,
  );
}

for (const engine of engines) {
  describe(`batch certificates (version 2, one statement per batch) on ${engine.name}`, function () {
    this.timeout(120_000);
    let db: Database;

    before(() => engine.setUp());
    after(() => engine.tearDown());
    beforeEach(async () => {
      db = await engine.open();
      await db.store.insertAccount(ACCOUNT);
    });
    afterEach(() => db.close());

    describe("completeBatch with a signed statement", () => {
      for (const size of [1, 255, 256, 257, 700]) {
        it(`serves each item of a batch of ${size} the certificate buildCertificates makes, current in its history`, async () => {
          const { batchId, ids } = await sealed(db.store, size);
          const anchor = anchorAt(12);
          const issuedAt = new Date().toISOString();
          const expected = await expectedFor(db.store, batchId, anchor, issuedAt);
          await db.store.completeBatch(
            batchId,
            anchor,
            await signedFor(db.store, batchId, anchor, issuedAt),
            new Date().toISOString(),
            "anchored",
          );
          // Every item of a small batch; for large ones, each block's first and last and a few between.
          const indexes = size <= 257 ? ids.map((_, i) => i) : [0, 1, 255, 256, 300, 511, 512, 600, size - 1];
          for (const i of indexes) {
            const row = await db.store.evidence(ids[i]!);
            expect(row?.status).to.equal("anchored");
            expect(row!.certificate, `item ${i}`).to.deep.equal(expected[i]);
            expect(await db.store.certificateHistory(ids[i]!)).to.deep.equal([
              { entry: { issuedAt, reason: "anchored", current: true, blockNumber: 12 }, certificate: expected[i] },
            ]);
          }
        });
      }

      it("issues certificates the verifier accepts against the chain that anchored the root", async () => {
        const { batchId, ids } = await sealed(db.store, 300);
        const anchor = anchorAt(7);
        const signed = await signedFor(db.store, batchId, anchor, new Date().toISOString());
        await db.store.completeBatch(batchId, anchor, signed, new Date().toISOString(), "anchored");
        const chain: ChainReader = {
          chainId: async () => 31337,
          blockNumber: async () => 7,
          hasCode: async () => true,
          anchorOf: async () => ({ timestamp: anchor.timestamp, blockNumber: 7, treeSize: 300 }),
          block: async () => ({ hash: anchor.blockHash, timestamp: anchor.timestamp, transactions: [anchor.txHash] }),
          receipt: async () => ({
            status: 1,
            blockNumber: 7,
            blockHash: anchor.blockHash,
            anchored: [
              {
                contract: CONTRACT,
                root: signed.statement.root as Hex32,
                anchorer: signer.address,
                treeSize: 300,
                timestamp: anchor.timestamp,
              },
            ],
          }),
        };
        for (const id of [ids[0]!, ids[257]!, ids[299]!]) {
          const result = await verifyCertificate((await db.store.evidence(id))!.certificate, { chain });
          expect(result.verdict, id).to.equal("valid");
        }
      });

      it("refuses a statement of another batch, and issues nothing", async () => {
        const first = await sealed(db.store, 3);
        const second = await sealed(db.store, 3);
        const anchor = anchorAt(9);
        const other = await signedFor(db.store, second.batchId, anchor, new Date().toISOString());
        const error = await db.store
          .completeBatch(first.batchId, anchor, other, new Date().toISOString(), "anchored")
          .then(
            () => null,
            (e: Error) => e,
          );
        expect(error?.message).to.match(/not those of batch/);
        expect((await db.store.unanchoredBatches()).map((b) => b.id)).to.deep.equal([first.batchId, second.batchId]);
        expect(await db.store.certificateHistory(first.ids[0]!)).to.deep.equal([]);
      });

      it("keeps every statement in the history: a time-stamped one after the first becomes current", async () => {
        const { batchId, ids } = await sealed(db.store, 5);
        const anchor = anchorAt(20);
        const first = await signedFor(db.store, batchId, anchor, "2026-11-25T10:00:00.000Z");
        await db.store.completeBatch(batchId, anchor, first, new Date().toISOString(), "anchored");
        const stamped = await signedFor(db.store, batchId, anchor, "2026-11-25T10:00:05.000Z", [
          { type: "rfc3161", token: "AAAA" },
        ]);
        await db.store.addCertificates(batchId, stamped, "time-stamped");
        const history = await db.store.certificateHistory(ids[3]!);
        expect(history.map((h) => [h.entry.reason, h.entry.current])).to.deep.equal([
          ["anchored", false],
          ["time-stamped", true],
        ]);
        expect((history[1]!.certificate as Extract<Certificate, { version: 2 }>).batch.timestamps).to.deep.equal([
          { type: "rfc3161", token: "AAAA" },
        ]);
        expect((await db.store.evidence(ids[3]!))!.certificate).to.deep.equal(history[1]!.certificate);
      });

      it("refuses to change or delete a statement, a batch tree, or a committed record", async () => {
        const { batchId, ids } = await sealed(db.store, 2);
        const anchor = anchorAt(30);
        await db.store.completeBatch(
          batchId,
          anchor,
          await signedFor(db.store, batchId, anchor, new Date().toISOString()),
          new Date().toISOString(),
          "anchored",
        );
        const before = await db.store.certificateHistory(ids[0]!);
        const refused = async (statement: string, reason: RegExp) => {
          const error = await db.sql(statement).then(
            () => null,
            (e: Error) => e,
          );
          expect(error?.message, statement).to.match(reason);
        };
        await refused("UPDATE batch_certificates SET signature = '0x'", /an issued certificate is never changed/);
        await refused("DELETE FROM batch_certificates", /an issued certificate is never deleted/);
        await refused("UPDATE batch_trees SET upper = upper", /a batch tree is never changed/);
        await refused("DELETE FROM batch_trees", /a batch tree is never deleted/);
        await refused(`UPDATE evidence SET record = '{}' WHERE id = '${ids[0]}'`, /a committed record never changes/);
        await refused(
          `UPDATE evidence SET leaf_hash = '0x00' WHERE id = '${ids[0]}'`,
          /a committed record never changes/,
        );
        expect(await db.store.certificateHistory(ids[0]!)).to.deep.equal(before);
      });
    });
  });
}
