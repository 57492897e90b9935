import { expect } from "chai";
import { randomBytes } from "node:crypto";
import { readFileSync, watch } from "node:fs";
import path from "node:path";
import { readDatabase } from "../helpers/database.ts";
import { filesUnder } from "../helpers/files.ts";
import { api, cleanUpDataDir, startServiceProcess, tempDir, until, type ServiceProcess } from "../helpers/processes.ts";
import { sha256Hex } from "../helpers/hash.ts";

describe("refused uploads leave nothing behind (a real service process; objects/ and tmp/ on disk)", function () {
  this.timeout(60_000);
  let service: ServiceProcess;
  let dataDir: string;

  before(async () => {
    dataDir = tempDir("upload-cleanup");
    service = await startServiceProcess(dataDir, { MAX_FILES_PER_REQUEST: "3", MAX_FILE_BYTES: String(1024 * 1024) });
  });

  after(async () => {
    await service?.stop();
    await cleanUpDataDir(dataDir);
  });

  const objects = () => filesUnder(path.join(dataDir, "objects"));
  const temporary = () => filesUnder(path.join(dataDir, "tmp"));
  const evidenceRows = () => readDatabase<{ n: number }>(dataDir, "SELECT count(*) AS n FROM evidence")[0]!.n;
  const objectOf = (content: Buffer) => {
    const hash = sha256Hex(content);
    return path.join(hash.slice(0, 2), hash);
  };

  /** Waits until the objects and temporary files are as `expected` (a refused request's files are removed as it ends). */
  async function settlesTo(expected: { objects: string[]; temporary: string[] }, what: string): Promise<void> {
    await until(
      async () =>
        JSON.stringify([objects(), temporary()]) === JSON.stringify([expected.objects, expected.temporary])
          ? true
          : undefined,
      what,
      10_000,
    ).catch((e: Error) => {
      e.message += `: objects ${JSON.stringify(objects())}, tmp ${JSON.stringify(temporary())}`;
      throw e;
    });
  }

  const upload = (parts: [string, Blob | string, string?][]) => {
    const form = new FormData();
    for (const [name, value, fileName] of parts) {
      if (typeof value === "string") form.append(name, value);
      else form.append(name, value, fileName);
    }
    return api(service.url, service.apiKey).postForm("/api/v1/evidence", form);
  };

  it("answers 400 UNKNOWN_FIELD for a field sent before the file, and never writes the file, not even to tmp/", async () => {
    const before = { objects: objects(), temporary: temporary(), rows: evidenceRows() };
    // Every object is staged in tmp/ first: a watch on it sees any file written, however briefly.
    const staged: string[] = [];
    const watcher = watch(path.join(dataDir, "tmp"), (_event, name) => staged.push(String(name)));
    try {
      const content = randomBytes(512 * 1024);
      const res = await upload([
        ["owner", "someone else"],
        ["file", new Blob([content]), "evidence.bin"],
      ]);
      expect([res.status, res.body.code]).to.deep.equal([400, "UNKNOWN_FIELD"]);
      expect(objects()).not.to.include(objectOf(content));
    } finally {
      watcher.close();
    }
    expect(staged, "files written to tmp/").to.deep.equal([]);
    expect([objects(), temporary()]).to.deep.equal([before.objects, before.temporary]);
    expect(evidenceRows()).to.equal(before.rows);
  });

  it("answers 400 UNKNOWN_FIELD for a field sent after the file, and removes the file it had stored", async () => {
    const before = { objects: objects(), temporary: temporary(), rows: evidenceRows() };
    const staged: string[] = [];
    const watcher = watch(path.join(dataDir, "tmp"), (_event, name) => staged.push(String(name)));
    const content = randomBytes(256 * 1024);
    const res = await upload([
      ["file", new Blob([content]), "evidence.bin"],
      ["owner", "someone else"],
    ]).finally(() => watcher.close());
    expect([res.status, res.body.code]).to.deep.equal([400, "UNKNOWN_FIELD"]);
    expect(staged.length, "the file was written before its field was seen").to.be.greaterThan(0);
    await settlesTo(before, "the stored file to be removed");
    expect(evidenceRows()).to.equal(before.rows);
  });

  it("answers 413 TOO_MANY_FILES for four files where three are allowed, and leaves none of them", async () => {
    const before = { objects: objects(), temporary: temporary(), rows: evidenceRows() };
    const contents = Array.from({ length: 4 }, () => randomBytes(64 * 1024));
    const res = await upload(contents.map((c, i) => ["file", new Blob([c]), `f${i}.bin`]));
    expect([res.status, res.body.code]).to.deep.equal([413, "TOO_MANY_FILES"]);
    await settlesTo(before, "the stored files to be removed");
    expect(evidenceRows()).to.equal(before.rows);
  });

  it("keeps a file that earlier evidence refers to when a later request with the same file is refused", async () => {
    const content = randomBytes(128 * 1024);
    const first = await upload([["file", new Blob([content]), "first.bin"]]);
    expect(first.status).to.equal(201);
    const stored = path.join(dataDir, "objects", objectOf(content));
    expect(readFileSync(stored).equals(content)).to.equal(true);
    const before = { objects: objects(), temporary: temporary(), rows: evidenceRows() };

    const refused = await upload([
      ["file", new Blob([content]), "again.bin"],
      ["owner", "someone else"],
    ]);
    expect([refused.status, refused.body.code]).to.deep.equal([400, "UNKNOWN_FIELD"]);
    await settlesTo(before, "the temporary file to be removed");
    expect(readFileSync(stored).equals(content), "the first evidence's file").to.equal(true);
    expect(evidenceRows()).to.equal(before.rows);
  });
});
