import { expect } from "chai";
import {
  cpSync,
  createReadStream,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import path from "node:path";
import { DatabaseSync } from "node:sqlite";
import { Readable } from "node:stream";
import pg from "pg";
import { CachingChainReader, JsonRpcChainReader, verifyCertificate } from "../../service/core/index.ts";
import { replicaName } from "../../service/objects/open-object-store.ts";
import { S3ObjectStore } from "../../service/objects/s3-object-store.ts";
import type { CopyReport } from "../../service/store/copy-store.ts";
import { PostgresEvidenceStore } from "../../service/store/postgres-store.ts";
import { SqliteEvidenceStore } from "../../service/store/sqlite-store.ts";
import { serve, solidPng, startSite, type Site } from "../helpers/capture-sites.ts";
import { memberServiceOn, SERVICE_KEY } from "../helpers/consortium.ts";
import { sha256Hex } from "../helpers/hash.ts";
import { startPostgres, type PostgresServer } from "../helpers/postgres.ts";
import { S3RVER_CREDENTIALS, startS3Server, type S3Server } from "../helpers/s3.ts";
import {
  api,
  cleanUpDataDir,
  runCli,
  startChainNode,
  startServiceProcess,
  tempDir,
  type ChainNode,
  type ServiceProcess,
} from "../helpers/processes.ts";

/** The tables `evidence store copy` fills, and how many rows each holds in a database. */
const COPIED_TABLES = [
  "meta",
  "accounts",
  "batches",
  "evidence",
  "issued_certificates",
  "batch_certificates",
  "batch_trees",
  "captures",
  "capture_files",
  "checkpoints",
];

async function rowCounts(databaseUrl: string): Promise<Record<string, number>> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const counts: Record<string, number> = {};
    for (const table of COPIED_TABLES) {
      const { rows } = await client.query<{ n: string }>(`SELECT count(*) AS n FROM ${table}`);
      counts[table] = Number(rows[0]!.n);
    }
    return counts;
  } finally {
    await client.end();
  }
}

const EMPTY = Object.fromEntries(COPIED_TABLES.map((t) => [t, 0]));

/** The tables of the database's schema (none until something migrated it). */
async function tablesIn(databaseUrl: string): Promise<string[]> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{ table_name: string }>(
      "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()",
    );
    return rows.map((r) => r.table_name);
  } finally {
    await client.end();
  }
}

/** The names of the evidence files under `dir`'s `objects/`, sorted. */
function objectsIn(dir: string): string[] {
  return readdirSync(path.join(dir, "objects"), { recursive: true, withFileTypes: true })
    .filter((f) => f.isFile())
    .map((f) => f.name)
    .sort();
}

/** Every file under `dir`, each with its modification time and the SHA-256 of its bytes. */
function filesWithTimes(dir: string): Record<string, string> {
  const files: Record<string, string> = {};
  for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const file = path.join(entry.parentPath, entry.name);
    files[path.relative(dir, file)] = `${statSync(file).mtimeMs} ${sha256Hex(readFileSync(file))}`;
  }
  return files;
}

/**
 * A member's service first runs on one machine — SQLite and the files in its data directory,
 * anchoring on the consortium chain — and then moves onto PostgreSQL and a shared objects
 * directory (docs/deployment.md, "Moving from one machine"). What it handed out before the
 * move must be served unchanged after it, and what was waiting must still be certified.
 */
describe("moving one machine's store onto PostgreSQL and shared objects (evidence store copy)", function () {
  this.timeout(180_000);
  let chain: ChainNode;
  let postgres: PostgresServer;
  let member: Record<string, string>;
  let sourceDir: string;
  let apiKey: string;
  const dirs: string[] = [];
  const services: ServiceProcess[] = [];
  /** What the machine answered for each item before the move (GET /api/v1/evidence/:id, and its history). */
  const handedOut = new Map<string, { view: any; history: any }>();
  const uploads = new Map<string, Buffer>();
  const waiting: string[] = [];
  let site: Site | undefined;
  let capturedId: string;

  const serveOn = async (dataDir: string, env: Record<string, string>) => {
    const service = await startServiceProcess(dataDir, { ...member, LOG_LEVEL: "warn", ...env });
    services.push(service);
    return service;
  };
  const copy = (args: string[]) => runCli(["store", "copy", ...args]);
  const scratch = (name: string) => {
    const dir = tempDir(name);
    dirs.push(dir);
    return dir;
  };
  /** `evidence store copy` of a data directory into a database, its files into a directory of their own unless given one. */
  const copyInto = (from: string, databaseUrl: string, objectsDir = scratch("objects")) =>
    copy(["--from", from, "--to-database", databaseUrl, "--to-objects-dir", objectsDir]);
  /** A copy of a data directory as it was before any move (no MOVED). */
  const cloneDataDir = (from: string, name: string) => {
    const dataDir = scratch(name);
    cpSync(from, dataDir, { recursive: true });
    rmSync(path.join(dataDir, "MOVED"), { force: true });
    return dataDir;
  };
  /** Uploads one file as the machine's account; returns the item's id. */
  const uploadOne = async (service: ServiceProcess, text: string): Promise<string> => {
    const bytes = Buffer.from(text);
    const form = new FormData();
    form.append("file", new Blob([bytes]), "listing.png");
    const uploaded = await api(service.url, apiKey).postForm("/api/v1/evidence", form);
    expect(uploaded.status, JSON.stringify(uploaded.body)).to.equal(201);
    return uploaded.body.items[0].id;
  };
  /** A replica on the copied database and the replicas' object storage (`objects`: OBJECTS_DIR or OBJECT_STORE_URL). */
  const startReplica = async (databaseUrl: string, objects: Record<string, string>) => {
    const replicaDir = scratch("replica");
    mkdirSync(path.join(replicaDir, "keys"), { recursive: true });
    writeFileSync(path.join(replicaDir, "keys", "issuer.key"), SERVICE_KEY, { mode: 0o600 });
    return serveOn(replicaDir, { DATABASE_URL: databaseUrl, DEV_ACCOUNT: "false", ...objects });
  };
  /**
   * The replica answers for everything handed out before the move as the machine did, every
   * item's certificate verifies against the chain, and the capture's package (read from the
   * object storage) verifies.
   */
  const expectServedAsBefore = async (replica: ServiceProcess, certifiedSince: string[]) => {
    const client = api(replica.url, apiKey);
    for (const [id, was] of handedOut) {
      expect((await client.get(`/api/v1/evidence/${id}`)).body, `${id} after the move`).to.deep.equal(was.view);
    }
    const chainReader = new CachingChainReader(new JsonRpcChainReader(chain.url));
    for (const id of [...handedOut.keys(), ...waiting, ...certifiedSince]) {
      const result = await verifyCertificate(await client.anchored(id), { chain: chainReader });
      expect(result.valid, `${id}: ${JSON.stringify(result.checks)}`).to.equal(true);
    }
    const pkg = await fetch(`${replica.url}/api/v1/evidence/${capturedId}/package`);
    expect(pkg.status).to.equal(200);
    const pkgPath = path.join(scratch("package"), "capture.zip");
    writeFileSync(pkgPath, Buffer.from(await pkg.arrayBuffer()));
    const verified = await runCli(["verify", pkgPath, "--rpc", chain.url, "--json"]);
    expect(verified.code, verified.stdout).to.equal(0);
  };

  before(async () => {
    chain = await startChainNode({ chainId: 4051 });
    postgres = await startPostgres();
    sourceDir = tempDir("one-machine");
    dirs.push(sourceDir);
    member = await memberServiceOn(chain.url, sourceDir);

    // Version 1 certificates first (one row per item), then version 2 (one statement per batch).
    let machine = await serveOn(sourceDir, { CERTIFICATE_VERSION: "1" });
    apiKey = machine.apiKey!;
    const submit = async (service: ServiceProcess, label: string): Promise<string[]> => {
      const client = api(service.url, apiKey);
      const form = new FormData();
      for (const n of [1, 2]) {
        const bytes = Buffer.from(`${label}: screenshot ${n} of an infringing listing`);
        form.append("file", new Blob([bytes]), `${label}-${n}.png`);
      }
      const uploaded = await client.postForm("/api/v1/evidence", form);
      expect(uploaded.status, JSON.stringify(uploaded.body)).to.equal(201);
      for (const [n, item] of (uploaded.body.items as { id: string }[]).entries()) {
        uploads.set(item.id, Buffer.from(`${label}: screenshot ${n + 1} of an infringing listing`));
      }
      const digests = await client.postJson("/api/v1/evidence/digests", {
        items: [1, 2, 3].map((n) => ({ contentHash: sha256Hex(`${label} digest ${n}`) })),
      });
      expect(digests.status, JSON.stringify(digests.body)).to.equal(201);
      return [...uploaded.body.items, ...digests.body.items].map((i: { id: string }) => i.id);
    };
    const certified = [...(await submit(machine, "v1"))];
    await api(machine.url, apiKey).settled();
    await machine.stop();
    machine = await serveOn(sourceDir, { CAPTURE_ALLOW: "127.0.0.1/32" });
    certified.push(...(await submit(machine, "v2")));
    // A web capture: its evidence row names its manifest, the manifest its other files.
    site = await startSite({
      "/listing": serve("text/html; charset=utf-8", '<!doctype html><title>侵权商品页</title><img src="/p.png">'),
      "/p.png": serve("image/png", solidPng(60, 40, [200, 30, 30])),
    });
    const capture = await api(machine.url, apiKey).postJson("/api/v1/captures", {
      url: `http://127.0.0.1:${site.port}/listing`,
    });
    expect(capture.status, JSON.stringify(capture.body)).to.equal(202);
    capturedId = capture.body.id;
    await api(machine.url, apiKey).anchored(capturedId, 120_000);
    certified.push(capturedId);
    await api(machine.url, apiKey).settled();
    for (const id of certified) {
      const client = api(machine.url);
      handedOut.set(id, {
        view: (await client.get(`/api/v1/evidence/${id}`)).body,
        history: (await client.get(`/api/v1/evidence/${id}/certificates`)).body,
      });
    }
    await machine.stop();
    // The last submissions wait for a batch when the machine stops.
    machine = await serveOn(sourceDir, { BATCH_MAX_WAIT_MS: "86400000" });
    waiting.push(...(await submit(machine, "waiting")));
    await machine.stop();
    // A capture that failed is kept in the account's list: it moves too.
    const store = await SqliteEvidenceStore.open(sourceDir);
    const account = (await store.listAccounts())[0]!;
    await store.insertCapture({
      id: "Zcapture-failed-before-the-move0",
      accountId: account.id,
      url: "https://shop.example/listing/42",
      request: JSON.stringify({ url: "https://shop.example/listing/42" }),
      requestedAt: "2026-11-20T08:00:00.000Z",
    });
    await store.updateCapture("Zcapture-failed-before-the-move0", {
      status: "failed",
      error: { code: "CAPTURE_TIMEOUT", message: "the page did not finish loading" },
      attempts: 1,
    });
    await store.close();
    // As a store whose captures were recorded before it listed their files: the copy lists them.
    const db = new DatabaseSync(path.join(sourceDir, "evidence.db"));
    db.exec("DELETE FROM capture_files");
    db.close();
  });

  after(async () => {
    await Promise.all(services.map((s) => s.stop()));
    await site?.close();
    await postgres?.stop();
    await chain?.stop();
    for (const dir of dirs) await cleanUpDataDir(dir);
  });

  it("serves every certificate and capture handed out before the move unchanged, certifies what was waiting, and keeps the machine from starting again", async () => {
    const databaseUrl = await postgres.createDatabase();
    const objectsDir = tempDir("shared-objects");
    dirs.push(objectsDir);
    const copied = await copyInto(sourceDir, databaseUrl, objectsDir);
    expect(copied.code, copied.stderr).to.equal(0);
    expect(copied.stdout).to.match(/Copied 16 evidence items \(11 certified, 5 waiting for a batch\)/);
    expect(copied.stdout).to.include('ISSUER_NAME="Evidence Anchor" and CERTIFICATE_VERSION=2');
    expect(copied.stderr).to.match(/evidence: 16 rows, read back equal/);
    expect(copied.stderr).to.match(/listed the files of 1 capture recorded by an earlier version/);
    const sourceFiles = readdirSync(path.join(sourceDir, "objects"), { recursive: true, withFileTypes: true })
      .filter((f) => f.isFile())
      .map((f) => f.name)
      .sort();
    expect(copied.stdout).to.include(`${sourceFiles.length} files copied`);
    const copiedFiles = readdirSync(path.join(objectsDir, "objects"), { recursive: true, withFileTypes: true })
      .filter((f) => f.isFile())
      .map((f) => f.name)
      .sort();
    expect(copiedFiles, "every file of the data directory, a capture's included").to.deep.equal(sourceFiles);

    // The machine will not take submissions the replicas would never see.
    const restarted = await startServiceProcess(sourceDir, member).then(
      (s) => (services.push(s), "started"),
      (e: Error) => e.message,
    );
    expect(restarted).to.match(/is not this service's store any more\. .*copied by "evidence store copy"/);

    // The files are in the shared directory, byte for byte.
    for (const [id, bytes] of uploads) {
      const file = path.join(objectsDir, "objects", sha256Hex(bytes).slice(0, 2), sha256Hex(bytes));
      expect(readFileSync(file).equals(bytes), `the file of ${id}`).to.equal(true);
    }

    const replicaDir = tempDir("replica");
    dirs.push(replicaDir);
    mkdirSync(path.join(replicaDir, "keys"), { recursive: true });
    writeFileSync(path.join(replicaDir, "keys", "issuer.key"), SERVICE_KEY, { mode: 0o600 });
    const replica = await serveOn(replicaDir, {
      DATABASE_URL: databaseUrl,
      OBJECTS_DIR: objectsDir,
      DEV_ACCOUNT: "false",
    });
    const client = api(replica.url, apiKey);

    for (const [id, was] of handedOut) {
      expect((await client.get(`/api/v1/evidence/${id}`)).body, `${id} after the move`).to.deep.equal(was.view);
      expect((await client.get(`/api/v1/evidence/${id}/certificates`)).body, `${id}'s history`).to.deep.equal(
        was.history,
      );
    }
    const versions = [...handedOut.values()].map((b) => b.view.certificate.version);
    expect(new Set(versions), "both certificate versions moved").to.deep.equal(new Set([1, 2]));

    // What was waiting keeps its place and is anchored by the replica; new evidence follows it.
    const fresh = await client.postJson("/api/v1/evidence/digests", {
      items: [{ contentHash: sha256Hex("submitted after the move") }],
    });
    expect(fresh.status, JSON.stringify(fresh.body)).to.equal(201);
    await client.settled();
    const chainReader = new CachingChainReader(new JsonRpcChainReader(chain.url));
    for (const id of [...handedOut.keys(), ...waiting, fresh.body.items[0].id]) {
      const certificate = await client.anchored(id);
      const result = await verifyCertificate(certificate, { chain: chainReader });
      expect(result.valid, `${id}: ${JSON.stringify(result.checks)}`).to.equal(true);
    }
    const listed = await client.get("/api/v1/evidence?limit=100");
    expect(listed.body.items.map((i: { id: string }) => i.id)).to.deep.equal([
      fresh.body.items[0].id,
      ...[...waiting].reverse(),
      ...[...handedOut.keys()].reverse(),
    ]);
    const pkg = await fetch(`${replica.url}/api/v1/evidence/${capturedId}/package`);
    expect(pkg.status).to.equal(200);
    const pkgPath = path.join(objectsDir, "capture.zip");
    writeFileSync(pkgPath, Buffer.from(await pkg.arrayBuffer()));
    const verified = await runCli(["verify", pkgPath, "--rpc", chain.url, "--json"]);
    expect(verified.code, verified.stdout).to.equal(0);
    const captures = await client.get("/api/v1/captures");
    expect(captures.body.items.map((c: { id: string }) => c.id)).to.deep.equal(["Zcapture-failed-before-the-move0"]);
    const document = await fetch(`${replica.url}/api/v1/evidence/${[...uploads.keys()][0]}/certificate.pdf`);
    expect(document.status).to.equal(200);
    await document.arrayBuffer();

    // A second copy into a database in use is refused, and changes nothing.
    const counts = await rowCounts(databaseUrl);
    const twice = await copyInto(sourceDir, databaseUrl, objectsDir);
    expect([twice.code, twice.stderr]).to.match(/was copied already: .*copied by "evidence store copy"/);
    const key = await runCli(["accounts", "create", "--name", "too late", "--json"], { DATA_DIR: sourceDir });
    expect([key.code, key.stderr]).to.deep.equal([1, key.stderr]);
    expect(key.stderr).to.match(/is not the service's store any more/);
    // Without the mark, the database in use refuses it.
    rmSync(path.join(sourceDir, "MOVED"));
    const again = await copyInto(sourceDir, databaseUrl, objectsDir);
    expect(again.code).to.equal(1);
    expect(again.stderr).to.match(/already holds rows \(in meta, accounts, batches, evidence/);
    expect(await rowCounts(databaseUrl)).to.deep.equal(counts);
  });

  it("copies the evidence files into S3-compatible object storage, skipping a file already there (as after a copy that failed later on)", async () => {
    const s3 = await startS3Server();
    try {
      const credentials = {
        accessKeyId: S3RVER_CREDENTIALS.AWS_ACCESS_KEY_ID,
        secretAccessKey: S3RVER_CREDENTIALS.AWS_SECRET_ACCESS_KEY,
      };
      const bucket = await S3ObjectStore.open(s3.url("evidence"), {
        tmpDir: scratch("s3-staging"),
        client: { credentials },
      });
      // One file is there already.
      const [, first] = [...uploads][0]!;
      (await bucket.put(Readable.from([first]))).release();
      const args = ["store", "copy", "--from", sourceDir, "--to-object-store", s3.url("evidence")];
      const copied = await runCli(
        [...args, "--to-database", await postgres.createSchema(), "--json"],
        S3RVER_CREDENTIALS,
      );
      expect(copied.code, copied.stderr).to.equal(0);
      // This test's copy marked the data directory; the next tests copy from it again.
      rmSync(path.join(sourceDir, "MOVED"));
      const report = JSON.parse(copied.stdout) as CopyReport;
      const stored = readdirSync(path.join(sourceDir, "objects"), { recursive: true, withFileTypes: true });
      expect(report.files).to.deep.include({ copied: stored.filter((f) => f.isFile()).length - 1, present: 1 });
      for (const [id, bytes] of uploads) {
        const stored = Buffer.concat(await (await bucket.get(sha256Hex(bytes))).toArray());
        expect(stored.equals(bytes), `the file of ${id} in the bucket`).to.equal(true);
      }
      bucket.destroy();
    } finally {
      await s3.stop();
    }
  });

  it("refuses while the service runs on the data directory", async () => {
    const databaseUrl = await postgres.createSchema();
    // A live process holds the data directory's lock.
    writeFileSync(path.join(sourceDir, "service.lock"), `${process.pid}\n`);
    try {
      const result = await copyInto(sourceDir, databaseUrl);
      expect(result.code).to.equal(1);
      expect(result.stderr).to.match(/is in use by a running service \(pid \d+\): stop it first, then copy/);
    } finally {
      rmSync(path.join(sourceDir, "service.lock"));
    }
  });

  it("refuses a data directory whose evidence file is damaged or missing, and writes no row", async () => {
    const [id, bytes] = [...uploads][0]!;
    const hash = sha256Hex(bytes);
    for (const damage of ["damaged", "missing"] as const) {
      const copyOfSource = tempDir(`source-${damage}`);
      dirs.push(copyOfSource);
      cpSync(sourceDir, copyOfSource, { recursive: true });
      const file = path.join(copyOfSource, "objects", hash.slice(0, 2), hash);
      if (damage === "damaged") writeFileSync(file, Buffer.concat([bytes, Buffer.from("!")]));
      else rmSync(file);
      const databaseUrl = await postgres.createSchema();
      const result = await copyInto(copyOfSource, databaseUrl, scratch(`objects-${damage}`));
      expect(result.code, `${id}'s file ${damage}`).to.equal(1);
      expect(result.stderr).to.include("1 evidence file in");
      expect(result.stderr).to.include(`${hash} (of evidence ${id}) is ${damage}`);
      expect(await rowCounts(databaseUrl), "no row written").to.deep.equal(EMPTY);
    }
  });

  it("keeps a file already in the target when a damaged file's bytes are that file's", async () => {
    const copyOfSource = cloneDataDir(sourceDir, "source-damaged-into-another");
    const [id, bytes] = [...uploads][0]!;
    const [, otherBytes] = [...uploads][1]!;
    const hash = sha256Hex(bytes);
    const other = sha256Hex(otherBytes);
    writeFileSync(path.join(copyOfSource, "objects", hash.slice(0, 2), hash), otherBytes);
    // The other file is in the target already, as after a copy that failed later on.
    const objectsDir = scratch("objects-with-one-file");
    const kept = path.join(objectsDir, "objects", other.slice(0, 2), other);
    mkdirSync(path.dirname(kept), { recursive: true });
    writeFileSync(kept, otherBytes);
    const databaseUrl = await postgres.createSchema();
    const result = await copyInto(copyOfSource, databaseUrl, objectsDir);
    expect(result.code).to.equal(1);
    expect(result.stderr).to.include(`${hash} (of evidence ${id}) is damaged: its bytes hash to ${other}`);
    expect(existsSync(kept), "the file the damaged one's bytes equal").to.equal(true);
    expect(readFileSync(kept).equals(otherBytes)).to.equal(true);
    expect(await rowCounts(databaseUrl), "no row written").to.deep.equal(EMPTY);
  });

  it("refuses a capture whose manifest cannot be read, whose files it could not list, before copying anything", async () => {
    const copyOfSource = scratch("source-unlisted");
    cpSync(sourceDir, copyOfSource, { recursive: true });
    rmSync(path.join(copyOfSource, "MOVED"), { force: true });
    const db = new DatabaseSync(path.join(copyOfSource, "evidence.db"));
    db.exec("DELETE FROM capture_files");
    const { content_hash: manifest } = db.prepare("SELECT content_hash FROM evidence WHERE id = ?").get(capturedId) as {
      content_hash: string;
    };
    db.close();
    rmSync(path.join(copyOfSource, "objects", manifest.slice(0, 2), manifest));
    const databaseUrl = await postgres.createSchema();
    const objectsDir = scratch("objects-unlisted");
    const result = await copyInto(copyOfSource, databaseUrl, objectsDir);
    expect(result.code).to.equal(1);
    expect(result.stderr).to.include(`the manifest of capture ${capturedId} cannot be read`);
    expect(await tablesIn(databaseUrl), "the database left untouched").to.deep.equal([]);
    const copiedFiles = readdirSync(objectsDir, { recursive: true, withFileTypes: true }).filter((f) => f.isFile());
    expect(copiedFiles, "no file copied").to.deep.equal([]);
  });

  it("commits nothing when a table reads back different from the source", async () => {
    const databaseUrl = await postgres.createSchema();
    await (await PostgresEvidenceStore.open(databaseUrl)).close();
    const raw = new pg.Client({ connectionString: databaseUrl });
    await raw.connect();
    try {
      // A database that changes what it is given (here, a trigger) must not receive the store.
      await raw.query(`
        CREATE FUNCTION alter_record() RETURNS trigger LANGUAGE plpgsql AS $$
          BEGIN NEW.created_at := '2000-01-01T00:00:00.000Z'; RETURN NEW; END $$;
        CREATE TRIGGER alter_record BEFORE INSERT ON evidence FOR EACH ROW EXECUTE FUNCTION alter_record();`);
    } finally {
      await raw.end();
    }
    const result = await copyInto(sourceDir, databaseUrl);
    expect(result.code).to.equal(1);
    expect(result.stderr).to.match(
      /evidence: PostgreSQL holds 16 rows that differ from the 16 copied; nothing was committed/,
    );
    expect(await rowCounts(databaseUrl)).to.deep.equal(EMPTY);
  });

  it("refuses a store on the embedded development chain, whose certificates no replica can serve", async () => {
    const embeddedDir = tempDir("embedded");
    dirs.push(embeddedDir);
    const store = await SqliteEvidenceStore.open(embeddedDir);
    await store.setMeta("contract", "0x5FbDB2315678afecb367f032d93F642f64180aa3");
    await store.close();
    const databaseUrl = await postgres.createSchema();
    const result = await copyInto(embeddedDir, databaseUrl);
    expect(result.code).to.equal(1);
    expect(result.stderr).to.match(/anchors on the embedded development chain/);
    expect(await tablesIn(databaseUrl), "the database left untouched").to.deep.equal([]);
  });

  describe("when the machine ran with its files in OBJECTS_DIR", () => {
    /** The machine: its data directory, and the OBJECTS_DIR it ran with. */
    let machine: { dataDir: string; objectsDir: string };
    let addedThere: string;
    /** A copy of the machine as it was before any move, its OBJECTS_DIR with it. */
    const cloneMachine = (name: string) => {
      const objectsDir = scratch(`${name}-objects`);
      cpSync(machine.objectsDir, objectsDir, { recursive: true });
      return { dataDir: cloneDataDir(machine.dataDir, name), objectsDir };
    };

    before(async () => {
      const dataDir = cloneDataDir(sourceDir, "machine-with-objects-dir");
      const objectsDir = scratch("machine-objects-dir");
      renameSync(path.join(dataDir, "objects"), path.join(objectsDir, "objects"));
      machine = { dataDir, objectsDir };
      const service = await serveOn(dataDir, { OBJECTS_DIR: objectsDir });
      addedThere = await uploadOne(service, "uploaded while the machine ran with OBJECTS_DIR");
      await api(service.url, apiKey).settled();
      await service.stop();
      const hash = sha256Hex("uploaded while the machine ran with OBJECTS_DIR");
      expect(objectsIn(objectsDir), "the service kept its upload in OBJECTS_DIR").to.include(hash);
      expect(existsSync(path.join(dataDir, "objects")), "and nothing in the data directory").to.equal(false);
    });

    it("copies the files from the directory given by --from-objects-dir, and the replica verifies every certificate", async () => {
      const { dataDir, objectsDir } = cloneMachine("from-objects-dir");
      const databaseUrl = await postgres.createDatabase();
      const shared = scratch("shared-objects");
      const copied = await copy([
        ...["--from", dataDir, "--from-objects-dir", objectsDir],
        ...["--to-database", databaseUrl, "--to-objects-dir", shared],
      ]);
      expect(copied.code, copied.stderr).to.equal(0);
      const files = objectsIn(objectsDir);
      expect(copied.stdout).to.include(`${files.length} files copied`);
      expect(copied.stdout).to.include(`Keep ${dataDir} and ${path.join(objectsDir, "objects")} until`);
      expect(objectsIn(shared), "every file of the machine's OBJECTS_DIR").to.deep.equal(files);
      await expectServedAsBefore(await startReplica(databaseUrl, { OBJECTS_DIR: shared }), [addedThere]);
    });

    it("leaves every file there untouched, leftover uploads included, when it is the replicas' OBJECTS_DIR too, and the replica serves them", async () => {
      const { dataDir, objectsDir } = cloneMachine("in-place");
      // Uploads the machine left unfinished: its own, and one another service left days ago.
      const own = path.join(objectsDir, "tmp", replicaName(dataDir));
      mkdirSync(own, { recursive: true });
      writeFileSync(path.join(own, "upload-in-flight-at-the-stop"), "partial");
      const other = path.join(objectsDir, "tmp", "another-host-0123456789ab");
      mkdirSync(other, { recursive: true });
      writeFileSync(path.join(other, "upload-left-days-ago"), "partial");
      const daysAgo = new Date(Date.now() - 3 * 24 * 3600 * 1000);
      utimesSync(path.join(other, "upload-left-days-ago"), daysAgo, daysAgo);
      const before = filesWithTimes(objectsDir);
      const databaseUrl = await postgres.createDatabase();
      const copied = await copy([
        ...["--from", dataDir, "--from-objects-dir", objectsDir],
        ...["--to-database", databaseUrl, "--to-objects-dir", objectsDir],
      ]);
      expect(copied.code, copied.stderr).to.equal(0);
      expect(filesWithTimes(objectsDir), "no file written, rewritten or removed").to.deep.equal(before);
      expect(copied.stdout).to.include(
        `no file copied: the ${objectsIn(objectsDir).length} files stay in ${path.join(objectsDir, "objects")}`,
      );
      expect(copied.stderr).to.match(/checked in place, none copied/);
      await expectServedAsBefore(await startReplica(databaseUrl, { OBJECTS_DIR: objectsDir }), [addedThere]);
    });

    it("refuses a damaged file in the directory that is both source and target, leaves it as it is, and writes no row", async () => {
      const { dataDir, objectsDir } = cloneMachine("in-place-damaged");
      const [id, bytes] = [...uploads][0]!;
      const hash = sha256Hex(bytes);
      const file = path.join(objectsDir, "objects", hash.slice(0, 2), hash);
      // Damaged into the bytes of another file the rows refer to: a copy that removed what it
      // wrote would remove that file.
      const [, otherBytes] = [...uploads][1]!;
      writeFileSync(file, otherBytes);
      const before = filesWithTimes(objectsDir);
      const databaseUrl = await postgres.createSchema();
      const result = await copy([
        ...["--from", dataDir, "--from-objects-dir", objectsDir],
        ...["--to-database", databaseUrl, "--to-objects-dir", objectsDir],
      ]);
      expect(result.code, result.stderr).to.equal(1);
      expect(result.stderr).to.include(`1 evidence file in ${path.join(objectsDir, "objects")} cannot be used`);
      expect(result.stderr).to.include(
        `${hash} (of evidence ${id}) is damaged: its bytes hash to ${sha256Hex(otherBytes)}`,
      );
      expect(filesWithTimes(objectsDir), "the store as it was").to.deep.equal(before);
      expect(await rowCounts(databaseUrl), "no row written").to.deep.equal(EMPTY);
    });

    it("names a file missing from the directory given by --from-objects-dir, and writes no row", async () => {
      const { dataDir, objectsDir } = cloneMachine("from-objects-dir-missing");
      const hash = sha256Hex("uploaded while the machine ran with OBJECTS_DIR");
      rmSync(path.join(objectsDir, "objects", hash.slice(0, 2), hash));
      const databaseUrl = await postgres.createSchema();
      const result = await copy([
        ...["--from", dataDir, "--from-objects-dir", objectsDir],
        ...["--to-database", databaseUrl, "--to-objects-dir", scratch("objects")],
      ]);
      expect(result.code, result.stderr).to.equal(1);
      expect(result.stderr).to.include(`1 evidence file in ${path.join(objectsDir, "objects")} cannot be copied`);
      expect(result.stderr).to.include(`${hash} (of evidence ${addedThere}) is missing`);
      expect(await rowCounts(databaseUrl), "no row written").to.deep.equal(EMPTY);
    });

    it("points at --from-objects-dir when the files are not in the data directory", async () => {
      const { dataDir } = cloneMachine("objects-dir-not-given");
      const databaseUrl = await postgres.createSchema();
      const result = await copyInto(dataDir, databaseUrl);
      expect(result.code).to.equal(1);
      expect(result.stderr).to.include(`in ${path.join(dataDir, "objects")}`);
      expect(result.stderr).to.match(/If the service ran with OBJECTS_DIR or OBJECT_STORE_URL, .*--from-objects-dir/);
      expect(await rowCounts(databaseUrl), "no row written").to.deep.equal(EMPTY);
    });
  });

  describe("when the machine ran with its files in S3-compatible storage (OBJECT_STORE_URL)", () => {
    let s3: S3Server;
    let machineDir: string;
    let machineBucket: string;
    let addedThere: string;

    before(async () => {
      s3 = await startS3Server();
      machineBucket = s3.url("machine");
      machineDir = cloneDataDir(sourceDir, "machine-with-bucket");
      // Its files were in the bucket from the start: none stays in the data directory.
      const bucket = await S3ObjectStore.open(machineBucket, {
        tmpDir: scratch("s3-staging"),
        client: {
          credentials: {
            accessKeyId: S3RVER_CREDENTIALS.AWS_ACCESS_KEY_ID,
            secretAccessKey: S3RVER_CREDENTIALS.AWS_SECRET_ACCESS_KEY,
          },
        },
      });
      for (const entry of readdirSync(path.join(machineDir, "objects"), { recursive: true, withFileTypes: true })) {
        if (entry.isFile()) (await bucket.put(createReadStream(path.join(entry.parentPath, entry.name)))).release();
      }
      bucket.destroy();
      rmSync(path.join(machineDir, "objects"), { recursive: true });
      const service = await serveOn(machineDir, { OBJECT_STORE_URL: machineBucket, ...S3RVER_CREDENTIALS });
      addedThere = await uploadOne(service, "uploaded while the machine ran with OBJECT_STORE_URL");
      await api(service.url, apiKey).settled();
      await service.stop();
    });

    after(async () => {
      await s3?.stop();
    });

    /** The names of the files in the machine's bucket and prefix. */
    const inBucket = () =>
      s3.created
        .filter((key) => key.startsWith("machine/"))
        .map((key) => path.basename(key))
        .sort();

    it("copies the files from the bucket given by --from-object-store into a directory, and the replica verifies every certificate", async () => {
      const dataDir = cloneDataDir(machineDir, "from-object-store");
      const databaseUrl = await postgres.createDatabase();
      const shared = scratch("shared-objects");
      const copied = await runCli(
        [
          ...["store", "copy", "--from", dataDir, "--from-object-store", machineBucket],
          ...["--to-database", databaseUrl, "--to-objects-dir", shared],
        ],
        S3RVER_CREDENTIALS,
      );
      expect(copied.code, copied.stderr).to.equal(0);
      expect(inBucket()).to.include(sha256Hex("uploaded while the machine ran with OBJECT_STORE_URL"));
      expect(objectsIn(shared), "every file of the bucket").to.deep.equal(inBucket());
      expect(copied.stdout).to.include(`${inBucket().length} files copied`);
      for (const name of objectsIn(shared)) {
        const bytes = readFileSync(path.join(shared, "objects", name.slice(0, 2), name));
        expect(sha256Hex(bytes), name).to.equal(name);
      }
      await expectServedAsBefore(await startReplica(databaseUrl, { OBJECTS_DIR: shared }), [addedThere]);
    });

    it("writes nothing to the bucket when the replicas use the same bucket and prefix, and checks each file there", async () => {
      const dataDir = cloneDataDir(machineDir, "same-bucket");
      const written = s3.created.length;
      const databaseUrl = await postgres.createDatabase();
      const copied = await runCli(
        [
          ...["store", "copy", "--from", dataDir, "--from-object-store", machineBucket],
          ...["--to-database", databaseUrl, "--to-object-store", machineBucket],
        ],
        S3RVER_CREDENTIALS,
      );
      expect(copied.code, copied.stderr).to.equal(0);
      expect(copied.stdout).to.include(`no file copied: the ${inBucket().length} files stay in s3://evidence/machine`);
      expect(s3.created.length, "no object written").to.equal(written);
      const replica = await startReplica(databaseUrl, { OBJECT_STORE_URL: machineBucket, ...S3RVER_CREDENTIALS });
      await expectServedAsBefore(replica, [addedThere]);
    });
  });

  it("tells what is missing from the command", async () => {
    const noTarget = await copy(["--from", sourceDir, "--to-objects-dir", scratch("objects")]);
    expect(noTarget.code).to.equal(2);
    expect(noTarget.stderr).to.match(/--to-database is required/);
    const bothObjects = await copy([
      "--from",
      sourceDir,
      "--to-database",
      "postgres://127.0.0.1/x",
      "--to-objects-dir",
      "/tmp/a",
      "--to-object-store",
      "s3://b",
    ]);
    expect(bothObjects.code).to.equal(2);
    expect(bothObjects.stderr).to.match(/give one of --to-objects-dir and --to-object-store/);
    const bothSources = await copy([
      ...["--from", sourceDir, "--to-database", "postgres://127.0.0.1/x", "--to-objects-dir", "/tmp/a"],
      ...["--from-objects-dir", scratch("objects"), "--from-object-store", "s3://b"],
    ]);
    expect(bothSources.code).to.equal(2);
    expect(bothSources.stderr).to.match(/give at most one of --from-objects-dir and --from-object-store/);
    const noFiles = await copy([
      ...["--from", sourceDir, "--to-database", "postgres://127.0.0.1/x", "--to-objects-dir", "/tmp/a"],
      ...["--from-objects-dir", scratch("not-objects")],
    ]);
    expect(noFiles.code).to.equal(2);
    expect(noFiles.stderr).to.match(/holds no evidence files \(no objects directory\)/);
    const noStore = await copy([
      "--from",
      scratch("empty"),
      "--to-database",
      "postgres://127.0.0.1/x",
      "--to-objects-dir",
      "/tmp/a",
    ]);
    expect(noStore.code).to.equal(2);
    expect(noStore.stderr).to.match(/holds no store \(no evidence\.db\)/);
  });
});
