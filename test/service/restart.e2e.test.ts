import { expect } from "chai";
import { JsonRpcChainReader, verifyCertificate } from "../../service/core/index.ts";
import { createAccount } from "../../service/store/accounts.ts";
import { SqliteEvidenceStore } from "../../service/store/sqlite-store.ts";
import { currentCertificates, readDatabase } from "../helpers/database.ts";
import {
  anchoredLogs,
  api,
  cleanUpDataDir,
  freePort,
  type ServiceProcess,
  startServiceProcess,
  tempDir,
} from "../helpers/processes.ts";
import { sha256Hex } from "../helpers/hash.ts";

describe("the service across restarts and crashes (real processes)", function () {
  this.timeout(180_000);
  // Each test has its own data directory and chain: either runs alone.
  let dataDir: string;
  let chainUrl: string;
  let env: Record<string, string>;
  let service: ServiceProcess | undefined;

  beforeEach(async () => {
    dataDir = tempDir("restart");
    const port = await freePort();
    chainUrl = `http://127.0.0.1:${port}`;
    // Interval mining, as on a consortium chain.
    env = { LOCAL_CHAIN_PORT: String(port), LOCAL_CHAIN_BLOCK_TIME: "1" };
  });

  afterEach(async () => {
    await service?.stop();
    service = undefined;
    await cleanUpDataDir(dataDir);
  });

  it("anchors every acknowledged item exactly once after a kill -9 between acknowledgement and anchoring", async () => {
    // A long batch wait holds the items pending until the crash.
    service = await startServiceProcess(dataDir, { ...env, BATCH_MAX_WAIT_MS: "600000" });
    const apiKey = service.apiKey!;
    const client = api(service.url, apiKey);
    const ids: string[] = [];
    for (let request = 0; request < 5; request++) {
      const items = Array.from({ length: 20 }, (_, i) => ({ contentHash: sha256Hex(`crash ${request}-${i}`) }));
      const res = await client.postJson("/api/v1/evidence/digests", { items });
      expect(res.status).to.equal(201);
      ids.push(...res.body.items.map((i: { id: string }) => i.id));
    }
    const early = await client.get(`/api/v1/evidence/${ids[0]}/certificate`);
    expect([early.status, early.body.status, early.body.code, early.body.evidenceStatus]).to.deep.equal([
      409,
      409,
      "NOT_ANCHORED",
      "pending",
    ]);
    await service.kill9();

    service = await startServiceProcess(dataDir, { ...env, BATCH_MAX_WAIT_MS: "200" });
    expect(service.apiKey, "the development account is made once").to.equal(undefined);
    const after = api(service.url, apiKey);
    const chain = new JsonRpcChainReader(chainUrl);
    for (const id of ids) {
      const certificate = await after.anchored(id);
      expect((await verifyCertificate(certificate, { chain })).valid).to.equal(true);
    }
    const health = await after.get("/healthz");
    const roots = (await anchoredLogs(chainUrl, health.body.chain.contract)).map((l) => l.root);
    expect(new Set(roots).size, "no root anchored twice").to.equal(roots.length);

    const batches = readDatabase<{ root: string }>(dataDir, "SELECT root FROM batches WHERE status = 'anchored'");
    expect(batches.map((b) => b.root).sort()).to.deep.equal([...roots].sort());
    const perItem = readDatabase(
      dataDir,
      "SELECT count(DISTINCT batch_id) AS n FROM evidence GROUP BY id HAVING n != 1",
    );
    expect(perItem, "every item in exactly one batch").to.deep.equal([]);
  });

  it("keeps certificates verifiable after the service and its chain are stopped and started again", async () => {
    service = await startServiceProcess(dataDir, env);
    const client = api(service.url, service.apiKey);
    const { body: before } = await client.postJson("/api/v1/evidence/digests", {
      items: Array.from({ length: 5 }, (_, i) => ({ contentHash: sha256Hex(`before restart ${i}`) })),
    });
    for (const item of before.items as { id: string }[]) await client.anchored(item.id);
    const { body } = await api(service.url).get("/healthz");
    const contract = body.chain.contract;
    const certificates = [...currentCertificates(dataDir).values()];
    expect(certificates.length).to.equal(5);

    await service!.stop(); // SIGTERM: the embedded chain stops too and saves its state
    const chain = new JsonRpcChainReader(chainUrl, { timeoutMs: 1000 });
    const whileDown = await verifyCertificate(certificates[0], { chain });
    expect(whileDown.verdict, "nothing to verify against while the chain is down").to.equal("indeterminate");

    service = await startServiceProcess(dataDir, env);
    const health = await api(service.url).get("/healthz");
    expect(health.body.chain.contract, "the contract is reused").to.equal(contract);
    for (const certificate of certificates) {
      expect((await verifyCertificate(certificate, { chain })).valid).to.equal(true);
    }
    // And the restarted service anchors new evidence on the same chain.
    const { body: submitted } = await api(service.url, await reKey(dataDir)).postJson("/api/v1/evidence/digests", {
      items: [{ contentHash: sha256Hex("after restart") }],
    });
    const fresh = await api(service.url).anchored(submitted.items[0].id);
    expect((await verifyCertificate(fresh, { chain })).valid).to.equal(true);
  });
});

/** A new API key for a new account in the data directory (the dev key was printed only once). */
async function reKey(dataDir: string): Promise<string> {
  const store = SqliteEvidenceStore.open(dataDir);
  try {
    return (await createAccount(store, "restart test")).apiKey;
  } finally {
    await store.close();
  }
}
