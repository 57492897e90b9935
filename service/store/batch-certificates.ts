import {
  certificateOfLeaf,
  fromHex32,
  MerkleTree,
  upperProof,
  type BatchStatement,
  type Certificate,
  type CertificateHistoryEntry,
  type EvidenceRecord,
  type EvidenceStatus,
  type Hex32,
  type IssueReason,
  type SignedBatchStatement,
  toHex32,
} from "../core/index.ts";

/**
 * Version 2 certificates as both store engines keep them (migration "batch certificates"):
 * a batch is certified by its signed statement, stored once, and its tree's levels from
 * blocks of 2^8 leaves up; an item's certificate is assembled when it is read, from its
 * record and leaf hash (fixed since intake) and its proof — the path within its block,
 * computed from the block's 256 leaf hashes, then the path above, read from those levels.
 * Certifying a batch of 100,000 items so writes two rows, not 100,000 certificates.
 */

/** Blocks of 256 leaves: a read hashes at most 255 nodes; 100,000 leaves keep 25 KB of upper levels. */
export const BLOCK_HEIGHT = 8;

/** What the anchorer hands a store to certify a batch in version 2: the signed statement and the batch's tree. */
export interface SignedBatch extends SignedBatchStatement {
  tree: MerkleTree;
}

/** Version 1 certificates, one per item, or a version 2 batch statement. */
export type BatchCertificates = readonly Certificate[] | SignedBatch;

export function isSignedBatch(issued: BatchCertificates): issued is SignedBatch {
  return !Array.isArray(issued);
}

/** The tree's levels from the blocks up, end to end: what a store keeps of it. */
export function upperLevelsOf(tree: MerkleTree): Uint8Array {
  const levels = tree.levelsFrom(BLOCK_HEIGHT);
  const out = new Uint8Array(levels.reduce((n, l) => n + l.length, 0));
  let at = 0;
  for (const level of levels) {
    out.set(level, at);
    at += level.length;
  }
  return out;
}

/** Checks that the statement is the batch's: its root and size are the tree's, and the stored root. */
export function checkSignedBatch(batchId: number, storedRoot: string, treeSize: number, signed: SignedBatch): void {
  const root = toHex32(signed.tree.root());
  if (
    root !== storedRoot ||
    signed.statement.root !== storedRoot ||
    signed.tree.size !== treeSize ||
    signed.statement.treeSize !== treeSize
  ) {
    throw new Error(`the statement and tree given are not those of batch ${batchId}`);
  }
}

/** The leaf indexes [first, end) of the block that holds `leafIndex`. */
export function blockOf(leafIndex: number, treeSize: number): { first: number; end: number } {
  const size = 2 ** BLOCK_HEIGHT;
  const first = Math.floor(leafIndex / size) * size;
  return { first, end: Math.min(treeSize, first + size) };
}

/** An item's parts, as stored, from which its version 2 certificates are assembled. */
export interface LeafParts {
  record: EvidenceRecord;
  leafHash: Hex32;
  leafIndex: number;
  treeSize: number;
  /** The leaf hashes of its block, in tree order (see blockOf). */
  blockLeafHashes: readonly Hex32[];
  /** The batch's upper levels (upperLevelsOf). */
  upper: Uint8Array;
}

/** The RFC 6962 audit path of the item: within its block, then above it. */
export function proofOf(parts: LeafParts): Uint8Array[] {
  const { first } = blockOf(parts.leafIndex, parts.treeSize);
  const block = MerkleTree.fromLeafHashes(parts.blockLeafHashes.map((h) => fromHex32(h)));
  return [
    ...block.inclusionProof(parts.leafIndex - first),
    ...upperProof(parts.upper, parts.treeSize, BLOCK_HEIGHT, parts.leafIndex),
  ];
}

/** One issue of a certificate as stored: an item's own (version 1), or its batch's statement (version 2). */
export type StoredIssue =
  | { kind: "item"; seq: number; reason: IssueReason; blockNumber: number; issuedAt: string; certificate: string }
  | {
      kind: "batch";
      seq: number;
      reason: IssueReason;
      blockNumber: number;
      issuedAt: string;
      statement: string;
      signature: string;
    };

/**
 * An item's certificate history, oldest first, from both kinds of issue: the last is the
 * one in force while the item is anchored. `parts` is asked only when a batch issue exists.
 */
export async function historyOf(
  issues: readonly StoredIssue[],
  status: EvidenceStatus,
  parts: () => Promise<LeafParts>,
): Promise<{ entry: CertificateHistoryEntry; certificate: Certificate }[]> {
  const ordered = [...issues].sort((a, b) =>
    a.issuedAt < b.issuedAt
      ? -1
      : a.issuedAt > b.issuedAt
        ? 1
        : a.kind === b.kind
          ? a.seq - b.seq
          : a.kind === "item"
            ? -1
            : 1,
  );
  let leaf: { parts: LeafParts; path: Uint8Array[] } | undefined;
  const out: { entry: CertificateHistoryEntry; certificate: Certificate }[] = [];
  for (const [i, issue] of ordered.entries()) {
    let certificate: Certificate;
    if (issue.kind === "item") certificate = JSON.parse(issue.certificate) as Certificate;
    else {
      if (!leaf) {
        const p = await parts();
        leaf = { parts: p, path: proofOf(p) };
      }
      certificate = certificateOfLeaf(leaf.parts, leaf.parts.leafIndex, leaf.path, {
        statement: JSON.parse(issue.statement) as BatchStatement,
        signature: issue.signature,
      });
    }
    out.push({
      entry: {
        issuedAt: issue.issuedAt,
        reason: issue.reason,
        current: i === ordered.length - 1 && status === "anchored",
        blockNumber: issue.blockNumber,
      },
      certificate,
    });
  }
  return out;
}
