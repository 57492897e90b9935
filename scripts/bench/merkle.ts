/** The Merkle tree against bare SHA-256, and the contract's gas on a real node. */
import { randomBytes } from "node:crypto";
import { sha256 } from "@noble/hashes/sha2.js";
import { Wallet } from "ethers";
import { hashLeaf, MerkleTree } from "../../service/core/index.ts";
import { ChainClient } from "../../service/chain/chain-client.ts";
import { deployEvidenceAnchor } from "../../service/chain/deploy.ts";
import { ADMIN_KEY } from "../../test/helpers/consortium.ts";
import { startChainNode } from "../../test/helpers/processes.ts";
import { alternating, count, type Report } from "./report.ts";

/** Root and every inclusion proof of N leaves against 2N bare SHA-256 of 65-byte inputs. */
export async function benchMerkle(report: Report): Promise<void> {
  const n = report.quick ? 100_000 : 1_000_000;
  const rounds = report.quick ? 1 : 3;
  const input = new Uint8Array(65);
  const {
    baselineS,
    oursS,
    rounds: measured,
  } = await alternating(
    rounds,
    () => {
      for (let i = 0; i < 2 * n; i++) {
        input[1] = i & 0xff;
        sha256(input);
      }
    },
    () => {
      // Leaf i is the hash of a 32-byte record; leaves are written end to end, as a batch does.
      const record = new Uint8Array(32);
      const leaves = new Uint8Array(n * 32);
      for (let i = 0; i < n; i++) {
        record[0] = i & 0xff;
        record[1] = (i >> 8) & 0xff;
        record[2] = (i >> 16) & 0xff;
        leaves.set(hashLeaf(record), i * 32);
      }
      const tree = MerkleTree.fromFlatLeafHashes(leaves);
      tree.root();
      for (let i = 0; i < n; i++) tree.inclusionProof(i);
    },
  );
  report.row({
    what: `root + every proof, ${count(n)} leaves${rounds > 1 ? ` (median of ${rounds} alternating rounds)` : ""}`,
    value: `${oursS.toFixed(2)} s`,
    baseline: `${count(2 * n)} bare SHA-256: ${baselineS.toFixed(2)} s`,
    ratio: oursS / baselineS,
    target: "<= 1.5 (time)",
    met: oursS / baselineS <= 1.5,
  });
  report.results.merkle = { leaves: n, rounds: measured, oursSeconds: oursS, bareSeconds: baselineS };
}

/** Gas of anchor() at several batch sizes, from receipts on a real node. */
export async function benchGas(report: Report): Promise<void> {
  const chain = await startChainNode({ chainId: 31337 });
  try {
    const admin = new Wallet(ADMIN_KEY);
    const { contract } = await deployEvidenceAnchor({
      rpcUrl: chain.url,
      deployer: admin,
      anchorers: [admin.address],
      tx: { gasPrice: undefined, legacy: false },
    });
    const client = new ChainClient(chain.url, 31337, admin, contract, { gasPrice: undefined, legacy: false });
    const gas: Record<string, number> = {};
    for (const size of [1, 100, 10_000, 100_000]) {
      const sent = await client.sendAnchor(`0x${randomBytes(32).toString("hex")}`, size);
      if (sent.kind !== "sent") throw new Error("a fresh root was refused");
      await client.waitForReceipt(sent.txHash, 1, 30_000);
      gas[size] = Number((await client.provider.getTransactionReceipt(sent.txHash))!.gasUsed);
      report.row({
        what: `anchor(), batch of ${count(size)}`,
        value: `${count(gas[size]!)} gas`,
        baseline: `${(gas[size]! / size).toFixed(size >= 100 ? 2 : 0)} gas per item`,
        ratio: null,
        target: "<= 52,000 per anchor",
        met: gas[size]! <= 52_000,
      });
    }
    client.destroy();
    report.results.gas = gas;
  } finally {
    await chain.stop();
  }
}
