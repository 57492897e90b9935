import { expect } from "chai";
import path from "node:path";
import { Wallet } from "ethers";
import { ChainClient } from "../../service/chain/chain-client.ts";
import { claimsOf, JsonRpcChainReader, verifyCertificate } from "../../service/core/index.ts";
import { ADMIN_KEY, SERVICE_KEY, memberServiceOn, writeKeystore } from "../helpers/consortium.ts";
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

describe("rotating a service's key on an external chain (real processes)", function () {
  this.timeout(180_000);
  let chain: ChainNode;
  let service: ServiceProcess | undefined;
  let dataDir: string;

  before(async () => {
    dataDir = tempDir("key-rotation");
    chain = await startChainNode({ chainId: 2033 });
  });

  after(async () => {
    await service?.stop();
    await chain?.stop();
    await cleanUpDataDir(dataDir);
  });

  it("certifies a batch the old key sent before the restart with the old key given in ISSUER_PREVIOUS_KEYSTORES, and new batches with the new key", async () => {
    const env = await memberServiceOn(chain.url, dataDir);
    const rpc = new JsonRpcChainReader(chain.url);
    const oldKey = new Wallet(SERVICE_KEY);
    const newKey = Wallet.createRandom();
    const admin = new ChainClient(chain.url, chain.chainId, new Wallet(ADMIN_KEY), env.ANCHOR_CONTRACT!, {
      gasPrice: undefined,
      legacy: false,
    });
    try {
      await admin.grantAnchorerRole(newKey.address);
    } finally {
      admin.destroy();
    }
    await rpc.request("anvil_setBalance", [newKey.address, "0x3635C9ADC5DEA00000"]);

    // The old key's service sends a batch; the node holds it back, and the service is stopped
    // before any block holds it: nothing of that batch is certified yet.
    service = await startServiceProcess(dataDir, env);
    const apiKey = service.apiKey; // printed at the first start only
    const client = api(service.url, apiKey);
    await rpc.request("evm_setAutomine", [false]);
    const sent = await client.postJson("/api/v1/evidence/digests", { items: [{ contentHash: sha256Hex("sent") }] });
    expect(sent.status).to.equal(201);
    await until(async () => {
      const status = (await rpc.request("txpool_status", [])) as { pending: string };
      return Number(status.pending) > 0 ? true : undefined;
    }, "the old key's anchor transaction to reach the node");
    await service.stop();
    await rpc.request("evm_mine", []);
    await rpc.request("evm_setAutomine", [true]);

    service = await startServiceProcess(dataDir, {
      ...env,
      ISSUER_KEYSTORE: writeKeystore(path.join(dataDir, "new.keystore.json"), newKey.privateKey, PASSWORD),
      ISSUER_KEYSTORE_PASSWORD: PASSWORD,
      ISSUER_PREVIOUS_KEYSTORES: writeKeystore(path.join(dataDir, "old.keystore.json"), oldKey.privateKey, PASSWORD),
    });
    const rotated = api(service.url, apiKey);
    const certified = await rotated.anchored(sent.body.items[0].id, 90_000);
    expect(claimsOf(certified).issuer.address, "the key that anchored it").to.equal(oldKey.address);
    expect((await verifyCertificate(certified, { chain: rpc })).verdict).to.equal("valid");

    const later = await rotated.postJson("/api/v1/evidence/digests", { items: [{ contentHash: sha256Hex("later") }] });
    const next = await rotated.anchored(later.body.items[0].id, 90_000);
    expect(claimsOf(next).issuer.address).to.equal(newKey.address);
    expect((await verifyCertificate(next, { chain: rpc })).verdict).to.equal("valid");
    expect((await rotated.get("/healthz")).body.status).to.equal("ok");
  });
});
