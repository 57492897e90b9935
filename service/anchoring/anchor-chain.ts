import type { Hex32 } from "../core/index.ts";
import type { BatchAnchor } from "../store/store.ts";

/**
 * Where a root was anchored: the contract's record, its transaction's block, and who sent it
 * (the `Anchored` event's `anchorer`, which a certificate's issuer must be).
 */
export type AnchorLocation = BatchAnchor & { treeSize: number; anchorer: string };

/** The outcome of sending `anchor(root, treeSize)`. */
export type SendResult =
  | { kind: "sent"; txHash: Hex32 }
  /** The contract refused it as already anchored (possibly only in the node's pending state). */
  | { kind: "already-anchored" };

/**
 * What the anchorer needs from the chain, and nothing more: service/chain/chain-client.ts
 * fills it over JSON-RPC; the anchorer's unit tests fill it with a chain in memory.
 */
export interface AnchorChain {
  readonly chainId: number;
  /** The EvidenceAnchor contract's address. */
  readonly contract: string;
  /** Where `root` is anchored, from the contract and its Anchored event; null when it is not. */
  locate(root: Hex32): Promise<AnchorLocation | null>;
  sendAnchor(root: Hex32, treeSize: number): Promise<SendResult>;
  /** Whether `account` holds the contract's ANCHORER_ROLE: whether `anchor()` from it can succeed. */
  hasAnchorerRole(account: string): Promise<boolean>;
  /** Whether the node holds the transaction, in its pool or in a block. */
  holds(txHash: Hex32): Promise<boolean>;
  /** The receipt's status and block; null while the transaction is not mined. */
  receipt(txHash: Hex32): Promise<{ status: 0 | 1; blockNumber: number } | null>;
  /** Polls for the receipt until `confirmations` blocks hold it, or null after `timeoutMs`. */
  waitForReceipt(
    txHash: Hex32,
    confirmations: number,
    timeoutMs: number,
  ): Promise<{ status: 0 | 1; blockNumber: number } | null>;
  blockNumber(): Promise<number>;
  /** The hash of block `blockNumber`, or null when the chain has no such block. */
  blockHash(blockNumber: number): Promise<Hex32 | null>;
}
