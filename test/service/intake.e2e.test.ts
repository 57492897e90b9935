import { expect } from "chai";
import { createHash, randomBytes } from "node:crypto";
import { createWriteStream, openAsBlob, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { once } from "node:events";
import { request } from "node:http";
import path from "node:path";
import { JsonRpcChainReader, verifyCertificate } from "../../service/core/index.ts";
import {
  api,
  cleanUpDataDir,
  freePort,
  startServiceProcess,
  tempDir,
  until,
  type ServiceProcess,
} from "../helpers/processes.ts";
import { PDF_LIMITS } from "../../service/core/pdf-attachment.ts";
import { sha256Hex } from "../helpers/hash.ts";
import { readDatabase } from "../helpers/database.ts";
import { filesUnder } from "../helpers/files.ts";

/** Writes `size` random bytes to a file without holding them in memory; returns its SHA-256. */
async function randomFile(file: string, size: number): Promise<string> {
  const hash = createHash("sha256");
  const out = createWriteStream(file);
  for (let left = size; left > 0; left -= 1 << 20) {
    const chunk = randomBytes(Math.min(left, 1 << 20));
    hash.update(chunk);
    if (!out.write(chunk)) await once(out, "drain");
  }
  await new Promise<void>((r) => out.end(() => r()));
  return hash.digest("hex");
}

describe("evidence service over HTTP (real service process and chain node)", function () {
  this.timeout(180_000);
  let service: ServiceProcess;
  let dataDir: string;
  let files: string;
  let client: ReturnType<typeof api>;
  let chainUrl: string;

  before(async () => {
    dataDir = tempDir("intake");
    files = tempDir("files");
    const chainPort = await freePort();
    chainUrl = `http://127.0.0.1:${chainPort}`;
    service = await startServiceProcess(dataDir, {
      LOCAL_CHAIN_PORT: String(chainPort),
      MAX_FILE_BYTES: String(60 * 1024 * 1024),
    });
    expect(service.apiKey, "the development API key is printed at first start").to.match(/^[A-Za-z0-9_-]{43}$/);
    client = api(service.url, service.apiKey);
  });

  after(async () => {
    await service?.stop();
    await cleanUpDataDir(dataDir);
    rmSync(files, { recursive: true, force: true });
  });

  describe("POST /api/v1/evidence", () => {
    it("certifies a file with a Chinese name and a 50 MB file, each verifiable on the chain", async () => {
      const bigPath = path.join(files, "video.mp4");
      const bigHash = await randomFile(bigPath, 50 * 1024 * 1024);
      const form = new FormData();
      form.append("file", new Blob(["侵权内容"], { type: "text/plain" }), "侵权页面截图 2026.png");
      form.append("file", await openAsBlob(bigPath, { type: "video/mp4" }), "video.mp4");
      form.append("title", "商品页面 / product page");
      form.append("sourceUrl", "https://shop.example.com/item/1");
      const res = await client.postForm("/api/v1/evidence", form);
      expect(res.status).to.equal(201);
      const items = res.body.items as any[];
      expect(items.map((i) => [i.contentHash, i.size, i.status])).to.deep.equal([
        [sha256Hex("侵权内容"), Buffer.byteLength("侵权内容"), "pending"],
        [bigHash, 50 * 1024 * 1024, "pending"],
      ]);
      expect(items[0].record.fileName).to.equal("侵权页面截图 2026.png");
      expect(items[0].record.title).to.equal("商品页面 / product page");
      expect(items[1].record.mediaType).to.equal("video/mp4");

      const chain = new JsonRpcChainReader(chainUrl);
      for (const [i, item] of items.entries()) {
        const certificate = await client.anchored(item.id);
        const digest = [sha256Hex("侵权内容"), bigHash][i]!;
        const result = await verifyCertificate(certificate, { fileDigest: digest, chain });
        expect(result.valid, JSON.stringify(result.checks)).to.equal(true);
      }
      // Stored content-addressed; the user's file name is never a path on disk.
      expect(readFileSync(path.join(dataDir, "objects", bigHash.slice(0, 2), bigHash)).length).to.equal(
        50 * 1024 * 1024,
      );
      expect(readdirSync(path.join(dataDir, "objects"), { recursive: true }).join("\n")).not.to.include("侵权");
    });

    it("refuses an empty file (400 EMPTY_FILE), whose certificate would prove nothing, and records none of the request", async () => {
      const holdings = () => ({
        rows: readDatabase<{ n: number }>(dataDir, "SELECT count(*) AS n FROM evidence")[0]!.n,
        objects: filesUnder(path.join(dataDir, "objects")),
      });
      const before = holdings();
      const form = new FormData();
      form.append("file", new Blob(["refused with the empty one beside it"]), "kept-back.txt");
      form.append("file", new Blob([]), "空白.txt");
      const res = await client.postForm("/api/v1/evidence", form);
      expect([res.status, res.type, res.body.code]).to.deep.equal([
        400,
        "application/problem+json; charset=utf-8",
        "EMPTY_FILE",
      ]);
      expect(res.body.detail).to.match(/^file 2 \("空白\.txt"\) is empty \(0 bytes\)/);
      await until(
        async () => (JSON.stringify(holdings()) === JSON.stringify(before) ? true : undefined),
        "no row and no object",
        10_000,
      );
    });

    it("refuses a request without an API key (401) or with a wrong one", async () => {
      const form = new FormData();
      form.append("file", new Blob(["x"]), "x.txt");
      const none = await api(service.url).postForm("/api/v1/evidence", form);
      expect([none.status, none.type, none.body.code]).to.deep.equal([
        401,
        "application/problem+json; charset=utf-8",
        "UNAUTHENTICATED",
      ]);
      const wrong = await api(service.url, "A".repeat(43)).postForm("/api/v1/evidence", form);
      expect([wrong.status, wrong.body.code]).to.deep.equal([401, "INVALID_API_KEY"]);
    });

    it("answers 413 FILE_TOO_LARGE for a file over the limit, and records nothing", async () => {
      const holdings = () => ({
        rows: readDatabase<{ n: number }>(dataDir, "SELECT count(*) AS n FROM evidence")[0]!.n,
        objects: filesUnder(path.join(dataDir, "objects")),
        temporary: filesUnder(path.join(dataDir, "tmp")),
      });
      const before = holdings();
      const form = new FormData();
      form.append("file", new Blob([new Uint8Array(60 * 1024 * 1024 + 1)]), "big.bin");
      const res = await client.postForm("/api/v1/evidence", form);
      expect([res.status, res.body.code]).to.deep.equal([413, "FILE_TOO_LARGE"]);
      // Its staged part is removed as the request ends.
      await until(
        async () => (JSON.stringify(holdings()) === JSON.stringify(before) ? true : undefined),
        "no row, no object, no temporary file",
        10_000,
      );
    });

    it("answers 400 NO_FILE without a file part, and 415 for a body that is not multipart", async () => {
      const form = new FormData();
      form.append("title", "no file");
      const noFile = await client.postForm("/api/v1/evidence", form);
      expect([noFile.status, noFile.body.code]).to.deep.equal([400, "NO_FILE"]);
      const json = await client.postJson("/api/v1/evidence", { file: "x" });
      expect([json.status, json.body.code]).to.deep.equal([415, "UNSUPPORTED_MEDIA_TYPE"]);
    });

    it("leaves no evidence row and no temporary file when the client disconnects mid-upload", async () => {
      const rows = () => readDatabase<{ n: number }>(dataDir, "SELECT count(*) AS n FROM evidence")[0]!.n;
      const rowsBefore = rows();
      const tmp = path.join(dataDir, "tmp");
      const earlier = new Set(readdirSync(tmp));
      const boundary = "----disconnect";
      const { port } = new URL(service.url);
      const req = request({
        host: "127.0.0.1",
        port,
        method: "POST",
        path: "/api/v1/evidence",
        headers: {
          authorization: `Bearer ${service.apiKey}`,
          "content-type": `multipart/form-data; boundary=${boundary}`,
          "content-length": String(10 * 1024 * 1024),
        },
      });
      req.on("error", () => undefined);
      req.write(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="partial.bin"\r\n\r\n`);
      req.write(randomBytes(2 * 1024 * 1024));
      // The upload is under way once its own temporary file exists (one that was not there before).
      const staged = await until(
        async () => readdirSync(tmp).find((name) => !earlier.has(name)),
        "the upload's temporary file to appear",
      );
      req.destroy();
      await until(
        async () => (readdirSync(tmp).includes(staged) ? undefined : true),
        "the upload's temporary file to be removed",
      );
      expect(
        readdirSync(tmp).filter((name) => !earlier.has(name)),
        "no other temporary file",
      ).to.deep.equal([]);
      expect(rows(), "no evidence row").to.equal(rowsBefore);
    });
  });

  describe("POST /api/v1/evidence/digests", () => {
    it("certifies content hashes whose files never leave the client", async () => {
      const hashes = ["first", "second", "第三"].map(sha256Hex);
      const res = await client.postJson("/api/v1/evidence/digests", {
        items: hashes.map((contentHash, i) => ({ contentHash, fileName: `证据-${i}.pdf`, size: 10 + i })),
      });
      expect(res.status).to.equal(201);
      const certificate = await client.anchored(res.body.items[2].id);
      expect(certificate.record).to.include({ contentHash: hashes[2], fileName: "证据-2.pdf", size: 12 });
      const verified = await client.postJson("/api/v1/verify", { certificate, sha256: hashes[2] });
      expect(verified.body.valid).to.equal(true);
    });

    it("takes 10,000 hashes in one request and refuses 10,001 with 413", async () => {
      const items = Array.from({ length: 10_001 }, (_, i) => ({ contentHash: sha256Hex(`item ${i}`) }));
      const over = await client.postJson("/api/v1/evidence/digests", { items });
      expect([over.status, over.body.code]).to.deep.equal([413, "TOO_MANY_ITEMS"]);
      const ok = await client.postJson("/api/v1/evidence/digests", { items: items.slice(0, 10_000) });
      expect([ok.status, ok.body.items.length]).to.deep.equal([201, 10_000]);
    });

    for (const [what, body, code] of [
      ["a short hash", { items: [{ contentHash: "abc" }] }, "INVALID_CONTENT_HASH"],
      ["a 0x-prefixed hash", { items: [{ contentHash: `0x${"a".repeat(64)}` }] }, "INVALID_CONTENT_HASH"],
      ["non-hex characters", { items: [{ contentHash: "g".repeat(64) }] }, "INVALID_CONTENT_HASH"],
      ["an empty list", { items: [] }, "NO_ITEMS"],
      [
        "the hash of empty content",
        { items: [{ contentHash: "a".repeat(64) }, { contentHash: sha256Hex("") }] },
        "EMPTY_FILE",
      ],
      [
        "the hash of empty content in capitals",
        { items: [{ contentHash: sha256Hex("").toUpperCase() }] },
        "EMPTY_FILE",
      ],
      ["no items", { hashes: [] }, "INVALID_BODY"],
      ["an unknown field", { items: [{ contentHash: "a".repeat(64), owner: "x" }] }, "UNKNOWN_FIELD"],
      ["a negative size", { items: [{ contentHash: "a".repeat(64), size: -1 }] }, "INVALID_FIELD"],
      [
        "a sourceUrl that is not a web URL",
        { items: [{ contentHash: "a".repeat(64), sourceUrl: "file:///etc/passwd" }] },
        "INVALID_FIELD",
      ],
      ["a body that is not JSON", "{items:", "INVALID_JSON"],
    ] as const) {
      it(`answers 400 ${code} for ${what}`, async () => {
        const res = await client.postJson("/api/v1/evidence/digests", body);
        expect([res.status, res.type, res.body.code]).to.deep.equal([
          400,
          "application/problem+json; charset=utf-8",
          code,
        ]);
      });
    }
  });

  describe("GET /api/v1/evidence/:id and /certificate", () => {
    it("answers 404 NOT_FOUND for an unknown id", async () => {
      for (const id of ["AAAAAAAAAAAAAAAAAAAAAA", "..%2F..%2Fetc", "x"]) {
        const res = await client.get(`/api/v1/evidence/${id}/certificate`);
        expect([res.status, res.body.code]).to.deep.equal([404, "NOT_FOUND"]);
      }
    });

    it("serves the certificate as a download named <id>.evidence.json", async () => {
      const { body } = await client.postJson("/api/v1/evidence/digests", {
        items: [{ contentHash: sha256Hex("download") }],
      });
      const id = body.items[0].id;
      await client.anchored(id);
      const res = await fetch(`${service.url}/api/v1/evidence/${id}/certificate`);
      expect(res.headers.get("content-type")).to.match(/^application\/json/);
      expect(res.headers.get("content-disposition")).to.equal(`attachment; filename="${id}.evidence.json"`);
      expect(((await res.json()) as any).record.id).to.equal(id);
    });
  });

  describe("POST /api/v1/verify", () => {
    let certificate: any;
    before(async () => {
      const { body } = await client.postJson("/api/v1/evidence/digests", {
        items: [{ contentHash: sha256Hex("verify me") }],
      });
      certificate = await client.anchored(body.items[0].id);
    });

    it("verifies a certificate with the file, sent as multipart; the file is hashed, not stored", async () => {
      const objects = () => readdirSync(path.join(dataDir, "objects"), { recursive: true }).sort();
      const rows = () => readDatabase<{ n: number }>(dataDir, "SELECT count(*) AS n FROM evidence")[0]!.n;
      const [objectsBefore, rowsBefore] = [objects(), rows()];
      const form = new FormData();
      form.append("certificate", new Blob([JSON.stringify(certificate)]), "c.evidence.json");
      form.append("file", new Blob([`verify me`]), "original.txt");
      const res = await api(service.url).postForm("/api/v1/verify", form);
      expect([res.body.verdict, res.body.fileCompared]).to.deep.equal(["valid", true]);
      // The development TSA's token is not on the service's trust list: a warning beside a valid verdict.
      expect(res.body.checks.map((c: any) => c.status)).to.deep.equal([...Array(6).fill("passed"), "error"]);
      expect(res.body.warnings.map((w: any) => w.code)).to.include("warning.development-tsa");
      expect(objects(), "no object stored").to.deep.equal(objectsBefore);
      expect(rows(), "no evidence recorded").to.equal(rowsBefore);
      expect(readdirSync(path.join(dataDir, "tmp")), "no temporary file left").to.deep.equal([]);
    });

    it("verifies the certificate document (PDF) it made, read off the event loop: VALID with the file, its printed page unchecked; one past the reader's limits could not be verified", async () => {
      const id = certificate.record.id;
      const pdf = Buffer.from(
        await (await fetch(`${service.url}/api/v1/evidence/${id}/certificate.pdf`)).arrayBuffer(),
      );
      const tail = pdf.lastIndexOf("startxref");
      const filler = Array.from({ length: PDF_LIMITS.objects }, (_, i) => `${100_000 + i} 0 obj null endobj\n`);
      const long = Buffer.concat([pdf.subarray(0, tail), Buffer.from(filler.join("")), pdf.subarray(tail)]);
      const verdicts = [];
      for (const document of [pdf, long]) {
        const form = new FormData();
        form.append("certificate", new Blob([document]), `${id}.pdf`);
        form.append("sha256", sha256Hex("verify me"));
        const res = await api(service.url).postForm("/api/v1/verify", form);
        verdicts.push([res.status, res.body.verdict, res.body.checks[0].reason.code]);
        if (document === pdf)
          expect(res.body.warnings.map((w: any) => w.code)).to.include("warning.printed-page-unchecked");
      }
      expect(verdicts).to.deep.equal([
        [200, "valid", "format.ok"],
        [200, "indeterminate", "format.unsupported-document"],
      ]);
    });

    it("fails content for the wrong file", async () => {
      const form = new FormData();
      form.append("certificate", JSON.stringify(certificate));
      form.append("file", new Blob(["another file"]), "other.txt");
      const res = await api(service.url).postForm("/api/v1/verify", form);
      expect(res.body.valid).to.equal(false);
      expect(res.body.checks.filter((c: any) => !c.ok && c.status === "failed").map((c: any) => c.id)).to.deep.equal([
        "content",
      ]);
    });

    it("fails a tampered certificate on the right check", async () => {
      const tampered = structuredClone(certificate);
      tampered.batch.anchor.timestamp -= 3600;
      const res = await api(service.url).postJson("/api/v1/verify", { certificate: tampered });
      expect(res.body.valid).to.equal(false);
      expect(res.body.checks.filter((c: any) => c.status === "failed").map((c: any) => c.id)).to.deep.equal([
        "anchor",
        "signature",
      ]);
    });

    it("reports a malformed certificate as a failed format check, not an error", async () => {
      const res = await api(service.url).postJson("/api/v1/verify", { certificate: "{not json" });
      expect(res.status).to.equal(200);
      expect(res.body.checks[0]).to.include({ id: "format", status: "failed" });
    });
  });

  describe("POST /rpc", () => {
    it("forwards eth_chainId, one of the reads verification makes, to the embedded chain", async () => {
      const res = await api(service.url).postJson("/rpc", { jsonrpc: "2.0", id: 1, method: "eth_chainId", params: [] });
      expect(res.body).to.deep.equal({ jsonrpc: "2.0", id: 1, result: "0x7a69" });
    });

    it("refuses anything else, such as sending a transaction", async () => {
      for (const method of ["eth_sendRawTransaction", "eth_sendTransaction", "anvil_setBalance", "evm_mine"]) {
        const res = await api(service.url).postJson("/rpc", { jsonrpc: "2.0", id: 7, method, params: [] });
        expect(res.body.error.code, method).to.equal(-32601);
      }
    });
  });

  it("GET /healthz reports the chain reachable and the contract", async () => {
    const res = await client.get("/healthz");
    expect(res.body.status).to.equal("ok");
    expect(res.body.chain).to.include({ chainId: 31337, reachable: true });
    expect(res.body.chain.contract).to.match(/^0x[0-9a-fA-F]{40}$/);
    writeFileSync(path.join(files, "health.json"), JSON.stringify(res.body));
  });
});
