import { expect } from "chai";
import { execFileSync } from "node:child_process";
import { closeSync, openSync, rmSync, writeSync } from "node:fs";
import path from "node:path";
import { memberServiceOn } from "../helpers/consortium.ts";
import { sha256Hex } from "../helpers/hash.ts";
import { startPostgres, type PostgresServer } from "../helpers/postgres.ts";
import {
  api,
  cleanUpDataDir,
  startChainNode,
  startServiceProcess,
  tempDir,
  type ChainNode,
  type ServiceProcess,
} from "../helpers/processes.ts";

/** Fills the filesystem of `file` to the last byte. */
function fillDisk(file: string): void {
  const fd = openSync(file, "w");
  const chunk = new Uint8Array(64 * 1024);
  try {
    for (let size = chunk.length; size > 0;) {
      try {
        writeSync(fd, chunk, 0, size);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== "ENOSPC") throw e;
        size >>= 1; // the last blocks: smaller writes until not even one byte fits
      }
    }
  } finally {
    closeSync(fd);
  }
}

/** `n` digests in one request body. */
function digests(n: number, tag: string) {
  return {
    items: Array.from({ length: n }, (_, i) => ({
      contentHash: sha256Hex(`${tag} ${i}`),
      title: `${tag} ${i}`.repeat(20),
    })),
  };
}

describe("a service on PostgreSQL when the database fails (a real server, its tables on an 80 MB tmpfs)", function () {
  this.timeout(120_000);
  let chain: ChainNode;
  let postgres: PostgresServer;
  let service: ServiceProcess;
  let mountPoint: string;
  let dataDir: string;

  before(async function () {
    // Mounting a small filesystem is the honest way to fill a disk; it needs root (as CI has).
    if (process.getuid?.() !== 0) this.skip();
    mountPoint = tempDir("pg-disk");
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=80m", "tmpfs", mountPoint]);
    chain = await startChainNode({ chainId: 4041 });
    postgres = await startPostgres({ dataParent: mountPoint });
    dataDir = tempDir("pg-fault-service");
    const env = await memberServiceOn(chain.url, dataDir);
    service = await startServiceProcess(dataDir, { ...env, DATABASE_URL: await postgres.createDatabase() });
  });

  after(async () => {
    await service?.stop();
    await chain?.stop();
    await postgres?.stop();
    if (dataDir) await cleanUpDataDir(dataDir);
    if (mountPoint) {
      execFileSync("umount", [mountPoint]);
      rmSync(mountPoint, { recursive: true, force: true });
    }
  });

  it("answers 503 problem+json while the database is down, and takes submissions again once it is back", async () => {
    const client = api(service.url, service.apiKey);
    const before = await client.postJson("/api/v1/evidence/digests", digests(1, "before the crash"));
    expect(before.status).to.equal(201);

    await postgres.crash();
    const during = await client.postJson("/api/v1/evidence/digests", digests(1, "during the outage"));
    expect([during.status, during.type, during.body.code]).to.deep.equal([
      503,
      "application/problem+json; charset=utf-8",
      "STORAGE_FAILURE",
    ]);

    await postgres.restart();
    const after = await client.postJson("/api/v1/evidence/digests", digests(1, "after the restart"));
    expect(after.status, JSON.stringify(after.body)).to.equal(201);
    for (const item of [...before.body.items, ...after.body.items]) await client.anchored(item.id, 90_000);
  });

  it("answers 507 problem+json when the database's disk is full, records nothing, and takes submissions once there is room", async () => {
    const client = api(service.url, service.apiKey);
    const counts = async () => (await client.get("/healthz")).body.evidence;
    const filler = path.join(mountPoint, "filler");
    fillDisk(filler);
    try {
      const before = await counts();
      // Thousands of rows need new pages in the tables: PostgreSQL must extend their files.
      const full = await client.postJson("/api/v1/evidence/digests", digests(5_000, "no room"));
      expect([full.status, full.type, full.body.code]).to.deep.equal([
        507,
        "application/problem+json; charset=utf-8",
        "INSUFFICIENT_STORAGE",
      ]);
      expect(await counts()).to.deep.equal(before);
    } finally {
      rmSync(filler, { force: true });
    }
    const ok = await client.postJson("/api/v1/evidence/digests", digests(5_000, "room again"));
    expect(ok.status).to.equal(201);
  });
});
