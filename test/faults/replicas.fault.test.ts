import { expect } from "chai";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import pg from "pg";
import { CachingChainReader, JsonRpcChainReader, verifyCertificate } from "../../service/core/index.ts";
import { memberServiceOn, SERVICE_KEY } from "../helpers/consortium.ts";
import { certificatesOfStatement, type StoredLeaf, type StoredStatement } from "../helpers/database.ts";
import { sha256Hex } from "../helpers/hash.ts";
import { startPostgres, type PostgresServer } from "../helpers/postgres.ts";
import {
  anchoredLogs,
  api,
  cleanUpDataDir,
  startChainNode,
  startServiceProcess,
  tempDir,
  until,
  type ChainNode,
  type ServiceProcess,
} from "../helpers/processes.ts";

/** Kills of the anchoring replica; FAULT_ROUNDS raises it for a long run. */
const ROUNDS = Number(process.env.FAULT_ROUNDS ?? 3);
/** The anchoring lease's length (ANCHOR_LEASE_MS): a dead holder's lease expires within it. */
const LEASE_MS = 3_000;
const REPLICAS = 3;

interface LeaseRow {
  holder: string;
  fence: number | string;
  expires_at: number | string;
}

/**
 * Three `evidence serve` processes as replicas of one member's service: one PostgreSQL
 * database, one shared objects directory, one chain node, the same issuing key, each its
 * own port and data directory. Submissions go to all of them while the replica holding
 * the anchoring lease is killed with SIGKILL, again and again.
 */
describe(`three replicas on one chain, the anchoring replica killed -9 ${ROUNDS} times under continuous submissions`, function () {
  this.timeout(120_000 + ROUNDS * 40_000);
  let chain: ChainNode;
  let postgres: PostgresServer;
  let db: pg.Client;
  let objectsDir: string;
  const dataDirs: string[] = [];
  const replicas: (ServiceProcess | undefined)[] = [];

  after(async () => {
    await Promise.all(replicas.map((r) => r?.stop()));
    await db?.end();
    await postgres?.stop();
    await chain?.stop();
    for (const dir of [...dataDirs, objectsDir]) if (dir) await cleanUpDataDir(dir);
  });

  it("certifies every acknowledged item exactly once, and another replica takes over anchoring after each kill", async () => {
    chain = await startChainNode({ chainId: 4042 });
    postgres = await startPostgres();
    const databaseUrl = await postgres.createDatabase();
    objectsDir = tempDir("replica-objects");
    for (let i = 0; i < REPLICAS; i++) dataDirs.push(tempDir(`replica-${i}`));
    // One deployment, one issuing key: each replica holds the same key file.
    const member = await memberServiceOn(chain.url, dataDirs[0]!);
    for (const dir of dataDirs.slice(1)) {
      mkdirSync(path.join(dir, "keys"), { recursive: true });
      writeFileSync(path.join(dir, "keys", "issuer.key"), SERVICE_KEY, { mode: 0o600 });
    }
    const envOf = (i: number) => ({
      ...member,
      DATABASE_URL: databaseUrl,
      OBJECTS_DIR: objectsDir,
      // The first replica creates the development account; the others find it in the database.
      DEV_ACCOUNT: i === 0 ? "true" : "false",
      BATCH_MAX_WAIT_MS: "200",
      BATCH_MAX_ITEMS: "100",
      RATE_LIMIT_PER_MINUTE: "10000000",
      RECONCILE_INTERVAL_MS: "5000",
      ANCHOR_LEASE_MS: String(LEASE_MS),
      LOG_LEVEL: "warn",
    });
    replicas[0] = await startServiceProcess(dataDirs[0]!, envOf(0));
    const apiKey = replicas[0].apiKey!;
    expect(apiKey, "the development account's key").to.be.a("string");
    // Two replicas starting at the same moment: the migrations are applied once, under the lock.
    [replicas[1], replicas[2]] = await Promise.all([1, 2].map((i) => startServiceProcess(dataDirs[i]!, envOf(i))));
    db = new pg.Client({ connectionString: databaseUrl });
    await db.connect();

    const lease = async (): Promise<{ pid: number; fence: number; live: boolean; expiresAt: number } | undefined> => {
      const { rows } = await db.query<LeaseRow>("SELECT * FROM leases WHERE name = 'anchoring'");
      const row = rows[0];
      if (!row) return undefined;
      // The holder is "<host>:<pid>:<uuid>" (service/server.ts).
      const pid = Number(row.holder.split(":")[1]);
      const expiresAt = Number(row.expires_at);
      return { pid, fence: Number(row.fence), live: expiresAt > Date.now(), expiresAt };
    };
    const holderIndex = (pid: number) => replicas.findIndex((r) => r?.child.pid === pid && r.child.exitCode === null);

    // --- continuous intake, spread over the replicas that are up ---
    const acknowledged = new Map<string, { contentHash: string; upload: boolean }>();
    let stop = false;
    let counter = 0;
    let refused = 0;
    const submitters = [0, 1, 2, 3].map(async (lane) => {
      while (!stop) {
        const up = replicas.filter(
          (r): r is ServiceProcess => r !== undefined && r.child.exitCode === null && r.child.signalCode === null,
        );
        const target = up[(counter + lane) % Math.max(1, up.length)];
        if (!target) {
          await delay(20);
          continue;
        }
        const client = api(target.url, apiKey);
        try {
          if (lane % 2 === 0) {
            const items = Array.from({ length: 5 }, () => ({ contentHash: sha256Hex(`replica digest ${counter++}`) }));
            const res = await client.postJson("/api/v1/evidence/digests", { items });
            if (res.status === 201) {
              for (const i of res.body.items) acknowledged.set(i.id, { contentHash: i.contentHash, upload: false });
            } else refused++;
          } else {
            const form = new FormData();
            form.append("file", new Blob([`replica upload ${counter++}`]), `u${counter}.txt`);
            const res = await client.postForm("/api/v1/evidence", form);
            if (res.status === 201) {
              for (const i of res.body.items) acknowledged.set(i.id, { contentHash: i.contentHash, upload: true });
            } else refused++;
          }
        } catch {
          // The replica died under this request: nothing was promised for it.
        }
        await delay(50);
      }
    });

    // --- kill the anchoring replica, round after round ---
    const takeovers: { leaseMs: number; anchoredMs: number }[] = [];
    // Every change of holder, watched throughout: after a kill, and any other (a holder
    // that stalled past its lease). Printed, not asserted: a starved machine may cause one.
    const fences = new Set<number>();
    /** The furthest ahead a lease was seen to expire: never beyond ANCHOR_LEASE_MS. */
    let longestAhead = 0;
    const monitor = (async () => {
      while (!stop) {
        const l = await lease().catch(() => undefined);
        if (l) {
          fences.add(l.fence);
          longestAhead = Math.max(longestAhead, l.expiresAt - Date.now());
        }
        await delay(50);
      }
    })();
    try {
      for (let round = 0; round < ROUNDS; round++) {
        const held = await until(
          async () => {
            const l = await lease();
            return l && l.live && holderIndex(l.pid) >= 0 ? l : undefined;
          },
          "a live replica to hold the anchoring lease",
          30_000,
        );
        const victim = holderIndex(held.pid);
        // Let it anchor under load for a moment, then crash it.
        await delay(300 + ((round * 577) % 1200));
        const killedAt = Date.now();
        await replicas[victim]!.kill9();
        const next = await until(
          async () => {
            const l = await lease();
            return l && l.fence > held.fence && holderIndex(l.pid) >= 0 ? l : undefined;
          },
          "another replica to take the anchoring lease",
          30_000,
        );
        const leaseMs = Date.now() - killedAt;
        await until(
          async () => {
            const { rowCount } = await db.query(
              "SELECT 1 FROM batches WHERE status = 'anchored' AND anchored_at > $1",
              [new Date(killedAt).toISOString()],
            );
            return rowCount! > 0 ? true : undefined;
          },
          "a batch anchored after the kill",
          30_000,
        );
        const anchoredMs = Date.now() - killedAt;
        takeovers.push({ leaseMs, anchoredMs });
        console.log(
          `      round ${round + 1}: killed replica ${victim} (fence ${held.fence}); replica ${holderIndex(next.pid)} took the lease ` +
            `(fence ${next.fence}) after ${(leaseMs / 1000).toFixed(1)} s, anchored a batch after ${(anchoredMs / 1000).toFixed(1)} s`,
        );
        replicas[victim] = await startServiceProcess(dataDirs[victim]!, envOf(victim));
      }
    } finally {
      stop = true;
      await Promise.all([...submitters, monitor]);
    }

    // --- everything acknowledged is certified, once ---
    const client = api(replicas[0]!.url);
    await client.settled(120_000);
    console.log(
      `      (${acknowledged.size} items acknowledged across ${REPLICAS} replicas, ${refused} requests refused, ` +
        `lease taken over after ${takeovers.map((t) => (t.leaseMs / 1000).toFixed(1)).join(", ")} s, ` +
        `${fences.size - 1 - ROUNDS} change(s) of holder without a kill)`,
    );
    expect(acknowledged.size).to.be.greaterThan(ROUNDS * 10);
    expect(longestAhead, "a lease never runs longer than ANCHOR_LEASE_MS").to.be.within(1, LEASE_MS);

    // Certificates are stored one per item (version 1) or once per batch as its signed
    // statement (version 2); either way an item is certified by exactly one row.
    const { rows: issued } = await db.query<{ evidence_id: string; certificate: string; n: string }>(
      `SELECT ic.evidence_id, min(ic.certificate) AS certificate, count(*) AS n
       FROM issued_certificates ic GROUP BY ic.evidence_id`,
    );
    const certificateOf = new Map(issued.map((r) => [r.evidence_id, r]));
    const { rows: statements } = await db.query<StoredStatement & { batch_id: number; n: string }>(
      `SELECT batch_id, min(statement) AS statement, min(signature) AS signature, count(*) AS n
       FROM batch_certificates GROUP BY batch_id`,
    );
    for (const s of statements) {
      const { rows: leaves } = await db.query<StoredLeaf>(
        "SELECT id, record, leaf_hash FROM evidence WHERE batch_id = $1 ORDER BY leaf_index",
        [s.batch_id],
      );
      for (const [id, certificate] of certificatesOfStatement(s, leaves)) {
        const own = certificateOf.get(id);
        certificateOf.set(id, { evidence_id: id, certificate, n: String(Number(s.n) + Number(own?.n ?? 0)) });
      }
    }
    const chainReader = new CachingChainReader(new JsonRpcChainReader(chain.url));
    for (const [id, item] of acknowledged) {
      const row = certificateOf.get(id);
      expect(row, `acknowledged ${id} has no certificate`).to.not.equal(undefined);
      expect(Number(row!.n), `${id} certified more than once`).to.equal(1);
      const result = await verifyCertificate(row!.certificate, { chain: chainReader });
      expect(result.valid, `${id}: ${JSON.stringify(result.checks)}`).to.equal(true);
      if (item.upload) {
        const file = path.join(objectsDir, "objects", item.contentHash.slice(0, 2), item.contentHash);
        expect(existsSync(file), `the uploaded file of ${id} in the shared objects directory`).to.equal(true);
      }
    }
    const { rows: unbatched } = await db.query("SELECT id FROM evidence WHERE batch_id IS NULL");
    expect(unbatched).to.deep.equal([]);

    // One anchored root per batch on chain, each batch anchored once.
    const { rows: batches } = await db.query<{ root: string; status: string }>("SELECT root, status FROM batches");
    expect(batches.every((b) => b.status === "anchored")).to.equal(true);
    const roots = (await anchoredLogs(chain.url, member.ANCHOR_CONTRACT!)).map((l) => l.root);
    expect(new Set(roots).size, "a root anchored twice").to.equal(roots.length);
    expect(batches.map((b) => b.root).sort(), "every batch anchored exactly once").to.deep.equal([...roots].sort());

    // The same bytes whichever replica serves a certificate.
    const sample = [...acknowledged.keys()].filter((_, i) => i % Math.max(1, Math.floor(acknowledged.size / 50)) === 0);
    for (const id of sample) {
      const bodies = await Promise.all(
        replicas.map(async (r) => {
          const res = await fetch(`${r!.url}/api/v1/evidence/${id}/certificate`);
          expect(res.status).to.equal(200);
          return Buffer.from(await res.arrayBuffer());
        }),
      );
      expect(
        bodies[1]!.equals(bodies[0]!) && bodies[2]!.equals(bodies[0]!),
        `certificate ${id} differs between replicas`,
      ).to.equal(true);
    }
  });
});
