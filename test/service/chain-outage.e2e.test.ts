import { expect } from "chai";
import path from "node:path";
import { JsonRpcChainReader, verifyCertificate } from "../../service/core/index.ts";
import { Wallet } from "ethers";
import { SERVICE_KEY, memberServiceOn, setAnchorerRole } from "../helpers/consortium.ts";
import {
  api,
  cleanUpDataDir,
  startChainNode,
  startServiceProcess,
  tempDir,
  until,
  type ChainNode,
  type ServiceProcess,
} from "../helpers/processes.ts";
import { sha256Hex } from "../helpers/hash.ts";

describe("the service while its chain is down (real processes)", function () {
  this.timeout(180_000);
  let chain: ChainNode;
  let service: ServiceProcess;
  let dataDir: string;
  let stateFile: string;

  before(async () => {
    dataDir = tempDir("outage");
    stateFile = path.join(dataDir, "external-chain-state.json");
    chain = await startChainNode({ chainId: 2026, args: ["--state", stateFile, "--state-interval", "1"] });
    service = await startServiceProcess(dataDir, await memberServiceOn(chain.url, dataDir));
  });

  after(async () => {
    await service?.stop();
    await chain?.stop();
    await cleanUpDataDir(dataDir);
  });

  it("keeps taking evidence, reports degraded health, and anchors by itself once the chain is back", async () => {
    const client = api(service.url, service.apiKey);
    const reader = new JsonRpcChainReader(chain.url);
    const before = await client.postJson("/api/v1/evidence/digests", { items: [{ contentHash: sha256Hex("before") }] });
    await client.anchored(before.body.items[0].id);
    expect((await client.get("/healthz")).body).to.deep.include({ status: "ok" });

    await chain.stop();
    const during = await client.postJson("/api/v1/evidence/digests", { items: [{ contentHash: sha256Hex("during") }] });
    expect(during.status, "intake goes on").to.equal(201);
    const degraded = await until(async () => {
      const { body } = await client.get("/healthz");
      return body.status === "degraded" ? body : undefined;
    }, "healthz to report the outage");
    expect(degraded.chain.reachable).to.equal(false);
    expect((await client.get(`/api/v1/evidence/${during.body.items[0].id}`)).body.status).to.not.equal("anchored");

    chain = await startChainNode({
      chainId: 2026,
      port: chain.port,
      args: ["--state", stateFile, "--state-interval", "1"],
    });
    const certificate = await client.anchored(during.body.items[0].id, 90_000);
    expect((await verifyCertificate(certificate, { chain: reader })).valid).to.equal(true);
    await until(
      async () => ((await client.get("/healthz")).body.status === "ok" ? true : undefined),
      "healthz to recover",
    );
  });
});

describe("the service's chain id on an external chain (real processes)", function () {
  this.timeout(120_000);
  let chain: ChainNode | undefined;
  let service: ServiceProcess | undefined;
  let dataDir: string;

  beforeEach(() => {
    dataDir = tempDir("chain-id");
  });

  afterEach(async () => {
    await service?.stop();
    service = undefined;
    await chain?.stop();
    chain = undefined;
    await cleanUpDataDir(dataDir);
  });

  it("starts for the first time while its chain is down when CHAIN_ID is given, and anchors once it is up", async () => {
    const stateFile = path.join(dataDir, "external-chain-state.json");
    chain = await startChainNode({ chainId: 2028, args: ["--state", stateFile] });
    const env = await memberServiceOn(chain.url, dataDir);
    const { port } = chain;
    await chain.stop(); // saves its state, contract included

    const refused = await startServiceProcess(dataDir, env).then(
      () => "started",
      (e: Error) => e.message,
    );
    expect(refused, "without CHAIN_ID the id cannot be known").to.match(/not reachable, and its id is not known yet/);

    service = await startServiceProcess(dataDir, { ...env, CHAIN_ID: "2028" });
    const client = api(service.url, service.apiKey);
    const res = await client.postJson("/api/v1/evidence/digests", {
      items: [{ contentHash: sha256Hex("first start") }],
    });
    expect(res.status, "intake works").to.equal(201);
    expect((await client.get("/healthz")).body.status).to.equal("degraded");

    chain = await startChainNode({ chainId: 2028, port, args: ["--state", stateFile] });
    const certificate = await client.anchored(res.body.items[0].id, 90_000);
    expect(certificate.batch.anchor.chainId).to.equal(2028);
    expect((await verifyCertificate(certificate, { chain: new JsonRpcChainReader(chain.url) })).valid).to.equal(true);
  });

  it("refuses to start against a chain of another id than its data directory's, or than CHAIN_ID", async () => {
    chain = await startChainNode({ chainId: 2029 });
    const env = await memberServiceOn(chain.url, dataDir);
    service = await startServiceProcess(dataDir, env);
    await service.stop();
    service = undefined;
    await chain.stop();

    chain = await startChainNode({ chainId: 3030 });
    const elsewhere = { ...env, CHAIN_RPC_URL: chain.url };
    const onOther = await startServiceProcess(dataDir, elsewhere).then(
      () => "started",
      (e: Error) => e.message,
    );
    expect(onOther).to.match(/has id 3030, but this data directory belongs to chain 2029/);
    const configured = await startServiceProcess(dataDir, { ...elsewhere, CHAIN_ID: "3030" }).then(
      () => "started",
      (e: Error) => e.message,
    );
    expect(configured).to.match(/CHAIN_ID is 3030, but this data directory belongs to chain 2029/);
  });
});

describe("the service whose key lacks ANCHORER_ROLE on an external chain (real processes)", function () {
  this.timeout(180_000);
  let chain: ChainNode;
  let service: ServiceProcess;
  let dataDir: string;

  before(async () => {
    dataDir = tempDir("no-role");
    chain = await startChainNode({ chainId: 2031 });
    service = await startServiceProcess(dataDir, await memberServiceOn(chain.url, dataDir, { granted: false }));
  });

  after(async () => {
    await service?.stop();
    await chain?.stop();
    await cleanUpDataDir(dataDir);
  });

  it("reports it in its health before anything is submitted, keeps what is submitted, and anchors it once an admin grants the role", async () => {
    const client = api(service.url, service.apiKey);
    const issuer = new Wallet(SERVICE_KEY).address;
    const degraded = await until(async () => {
      const { body } = await client.get("/healthz");
      return body.status === "degraded" ? body : undefined;
    }, "healthz to report the missing role");
    expect(degraded.problems.join("\n")).to.include(`this service's issuer ${issuer} has no ANCHORER_ROLE`);
    expect(degraded.chain.reachable, "the chain itself answers").to.equal(true);

    const res = await client.postJson("/api/v1/evidence/digests", {
      items: [{ contentHash: sha256Hex("no role yet") }],
    });
    expect(res.status, "intake goes on").to.equal(201);
    const id = res.body.items[0].id;
    expect((await client.get(`/api/v1/evidence/${id}`)).body.status).to.not.equal("anchored");

    await setAnchorerRole(chain.url, degraded.chain.contract, issuer, true);
    const certificate = await client.anchored(id, 90_000);
    expect((await verifyCertificate(certificate, { chain: new JsonRpcChainReader(chain.url) })).verdict).to.equal(
      "valid",
    );
    await until(
      async () => ((await client.get("/healthz")).body.status === "ok" ? true : undefined),
      "healthz to recover",
    );
  });
});
