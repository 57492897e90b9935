import { expect } from "chai";
import { randomBytes } from "node:crypto";
import { Wallet } from "ethers";
import { ChainClient } from "../../service/chain/chain-client.ts";
import { JsonRpcChainReader, toHex32 } from "../../service/core/index.ts";
import { ADMIN_KEY, SERVICE_KEY } from "../helpers/consortium.ts";
import { type ChainNode, startChainNode } from "../helpers/processes.ts";

const tx = { gasPrice: undefined, legacy: false };

describe("the anchoring client against a node that mines only on demand (real chain node)", function () {
  let chain: ChainNode;
  let rpc: JsonRpcChainReader;
  let client: ChainClient;

  before(async () => {
    chain = await startChainNode({ chainId: 4040 });
    rpc = new JsonRpcChainReader(chain.url);
    const admin = new Wallet(ADMIN_KEY);
    const contract = await ChainClient.deploy(chain.url, chain.chainId, admin, admin.address, tx);
    client = new ChainClient(chain.url, chain.chainId, admin, contract, tx);
    await client.grantAnchorerRole(admin.address);
    // From here on a block is made only when the test mines one.
    await rpc.request("evm_setAutomine", [false]);
  });

  after(async () => {
    client?.destroy();
    await chain?.stop();
  });

  const mineOne = () => rpc.request("evm_mine", []);
  const sendAnchor = async () => {
    const sent = await client.sendAnchor(toHex32(randomBytes(32)), 3);
    if (sent.kind !== "sent") throw new Error("a fresh root was refused");
    return sent.txHash;
  };
  const newestBlock = () => client.blockNumber();

  it("reads a block mined a moment ago, not a block number remembered from before", async () => {
    const before = await client.blockNumber();
    await mineOne();
    expect(await client.blockNumber()).to.equal(before + 1);
  });

  it("reads a receipt as soon as its block is mined, not a remembered absence", async () => {
    const hash = await sendAnchor();
    expect(await client.receipt(hash)).to.equal(null);
    await mineOne();
    expect((await client.receipt(hash))?.status).to.equal(1);
  });

  it("finds a transaction mined in the newest block when no block follows it", async () => {
    // Waiting for new-block events would miss it: the block that holds it is already the newest.
    const hash = await sendAnchor();
    await mineOne();
    const receipt = await client.waitForReceipt(hash, 1, 60_000);
    expect(receipt).to.deep.equal({ status: 1, blockNumber: await newestBlock() });
  });

  it("finds a transaction mined while the wait is under way", async () => {
    const hash = await sendAnchor();
    const waiting = client.waitForReceipt(hash, 1, 60_000);
    await mineOne();
    expect(await waiting).to.deep.equal({ status: 1, blockNumber: await newestBlock() });
  });

  it("counts confirmations: with 3 required, answers only once two blocks follow the transaction's", async () => {
    const hash = await sendAnchor();
    await mineOne();
    const minedIn = await newestBlock();
    expect(await client.waitForReceipt(hash, 3, 0), "one block holds it").to.equal(null);
    await mineOne();
    expect(await client.waitForReceipt(hash, 3, 0), "two blocks").to.equal(null);
    await mineOne();
    expect(await client.waitForReceipt(hash, 3, 0), "three blocks").to.deep.equal({ status: 1, blockNumber: minedIn });
  });

  it("gives up with null after the timeout while the node holds the transaction back", async () => {
    const hash = await sendAnchor();
    expect(await client.waitForReceipt(hash, 1, 600)).to.equal(null);
    await mineOne(); // leave nothing pending for the next test
  });

  it("decodes the contract's refusal of a root anchored before as already-anchored, not an error", async () => {
    const root = toHex32(randomBytes(32));
    const first = await client.sendAnchor(root, 2);
    expect(first.kind).to.equal("sent");
    await mineOne();
    expect(await client.sendAnchor(root, 2)).to.deep.equal({ kind: "already-anchored" });
  });
  it("says which key lacks ANCHORER_ROLE when the contract refuses its anchor(), and reports the role", async () => {
    const outsider = new Wallet(SERVICE_KEY);
    const refused = new ChainClient(chain.url, chain.chainId, outsider, client.contract, tx);
    try {
      expect(await refused.hasAnchorerRole(outsider.address)).to.equal(false);
      expect(await client.hasAnchorerRole(new Wallet(ADMIN_KEY).address)).to.equal(true);
      const error = await refused.sendAnchor(toHex32(randomBytes(32)), 1).catch((e: Error) => e);
      expect((error as Error).message).to.equal(
        `the contract refused anchor() from ${outsider.address}: it has no ANCHORER_ROLE on ${client.contract}`,
      );
    } finally {
      refused.destroy();
    }
  });

  it("names an anchor contract address with no contract there, or another contract, instead of asking it for the role", async () => {
    const at = async (address: string) => {
      const elsewhere = new ChainClient(chain.url, chain.chainId, new Wallet(ADMIN_KEY), address, tx);
      try {
        return await elsewhere.hasAnchorerRole(new Wallet(ADMIN_KEY).address).then(String, (e: Error) => e.message);
      } finally {
        elsewhere.destroy();
      }
    };
    const empty = new Wallet(SERVICE_KEY).address; // an account, no code
    expect(await at(empty)).to.equal(
      `the node has no contract at ${empty} on chain 4040: check ANCHOR_CONTRACT, and that the node is in sync`,
    );
    const other = "0x00000000000000000000000000000000000C0DE5";
    await rpc.request("anvil_setCode", [other, "0x60006000fd"]); // PUSH1 0 PUSH1 0 REVERT: reverts every call
    expect(await at(other)).to.equal(
      `the contract at ${other} does not answer as an EvidenceAnchor: check ANCHOR_CONTRACT, and that the node is in sync`,
    );
  });

  it("works the same over a transport function (as the embedded chain's socket is reached) as over a URL: sends, finds, and reads a refusal", async () => {
    const exchange = async (body: string) =>
      (await fetch(chain.url, { method: "POST", headers: { "content-type": "application/json" }, body })).json();
    const overFunction = new ChainClient(exchange, chain.chainId, new Wallet(ADMIN_KEY), client.contract, tx);
    try {
      const root = toHex32(randomBytes(32));
      const sent = await overFunction.sendAnchor(root, 5);
      expect(sent.kind).to.equal("sent");
      const { txHash } = sent as { txHash: string };
      await mineOne();
      expect(await overFunction.waitForReceipt(txHash as `0x${string}`, 1, 60_000)).to.deep.equal({
        status: 1,
        blockNumber: await newestBlock(),
      });
      expect(await overFunction.locate(root)).to.deep.include({
        txHash,
        treeSize: 5,
        blockNumber: await newestBlock(),
      });
      expect(await overFunction.sendAnchor(root, 5)).to.deep.equal({ kind: "already-anchored" });
    } finally {
      overFunction.destroy();
    }
  });
});
