import { sha256 } from "@noble/hashes/sha2.js";
import { equalBytes } from "./bytes.ts";
import { EvidenceError } from "./errors.ts";

/**
 * RFC 6962 Merkle trees with SHA-256.
 * https://www.rfc-editor.org/rfc/rfc6962#section-2.1 (hashes, tree, audit paths)
 * https://www.rfc-editor.org/rfc/rfc9162#section-2.1.3.2 (verifying an inclusion proof)
 */

export const HASH_SIZE = 32;

const LEAF_PREFIX = 0x00;
const NODE_PREFIX = 0x01;

/** SHA-256(0x00 || data): the hash of a leaf. */
export function hashLeaf(data: Uint8Array): Uint8Array {
  const input = new Uint8Array(1 + data.length);
  input[0] = LEAF_PREFIX;
  input.set(data, 1);
  return sha256(input);
}

// One scratch buffer for node inputs: tree building hashes millions of them.
const nodeInput = new Uint8Array(1 + 2 * HASH_SIZE);
nodeInput[0] = NODE_PREFIX;

/** SHA-256(0x01 || left || right): the hash of an interior node. */
export function hashChildren(left: Uint8Array, right: Uint8Array): Uint8Array {
  nodeInput.set(left, 1);
  nodeInput.set(right, 1 + HASH_SIZE);
  return sha256(nodeInput);
}

/**
 * A whole tree kept level by level, so the root and the proof of every leaf come from
 * one pass of hashing: building n leaves costs n - 1 node hashes, and each proof is
 * then only a read of the siblings on the leaf's way up.
 *
 * Bottom-up pairing, with a level's odd last node carried up unchanged, builds exactly
 * RFC 6962's MTH (split at the largest power of two smaller than n).
 */
export class MerkleTree {
  /** levels[0] holds the leaf hashes; each level is a flat array of 32-byte hashes. */
  readonly #levels: Uint8Array[];
  readonly size: number;

  private constructor(levels: Uint8Array[], size: number) {
    this.#levels = levels;
    this.size = size;
  }

  /** Requires at least one leaf hash, each 32 bytes: a batch is never empty. */
  static fromLeafHashes(leafHashes: readonly Uint8Array[]): MerkleTree {
    const leaves = new Uint8Array(leafHashes.length * HASH_SIZE);
    leafHashes.forEach((h, i) => {
      checkHash(h, `leaf hash ${i}`);
      leaves.set(h, i * HASH_SIZE);
    });
    return MerkleTree.fromFlatLeafHashes(leaves);
  }

  /**
   * The same from the leaf hashes laid end to end (32 bytes each), which large batches
   * fill without creating an object per leaf. The tree keeps `leaves`: do not modify it.
   */
  static fromFlatLeafHashes(leaves: Uint8Array): MerkleTree {
    if (leaves.length === 0) throw new EvidenceError("INVALID_ARGUMENT", "a tree needs at least one leaf");
    if (leaves.length % HASH_SIZE !== 0) {
      throw new EvidenceError("INVALID_ARGUMENT", `flat leaf hashes must be a multiple of ${HASH_SIZE} bytes`);
    }
    const levels = [leaves];
    let level = leaves;
    while (level.length > HASH_SIZE) {
      const count = level.length / HASH_SIZE;
      const next = new Uint8Array(Math.ceil(count / 2) * HASH_SIZE);
      for (let i = 0; i + 1 < count; i += 2) {
        nodeInput.set(level.subarray(i * HASH_SIZE, (i + 2) * HASH_SIZE), 1);
        next.set(sha256(nodeInput), (i / 2) * HASH_SIZE);
      }
      if (count % 2 === 1) next.set(level.subarray((count - 1) * HASH_SIZE), next.length - HASH_SIZE);
      levels.push(next);
      level = next;
    }
    return new MerkleTree(levels, leaves.length / HASH_SIZE);
  }

  root(): Uint8Array {
    return this.#levels[this.#levels.length - 1]!.slice(0, HASH_SIZE);
  }

  /**
   * The levels from `height` up to the root (level 0 holds the leaf hashes), each a flat
   * array of hashes: with them and the leaves of one 2^height-leaf block, any leaf's proof
   * can be read (see upperProof). Views into the tree: do not modify them.
   */
  levelsFrom(height: number): Uint8Array[] {
    return this.#levels.slice(Math.min(height, this.#levels.length - 1));
  }

  /**
   * The RFC 6962 audit path for leaf `index`, from the leaf's sibling up. Requires
   * 0 <= index < size. The hashes are views into the tree (no copies: a batch asks for
   * every leaf's path); do not modify them.
   */
  inclusionProof(index: number): Uint8Array[] {
    if (!Number.isSafeInteger(index) || index < 0 || index >= this.size) {
      throw new EvidenceError("INVALID_ARGUMENT", `leaf index ${index} is outside a tree of size ${this.size}`);
    }
    const path: Uint8Array[] = [];
    let i = index;
    for (const level of this.#levels.slice(0, -1)) {
      const sibling = i ^ 1;
      // A node without a sibling on its level is carried up: no proof element there.
      if (sibling * HASH_SIZE < level.length) {
        path.push(level.subarray(sibling * HASH_SIZE, (sibling + 1) * HASH_SIZE));
      }
      i >>>= 1;
    }
    return path;
  }
}

/**
 * The part of leaf `index`'s audit path above its 2^height-leaf block, read from a tree's
 * levels from `height` up ({@link MerkleTree.levelsFrom}, laid end to end). Below that
 * height, a leaf's siblings all lie in its own block, so the path is the block's own tree's
 * path followed by this one. `size` is the whole tree's.
 */
export function upperProof(upper: Uint8Array, size: number, height: number, index: number): Uint8Array[] {
  const path: Uint8Array[] = [];
  let count = Math.max(1, Math.ceil(size / 2 ** height));
  let node = Math.floor(index / 2 ** height);
  let offset = 0;
  while (count > 1) {
    const sibling = node ^ 1;
    if (sibling < count) path.push(upper.subarray(offset + sibling * HASH_SIZE, offset + (sibling + 1) * HASH_SIZE));
    offset += count * HASH_SIZE;
    count = Math.ceil(count / 2);
    node >>>= 1;
  }
  return path;
}

/** RFC 6962 MTH of the given leaf hashes. */
export function merkleRoot(leafHashes: readonly Uint8Array[]): Uint8Array {
  return MerkleTree.fromLeafHashes(leafHashes).root();
}

/**
 * The root that an inclusion proof leads to, per RFC 9162 section 2.1.3.2.
 * Requires 0 <= index < size and a proof of exactly the length (index, size) needs;
 * throws INVALID_PROOF before any hashing otherwise.
 */
export function rootFromInclusionProof(
  index: number,
  size: number,
  leafHash: Uint8Array,
  proof: readonly Uint8Array[],
): Uint8Array {
  checkPosition(index, size);
  checkHash(leafHash, "leaf hash");
  proof.forEach((p, i) => checkHash(p, `proof element ${i}`));
  return chainProof(index, size, leafHash, proof, hashChildren);
}

/**
 * The same walk over hashes in any form: `children(left, right)` is the interior node's hash
 * (the verifier walks hex text, and remembers the nodes a batch's proofs share). Throws
 * INVALID_PROOF for an index outside the tree or a proof of the wrong length.
 */
export function chainProof<H>(
  index: number,
  size: number,
  leafHash: H,
  proof: readonly H[],
  children: (left: H, right: H) => H,
): H {
  checkPosition(index, size);
  const { inner, border } = decomposeInclusionProof(index, size);
  if (proof.length !== inner + border) {
    throw invalidProof(`wrong proof size ${proof.length}, want ${inner + border} for leaf ${index} of ${size}`);
  }
  let node = leafHash;
  // The inner part: bit i of the index says on which side sibling i is.
  for (let i = 0; i < inner; i++) {
    node = Math.floor(index / 2 ** i) % 2 === 0 ? children(node, proof[i]!) : children(proof[i]!, node);
  }
  // The border part: on the right border every sibling is on the left.
  for (let i = inner; i < proof.length; i++) node = children(proof[i]!, node);
  return node;
}

/** Throws INVALID_PROOF unless the proof leads from `leafHash` to `root`. */
export function verifyInclusion(
  index: number,
  size: number,
  leafHash: Uint8Array,
  proof: readonly Uint8Array[],
  root: Uint8Array,
): void {
  checkHash(root, "root");
  const calculated = rootFromInclusionProof(index, size, leafHash, proof);
  if (!equalBytes(calculated, root)) throw invalidProof("the proof leads to a different root");
}

/**
 * Splits a proof into the part below the point where the leaf's path and the tree's
 * right border meet (inner: siblings on either side) and the part above it (border:
 * siblings always on the left).
 */
function decomposeInclusionProof(index: number, size: number): { inner: number; border: number } {
  // BigInt: JavaScript's bitwise operators truncate to 32 bits, tree sizes may not.
  const inner = bitLength(BigInt(index) ^ BigInt(size - 1));
  const border = popCount(BigInt(index) >> BigInt(inner));
  return { inner, border };
}

function bitLength(n: bigint): number {
  return n === 0n ? 0 : n.toString(2).length;
}

function popCount(n: bigint): number {
  return [...n.toString(2)].filter((bit) => bit === "1").length;
}

function checkPosition(index: number, size: number): void {
  if (!Number.isSafeInteger(size) || size < 1) throw invalidProof(`tree size ${size} must be a positive integer`);
  if (!Number.isSafeInteger(index) || index < 0 || index >= size) {
    throw invalidProof(`leaf index ${index} is outside a tree of size ${size}`);
  }
}

function checkHash(h: Uint8Array, what: string): void {
  if (!(h instanceof Uint8Array)) throw new TypeError(`${what}: expected Uint8Array`);
  if (h.length !== HASH_SIZE) {
    throw invalidProof(`${what}: expected Uint8Array of length ${HASH_SIZE}, got length=${h.length}`);
  }
}

function invalidProof(message: string): EvidenceError {
  return new EvidenceError("INVALID_PROOF", message);
}
