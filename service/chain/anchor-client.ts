import { readFileSync } from "node:fs";
import { setTimeout as delay } from "node:timers/promises";
import {
  Contract,
  ContractFactory,
  type InterfaceAbi,
  JsonRpcProvider,
  Network,
  type TransactionRequest,
  type TransactionReceipt,
  type Wallet,
} from "ethers";
import { EVIDENCE_ANCHOR_ABI, type AnchorOnChain, type Hex32 } from "../core/index.ts";

export interface TxOptions {
  /** Gas price in wei; with it, transactions are legacy (type 0). 0 on zero-gas chains. */
  gasPrice: bigint | undefined;
  /** Legacy (type 0) transactions at the node's gas price. */
  legacy: boolean;
}

export interface AnchorLocation {
  txHash: Hex32;
  blockNumber: number;
  blockHash: Hex32;
  timestamp: number;
  treeSize: number;
}

const ANCHORED_TOPIC = new Contract(
  "0x0000000000000000000000000000000000000001",
  EVIDENCE_ANCHOR_ABI,
).interface.getEvent("Anchored")!.topicHash;

/** The service's connection to the EvidenceAnchor contract: reads, sends, and finds anchors. */
export class AnchorClient {
  readonly provider: JsonRpcProvider;
  readonly wallet: Wallet;
  readonly contract: Contract;
  readonly address: string;
  readonly #tx: TxOptions;

  constructor(url: string, chainId: number, wallet: Wallet, address: string, tx: TxOptions) {
    this.provider = chainProvider(url, chainId);
    this.wallet = wallet.connect(this.provider);
    this.address = address;
    this.contract = new Contract(address, EVIDENCE_ANCHOR_ABI, this.wallet);
    this.#tx = tx;
  }

  /** Deploys EvidenceAnchor with `admin` as the consortium admin; returns its address. */
  static async deploy(url: string, chainId: number, wallet: Wallet, admin: string, tx: TxOptions): Promise<string> {
    const provider = chainProvider(url, chainId);
    try {
      const artifact = loadArtifact();
      const factory = new ContractFactory(artifact.abi, artifact.bytecode, wallet.connect(provider));
      const contract = await factory.deploy(admin, await txOverrides(provider, tx));
      await mined(provider, contract.deploymentTransaction()!.hash, "the deployment");
      return await contract.getAddress();
    } finally {
      provider.destroy();
    }
  }

  async hasAnchorerRole(account: string): Promise<boolean> {
    const role = (await this.contract.getFunction("ANCHORER_ROLE")()) as string;
    return (await this.contract.getFunction("hasRole")(role, account)) as boolean;
  }

  async grantAnchorerRole(account: string): Promise<void> {
    const role = (await this.contract.getFunction("ANCHORER_ROLE")()) as string;
    const tx = (await this.contract.getFunction("grantRole")(role, account, await this.overrides())) as {
      hash: string;
    };
    await mined(this.provider, tx.hash, `granting ANCHORER_ROLE to ${account}`);
  }

  async anchorOf(root: Hex32): Promise<AnchorOnChain> {
    const [timestamp, blockNumber, treeSize] = (await this.contract.getFunction("anchorOf")(root)) as bigint[];
    return { timestamp: Number(timestamp), blockNumber: Number(blockNumber), treeSize: Number(treeSize) };
  }

  /** Sends `anchor(root, treeSize)` and returns its hash without waiting. */
  async sendAnchor(root: Hex32, treeSize: number): Promise<Hex32> {
    const tx = await this.contract.getFunction("anchor")(root, treeSize, await this.overrides());
    return tx.hash as Hex32;
  }

  async receipt(txHash: Hex32): Promise<TransactionReceipt | null> {
    return this.provider.getTransactionReceipt(txHash);
  }

  /** The receipt once `confirmations` blocks hold the transaction, or null after `timeoutMs`. */
  async waitForReceipt(txHash: Hex32, confirmations: number, timeoutMs: number): Promise<TransactionReceipt | null> {
    return waitForReceipt(this.provider, txHash, confirmations, timeoutMs);
  }

  async blockNumber(): Promise<number> {
    return this.provider.getBlockNumber();
  }

  /**
   * Where `root` was anchored, from the contract and the Anchored event of its block,
   * or null when it is not anchored.
   */
  async locate(root: Hex32): Promise<AnchorLocation | null> {
    const onChain = await this.anchorOf(root);
    if (onChain.timestamp === 0) return null;
    const [log] = await this.provider.getLogs({
      address: this.address,
      topics: [ANCHORED_TOPIC, root],
      fromBlock: onChain.blockNumber,
      toBlock: onChain.blockNumber,
    });
    if (!log) throw new Error(`root ${root} is anchored in block ${onChain.blockNumber} but its event is missing`);
    return {
      txHash: log.transactionHash as Hex32,
      blockNumber: onChain.blockNumber,
      blockHash: log.blockHash.toLowerCase() as Hex32,
      timestamp: onChain.timestamp,
      treeSize: onChain.treeSize,
    };
  }

  destroy(): void {
    this.provider.destroy();
  }

  async overrides(): Promise<TransactionRequest> {
    return txOverrides(this.provider, this.#tx);
  }
}

/** How often a receipt is polled for while a transaction waits to be mined. */
const RECEIPT_POLL_MS = 250;

/**
 * A provider for one chain. The network is static: no start-up probing, so an unreachable
 * chain fails each call instead of retrying in the background. Results are never cached:
 * a block number or a missing receipt read a moment ago may already be out of date, and
 * anchoring decides on them.
 */
function chainProvider(url: string, chainId: number): JsonRpcProvider {
  return new JsonRpcProvider(url, Network.from(chainId), {
    staticNetwork: true,
    pollingInterval: RECEIPT_POLL_MS,
    cacheTimeout: -1,
  });
}

/**
 * Polls for the receipt until `confirmations` blocks hold the transaction. Unlike waiting
 * for new-block events, this cannot miss a transaction mined in the very block that was
 * the newest when the wait began (a chain that mines on demand may never make another).
 */
async function waitForReceipt(
  provider: JsonRpcProvider,
  txHash: string,
  confirmations: number,
  timeoutMs: number,
): Promise<TransactionReceipt | null> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const receipt = await provider.getTransactionReceipt(txHash);
    if (receipt) {
      const latest = confirmations <= 1 ? receipt.blockNumber : await provider.getBlockNumber();
      if (latest - receipt.blockNumber + 1 >= confirmations) return receipt;
    }
    const left = deadline - Date.now();
    if (left <= 0) return null;
    await delay(Math.min(RECEIPT_POLL_MS, left));
  }
}

/** How long a set-up transaction (a deployment, a role grant) may take to be mined. */
const SETUP_TIMEOUT_MS = 120_000;

/** Waits for a set-up transaction to be mined and to succeed. */
async function mined(provider: JsonRpcProvider, txHash: string, what: string): Promise<void> {
  const receipt = await waitForReceipt(provider, txHash, 1, SETUP_TIMEOUT_MS);
  if (!receipt) throw new Error(`${what} (tx ${txHash}) was not mined within ${SETUP_TIMEOUT_MS / 1000} s`);
  if (receipt.status !== 1) throw new Error(`${what} (tx ${txHash}) failed on chain`);
}

async function txOverrides(provider: JsonRpcProvider, tx: TxOptions): Promise<TransactionRequest> {
  if (tx.gasPrice !== undefined) return { type: 0, gasPrice: tx.gasPrice };
  if (tx.legacy) return { type: 0, gasPrice: (await provider.getFeeData()).gasPrice ?? 0n };
  return {};
}

/** The compiled EvidenceAnchor (abi and bytecode), committed under contracts/build/. */
export function loadArtifact(): { abi: InterfaceAbi; bytecode: string; deployedBytecode: string } {
  const file = new URL("../../contracts/build/EvidenceAnchor.json", import.meta.url);
  return JSON.parse(readFileSync(file, "utf8")) as { abi: InterfaceAbi; bytecode: string; deployedBytecode: string };
}
