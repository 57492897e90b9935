import { expect } from "chai";
import { createHash } from "node:crypto";
import path from "node:path";
import { JsonRpcAnchorReader, verifyCertificate } from "../../service/core/index.ts";
import { memberServiceOn } from "../helpers/consortium.ts";
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
    service = await startServiceProcess(dataDir, await memberServiceOn(chain.url, dataDir));
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
    expect((await client.get("/healthz")).body).to.deep.include({ status: "ok" });

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
