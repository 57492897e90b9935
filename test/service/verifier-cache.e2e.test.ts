import { expect } from "chai";
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { Wallet } from "ethers";
import { deployEvidenceAnchor } from "../../service/chain/deploy.ts";
import { JsonRpcChainReader } from "../../service/core/index.ts";
import { ADMIN_KEY, memberServiceOn } from "../helpers/consortium.ts";
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
  /** Each test's chain node, services and data directories, stopped and removed after all. */
  const chains: ChainNode[] = [];
  const services: ServiceProcess[] = [];
  const dirs: string[] = [];
  const chainNode = async (chainId: number) => {
    const chain = await startChainNode({ chainId });
    chains.push(chain);
    return chain;
  };
  const serviceIn = async (dataDir: string, env: Record<string, string>) => {
    const service = await startServiceProcess(dataDir, env);
    services.push(service);
    return service;
  };
  const dataDirectory = (name: string) => {
    const dir = tempDir(name);
    dirs.push(dir);
    return dir;
  };

  after(async () => {
    for (const service of services) await service.stop();
    for (const chain of chains) await chain.stop();
    for (const dir of dirs) await cleanUpDataDir(dir);
  });

  /** A pass of the service's reconciliation begun after now has ended. */
  async function reconciledAfterNow(s: ServiceProcess): Promise<void> {
    const client = api(s.url, s.apiKey);
    const checkedAt = async () => (await client.get("/healthz")).body.reconciliation.checkedAt as string | null;
    const first = await checkedAt();
    await until(async () => ((await checkedAt()) !== first ? true : undefined), "a reconciliation pass");
    const second = await checkedAt();
    await until(async () => ((await checkedAt()) !== second ? true : undefined), "a whole reconciliation pass");
  }

  const failedChecks = (body: { checks: { id: string; status: string; reason: { code: string } }[] }) =>
    body.checks.filter((c) => c.status === "failed" || c.status === "error").map((c) => `${c.id} ${c.reason.code}`);

  it("stops answering valid for a certificate whose anchor the chain lost, once reconciliation finds it gone", async () => {
    const chain = await chainNode(4061);
    const dataDir = dataDirectory("verifier-cache");
    const member = await memberServiceOn(chain.url, dataDir);
    const service = await serviceIn(dataDir, { ...member, RECONCILE_INTERVAL_MS: "1000", LOG_LEVEL: "warn" });
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

  it("stops answering valid for another member's certificate whose anchor the chain lost, which no batch of its own names", async () => {
    const chain = await chainNode(4062);
    const node = new JsonRpcChainReader(chain.url);
    // Member B, whose certificates this service's verifier trusts (TRUSTED_CONTRACTS), and this service, A.
    const otherKey = "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a";
    const otherDir = dataDirectory("verifier-cache-member-b");
    const { contract: otherContract } = await deployEvidenceAnchor({
      rpcUrl: chain.url,
      deployer: new Wallet(ADMIN_KEY),
      anchorers: [new Wallet(otherKey).address],
      tx: { gasPrice: undefined, legacy: false },
    });
    mkdirSync(path.join(otherDir, "keys"), { recursive: true });
    writeFileSync(path.join(otherDir, "keys", "issuer.key"), otherKey, { mode: 0o600 });
    const dataDir = dataDirectory("verifier-cache-a");
    const member = await memberServiceOn(chain.url, dataDir);
    const service = await serviceIn(dataDir, {
      ...member,
      TRUSTED_CONTRACTS: otherContract,
      RECONCILE_INTERVAL_MS: "1000",
      LOG_LEVEL: "warn",
    });
    const beforeAnchor = (await node.request("evm_snapshot", [])) as string;
    const other = await serviceIn(otherDir, {
      CHAIN_RPC_URL: chain.url,
      ANCHOR_CONTRACT: otherContract,
      DEV_ACCOUNT: "true",
      LOG_LEVEL: "warn",
    });
    const otherClient = api(other.url, other.apiKey);
    const submitted = await otherClient.postJson("/api/v1/evidence/digests", {
      items: [{ contentHash: sha256Hex("member B's evidence") }],
    });
    const certificate = await otherClient.anchored(submitted.body.items[0].id);
    await other.stop();
    const first = await api(service.url).postJson("/api/v1/verify", { certificate });
    expect(first.body.verdict, JSON.stringify(first.body.checks)).to.equal("valid");

    // The chain goes back to before B's anchor and on past it without it.
    expect(await node.request("evm_revert", [beforeAnchor])).to.equal(true);
    await node.request("anvil_mine", ["0x8"]);
    await reconciledAfterNow(service);
    const after = await api(service.url).postJson("/api/v1/verify", { certificate });
    expect([after.body.verdict, failedChecks(after.body)]).to.deep.equal(["invalid", ["anchor anchor.never-anchored"]]);
  });

  it("is not told by an anonymous request about a block not yet final what it later answers about a certificate anchored after a reorganisation (CONFIRMATIONS=3)", async () => {
    const chain = await chainNode(4063);
    const node = new JsonRpcChainReader(chain.url);
    const dataDir = dataDirectory("verifier-cache-reorg");
    const member = await memberServiceOn(chain.url, dataDir);
    const service = await serviceIn(dataDir, {
      ...member,
      CONFIRMATIONS: "3",
      RECONCILE_INTERVAL_MS: "1000",
      LOG_LEVEL: "warn",
    });
    const client = api(service.url, service.apiKey);
    const mine = () => node.request("anvil_mine", ["0x1"]);
    // Any certificate of this service, to shape the anonymous request after.
    const t = await client.postJson("/api/v1/evidence/digests", { items: [{ contentHash: sha256Hex("template") }] });
    const template = await until(async () => {
      await mine();
      const { body } = await client.get(`/api/v1/evidence/${t.body.items[0].id}`);
      return body.status === "anchored" ? body.certificate : undefined;
    }, "the template to be certified");
    const head = await node.blockNumber();
    const beforeAnchor = (await node.request("evm_snapshot", [])) as string;

    // The next anchoring transaction is mined (one block, of the three the service waits for).
    const submitted = await client.postJson("/api/v1/evidence/digests", {
      items: [{ contentHash: sha256Hex("a page anchored across a reorganisation") }],
    });
    const anchoredIn = await until(
      async () => ((await node.blockNumber()) > head ? head + 1 : undefined),
      "the anchoring transaction to be mined",
    );
    const block = (await node.request("eth_getBlockByNumber", [`0x${anchoredIn.toString(16)}`, false])) as {
      hash: string;
      timestamp: string;
      transactions: string[];
    };
    const txHash = block.transactions[0]!;
    const receipt = (await node.request("eth_getTransactionReceipt", [txHash])) as { logs: { topics: string[] }[] };
    // Anyone asks the service about that block, transaction and root, before they are final.
    const asked = structuredClone(template);
    asked.batch.root = receipt.logs[0]!.topics[1];
    asked.batch.anchor = {
      ...asked.batch.anchor,
      txHash,
      blockNumber: anchoredIn,
      blockHash: block.hash,
      timestamp: Number(block.timestamp),
    };
    const anonymous = await api(service.url).postJson("/api/v1/verify", { certificate: asked });
    expect(anonymous.body.verdict).to.equal("invalid");

    // A reorganisation: the block is replaced by an empty one, and the transaction is mined later.
    expect(await node.request("evm_revert", [beforeAnchor])).to.equal(true);
    await mine();
    const certificate = await until(async () => {
      await mine();
      const { body } = await client.get(`/api/v1/evidence/${submitted.body.items[0].id}`);
      return body.status === "anchored" ? body.certificate : undefined;
    }, "the certificate after the reorganisation");
    expect(certificate.batch.anchor.blockNumber).to.be.greaterThan(anchoredIn);
    const verified = await api(service.url).postJson("/api/v1/verify", { certificate });
    expect([verified.body.verdict, failedChecks(verified.body)]).to.deep.equal(["valid", []]);
  });
});
