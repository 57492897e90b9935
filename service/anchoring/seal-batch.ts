import { EvidenceError, isHex32, MerkleTree, toHex32, type Hex32 } from "../core/index.ts";
import type { EvidenceStore } from "../store/store.ts";

/** The RFC 6962 tree over leaf hashes as stored (hex), in batch order. */
export function treeOf(leaves: readonly { leafHash: Hex32 }[]): MerkleTree {
  return treeOfHashes(leaves.map((l) => l.leafHash));
}

/**
 * The same from the hashes alone. They are decoded in one pass into one buffer: a batch of
 * 100,000 leaves would otherwise cost 100,000 small arrays.
 */
export function treeOfHashes(leafHashes: readonly Hex32[]): MerkleTree {
  const bad = leafHashes.findIndex((h) => !isHex32(h));
  if (bad >= 0)
    throw new EvidenceError("INVALID_HEX", `leaf hash ${bad} must be 0x followed by 64 lowercase hex characters`);
  const hex = leafHashes.map((h) => h.slice(2)).join("");
  return MerkleTree.fromFlatLeafHashes(new Uint8Array(Buffer.from(hex, "hex")));
}

/** When a batch is sealed (config.ts `batch`, README "Configuration"). */
export interface BatchLimits {
  /** A batch is sealed as soon as this many items wait. */
  maxItems: number;
  /** ... or once its oldest item has waited this long (ms). */
  maxWaitMs: number;
  /**
   * ... or once intake has been quiet this long (ms: no item arrived since), if at least
   * `quietMinItems` wait: the end of a burst is sealed at once instead of after
   * `maxWaitMs`. 0 or unset: never.
   */
  quietMs?: number;
  quietMinItems?: number;
}

/**
 * Seals the batches that are due: full ones (`maxItems`), a partial one whose oldest item
 * has waited `maxWaitMs`, and a partial one of at least `quietMinItems` items when no item
 * has arrived for `quietMs`. Each batch's root is persisted with its items' places in the
 * tree before any transaction is sent for it. Returns the new batches' ids, and when the
 * items left pending fall due (epoch ms; null if none are pending).
 *
 * Quiet is read from the store (the newest pending item's time), not from this process's
 * intake: with several replicas, the one that anchors sees the others' items too.
 */
export async function sealDueBatches(
  store: EvidenceStore,
  limits: BatchLimits,
  now: Date,
  log: (message: string) => void,
): Promise<{ sealed: number[]; nextDueAt: number | null }> {
  const sealed: number[] = [];
  for (;;) {
    const { count, oldest, newest } = await store.pendingSummary();
    if (count === 0 || oldest === null || newest === null) return { sealed, nextDueAt: null };
    const quiet = limits.quietMs && count >= (limits.quietMinItems ?? 1);
    const dueAt = Math.min(
      Date.parse(oldest) + limits.maxWaitMs,
      quiet ? Date.parse(newest) + limits.quietMs! : Infinity,
    );
    if (count < limits.maxItems && now.getTime() < dueAt) return { sealed, nextDueAt: dueAt };
    const leaves = await store.pendingLeaves(limits.maxItems);
    const root = toHex32(treeOf(leaves).root());
    const id = await store.sealBatch(
      root,
      leaves.map((l) => l.seq),
      now.toISOString(),
    );
    log(`sealed batch ${id}: ${leaves.length} items, root ${root}`);
    sealed.push(id);
  }
}
