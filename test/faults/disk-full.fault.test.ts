import { expect } from "chai";
import { execFileSync } from "node:child_process";
import { closeSync, openSync, readdirSync, rmSync, writeSync } from "node:fs";
import path from "node:path";
import { memberServiceOn } from "../helpers/consortium.ts";
import {
  api,
  cleanUpDataDir,
  startChainNode,
  startServiceProcess,
  tempDir,
  type ChainNode,
  type ServiceProcess,
} from "../helpers/processes.ts";
import { sha256Hex } from "../helpers/hash.ts";

/** Fills the filesystem of `file` to the last byte; returns how many bytes it took. */
function fillDisk(file: string): number {
  const fd = openSync(file, "w");
  const chunk = new Uint8Array(64 * 1024);
  let written = 0;
  try {
    for (let size = chunk.length; size > 0;) {
      try {
        written += writeSync(fd, chunk, 0, size);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== "ENOSPC") throw e;
        size >>= 1; // the last blocks: smaller writes until not even one byte fits
      }
    }
  } finally {
    closeSync(fd);
  }
  return written;
}

describe("a full disk (a real 8 MB tmpfs as the data directory)", function () {
  this.timeout(60_000);
  let chain: ChainNode;
  let service: ServiceProcess | undefined;
  let mountPoint: string;

  before(async function () {
    // Mounting a small filesystem is the honest way to fill a disk; it needs root (as CI has).
    if (process.getuid?.() !== 0) this.skip();
    chain = await startChainNode({ chainId: 4040 });
    mountPoint = tempDir("disk-full");
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=8m", "tmpfs", mountPoint]);
    service = await startServiceProcess(mountPoint, await memberServiceOn(chain.url, mountPoint));
  });

  after(async () => {
    await service?.stop();
    await chain?.stop();
    if (mountPoint) {
      execFileSync("umount", [mountPoint]);
      await cleanUpDataDir(mountPoint);
    }
  });

  it("answers 507 problem+json, records nothing, removes the partial file, and takes the next upload", async () => {
    const client = api(service!.url, service!.apiKey);
    const before = (await client.get("/healthz")).body.evidence;
    const form = new FormData();
    form.append("file", new Blob([new Uint8Array(16 * 1024 * 1024).fill(7)]), "too-big-for-the-disk.bin");
    const res = await client.postForm("/api/v1/evidence", form);
    expect([res.status, res.type, res.body.code]).to.deep.equal([
      507,
      "application/problem+json; charset=utf-8",
      "INSUFFICIENT_STORAGE",
    ]);
    expect((await client.get("/healthz")).body.evidence).to.deep.equal(before);
    expect(readdirSync(path.join(mountPoint, "tmp"))).to.deep.equal([]);

    const small = new FormData();
    small.append("file", new Blob(["still works"]), "small.txt");
    const ok = await client.postForm("/api/v1/evidence", small);
    expect(ok.status).to.equal(201);
    await client.anchored(ok.body.items[0].id);
  });

  it("answers 507 to digests when the database has no room to grow, and records them once there is room", async () => {
    const client = api(service!.url, service!.apiKey);
    const before = (await client.get("/healthz")).body.evidence;
    const items = Array.from({ length: 500 }, (_, i) => ({
      contentHash: sha256Hex(`disk full ${i}`),
      title: "证据 ".repeat(20),
    }));
    const filler = path.join(mountPoint, "filler");
    expect(fillDisk(filler)).to.be.greaterThan(0);
    try {
      const res = await client.postJson("/api/v1/evidence/digests", { items });
      expect([res.status, res.type, res.body.code]).to.deep.equal([
        507,
        "application/problem+json; charset=utf-8",
        "INSUFFICIENT_STORAGE",
      ]);
      expect((await client.get("/healthz")).body.evidence).to.deep.equal(before);
    } finally {
      rmSync(filler);
    }
    const ok = await client.postJson("/api/v1/evidence/digests", { items });
    expect(ok.status).to.equal(201);
    await client.anchored(ok.body.items[499].id);
  });
});
