import { expect } from "chai";
import path from "node:path";
import { Wallet } from "ethers";
import { claimsOf, JsonRpcChainReader, verifyCertificate } from "../../service/core/index.ts";
import { SERVICE_KEY, memberServiceOn, setAnchorerRole, writeKeystore } from "../helpers/consortium.ts";
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

const PASSWORD = "correct horse battery staple";

describe("changing a service's key or its role on an external chain (real processes)", function () {
  this.timeout(180_000);
  let chain: ChainNode;
  let rpc: JsonRpcChainReader;
  let service: ServiceProcess | undefined;
  let dataDir: string;
  let env: Record<string, string>;

  beforeEach(async () => {
    dataDir = tempDir("key-rotation");
    chain = await startChainNode({ chainId: 2033 });
    rpc = new JsonRpcChainReader(chain.url);
    env = await memberServiceOn(chain.url, dataDir);
  });

  afterEach(async () => {
    await service?.stop();
    service = undefined;
    await chain?.stop();
    await cleanUpDataDir(dataDir);
  });

  /**
   * The service with the member's key takes one item and sends its batch; the node holds the
   * transaction back, and the service is stopped (SIGTERM, or kill -9) before any block holds
   * it. Then the block is mined: the anchor is on chain, by the member's key, and nothing of it
   * is certified yet. Returns the item's id and the development account's API key.
   */
  async function sentThenStopped(stop: "stop" | "kill9"): Promise<{ id: string; apiKey: string }> {
    service = await startServiceProcess(dataDir, env);
    const apiKey = service.apiKey!; // printed at the first start only
    await rpc.request("evm_setAutomine", [false]);
    const sent = await api(service.url, apiKey).postJson("/api/v1/evidence/digests", {
      items: [{ contentHash: sha256Hex("sent before the change") }],
    });
    expect(sent.status).to.equal(201);
    await until(async () => {
      const status = (await rpc.request("txpool_status", [])) as { pending: string };
      return Number(status.pending) > 0 ? true : undefined;
    }, "the member key's anchor transaction to reach the node");
    await (stop === "stop" ? service.stop() : service.kill9());
    service = undefined;
    await rpc.request("evm_mine", []);
    await rpc.request("evm_setAutomine", [true]);
    return { id: sent.body.items[0].id, apiKey };
  }

  it("certifies a batch the old key sent before the restart with the old key given in ISSUER_PREVIOUS_KEYSTORES, and new batches with the new key", async () => {
    const oldKey = new Wallet(SERVICE_KEY);
    const newKey = Wallet.createRandom();
    await setAnchorerRole(chain.url, env.ANCHOR_CONTRACT!, newKey.address, true);
    await rpc.request("anvil_setBalance", [newKey.address, "0x3635C9ADC5DEA00000"]);
    const { id, apiKey } = await sentThenStopped("stop");

    service = await startServiceProcess(dataDir, {
      ...env,
      ISSUER_KEYSTORE: writeKeystore(path.join(dataDir, "new.keystore.json"), newKey.privateKey, PASSWORD),
      ISSUER_KEYSTORE_PASSWORD: PASSWORD,
      ISSUER_PREVIOUS_KEYSTORES: writeKeystore(path.join(dataDir, "old.keystore.json"), oldKey.privateKey, PASSWORD),
    });
    const rotated = api(service.url, apiKey);
    const certified = await rotated.anchored(id, 90_000);
    expect(claimsOf(certified).issuer.address, "the key that anchored it").to.equal(oldKey.address);
    expect((await verifyCertificate(certified, { chain: rpc })).verdict).to.equal("valid");

    const later = await rotated.postJson("/api/v1/evidence/digests", { items: [{ contentHash: sha256Hex("later") }] });
    const next = await rotated.anchored(later.body.items[0].id, 90_000);
    expect(claimsOf(next).issuer.address).to.equal(newKey.address);
    expect((await verifyCertificate(next, { chain: rpc })).verdict).to.equal("valid");
    expect((await rotated.get("/healthz")).body.status).to.equal("ok");
  });

  it("certifies, after a crash, the batch its key anchored before the role was revoked, and sends nothing new", async () => {
    const { id, apiKey } = await sentThenStopped("kill9");
    const member = new Wallet(SERVICE_KEY).address;
    await setAnchorerRole(chain.url, env.ANCHOR_CONTRACT!, member, false);
    const sentBefore = await rpc.request("eth_getTransactionCount", [member, "latest"]);
    service = await startServiceProcess(dataDir, env);
    const client = api(service.url, apiKey);
    const certified = await client.anchored(id, 90_000);
    expect((await verifyCertificate(certified, { chain: rpc })).verdict).to.equal("valid");
    const kept = await client.postJson("/api/v1/evidence/digests", { items: [{ contentHash: sha256Hex("after") }] });
    expect(kept.status, "still taken, and kept").to.equal(201);
    const degraded = await until(async () => {
      const { body } = await client.get("/healthz");
      return body.status === "degraded" ? body : undefined;
    }, "healthz to say the role is missing");
    expect(degraded.problems.join("\n")).to.include("has no ANCHORER_ROLE");
    expect((await client.get(`/api/v1/evidence/${kept.body.items[0].id}`)).body.status).to.not.equal("anchored");
    expect(await rpc.request("eth_getTransactionCount", [member, "latest"]), "no transaction sent").to.equal(
      sentBefore,
    );
  });
});
