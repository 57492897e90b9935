import { expect } from "chai";
import { JsonRpcChainReader } from "../../service/core/index.ts";
import { memberServiceOn } from "../helpers/consortium.ts";
import { sha256Hex } from "../helpers/hash.ts";
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

/**
 * The service's verifier keeps what it read of the chain, so a thousand certificates of one
 * batch cost one read. A chain that loses an anchor while the service runs (a node restored
 * from a backup, a fork) must not go on being answered from what was read before it.
 */
describe("the service's verifier when the chain loses an anchor while it runs (real chain node)", function () {
  this.timeout(120_000);
  let chain: ChainNode;
  let service: ServiceProcess;
  let dataDir: string;

  after(async () => {
    await service?.stop();
    await chain?.stop();
    if (dataDir) await cleanUpDataDir(dataDir);
  });

  it("stops answering valid for a certificate whose anchor the chain lost, once reconciliation finds it gone", async () => {
    chain = await startChainNode({ chainId: 4061 });
    dataDir = tempDir("verifier-cache");
    const member = await memberServiceOn(chain.url, dataDir);
    service = await startServiceProcess(dataDir, { ...member, RECONCILE_INTERVAL_MS: "1000", LOG_LEVEL: "warn" });
    const node = new JsonRpcChainReader(chain.url);
    const beforeAnchor = (await node.request("evm_snapshot", [])) as string;

    const client = api(service.url, service.apiKey);
    const submitted = await client.postJson("/api/v1/evidence/digests", {
      items: [{ contentHash: sha256Hex("a page anchored just before the node was restored") }],
    });
    expect(submitted.status).to.equal(201);
    const certificate = await client.anchored(submitted.body.items[0].id);
    const first = await api(service.url).postJson("/api/v1/verify", { certificate });
    expect(first.body.verdict, "before the chain lost it").to.equal("valid");

    // The node goes back to before the anchor, as a restore from an older backup would.
    expect(await node.request("evm_revert", [beforeAnchor])).to.equal(true);
    // ...and goes on past the anchor's height without it (a node merely behind is waited for).
    await node.request("anvil_mine", ["0x5"]);
    await until(
      async () => ((await client.get("/healthz")).body.reconciliation.mismatches >= 1 ? true : undefined),
      "reconciliation to find the anchor gone",
    );
    const after = await api(service.url).postJson("/api/v1/verify", { certificate });
    expect(after.body.verdict, JSON.stringify(after.body.checks)).to.not.equal("valid");
    expect(after.body.checks.find((c: { id: string }) => c.id === "anchor").status).to.not.equal("passed");
  });
});
