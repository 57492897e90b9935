import type { AnchorOnChain, AnchorReader, BlockOnChain, Certificate, Hex32 } from "../../service/core/index.ts";
import { EvidenceError } from "../../service/core/index.ts";

/**
 * An in-memory chain for the verifier's unit tests: it answers from what it was told was
 * anchored. End-to-end tests read a real node instead.
 */
export class RecordedChain implements AnchorReader {
  readonly #chainId: number;
  readonly #anchors = new Map<string, AnchorOnChain>();
  readonly #blocks = new Map<number, BlockOnChain>();
  readonly #contracts = new Set<string>();
  reads = 0;
  unreachable = false;

  constructor(chainId: number) {
    this.#chainId = chainId;
  }

  /** Records the anchor a certificate claims, as the chain would hold it. */
  static holding(certificate: Certificate): RecordedChain {
    const { anchor, proof } = certificate;
    const chain = new RecordedChain(anchor.chainId);
    chain.record(anchor.contract, proof.root, {
      timestamp: anchor.timestamp,
      blockNumber: anchor.blockNumber,
      treeSize: proof.treeSize,
    });
    chain.recordBlock(anchor.blockNumber, { hash: anchor.blockHash, timestamp: anchor.timestamp });
    return chain;
  }

  record(contract: string, root: string, anchor: AnchorOnChain): void {
    this.#contracts.add(contract.toLowerCase());
    this.#anchors.set(`${contract.toLowerCase()}/${root}`, anchor);
  }

  recordBlock(blockNumber: number, block: BlockOnChain): void {
    this.#blocks.set(blockNumber, block);
  }

  async chainId(): Promise<number> {
    this.#touch();
    return this.#chainId;
  }

  async anchorOf(contract: string, root: Hex32): Promise<AnchorOnChain> {
    this.#touch();
    if (!this.#contracts.has(contract.toLowerCase())) {
      throw new EvidenceError("CHAIN_MISMATCH", `there is no contract at ${contract} on this chain`);
    }
    return this.#anchors.get(`${contract.toLowerCase()}/${root}`) ?? { timestamp: 0, blockNumber: 0, treeSize: 0 };
  }

  async block(blockNumber: number): Promise<BlockOnChain | null> {
    this.#touch();
    return this.#blocks.get(blockNumber) ?? null;
  }

  #touch(): void {
    this.reads++;
    if (this.unreachable) throw new EvidenceError("CHAIN_UNAVAILABLE", "cannot reach the chain");
  }
}
