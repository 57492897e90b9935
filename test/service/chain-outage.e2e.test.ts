import { expect } from "chai";
import { createHash } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { Wallet } from "ethers";
import { JsonRpcAnchorReader, verifyCertificate } from "../../service/core/index.ts";
import { deployEvidenceAnchor } from "../../service/chain/deploy.ts";
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

// Anvil's first two default accounts (funded on every Anvil node): admin and service key, tests only.
const ADMIN_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
const SERVICE_KEY = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d";

const sha256 = (data: string) => createHash("sha256").update(data).digest("hex");

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
    const { contract } = await deployEvidenceAnchor({
      rpcUrl: chain.url,
      deployer: new Wallet(ADMIN_KEY),
      anchorers: [new Wallet(SERVICE_KEY).address],
      tx: { gasPrice: undefined, legacy: false },
    });
    mkdirSync(path.join(dataDir, "keys"), { recursive: true });
    writeFileSync(path.join(dataDir, "keys", "issuer.key"), SERVICE_KEY, { mode: 0o600 });
    service = await startServiceProcess(dataDir, {
      CHAIN_RPC_URL: chain.url,
      ANCHOR_CONTRACT: contract,
      DEV_ACCOUNT: "true",
    });
  });

  after(async () => {
    await service?.stop();
    await chain?.stop();
    await cleanUpDataDir(dataDir);
  });

  it("keeps taking evidence, reports degraded health, and anchors by itself once the chain is back", async () => {
    const client = api(service.url, service.apiKey);
    const reader = new JsonRpcAnchorReader(chain.url);
    const before = await client.postJson("/api/v1/evidence/digests", { items: [{ contentHash: sha256("before") }] });
    await client.anchored(before.body.items[0].id);

    await chain.stop();
    const during = await client.postJson("/api/v1/evidence/digests", { items: [{ contentHash: sha256("during") }] });
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
