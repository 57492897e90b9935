import { expect } from "chai";
import { once } from "node:events";
import { createHash, randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readlinkSync, rmSync, statSync, writeFileSync } from "node:fs";
import { readdir } from "node:fs/promises";
import path from "node:path";
import { zipSync } from "fflate";
import { brotliCompressSync, deflateSync, gzipSync, zstdCompressSync } from "node:zlib";
import type { Server } from "node:http";
import {
  malformedResult,
  MAX_DOCUMENT_BYTES,
  parseCertificate,
  verifyEvidence,
  type EvidenceOptions,
  type OperatorHealth,
} from "../../service/core/index.ts";
import { sha256OfSource } from "../../service/core/capture-package.ts";
import { loadConfig } from "../../service/config.ts";
import { publicHealth } from "../../service/health.ts";
import { createApp, type AppDependencies } from "../../service/http/app.ts";
import { Intake } from "../../service/intake/intake.ts";
import { silentLogger } from "../../service/log.ts";
import { FileObjectStore } from "../../service/objects/file-object-store.ts";
import { createAccount } from "../../service/store/accounts.ts";
import { SqliteEvidenceStore } from "../../service/store/sqlite-store.ts";
import { sha256Hex } from "../helpers/hash.ts";
import { tempDir, until } from "../helpers/processes.ts";
import { RecordedChain } from "../helpers/recorded-chain.ts";
import { loopbackAddress, RawConnection, requestFrom } from "../helpers/raw-http.ts";
import { example } from "../helpers/vectors.ts";

/**
 * The HTTP app built in process on a real store and object store, with a chain in memory
 * for the verifier: the routes' translation of HTTP, without a service process.
 */
describe("createApp (in process, SQLite and files on disk, a chain in memory)", () => {
  let dir: string;
  let server: Server;
  let url: string;
  let apiKey: string;
  let otherKey: string;
  let committed = 0;
  let store: SqliteEvidenceStore;
  let objects: FileObjectStore;
  /** The views of health the app asked for, in order. */
  const healthViews: ("operator" | "public")[] = [];
  const health: OperatorHealth = {
    status: "ok",
    problems: [],
    chain: { chainId: 31337, contract: "0x5FbDB2315678afecb367f032d93F642f64180aa3", reachable: true },
    anchoring: { lastError: null, lastAnchoredAt: null, role: "anchoring" },
    reconciliation: { checkedAt: null, mismatches: 0, batches: [] },
    timestamps: { configured: 0, batchesWithout: 0, lastError: null },
    evidence: { pending: 0, anchoring: 0, anchored: 0 },
  };

  before(async () => {
    dir = tempDir("app");
    store = SqliteEvidenceStore.open(dir);
    objects = await FileObjectStore.open(dir);
    apiKey = (await createAccount(store, "rights holder")).apiKey;
    otherKey = (await createAccount(store, "other")).apiKey;
    ({ server, url } = await listen(appWith({})));
  });

  /** Every file under objects/. */
  const objectFiles = async () =>
    (await readdir(path.join(dir, "objects"), { recursive: true, withFileTypes: true }))
      .filter((e) => e.isFile())
      .map((e) => e.name)
      .sort();
  /** How many files under `root` this process holds open (Linux /proc). */
  const openFilesUnder = (root: string) =>
    readdirSync("/proc/self/fd").filter((fd) => {
      try {
        return readlinkSync(`/proc/self/fd/${fd}`).startsWith(`${root}/`);
      } catch {
        return false;
      }
    }).length;

  type Limits = Parameters<typeof createApp>[0]["limits"];
  type Dependencies = Parameters<typeof createApp>[0];
  const appWith = (limits: Partial<Limits>, more: Partial<Pick<Dependencies, "verify" | "verifySpool">> = {}) => {
    const chain = RecordedChain.holding(parseCertificate(example.certificate()));
    return createApp({
      store,
      objects,
      intake: new Intake({ store, objects, onCommitted: () => committed++ }),
      verify: (input, options) => verifyEvidence(input, { ...options, chain }),
      ...more,
      chainUrl: "http://127.0.0.1:9",
      limits: {
        fileSizeBytes: 1024 * 1024,
        filesPerRequest: 3,
        submissionsPerMinute: 10,
        anonymousPerMinute: 1000,
        rpcBodyTimeoutMs: 10_000,
        uploadRateWindowMs: 500,
        ...limits,
      },
      health: (async (view: "operator" | "public") => {
        healthViews.push(view);
        return view === "public" ? publicHealth(health) : health;
      }) as AppDependencies["health"],
      healthToken: "operator-token",
      site: () => ({
        publicUrl: "https://evidence.example",
        chainNames: { 31337: "本地开发链" },
        developmentChainIds: [31337],
        chainId: 31337,
        contract: health.chain.contract,
        contracts: [health.chain.contract],
      }),
      log: silentLogger(),
    });
  };
  const listen = async (app: ReturnType<typeof createApp>) => {
    const listening = app.listen(0, "127.0.0.1");
    await once(listening, "listening");
    return { server: listening, url: `http://127.0.0.1:${(listening.address() as { port: number }).port}` };
  };

  after(async () => {
    server.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const post = (route: string, body: unknown, key = apiKey) =>
    fetch(`${url}${route}`, {
      method: "POST",
      headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
      body: JSON.stringify(body),
    });

  it("acknowledges digests with 201 only after they are committed, and wakes the anchorer", async () => {
    const before = committed;
    const res = await post("/api/v1/evidence/digests", {
      items: [{ contentHash: sha256Hex("in process"), fileName: "a.txt" }],
    });
    expect(res.status).to.equal(201);
    const { items } = (await res.json()) as { items: { id: string }[] };
    expect((await store.evidence(items[0]!.id))?.status).to.equal("pending");
    expect(committed).to.equal(before + 1);
  });

  it("refuses a digest body with a key written twice, also after a byte-order mark (the body parser skips one)", async () => {
    const contentHash = sha256Hex("written twice");
    const items = `[{"contentHash":"${contentHash}","fileName":"a.txt","fileName":"b.txt"}]`;
    for (const text of [`{"items":${items}}`, `\uFEFF{"items":${items}}`, `\uFEFF{"items":[],"items":${items}}`]) {
      const res = await fetch(`${url}/api/v1/evidence/digests`, {
        method: "POST",
        headers: { authorization: `Bearer ${apiKey}`, "content-type": "application/json" },
        body: text,
      });
      const problem = (await res.json()) as { code: string; detail: string };
      expect([res.status, problem.code, problem.detail], JSON.stringify(text.slice(0, 12))).to.deep.equal([
        400,
        "INVALID_BODY",
        text.includes('"items":[],')
          ? 'the body has the key "items" twice'
          : 'the body has the key "fileName" twice in items[0]',
      ]);
    }
  });

  it("records a digest's media type as given, parameters included, and refuses one that is not a media type", async () => {
    const contentHash = sha256Hex("media type");
    const accepted = await post("/api/v1/evidence/digests", {
      items: [{ contentHash, mediaType: 'text/plain; charset="utf-8"' }],
    });
    const { items } = (await accepted.json()) as { items: { record: { mediaType: string } }[] };
    expect([accepted.status, items[0]!.record.mediaType]).to.deep.equal([201, 'text/plain; charset="utf-8"']);
    const key = (await createAccount(store, "media types")).apiKey;
    for (const mediaType of ["image", "image/png;", "image/png x", "图片/png"]) {
      const refused = await post("/api/v1/evidence/digests", { items: [{ contentHash, mediaType }] }, key);
      const problem = (await refused.json()) as { code: string; detail: string };
      expect([refused.status, problem.code, problem.detail], mediaType).to.deep.equal([
        400,
        "INVALID_FIELD",
        "items[0].mediaType must be a media type such as image/png (RFC 6838)",
      ]);
    }
  });

  it("stores an uploaded file under its SHA-256 and records its media type from its bytes", async () => {
    const form = new FormData();
    form.append("file", new Blob([Buffer.from("%PDF-1.7\n%%EOF\n")]), "contract.bin");
    const res = await fetch(`${url}/api/v1/evidence`, {
      method: "POST",
      headers: { authorization: `Bearer ${apiKey}` },
      body: form,
    });
    expect(res.status).to.equal(201);
    const { items } = (await res.json()) as { items: { record: { contentHash: string; mediaType: string } }[] };
    expect(items[0]!.record.mediaType).to.equal("application/pdf");
    expect(await objects.has(items[0]!.record.contentHash)).to.equal(true);
  });

  it("stores nothing for an upload refused for a field sent before its file", async () => {
    const form = new FormData();
    form.append("colour", "blue");
    form.append("file", new Blob(["refused before it is written"]), "x.txt");
    const res = await fetch(`${url}/api/v1/evidence`, {
      method: "POST",
      headers: { authorization: `Bearer ${apiKey}` },
      body: form,
    });
    expect([res.status, ((await res.json()) as { code: string }).code]).to.deep.equal([400, "UNKNOWN_FIELD"]);
    expect(await objects.has(sha256Hex("refused before it is written"))).to.equal(false);
    expect(await objects.temporaryFiles(), "no temporary file left").to.deep.equal([]);
  });

  it("answers unknown routes and ids with problem+json 404, and a method a route does not take with 405 and Allow", async () => {
    for (const [method, route, status, allow] of [
      ["GET", "/nothing", 404, null],
      ["GET", "/api/v1/evidence/AAAAAAAAAAAAAAAAAAAAAA", 404, null],
      ["DELETE", "/api/v1/evidence", 405, "GET, HEAD, POST"],
      ["POST", "/healthz", 405, "GET, HEAD, OPTIONS"],
    ] as const) {
      const res = await fetch(`${url}${route}`, { method });
      expect(
        [res.status, res.headers.get("content-type"), res.headers.get("allow")],
        `${method} ${route}`,
      ).to.deep.equal([status, "application/problem+json; charset=utf-8", allow]);
    }
  });

  it("verifies a certificate against the chain it is given", async () => {
    const res = await post("/api/v1/verify", { certificate: example.certificate() });
    const body = (await res.json()) as { verdict: string; developmentChain: boolean };
    expect([body.verdict, body.developmentChain]).to.deep.equal(["valid", true]);
  });

  it("takes the file's SHA-256 as the page and the CLI do: the line sha256sum prints included", async () => {
    const digest = sha256Hex(example.file());
    for (const sha256 of [digest, `0x${digest.toUpperCase()}`, `${digest}  侵权页面截图.png`]) {
      const res = await post("/api/v1/verify", { certificate: example.certificate(), sha256 });
      const body = (await res.json()) as { verdict: string; fileCompared: boolean };
      expect([res.status, body.verdict, body.fileCompared], sha256).to.deep.equal([200, "valid", true]);
    }
  });

  describe("POST /api/v1/verify: what is the request's fault and what is a certificate's", () => {
    const postText = (text: string) =>
      fetch(`${url}/api/v1/verify`, { method: "POST", headers: { "content-type": "application/json" }, body: text });
    const certificateText = () => JSON.stringify(example.certificate());
    /** The certificate with its "type" key written twice. */
    const withDuplicateKey = () =>
      certificateText().replace(
        '"type":"evidence-anchor-certificate"',
        '"type":"evidence-anchor-certificate","type":"evidence-anchor-certificate"',
      );

    it("answers each certificate of a list, one with a duplicate key failing format alone", async () => {
      expect(withDuplicateKey()).to.not.equal(certificateText());
      const res = await postText(`{"certificates":[${certificateText()},${withDuplicateKey()}]}`);
      const body = (await res.json()) as {
        results: { verdict: string; id?: string; checks: { id: string; detail: string }[] }[];
      };
      expect(res.status).to.equal(200);
      expect(body.results.map((r) => r.verdict)).to.deep.equal(["valid", "invalid"]);
      // Each result names its certificate's record when it could be read; a malformed one cannot.
      const { record } = example.certificate() as { record: { id: string } };
      expect(body.results.map((r) => r.id)).to.deep.equal([record.id, undefined]);
      expect(body.results[1]!.checks[0]!.detail).to.include('"type" twice');
    });

    it("fails format for a single certificate with a duplicate key, naming it", async () => {
      const res = await postText(`{"certificate":${withDuplicateKey()}}`);
      const body = (await res.json()) as { verdict: string; checks: { id: string; detail: string }[] };
      expect([res.status, body.verdict]).to.deep.equal([200, "invalid"]);
      expect(body.checks[0]!.detail).to.include('"type" twice');
    });

    it("takes a body's key named like the route's own record of malformed certificates as any other unknown member (400), never as a 500", async () => {
      for (const text of [
        `{"certificates":[${certificateText()}],"malformed":{}}`,
        `{"certificate":${certificateText()},"malformed":1}`,
        `{"certificate":${withDuplicateKey()},"malformed":{}}`,
      ]) {
        const res = await postText(text);
        const body = (await res.json()) as { code: string };
        expect([res.status, body.code], text.slice(-20)).to.deep.equal([400, "UNKNOWN_FIELD"]);
      }
    });

    it("names where in a certificate a key is written twice, under a key of any length", async () => {
      const long = "k".repeat(100_000);
      for (const [inner, where] of [
        ['{"record":{"id":"a","id":"b"}}', "record"],
        [`{"${long}":{"a":1,"a":2,"a":3}}`, long],
      ] as const) {
        const res = await postText(`{"certificate":${inner}}`);
        const body = (await res.json()) as { verdict: string; checks: { detail: string }[] };
        expect([res.status, body.verdict]).to.deep.equal([200, "invalid"]);
        expect(body.checks[0]!.detail).to.include(`twice in ${where}`);
      }
    });

    it("refuses a duplicate key outside the certificates as a bad request, never as an invalid certificate", async () => {
      for (const text of [
        `{"certificate":${certificateText()},"x":1,"x":2}`,
        `{"certificate":${certificateText()},"sha256":"${"a".repeat(64)}","sha256":"${"b".repeat(64)}"}`,
      ]) {
        const res = await postText(text);
        expect([res.status, ((await res.json()) as { code: string }).code]).to.deep.equal([400, "INVALID_BODY"]);
      }
    });

    it("refuses an empty list (400) and one over 1,000 (413), charging them for their size, not per certificate", async () => {
      const empty = await post("/api/v1/verify", { certificates: [] });
      expect([empty.status, ((await empty.json()) as { code: string }).code]).to.deep.equal([400, "INVALID_BODY"]);
      // The address's budget is 1,000 a minute: had the refused 1,001 been charged one each, the next would be 429.
      const tooMany = await post("/api/v1/verify", { certificates: Array.from({ length: 1001 }, () => 1) });
      expect([tooMany.status, ((await tooMany.json()) as { code: string }).code]).to.deep.equal([
        413,
        "TOO_MANY_ITEMS",
      ]);
      const next = await post("/api/v1/verify", { certificate: example.certificate() });
      expect(next.status).to.equal(200);
    });

    it("holds a file beside the certificate only when it is a ZIP (a capture package to read), within the same budget", async () => {
      const busy = await listen(appWith({ verifyBufferBytes: 256 * 1024 }));
      try {
        const withFile = async (file: Uint8Array<ArrayBuffer>) => {
          const form = new FormData();
          form.append("certificate", new Blob([JSON.stringify(example.certificate())]), "c.evidence.json");
          form.append("file", new Blob([file]), "original");
          const res = await fetch(`${busy.url}/api/v1/verify`, { method: "POST", body: form });
          return [res.status, ((await res.json()) as { code?: string; verdict?: string }).code ?? "answered"];
        };
        // Larger than the budget, within the file size limit (1 MiB here).
        const halfMegabyte = (head: number[]) => {
          const bytes = new Uint8Array(512 * 1024);
          bytes.set(head);
          return bytes;
        };
        expect(await withFile(halfMegabyte([0x25, 0x50, 0x44, 0x46])), "a PDF: hashed as it streams").to.deep.equal([
          200,
          "answered",
        ]);
        // A file part before the certificate part leaves nothing held once answered, however often.
        for (let i = 0; i < 4; i++) {
          const form = new FormData();
          form.append("file", new Blob([new Uint8Array([1, 2, 3, 4, 5])]), "original");
          form.append("certificate", new Blob([new Uint8Array(100 * 1024).fill(0x20)]), "c.pdf");
          const res = await fetch(`${busy.url}/api/v1/verify`, { method: "POST", body: form });
          expect(res.status, `request ${i + 1}`).to.equal(200);
          await res.arrayBuffer();
        }
        expect(await withFile(halfMegabyte([0x50, 0x4b, 0x03, 0x04])), "a ZIP: held to be read").to.deep.equal([
          503,
          "SERVER_BUSY",
        ]);
      } finally {
        busy.server.close();
      }
    });

    it("stops verifying a list of certificates once its client has gone: no certificate after those under way is started", async () => {
      let calls = 0;
      let release!: () => void;
      const held = new Promise<void>((resolve) => (release = resolve));
      const verify: Dependencies["verify"] = async () => {
        calls++;
        await held;
        return malformedResult("answered by a stand-in verifier");
      };
      const app = await listen(appWith({ anonymousPerMinute: 100_000 }, { verify }));
      const closed: Promise<unknown>[] = [];
      app.server.on("connection", (socket) => closed.push(once(socket, "close")));
      try {
        const aborted = new AbortController();
        const answer = fetch(`${app.url}/api/v1/verify`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ certificates: Array.from({ length: 200 }, () => example.certificate()) }),
          signal: aborted.signal,
        }).catch(() => "gone");
        await until(async () => (calls === 16 ? true : undefined), "16 certificates to be under way");
        aborted.abort();
        expect(await answer).to.equal("gone");
        await Promise.all(closed);
        release();
        // The certificates under way finish; their answers go nowhere, and nothing else starts.
        await new Promise((resolve) => setImmediate(resolve));
        expect(calls).to.equal(16);
      } finally {
        release();
        app.server.close();
      }
    });

    it("writes a capture package too large to hold in memory to its spool directory, reads it from there and removes it once answered; past the spool's budget, or the disk's reserve, it is said to be unread, never judged by its hash", async () => {
      const spoolDir = path.join(dir, "verify-spool");
      mkdirSync(spoolDir, { recursive: true });
      writeFileSync(path.join(spoolDir, "left-by-a-crash.zip"), "x");
      const film = randomBytes(MAX_DOCUMENT_BYTES + 1024 * 1024);
      const zip = zipSync({ "manifest.json": new TextEncoder().encode("{}"), "video.mp4": [film, { level: 0 }] });
      const sha256 = createHash("sha256").update(zip).digest("hex");
      const seen: { options: Parameters<Dependencies["verify"]>[1]; spooled: string[]; read?: string }[] = [];
      const verify: Dependencies["verify"] = async (_input, options) => {
        const spooled = existsSync(spoolDir) && statSync(spoolDir).isDirectory() ? readdirSync(spoolDir) : [];
        const source = (options as EvidenceOptions | undefined)?.packageFile;
        const read = source && !(source instanceof Uint8Array) ? await sha256OfSource(source) : undefined;
        seen.push({ options, spooled, ...(read ? { read } : {}) });
        return malformedResult("answered by a stand-in verifier");
      };
      /** The certificate with the package as the file; the answer read to its end. */
      const postPackage = async (appUrl: string) => {
        const form = new FormData();
        form.append("certificate", new Blob([JSON.stringify(example.certificate())]), "c.evidence.json");
        form.append("file", new Blob([zip]), "capture.zip");
        const res = await fetch(`${appUrl}/api/v1/verify`, { method: "POST", body: form });
        expect(res.status).to.equal(200);
        await res.arrayBuffer();
      };
      // Room for the package; room for less than what memory holds first; room that runs out partway.
      for (const bytes of [256 * 1024 * 1024, 1024 * 1024, MAX_DOCUMENT_BYTES]) {
        const app = await listen(
          appWith({ fileSizeBytes: 2 * MAX_DOCUMENT_BYTES }, { verify, verifySpool: { dir: spoolDir, bytes } }),
        );
        try {
          expect(readdirSync(spoolDir), "emptied when the app is made").to.deep.equal([]);
          await postPackage(app.url);
          await until(async () => (readdirSync(spoolDir).length === 0 ? true : undefined), "the spooled file to go");
        } finally {
          app.server.close();
        }
      }
      // A spool that cannot be written (a file where its directory was): the upload goes on, and
      // the package is unread; a directory merely removed is made again.
      const broken = await listen(
        appWith({ fileSizeBytes: 2 * MAX_DOCUMENT_BYTES }, { verify, verifySpool: { dir: spoolDir, bytes: 1 << 30 } }),
      );
      try {
        rmSync(spoolDir, { recursive: true, force: true });
        writeFileSync(spoolDir, "not a directory");
        await postPackage(broken.url);
      } finally {
        broken.server.close();
      }
      rmSync(spoolDir, { force: true });
      // A disk that would keep less free than the reserve left to evidence: nothing is spooled.
      const crowded = await listen(
        appWith(
          { fileSizeBytes: 2 * MAX_DOCUMENT_BYTES },
          { verify, verifySpool: { dir: spoolDir, bytes: 1 << 30, diskReserveBytes: Number.MAX_SAFE_INTEGER } },
        ),
      );
      try {
        await postPackage(crowded.url);
        expect(readdirSync(spoolDir), "nothing written").to.deep.equal([]);
      } finally {
        crowded.server.close();
      }
      const [spooled, unread, exhausted, failed, reserved] = seen;
      expect([spooled!.spooled.length, spooled!.read, spooled!.options?.fileDigest]).to.deep.equal([1, sha256, sha256]);
      expect([unread!.spooled, unread!.options]).to.deep.equal([
        [],
        { fileDigest: sha256, unreadPackage: { size: zip.length } },
      ]);
      for (const [which, why] of [
        [exhausted, "a budget the package outgrows"],
        [failed, "a spool that cannot be written"],
        [reserved, "a disk that would keep less than its reserve free"],
      ] as const) {
        expect(which!.options, why).to.deep.equal({ fileDigest: sha256, unreadPackage: { size: zip.length } });
      }
    });

    it("holds one client address to its share of the spool: a second package from it is said to be unread while another address's is spooled", async () => {
      const spoolDir = path.join(dir, "verify-spool-shared");
      const zip = zipSync({
        "manifest.json": new TextEncoder().encode("{}"),
        "video.mp4": [randomBytes(20 * 1024 * 1024), { level: 0 }],
      });
      const boundary = "spool-share";
      const part = (name: string, filename: string, bytes: Uint8Array) =>
        Buffer.concat([
          Buffer.from(
            `--${boundary}\r\nContent-Disposition: form-data; name="${name}"; filename="${filename}"\r\n\r\n`,
          ),
          bytes,
          Buffer.from("\r\n"),
        ]);
      const certificatePart = part(
        "certificate",
        "c.evidence.json",
        Buffer.from(JSON.stringify(example.certificate())),
      );
      const body = Buffer.concat([
        certificatePart,
        part("file", "capture.zip", zip),
        Buffer.from(`--${boundary}--\r\n`),
      ]);
      const headers = { "content-type": `multipart/form-data; boundary=${boundary}` };
      const seen: string[] = [];
      const verify: Dependencies["verify"] = async (_input, options) => {
        const given = options as EvidenceOptions | undefined;
        seen.push(given?.packageFile ? "spooled" : given?.unreadPackage ? "unread" : "neither");
        return malformedResult("answered by a stand-in verifier");
      };
      const app = await listen(
        appWith(
          { fileSizeBytes: 2 * MAX_DOCUMENT_BYTES, uploadRateWindowMs: 60_000, anonymousPerMinute: 100_000 },
          { verify, verifySpool: { dir: spoolDir, bytes: 256 * 1024 * 1024, bytesPerAddress: 24 * 1024 * 1024 } },
        ),
      );
      const holder = await RawConnection.open(app.url, "127.0.0.1");
      try {
        // 127.0.0.1 sends 12 MiB of its package and no more: the spool holds them for it.
        holder.write(
          `POST /api/v1/verify HTTP/1.1\r\nHost: evidence\r\nContent-Type: ${headers["content-type"]}\r\nContent-Length: ${body.length}\r\n\r\n`,
        );
        holder.write(body.subarray(0, certificatePart.length + 12 * 1024 * 1024));
        const spooled = () =>
          existsSync(spoolDir) ? readdirSync(spoolDir).map((f) => statSync(path.join(spoolDir, f)).size) : [];
        await until(
          async () => (spooled()[0]! >= 11 * 1024 * 1024 ? true : undefined),
          "the held package to be spooled",
        );
        const same = await requestFrom("127.0.0.1", `${app.url}/api/v1/verify`, { method: "POST", headers, body });
        const other = await requestFrom("127.0.0.2", `${app.url}/api/v1/verify`, { method: "POST", headers, body });
        expect([same.status, other.status]).to.deep.equal([200, 200]);
        expect(seen, "the same address's package past its share, then another address's").to.deep.equal([
          "unread",
          "spooled",
        ]);
      } finally {
        holder.socket.destroy();
        app.server.close();
      }
    });

    it("refuses a capture package over 64 MiB as the certificate (413 CERTIFICATE_TOO_LARGE), saying to send it as the file beside its certificate", async () => {
      const app = await listen(appWith({ fileSizeBytes: 2 * MAX_DOCUMENT_BYTES }));
      try {
        const zip = new Uint8Array(MAX_DOCUMENT_BYTES + 1);
        zip.set([0x50, 0x4b, 0x03, 0x04]);
        const form = new FormData();
        form.append("certificate", new Blob([zip]), "capture.zip");
        const res = await fetch(`${app.url}/api/v1/verify`, { method: "POST", body: form });
        const problem = (await res.json()) as { code: string; detail: string };
        expect([res.status, problem.code]).to.deep.equal([413, "CERTIFICATE_TOO_LARGE"]);
        expect(problem.detail).to.match(/send a capture package this large as the file, with its certificate/);
      } finally {
        app.server.close();
      }
    });

    it("holds at most its budget of documents at once: past it 503 SERVER_BUSY with Retry-After, and room again once a request is done", async () => {
      const busy = await listen(appWith({ verifyBufferBytes: 2 * 1024 * 1024, uploadRateWindowMs: 60_000 }));
      try {
        const pdf = (bytes: number) => Buffer.concat([Buffer.from("%PDF-1.7\n"), Buffer.alloc(bytes - 9, 0x20)]);
        const verifyDocument = async () => {
          const form = new FormData();
          form.append("certificate", new Blob([pdf(1024 * 1024)]), "certificate.pdf");
          const res = await fetch(`${busy.url}/api/v1/verify`, { method: "POST", body: form });
          return { status: res.status, retryAfter: res.headers.get("retry-after"), body: (await res.json()) as any };
        };
        // One client sends 1.5 MB of a document and no more: the service holds what it has read.
        const holder = await RawConnection.open(busy.url);
        const head = '--b\r\nContent-Disposition: form-data; name="certificate"; filename="big.pdf"\r\n\r\n';
        holder.write(
          `POST /api/v1/verify HTTP/1.1\r\nHost: evidence\r\nContent-Type: multipart/form-data; boundary=b\r\nContent-Length: 4000000\r\n\r\n${head}`,
        );
        holder.socket.write(pdf(1_500_000));

        const refused = await until(async () => {
          const answer = await verifyDocument();
          return answer.status === 503 ? answer : undefined;
        }, "a second document to be refused while the first is held");
        expect([refused.status, refused.body.code, refused.retryAfter]).to.deep.equal([503, "SERVER_BUSY", "5"]);

        holder.socket.destroy();
        const answered = await until(async () => {
          const answer = await verifyDocument();
          return answer.status === 200 ? answer : undefined;
        }, "room once the first request is gone");
        expect([answered.status, answered.body.verdict]).to.deep.equal([200, "invalid"]);
      } finally {
        busy.server.close();
      }
    });

    it("refuses a multipart body with a Content-Encoding (415 UNSUPPORTED_ENCODING): it would be hashed compressed", async () => {
      const body = Buffer.from(
        '--b\r\nContent-Disposition: form-data; name="file"; filename="a.txt"\r\n\r\nnot really gzip\r\n--b--\r\n',
      );
      for (const route of ["/api/v1/evidence", "/api/v1/verify"]) {
        const res = await fetch(`${url}${route}`, {
          method: "POST",
          headers: {
            authorization: `Bearer ${otherKey}`,
            "content-type": "multipart/form-data; boundary=b",
            "content-encoding": "gzip",
          },
          body,
        });
        expect([res.status, ((await res.json()) as { code: string }).code], route).to.deep.equal([
          415,
          "UNSUPPORTED_ENCODING",
        ]);
      }
    });

    it("cuts an upload that stalls (408), removing its file under way and the files it had sent, and holding no file open", async () => {
      const objectsBefore = await objectFiles();
      const c = await RawConnection.open(url);
      const part = (name: string) =>
        `--b\r\nContent-Disposition: form-data; name="file"; filename="${name}"\r\nContent-Type: application/octet-stream\r\n\r\n`;
      // One whole file, then a second that stops arriving halfway.
      c.write(
        `POST /api/v1/evidence HTTP/1.1\r\nHost: evidence\r\nAuthorization: Bearer ${apiKey}\r\n` +
          `Content-Type: multipart/form-data; boundary=b\r\nContent-Length: 10000000\r\n\r\n` +
          `${part("whole.bin")}${"w".repeat(64 * 1024)}\r\n${part("stalled.bin")}${"s".repeat(64 * 1024)}`,
      );
      const answer = await c.answer();
      expect([answer.status, JSON.parse(answer.body).code]).to.deep.equal([408, "REQUEST_TIMEOUT"]);
      await c.closed;
      await until(
        async () =>
          ((await objects.temporaryFiles()).length === 0 &&
            openFilesUnder(path.join(dir, "tmp")) + openFilesUnder(path.join(dir, "objects")) === 0) ||
          undefined,
        "the stalled file to be removed and closed",
        10_000,
      );
      expect(await objectFiles(), "the whole file is not kept without its evidence").to.deep.equal(objectsBefore);
    });

    it("cuts a request body that trickles (408), as uploads are", async () => {
      const c = await RawConnection.open(url);
      c.write(
        `POST /api/v1/verify HTTP/1.1\r\nHost: evidence\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{"certificate":`,
      );
      const answer = await c.answer();
      expect([answer.status, JSON.parse(answer.body).code]).to.deep.equal([408, "REQUEST_TIMEOUT"]);
      await c.closed;
    });

    /** A certificate to verify, as a multipart body holds it: its JSON as a file, and the file it is about. */
    const certificateForm = () => {
      const form = new FormData();
      form.append("certificate", new Blob([JSON.stringify(example.certificate())]), "c.evidence.json");
      form.append("file", new Blob([example.file()]), "evidence.txt");
      return form;
    };
    /** A verification from `address`: its status and verdict, or its problem's code. */
    const verifyFrom = async (appUrl: string, address: string) => {
      const answer = await requestFrom(address, `${appUrl}/api/v1/verify`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ certificate: example.certificate() }),
      });
      // A refusal for memory says when to try again.
      if (answer.status === 503) return [answer.status, answer.body.code, answer.headers["retry-after"]];
      return [answer.status, answer.body.verdict ?? answer.body.code];
    };
    const jsonHead = (length: string) =>
      `POST /api/v1/verify HTTP/1.1\r\nHost: evidence\r\nContent-Type: application/json\r\n${length}\r\n\r\n`;

    it("answers verifications while 16 clients that declared 16 MiB JSON bodies send nothing: memory is taken as bytes arrive, not as declared", async () => {
      // The default budget, 256 MiB: sixteen declared bodies of 16 MiB would take all of it.
      // Sixteen clients, each from its own address, as an attack spread over addresses would be.
      const busy = await listen(appWith({ uploadRateWindowMs: 60_000 }));
      const silent: RawConnection[] = [];
      try {
        let seen = 0;
        const allSeen = new Promise<void>((resolve) =>
          busy.server.on("request", (req: { url?: string }) => {
            if (req.url === "/api/v1/verify" && ++seen === 16) resolve();
          }),
        );
        for (let i = 0; i < 16; i++) {
          const c = await RawConnection.open(busy.url, loopbackAddress(10 + i));
          c.write(jsonHead(i % 2 === 0 ? "Content-Length: 16777216" : "Transfer-Encoding: chunked"));
          silent.push(c);
        }
        await allSeen;

        const json = await fetch(`${busy.url}/api/v1/verify`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ certificate: example.certificate() }),
        });
        expect([json.status, ((await json.json()) as { verdict: string }).verdict]).to.deep.equal([200, "valid"]);
        const multipart = await fetch(`${busy.url}/api/v1/verify`, { method: "POST", body: certificateForm() });
        const verdict = (await multipart.json()) as { verdict: string; fileCompared: boolean };
        expect([multipart.status, verdict.verdict, verdict.fileCompared]).to.deep.equal([200, "valid", true]);
        expect(
          silent.map((c) => [c.isClosed, c.received]),
          "the silent requests still wait for their bodies",
        ).to.deep.equal(silent.map(() => [false, ""]));
      } finally {
        for (const c of silent) c.destroy();
        busy.server.close();
      }
    });

    it("holds what a JSON body has sent while the rest is awaited, and gives it back when its client goes", async () => {
      const busy = await listen(appWith({ verifyBufferBytes: 256 * 1024, uploadRateWindowMs: 60_000 }));
      try {
        const holder = await RawConnection.open(busy.url);
        holder.write(jsonHead("Content-Length: 1000000") + `{"certificate":"${" ".repeat(255 * 1024)}`);
        expect(
          await until(async () => {
            const answer = await verifyFrom(busy.url, "127.0.0.1");
            return answer[0] === 503 ? answer : undefined;
          }, "a verification to be refused while the body's first 255 KiB are held"),
        ).to.deep.equal([503, "SERVER_BUSY", "5"]);
        holder.destroy();
        expect(
          await until(async () => {
            const answer = await verifyFrom(busy.url, "127.0.0.1");
            return answer[0] === 200 ? answer : undefined;
          }, "room once the holder is gone"),
        ).to.deep.equal([200, "valid"]);
      } finally {
        busy.server.close();
      }
    });

    it("answers 408 to a JSON body that has not all arrived within its deadline, closes the connection and gives back what it held", async () => {
      // The deadline here is 300 ms; the minimum upload rate, measured over a minute, is not what cuts it.
      const busy = await listen(
        appWith({ verifyBufferBytes: 256 * 1024, uploadRateWindowMs: 60_000, jsonBodyTimeoutMs: 300 }),
      );
      try {
        const slow = await RawConnection.open(busy.url);
        slow.write(jsonHead("Content-Length: 1000000") + `{"certificate":"${" ".repeat(255 * 1024)}`);
        const answer = await slow.answer();
        expect([answer.status, JSON.parse(answer.body).code, answer.headers.connection]).to.deep.equal([
          408,
          "REQUEST_TIMEOUT",
          "close",
        ]);
        await slow.closed;
        expect(
          await until(async () => {
            const verdict = await verifyFrom(busy.url, "127.0.0.1");
            return verdict[0] === 200 ? verdict : undefined;
          }, "the slow body's bytes to be given back"),
        ).to.deep.equal([200, "valid"]);
      } finally {
        busy.server.close();
      }
    });

    it("holds digests and a capture request to the same JSON deadline: 408 and the connection closed when the body has not all arrived", async () => {
      // The deadline here is 300 ms; the minimum upload rate, measured over a minute, is not what cuts it.
      const busy = await listen(appWith({ uploadRateWindowMs: 60_000, jsonBodyTimeoutMs: 300 }));
      try {
        for (const [route, start] of [
          ["/api/v1/evidence/digests", `{"digests":["${"0".repeat(32)}`],
          ["/api/v1/captures", `{"url":"https://example.com/`],
        ]) {
          const slow = await RawConnection.open(busy.url);
          slow.write(
            `POST ${route} HTTP/1.1\r\nHost: evidence\r\nAuthorization: Bearer ${apiKey}\r\n` +
              `Content-Type: application/json\r\nContent-Length: 60000\r\n\r\n${start}`,
          );
          const answer = await slow.answer();
          expect([answer.status, JSON.parse(answer.body).code, answer.headers.connection], route).to.deep.equal([
            408,
            "REQUEST_TIMEOUT",
            "close",
          ]);
          await slow.closed;
        }
      } finally {
        busy.server.close();
      }
    });

    it("holds one client address to its part of the budget (VERIFY_BUFFER_BYTES_PER_ADDRESS): past it 503 SERVER_BUSY for that address, and another is served", async () => {
      const busy = await listen(
        appWith({
          verifyBufferBytes: 1024 * 1024,
          verifyBufferBytesPerAddress: 256 * 1024,
          uploadRateWindowMs: 60_000,
        }),
      );
      const holder = await RawConnection.open(busy.url, loopbackAddress(2));
      try {
        holder.write(jsonHead("Content-Length: 1000000") + `{"certificate":"${" ".repeat(255 * 1024)}`);
        expect(
          await until(async () => {
            const answer = await verifyFrom(busy.url, loopbackAddress(2));
            return answer[0] === 503 ? answer : undefined;
          }, "the holder's address to be refused"),
        ).to.deep.equal([503, "SERVER_BUSY", "5"]);
        expect(await verifyFrom(busy.url, loopbackAddress(3)), "another address").to.deep.equal([200, "valid"]);
      } finally {
        holder.destroy();
        busy.server.close();
      }
    });

    it("decodes a compressed JSON body, counting what it decodes against the 16 MiB limit (413 past it)", async () => {
      const send = (body: Buffer, encoding: string) =>
        fetch(`${url}/api/v1/verify`, {
          method: "POST",
          headers: { "content-type": "application/json", "content-encoding": encoding },
          body: new Uint8Array(body),
        });
      const text = JSON.stringify({ certificate: example.certificate() });
      for (const [encoding, compress] of [
        ["gzip", gzipSync],
        ["deflate", deflateSync],
        ["br", brotliCompressSync],
      ] as const) {
        const res = await send(compress(text), encoding);
        expect([res.status, ((await res.json()) as { verdict: string }).verdict], encoding).to.deep.equal([
          200,
          "valid",
        ]);
      }
      // A body that is not what its Content-Encoding says, or is cut short: 400, never a 500.
      const compressed = (compress: (b: Buffer) => Buffer) => compress(Buffer.from(text));
      for (const [what, body, encoding] of [
        ["not brotli", Buffer.from("{}"), "br"],
        ["not zstd", Buffer.from("{}"), "zstd"],
        ["not gzip", Buffer.from("{}"), "gzip"],
        ["brotli cut short", compressed(brotliCompressSync).subarray(0, 20), "br"],
        ["gzip cut short", compressed(gzipSync).subarray(0, 20), "gzip"],
        ["zstd cut short", compressed(zstdCompressSync).subarray(0, 20), "zstd"],
      ] as const) {
        const res = await send(body, encoding);
        expect([res.status, ((await res.json()) as { code: string }).code], what).to.deep.equal([400, "BAD_REQUEST"]);
      }
      // 17 MiB of spaces, sent as 17 KiB.
      const bomb = gzipSync(`{"certificate":"${" ".repeat(17 * 1024 * 1024)}"}`);
      const res = await send(bomb, "gzip");
      expect([res.status, ((await res.json()) as { code: string }).code]).to.deep.equal([413, "BODY_TOO_LARGE"]);
    });

    it("verifies a list of 1,000 certificates and then a 30 MB PDF document from one address within the default rate limit", async () => {
      const defaults = loadConfig({}).limits;
      const app = await listen(
        appWith({ anonymousPerMinute: defaults.anonymousPerMinute, fileSizeBytes: 2 * MAX_DOCUMENT_BYTES }),
      );
      try {
        const list = await fetch(`${app.url}/api/v1/verify`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ certificates: Array.from({ length: 1000 }, () => example.certificate()) }),
        });
        const { results } = (await list.json()) as { results: { verdict: string }[] };
        expect([list.status, new Set(results.map((r) => r.verdict))]).to.deep.equal([200, new Set(["valid"])]);
        const form = new FormData();
        const pdf = Buffer.concat([Buffer.from("%PDF-1.7\n"), Buffer.alloc(30_000_000, 0x20)]);
        form.append("certificate", new Blob([pdf]), "certificate.pdf");
        const document = await fetch(`${app.url}/api/v1/verify`, { method: "POST", body: form });
        expect([document.status, ((await document.json()) as { verdict: string }).verdict]).to.deep.equal([
          200,
          "invalid",
        ]);
      } finally {
        app.server.close();
      }
    });

    it("charges a PDF certificate document as a body of 1 MiB at least, since a few compressed kilobytes may inflate to what the reader reads at most", async () => {
      const app = await listen(appWith({ anonymousPerMinute: 300 }));
      const send = async (certificate: Blob, name: string) => {
        const form = new FormData();
        form.append("certificate", certificate, name);
        return (await fetch(`${app.url}/api/v1/verify`, { method: "POST", body: form })).status;
      };
      try {
        const pdf = new Blob([Buffer.from("%PDF-1.7\n1 0 obj<</Type/Catalog>>endobj\nstartxref\n9\n%%EOF\n")]);
        // 128 units and 5 for the chain reads: two fit in 300, not three.
        expect([await send(pdf, "a.pdf"), await send(pdf, "b.pdf"), await send(pdf, "c.pdf")]).to.deep.equal([
          200, 200, 429,
        ]);
        // A JSON certificate of a few kilobytes costs its 8 KiB and the reads: 6 units.
        const other = await listen(appWith({ anonymousPerMinute: 300 }));
        try {
          const json = new Blob([JSON.stringify(example.certificate())]);
          const statuses = [];
          for (let i = 0; i < 50; i++) {
            const form = new FormData();
            form.append("certificate", json, "c.evidence.json");
            statuses.push((await fetch(`${other.url}/api/v1/verify`, { method: "POST", body: form })).status);
          }
          expect(new Set(statuses)).to.deep.equal(new Set([200]));
        } finally {
          other.server.close();
        }
      } finally {
        app.server.close();
      }
    });

    it("charges a list the chain reads of each distinct anchor its certificates name, as /rpc charges each call", async () => {
      const named = (i: number) => {
        const certificate = example.certificate() as {
          anchor?: { txHash: string };
          batch?: { anchor: { txHash: string } };
        };
        (certificate.batch?.anchor ?? certificate.anchor)!.txHash = `0x${i.toString(16).padStart(64, "0")}`;
        return certificate;
      };
      const post = (url: string, certificates: unknown[]) =>
        fetch(`${url}/api/v1/verify`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ certificates }),
        }).then((r) => r.status);
      const distinct = await listen(appWith({ anonymousPerMinute: 700 }));
      const same = await listen(appWith({ anonymousPerMinute: 700 }));
      try {
        // 100 certificates of 100 anchors: 100 + 5 × 100 units; a second such list is refused.
        const first = Array.from({ length: 100 }, (_, i) => named(i));
        const second = Array.from({ length: 100 }, (_, i) => named(100 + i));
        expect([await post(distinct.url, first), await post(distinct.url, second)]).to.deep.equal([200, 429]);
        // The same given as their JSON text, which verifies alike, costs alike.
        const asText = await listen(appWith({ anonymousPerMinute: 700 }));
        try {
          expect([
            await post(
              asText.url,
              first.map((c) => JSON.stringify(c)),
            ),
            await post(
              asText.url,
              second.map((c) => JSON.stringify({ certificate: c })),
            ),
          ]).to.deep.equal([200, 429]);
        } finally {
          asText.server.close();
        }
        // 100 certificates of one anchor: 105 units, six times over.
        const batch = Array.from({ length: 100 }, () => named(0));
        const statuses = [];
        for (let i = 0; i < 6; i++) statuses.push(await post(same.url, batch));
        expect(statuses).to.deep.equal([200, 200, 200, 200, 200, 200]);
      } finally {
        distinct.server.close();
        same.server.close();
      }
    });

    it("refuses a client out of rate-limit units on its headers, before it sends its body (429 RATE_LIMITED)", async () => {
      const app = await listen(appWith({ anonymousPerMinute: 1 }));
      const c = await RawConnection.open(app.url);
      try {
        expect(await verifyFrom(app.url, "127.0.0.1")).to.deep.equal([200, "valid"]);
        c.write(jsonHead("Content-Length: 100000"));
        const answer = await c.answer();
        expect([answer.status, JSON.parse(answer.body).code]).to.deep.equal([429, "RATE_LIMITED"]);
      } finally {
        c.destroy();
        app.server.close();
      }
    });

    it("refuses a multipart text field it would not read as sent: the file as text, an unknown field, the certificate twice, sha256 twice", async () => {
      const certificate = () => new Blob([JSON.stringify(example.certificate())]);
      const digest = sha256Hex(example.file());
      for (const [what, fill, code] of [
        [
          "the file as a text field",
          (f: FormData) => f.append("file", example.file().toString()),
          "FILE_AS_TEXT_FIELD",
        ],
        ["an unknown field", (f: FormData) => f.append("foo", "bar"), "UNKNOWN_FIELD"],
        [
          "the certificate as a text field beside its file",
          (f: FormData) => f.append("certificate", JSON.stringify(example.certificate())),
          "DUPLICATE_FIELD",
        ],
        [
          "sha256 twice",
          (f: FormData) => {
            f.append("sha256", digest);
            f.append("sha256", digest);
          },
          "DUPLICATE_FIELD",
        ],
      ] as const) {
        const form = new FormData();
        form.append("certificate", certificate(), "c.evidence.json");
        fill(form);
        const res = await fetch(`${url}/api/v1/verify`, { method: "POST", body: form });
        expect([res.status, ((await res.json()) as { code: string }).code], what).to.deep.equal([400, code]);
      }
      // The certificate as a text field on its own, with the file as a file: both read.
      const form = new FormData();
      form.append("certificate", JSON.stringify(example.certificate()));
      form.append("file", new Blob([example.file()]), "evidence.txt");
      const res = await fetch(`${url}/api/v1/verify`, { method: "POST", body: form });
      const body = (await res.json()) as { verdict: string; fileCompared: boolean };
      expect([res.status, body.verdict, body.fileCompared]).to.deep.equal([200, "valid", true]);
    });

    it("refuses a JSON member it would not read, such as the file's hash under another name, instead of answering without comparing the file", async () => {
      const certificate = example.certificate();
      const digest = sha256Hex(example.file());
      for (const member of ["SHA256", "sha-256", "file", "lang"]) {
        const res = await fetch(`${url}/api/v1/verify`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ certificate, [member]: digest }),
        });
        const problem = (await res.json()) as { code: string; detail: string };
        expect([res.status, problem.code], member).to.deep.equal([400, "UNKNOWN_FIELD"]);
        expect(problem.detail).to.include(JSON.stringify(member));
      }
      // Under its own name the hash is read and compared.
      const res = await fetch(`${url}/api/v1/verify`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ certificate, sha256: digest }),
      });
      const body = (await res.json()) as {
        verdict: string;
        fileCompared: boolean;
        checks: { id: string; reason: { given?: boolean } }[];
      };
      expect([res.status, body.verdict, body.fileCompared]).to.deep.equal([200, "valid", true]);
      expect(body.checks.find((c) => c.id === "content")!.reason.given, "a hash given, no file read").to.equal(true);
    });
  });

  it("shows the public only the status and the chain, and operators the whole health model", async () => {
    healthViews.length = 0;
    const anonymous = await (await fetch(`${url}/healthz`, { headers: { "x-forwarded-for": "203.0.113.7" } })).json();
    expect(anonymous).to.deep.equal({ status: "ok", chain: health.chain });
    // With a health token configured, loopback alone is not enough.
    expect(await (await fetch(`${url}/healthz`)).json()).to.deep.equal({ status: "ok", chain: health.chain });
    const operator = await (
      await fetch(`${url}/healthz`, { headers: { authorization: "Bearer operator-token" } })
    ).json();
    expect(operator).to.deep.equal(health);
    // The evidence counts (a count over every item) are read for operators only.
    expect(healthViews.filter((v) => v === "operator")).to.have.length(1);
  });

  it("tells the pages the public address, the chain names and the registry", async () => {
    const site = (await (await fetch(`${url}/api/v1/site`)).json()) as {
      publicUrl: string;
      chainNames: Record<string, string>;
    };
    expect(site.publicUrl).to.equal("https://evidence.example");
    expect(site.chainNames["31337"]).to.equal("本地开发链");
  });

  it("counts digests, not requests, against the account's budget, and keeps accounts apart", async () => {
    const items = (n: number) => ({
      items: Array.from({ length: n }, (_, i) => ({ contentHash: sha256Hex(`budget ${i} ${Math.random()}`) })),
    });
    const limited = await post("/api/v1/evidence/digests", items(9));
    expect(limited.status, "10 units a minute, some spent above").to.equal(429);
    expect(Number(limited.headers.get("retry-after"))).to.be.greaterThan(0);
    expect((await post("/api/v1/evidence/digests", items(9), otherKey)).status).to.equal(201);
  });
});
