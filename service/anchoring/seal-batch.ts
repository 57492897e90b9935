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

/**
 * Seals the batches that are due: full ones (`maxItems`), and a partial one whose oldest
 * item has waited `maxWaitMs`. Each batch's root is persisted with its items' places in
 * the tree before any transaction is sent for it. Returns the new batches' ids, and when
 * the items left pending fall due (epoch ms; null if none are pending).
 */
export async function sealDueBatches(
  store: EvidenceStore,
  limits: { maxItems: number; maxWaitMs: number },
  now: Date,
  log: (message: string) => void,
): Promise<{ sealed: number[]; nextDueAt: number | null }> {
  const sealed: number[] = [];
  for (;;) {
    const { count, oldest } = await store.pendingSummary();
    if (count === 0 || oldest === null) return { sealed, nextDueAt: null };
    const waited = now.getTime() - Date.parse(oldest);
    if (count < limits.maxItems && waited < limits.maxWaitMs) {
      return { sealed, nextDueAt: Date.parse(oldest) + limits.maxWaitMs };
    }
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
