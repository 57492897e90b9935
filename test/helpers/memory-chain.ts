import { createHash } from "node:crypto";
import type { AnchorChain, AnchorLocation, SendResult } from "../../service/anchoring/anchor-chain.ts";
import { InProcessSigner } from "../../service/anchoring/signers.ts";
import type { Hex32 } from "../../service/core/index.ts";
import { example } from "./vectors.ts";

interface Tx {
  hash: Hex32;
  root: Hex32;
  treeSize: number;
  from: string;
}

/**
 * A chain in memory for the anchorer's unit tests: transactions wait in a pool until the
 * test mines a block, the contract refuses a second anchor of a root (also against the
 * pool, as a node estimating on its pending state does), and every call is counted. The
 * end-to-end and fault tests run the same anchorer against a real node.
 */
export class MemoryChain implements AnchorChain {
  readonly chainId = 31337;
  readonly contract = "0x5FbDB2315678afecb367f032d93F642f64180aa3";
  /** Blocks by number: their hash, time and the transactions they hold. */
  readonly blocks: { hash: Hex32; timestamp: number; txs: Tx[] }[] = [
    { hash: hash("genesis"), timestamp: 1_800_000_000, txs: [] },
  ];
  readonly pool: Tx[] = [];
  readonly anchors = new Map<Hex32, AnchorLocation>();
  readonly failed = new Set<Hex32>();
  sends = 0;
  /** Every call of sendAnchor, including those that failed. */
  sendAttempts = 0;
  /** When set, every call throws this: the node is unreachable. */
  down: Error | null = null;
  /** The node drops transactions instead of keeping them in its pool. */
  losesTransactions = false;
  /** Mine a block on every send, as a node with automine does. */
  automine = false;
  /** A slow node: a call named here waits for its promise before it answers. */
  readonly stalls = new Map<"locate" | "receipt", Promise<void>>();
  /** The address transactions are sent from: the example issuer's, unless a test says another key sends. */
  from = new InProcessSigner(example.issuer().privateKey).address;
  #nonce = 0;
  /** Accounts without ANCHORER_ROLE (lower case): their sends are refused, as the contract refuses them. */
  readonly withoutRole = new Set<string>();

  get latest(): number {
    return this.blocks.length - 1;
  }

  async locate(root: Hex32): Promise<AnchorLocation | null> {
    await this.stalls.get("locate");
    this.#check();
    return this.anchors.get(root) ?? null;
  }

  async sendAnchor(root: Hex32, treeSize: number): Promise<SendResult> {
    this.sendAttempts++;
    this.#check();
    if (this.withoutRole.has(this.from.toLowerCase())) throw new Error(`${this.from} has no ANCHORER_ROLE`);
    if (this.anchors.has(root) || this.pool.some((t) => t.root === root)) return { kind: "already-anchored" };
    this.sends++;
    const tx = { hash: hash(`tx ${this.#nonce++} ${root}`), root, treeSize, from: this.from };
    if (!this.losesTransactions) this.pool.push(tx);
    if (this.automine) this.mine();
    return { kind: "sent", txHash: tx.hash };
  }

  async hasAnchorerRole(account: string): Promise<boolean> {
    this.#check();
    return !this.withoutRole.has(account.toLowerCase());
  }

  async holds(txHash: Hex32): Promise<boolean> {
    this.#check();
    return [this.pool, ...this.blocks.map((b) => b.txs)].some((txs) => txs.some((t) => t.hash === txHash));
  }

  async receipt(txHash: Hex32): Promise<{ status: 0 | 1; blockNumber: number } | null> {
    await this.stalls.get("receipt");
    this.#check();
    const blockNumber = this.blocks.findIndex((b) => b.txs.some((t) => t.hash === txHash));
    if (blockNumber < 0) return null;
    return { status: this.failed.has(txHash) ? 0 : 1, blockNumber };
  }

  /** Answers at once: a transaction not mined with enough confirmations is a timeout. */
  async waitForReceipt(txHash: Hex32, confirmations: number): Promise<{ status: 0 | 1; blockNumber: number } | null> {
    const receipt = await this.receipt(txHash);
    if (!receipt || this.latest - receipt.blockNumber + 1 < confirmations) return null;
    return receipt;
  }

  async blockNumber(): Promise<number> {
    this.#check();
    return this.latest;
  }

  async blockHash(blockNumber: number): Promise<Hex32 | null> {
    this.#check();
    return this.blocks[blockNumber]?.hash ?? null;
  }

  /** Mines one block holding the pool's transactions; a second anchor of a root fails, as the contract makes it. */
  mine(): number {
    const number = this.blocks.length;
    const block = {
      hash: hash(`block ${number} ${Math.random()}`),
      timestamp: 1_800_000_000 + number * 2,
      txs: this.pool.splice(0),
    };
    this.blocks.push(block);
    for (const tx of block.txs) {
      if (this.anchors.has(tx.root)) {
        this.failed.add(tx.hash);
        continue;
      }
      this.anchors.set(tx.root, {
        txHash: tx.hash,
        blockNumber: number,
        blockHash: block.hash,
        timestamp: block.timestamp,
        treeSize: tx.treeSize,
        anchorer: tx.from,
      });
    }
    return number;
  }

  /** Rolls the chain back to `blockNumber`: later blocks and the anchors in them are gone. */
  rollBackTo(blockNumber: number): void {
    this.blocks.length = blockNumber + 1;
    for (const [root, location] of this.anchors) if (location.blockNumber > blockNumber) this.anchors.delete(root);
  }

  #check(): void {
    if (this.down) throw this.down;
  }
}

function hash(text: string): Hex32 {
  return `0x${createHash("sha256").update(text).digest("hex")}`;
}
