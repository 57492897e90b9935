import type {
  AnchorOnChain,
  BlockOnChain,
  Certificate,
  ChainReader,
  Hex32,
  ReceiptOnChain,
} from "../../service/core/index.ts";
import { claimsOf, EvidenceError } from "../../service/core/index.ts";

/**
 * An in-memory chain for the verifier's unit tests: it answers from what it was told was
 * anchored, as a node would. End-to-end tests read a real node instead.
 */
export class RecordedChain implements ChainReader {
  readonly #chainId: number;
  readonly #anchors = new Map<string, AnchorOnChain>();
  readonly #blocks = new Map<number, BlockOnChain>();
  readonly #receipts = new Map<string, ReceiptOnChain>();
  readonly #contracts = new Set<string>();
  latest = 0;
  reads = 0;
  /** What every read does instead of answering: throw as an unreachable node would. */
  unreachable = false;

  constructor(chainId: number) {
    this.#chainId = chainId;
  }

  /** The chain a certificate claims: its anchor, its block, its transaction, ten blocks on. */
  static holding(certificate: Certificate): RecordedChain {
    const c = claimsOf(certificate);
    const chain = new RecordedChain(c.anchor.chainId);
    chain.record(c.anchor.contract, c.root, {
      timestamp: c.anchor.timestamp,
      blockNumber: c.anchor.blockNumber,
      treeSize: c.treeSize,
    });
    chain.recordBlock(c.anchor.blockNumber, {
      hash: c.anchor.blockHash as Hex32,
      timestamp: c.anchor.timestamp,
      transactions: [c.anchor.txHash as Hex32],
    });
    chain.recordReceipt(c.anchor.txHash, {
      status: 1,
      blockNumber: c.anchor.blockNumber,
      blockHash: c.anchor.blockHash as Hex32,
      anchored: [
        {
          contract: c.anchor.contract,
          root: c.root as Hex32,
          anchorer: c.issuer.address,
          treeSize: c.treeSize,
          timestamp: c.anchor.timestamp,
        },
      ],
    });
    chain.latest = c.anchor.blockNumber + 10;
    return chain;
  }

  record(contract: string, root: string, anchor: AnchorOnChain): void {
    this.#contracts.add(contract.toLowerCase());
    this.#anchors.set(`${contract.toLowerCase()}/${root}`, anchor);
  }

  recordBlock(blockNumber: number, block: BlockOnChain): void {
    this.#blocks.set(blockNumber, block);
  }

  recordReceipt(txHash: string, receipt: ReceiptOnChain): void {
    this.#receipts.set(txHash, receipt);
  }

  /** The node no longer has the block (restored from a backup taken before it). */
  forgetBlock(blockNumber: number): void {
    this.#blocks.delete(blockNumber);
  }

  /** The node keeps the block but no receipt index for the transaction (a pruned node). */
  forgetReceipt(txHash: string): void {
    this.#receipts.delete(txHash);
  }

  async chainId(): Promise<number> {
    this.#touch();
    return this.#chainId;
  }

  async blockNumber(): Promise<number> {
    this.#touch();
    return this.latest;
  }

  async hasCode(contract: string): Promise<boolean> {
    this.#touch();
    return this.#contracts.has(contract.toLowerCase());
  }

  async anchorOf(contract: string, root: Hex32): Promise<AnchorOnChain> {
    this.#touch();
    return this.#anchors.get(`${contract.toLowerCase()}/${root}`) ?? { timestamp: 0, blockNumber: 0, treeSize: 0 };
  }

  async block(blockNumber: number): Promise<BlockOnChain | null> {
    this.#touch();
    return blockNumber <= this.latest ? (this.#blocks.get(blockNumber) ?? null) : null;
  }

  async receipt(txHash: Hex32): Promise<ReceiptOnChain | null> {
    this.#touch();
    return this.#receipts.get(txHash) ?? null;
  }

  #touch(): void {
    this.reads++;
    if (this.unreachable) throw new EvidenceError("CHAIN_UNAVAILABLE", "cannot reach the chain");
  }
}
