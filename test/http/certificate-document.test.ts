import { expect } from "chai";
import { once } from "node:events";
import { rmSync } from "node:fs";
import type { Server } from "node:http";
import { Anchorer } from "../../service/anchoring/anchorer.ts";
import { InProcessSigner } from "../../service/anchoring/signers.ts";
import { buildRecord } from "../../service/core/index.ts";
import { DocumentRenderer, type DocumentRendererOptions } from "../../service/document/document-renderer.ts";
import { createApp } from "../../service/http/app.ts";
import { Intake, newEvidence } from "../../service/intake/intake.ts";
import { silentLogger } from "../../service/log.ts";
import { FileObjectStore } from "../../service/objects/file-object-store.ts";
import { SqliteEvidenceStore } from "../../service/store/sqlite-store.ts";
import { FAULTY_DOCUMENT_WORKER } from "../helpers/faulty-document-worker.ts";
import { sha256Hex } from "../helpers/hash.ts";
import { MemoryChain } from "../helpers/memory-chain.ts";
import { tempDir, until } from "../helpers/processes.ts";
import { requestFrom } from "../helpers/raw-http.ts";
import { example } from "../helpers/vectors.ts";

const ACCOUNT = {
  id: "acct_documents",
  name: "rights holder",
  keyHash: "0".repeat(64),
  createdAt: "2026-11-25T00:00:00.000Z",
};

/**
 * The route over real HTTP on loopback, in process: evidence certified by the anchorer on a
 * chain in memory, SQLite on disk, and documents made by a real worker thread (the service's
 * worker, with faults the record's note asks for: test/helpers/faulty-document-worker.ts).
 */
describe("GET /api/v1/evidence/:id/certificate.pdf (in process, a real worker thread)", () => {
  let dir: string;
  let store: SqliteEvidenceStore;
  let objects: FileObjectStore;
  /** Certified evidence ids by their record's note. */
  const ids: Record<string, string> = {};
  const running: { server: Server; renderer: DocumentRenderer }[] = [];

  before(async () => {
    dir = tempDir("documents");
    store = SqliteEvidenceStore.open(dir);
    objects = await FileObjectStore.open(dir);
    await store.insertAccount(ACCOUNT);
    const items = ["hang", "throw", "first", "second"].map((note) =>
      newEvidence(buildRecord({ contentHash: sha256Hex(note), submitter: ACCOUNT.id, note }), ACCOUNT, false),
    );
    await store.insertEvidence(items);
    for (const item of items) ids[item.record.note!] = item.record.id;
    const chain = new MemoryChain();
    const anchorer = new Anchorer(
      store,
      chain,
      new InProcessSigner(example.issuer().privateKey),
      {
        certificateVersion: 2,
        maxItems: 100,
        maxWaitMs: 0,
        confirmations: 1,
        receiptTimeoutMs: 60_000,
        issuerName: "Evidence Anchor test",
      },
      silentLogger(),
    );
    await anchorer.runOnce();
    chain.mine();
    await anchorer.runOnce();
  });

  afterEach(async () => {
    for (const { server, renderer } of running.splice(0)) {
      server.close();
      await renderer.close();
    }
  });

  after(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** The service's app with this renderer, listening on a free port of 127.0.0.1. */
  async function serve(renderer: DocumentRendererOptions, anonymousPerMinute = 1000) {
    const documents = new DocumentRenderer(renderer);
    const app = createApp({
      store,
      objects,
      intake: new Intake({ store, objects, onCommitted: () => undefined }),
      verify: async () => {
        throw new Error("not asked for");
      },
      chainUrl: "http://127.0.0.1:9",
      limits: {
        fileSizeBytes: 1024 * 1024,
        filesPerRequest: 3,
        submissionsPerMinute: 10,
        anonymousPerMinute,
        rpcBodyTimeoutMs: 10_000,
      },
      health: async () => {
        throw new Error("not asked for");
      },
      healthToken: undefined,
      site: () => ({
        publicUrl: "https://evidence.example",
        chainNames: {},
        developmentChainIds: [31337],
        chainId: 31337,
        contract: "0x5FbDB2315678afecb367f032d93F642f64180aa3",
        contracts: ["0x5FbDB2315678afecb367f032d93F642f64180aa3"],
      }),
      log: silentLogger(),
      renderer: documents,
    });
    const server = app.listen(0, "127.0.0.1");
    await once(server, "listening");
    running.push({ server, renderer: documents });
    const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    /** The answer for an id: its status, code (or media type) and Retry-After. */
    const document = async (id: string) => {
      const res = await fetch(`${url}/api/v1/evidence/${id}/certificate.pdf`);
      const body = Buffer.from(await res.arrayBuffer());
      const kind = res.ok
        ? res.headers.get("content-type")
        : (JSON.parse(body.toString("utf8")) as { code: string }).code;
      return { answer: [res.status, kind, res.headers.get("retry-after")], body };
    };
    return { renderer: documents, document, url };
  }

  it("answers the document, a PDF, for certified evidence", async () => {
    const { document } = await serve({});
    const { answer, body } = await document(ids.first!);
    expect(answer).to.deep.equal([200, "application/pdf", null]);
    expect(body.subarray(0, 5).toString("latin1")).to.equal("%PDF-");
  });

  it("answers 503 SERVER_BUSY with Retry-After while the renderer holds all it may", async () => {
    const { renderer, document } = await serve({ worker: FAULTY_DOCUMENT_WORKER, capacity: 1 });
    const hung = document(ids.hang!);
    await until(async () => (renderer.held === 1 ? true : undefined), "the renderer to hold the hung document");
    expect((await document(ids.first!)).answer).to.deep.equal([503, "SERVER_BUSY", "5"]);
    // Stopping the service answers the one it held, rather than leaving it waiting.
    await renderer.close();
    expect((await hung).answer).to.deep.equal([503, "SHUTTING_DOWN", "2"]);
  });

  it("answers 503 SERVER_BUSY to an address holding its share of the renderer, and makes another address's document", async () => {
    const { renderer, document, url } = await serve({ worker: FAULTY_DOCUMENT_WORKER, capacity: 8, perClient: 1 });
    const hung = document(ids.hang!);
    await until(async () => (renderer.held === 1 ? true : undefined), "the renderer to hold the hung document");
    const refused = await document(ids.first!);
    expect(refused.answer).to.deep.equal([503, "SERVER_BUSY", "5"]);
    expect(JSON.parse(refused.body.toString("utf8")).detail).to.include("asked for by this address");
    // 127.0.0.2 is another client on the same loopback interface.
    const other = requestFrom("127.0.0.2", `${url}/api/v1/evidence/${ids.first!}/certificate.pdf`);
    await until(
      async () => (renderer.held === 2 ? true : undefined),
      "the renderer to take the other address's document",
    );
    await renderer.close();
    expect((await hung).answer).to.deep.equal([503, "SHUTTING_DOWN", "2"]);
    expect((await other).status, "taken, and answered when the service stopped").to.equal(503);
    expect((await other).body).to.have.property("code", "SHUTTING_DOWN");
  });

  it("answers 503 DOCUMENT_UNAVAILABLE with Retry-After for a document past its time limit", async () => {
    const { document } = await serve({ worker: FAULTY_DOCUMENT_WORKER, timeoutMs: 1_000 });
    expect((await document(ids.hang!)).answer).to.deep.equal([503, "DOCUMENT_UNAVAILABLE", "1"]);
  });

  it("answers 503 DOCUMENT_UNAVAILABLE when the worker dies making the document, and the next request gets its own", async () => {
    const { document } = await serve({ worker: FAULTY_DOCUMENT_WORKER });
    const died = document(ids.throw!);
    const next = document(ids.second!);
    expect((await died).answer).to.deep.equal([503, "DOCUMENT_UNAVAILABLE", "5"]);
    expect((await next).answer).to.deep.equal([200, "application/pdf", null]);
  });

  it("takes a unit of the client address's anonymous budget per request: past it 429 RATE_LIMITED with Retry-After", async () => {
    const { document } = await serve({}, 2);
    // Evidence that does not exist: the budget is taken before anything is read or made.
    const unknown = "q1Zr8xYwK0pLmN3oB5cD7f";
    expect((await document(unknown)).answer).to.deep.equal([404, "NOT_FOUND", null]);
    expect((await document(unknown)).answer).to.deep.equal([404, "NOT_FOUND", null]);
    const limited = await document(unknown);
    expect(limited.answer.slice(0, 2)).to.deep.equal([429, "RATE_LIMITED"]);
    expect(Number(limited.answer[2])).to.be.within(1, 30);
  });
});
