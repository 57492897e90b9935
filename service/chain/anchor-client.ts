import { readFileSync } from "node:fs";
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
    // A static network: no start-up probing, so an unreachable chain fails each call
    // instead of retrying in the background.
    this.provider = new JsonRpcProvider(url, Network.from(chainId), { staticNetwork: true, pollingInterval: 250 });
    this.wallet = wallet.connect(this.provider);
    this.address = address;
    this.contract = new Contract(address, EVIDENCE_ANCHOR_ABI, this.wallet);
    this.#tx = tx;
  }

  /** Deploys EvidenceAnchor with `admin` as the consortium admin; returns its address. */
  static async deploy(url: string, chainId: number, wallet: Wallet, admin: string, tx: TxOptions): Promise<string> {
    const provider = new JsonRpcProvider(url, Network.from(chainId), { staticNetwork: true, pollingInterval: 250 });
    const artifact = loadArtifact();
    const factory = new ContractFactory(artifact.abi, artifact.bytecode, wallet.connect(provider));
    const contract = await factory.deploy(admin, await txOverrides(provider, tx));
    await contract.waitForDeployment();
    provider.destroy();
    return contract.getAddress();
  }

  async hasAnchorerRole(account: string): Promise<boolean> {
    const role = (await this.contract.getFunction("ANCHORER_ROLE")()) as string;
    return (await this.contract.getFunction("hasRole")(role, account)) as boolean;
  }

  async grantAnchorerRole(account: string): Promise<void> {
    const role = (await this.contract.getFunction("ANCHORER_ROLE")()) as string;
    const tx = await this.contract.getFunction("grantRole")(role, account, await this.overrides());
    await tx.wait();
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

  async waitForReceipt(txHash: Hex32, confirmations: number, timeoutMs: number): Promise<TransactionReceipt | null> {
    try {
      return await this.provider.waitForTransaction(txHash, confirmations, timeoutMs);
    } catch (e) {
      if ((e as { code?: string }).code === "TIMEOUT") return null;
      throw e;
    }
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
