import { expect } from "chai";
import { JsonRpcChainReader, verifyCertificate } from "../../service/core/index.ts";
import { memberServiceOn } from "../helpers/consortium.ts";
import { readDatabase } from "../helpers/database.ts";
import {
  anchoredLogs,
  api,
  type ChainNode,
  cleanUpDataDir,
  type ServiceProcess,
  startChainNode,
  startServiceProcess,
  tempDir,
  until,
} from "../helpers/processes.ts";
import { sha256Hex } from "../helpers/hash.ts";

describe("transactions held back by the node (real processes)", function () {
  this.timeout(120_000);
  let chain: ChainNode;
  let rpc: JsonRpcChainReader;
  let contract: string;
  let service: ServiceProcess | undefined;
  let dataDir: string;
  let env: Record<string, string>;

  beforeEach(async () => {
    chain = await startChainNode({ chainId: 3030 });
    rpc = new JsonRpcChainReader(chain.url);
    dataDir = tempDir("pending-tx");
    env = { ...(await memberServiceOn(chain.url, dataDir)), BATCH_MAX_WAIT_MS: "100" };
    contract = env.ANCHOR_CONTRACT!;
    await rpc.request("evm_setAutomine", [false]); // from now on the node holds every transaction back
  });

  afterEach(async () => {
    await service?.stop();
    await chain?.stop();
    await cleanUpDataDir(dataDir);
  });

  function sentBatch(): { root: string; tx_hash: string | null; send_count: number } | undefined {
    return readDatabase<{ root: string; tx_hash: string | null; send_count: number }>(
      dataDir,
      "SELECT root, tx_hash, send_count FROM batches",
    )[0];
  }

  /** Starts the service with `receiptTimeoutMs` and submits one item. */
  async function submitOne(receiptTimeoutMs: number): Promise<{ id: string; apiKey: string }> {
    service = await startServiceProcess(dataDir, { ...env, RECEIPT_TIMEOUT_MS: String(receiptTimeoutMs) });
    const apiKey = service.apiKey!;
    const { body } = await api(service.url, apiKey).postJson("/api/v1/evidence/digests", {
      items: [{ contentHash: sha256Hex(`held back ${Date.now()}`) }],
    });
    return { id: body.items[0].id, apiKey };
  }

  async function anchoredOnce(id: string): Promise<{ certificate: any; txHash: string }> {
    await rpc.request("evm_setAutomine", [true]);
    await rpc.request("evm_mine", []);
    const certificate = await api(service!.url).anchored(id);
    expect((await verifyCertificate(certificate, { chain: rpc })).valid).to.equal(true);
    const logs = await anchoredLogs(chain.url, contract, certificate.batch.root);
    expect(logs.length, "anchored exactly once").to.equal(1);
    expect(certificate.batch.anchor.txHash).to.equal(logs[0]!.transactionHash);
    return { certificate, txHash: logs[0]!.transactionHash };
  }

  it("keeps the batch through a crash while its transaction is pending, and anchors it once when mined", async () => {
    // A receipt timeout longer than the test: the restarted service never sends a second transaction.
    const { id } = await submitOne(3_600_000);
    const first = await until(
      async () => (sentBatch()?.tx_hash ? sentBatch() : undefined),
      "the anchoring transaction to be sent",
    );
    await service!.kill9();
    service = await startServiceProcess(dataDir, { ...env, RECEIPT_TIMEOUT_MS: "3600000" });
    expect((await api(service.url).get(`/api/v1/evidence/${id}`)).body.status).to.equal("anchoring");
    // The node still holds the first transaction: it is the one that anchors.
    const { txHash } = await anchoredOnce(id);
    expect(txHash).to.equal(first!.tx_hash);
  });

  it("sends again when the node loses the transaction, and anchors once", async () => {
    // The shortest receipt timeout: the service sends again a second after the node lost the
    // first transaction. Whatever the timing, nothing is mined until the node has lost it.
    const { id } = await submitOne(1_000);
    await until(async () => (sentBatch()?.tx_hash ? true : undefined), "the anchoring transaction to be sent");
    const blockBefore = await rpc.blockNumber();
    await rpc.request("anvil_dropAllTransactions", []); // as a node restarted without its pool would
    expect(await rpc.blockNumber(), "nothing mined while the node held the transaction").to.equal(blockBefore);
    // From here each transaction is mined as it arrives: the one that anchors was sent after the loss.
    const { txHash } = await anchoredOnce(id);
    const batch = sentBatch()!;
    expect(batch.send_count, "sent again").to.be.at.least(2);
    expect(txHash, "the transaction that anchored is the last one sent").to.equal(batch.tx_hash);
  });

  it("sends again without waiting for the receipt timeout once the node no longer holds the transaction", async () => {
    // A receipt timeout longer than the test: only finding the transaction gone can send again.
    const { id } = await submitOne(3_600_000);
    const first = await until(
      async () => (sentBatch()?.tx_hash ? sentBatch() : undefined),
      "the anchoring transaction to be sent",
    );
    await rpc.request("anvil_dropAllTransactions", []); // as a node restarted without its pool would
    const again = await until(
      async () => ((sentBatch()?.send_count ?? 0) >= 2 ? sentBatch() : undefined),
      "the transaction to be sent again",
      30_000,
    );
    expect(again!.tx_hash).to.not.equal(null);
    const { txHash } = await anchoredOnce(id);
    expect(txHash, "the transaction sent again anchors").to.equal(sentBatch()!.tx_hash);
    expect(first!.send_count).to.equal(1);
  });
});
