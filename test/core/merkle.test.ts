import { expect } from "chai";
import { createHash, randomBytes } from "node:crypto";
import {
  chainProof,
  EvidenceError,
  fromHex32,
  hashChildren,
  hashLeaf,
  hexToBytes,
  MerkleTree,
  merkleRoot,
  rootFromInclusionProof,
  toHex32,
  upperProof,
  verifyInclusion,
} from "../../service/core/index.ts";
import { rfc6962, type InclusionCase } from "../helpers/vectors.ts";

const tree = rfc6962.tree();
const leafHashes = tree.leafHashes.map((h) => fromHex32(h));

/** RFC 6962 section 2.1 MTH, transcribed literally, as an oracle for random trees. */
function referenceRoot(hashes: Uint8Array[]): Uint8Array {
  if (hashes.length === 1) return hashes[0]!;
  let k = 1;
  while (k * 2 < hashes.length) k *= 2;
  return hashChildren(referenceRoot(hashes.slice(0, k)), referenceRoot(hashes.slice(k)));
}

function verifyCase(c: InclusionCase): void {
  // Vectors may hold hashes of the wrong length on purpose: decode without checking.
  const bytes = (h: string) => hexToBytes(h.slice(2));
  verifyInclusion(c.leafIndex, c.treeSize, bytes(c.leafHash), c.path.map(bytes), bytes(c.root));
}

describe("RFC 6962 Merkle tree", () => {
  describe("hashLeaf and hashChildren", () => {
    it("hash a leaf as SHA-256(0x00 || data)", () => {
      // echo -n 00 | xxd -r -p | sha256sum
      expect(toHex32(hashLeaf(new Uint8Array()))).to.equal(
        "0x6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
      );
    });

    it("hash a node as SHA-256(0x01 || left || right)", () => {
      const [a, b] = [leafHashes[0]!, leafHashes[1]!];
      const want = createHash("sha256")
        .update(Buffer.from([1]))
        .update(a)
        .update(b)
        .digest();
      expect(Buffer.from(hashChildren(a, b)).equals(want)).to.equal(true);
    });
  });

  describe("merkleRoot", () => {
    it("matches Certificate Transparency's published root of all eight test leaves", () => {
      expect(toHex32(merkleRoot(leafHashes))).to.equal(
        "0x5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
      );
    });

    it("has the vectors' empty-tree root equal to SHA-256 of nothing (RFC 6962 MTH({}))", () => {
      // printf '' | sha256sum
      expect(tree.emptyRoot).to.equal("0xe3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
      expect(tree.emptyRoot).to.equal(`0x${createHash("sha256").digest("hex")}`);
    });

    it("matches the known root of every size 1-8", () => {
      for (let n = 1; n <= 8; n++) {
        expect(toHex32(merkleRoot(leafHashes.slice(0, n))), `size ${n}`).to.equal(tree.roots[String(n)]);
      }
    });

    it("is the same from leaf hashes laid end to end (fromFlatLeafHashes)", () => {
      const flat = new Uint8Array(8 * 32);
      leafHashes.forEach((h, i) => flat.set(h, i * 32));
      expect(toHex32(MerkleTree.fromFlatLeafHashes(flat).root())).to.equal(tree.roots["8"]);
      expect(() => MerkleTree.fromFlatLeafHashes(new Uint8Array(33))).to.throw(/multiple of 32 bytes/);
      expect(() => MerkleTree.fromFlatLeafHashes(new Uint8Array(0))).to.throw(/at least one leaf/);
    });

    it("refuses an empty tree (a batch is never empty)", () => {
      expect(() => merkleRoot([]))
        .to.throw(EvidenceError)
        .with.property("code", "INVALID_ARGUMENT");
    });

    it("refuses a leaf hash that is not 32 bytes", () => {
      expect(() => merkleRoot([new Uint8Array(31)])).to.throw(/expected Uint8Array of length 32, got length=31/);
    });

    it("agrees with the literal RFC definition on random trees up to 300 leaves", () => {
      for (let n = 1; n <= 300; n += 7) {
        const hashes = Array.from({ length: n }, () => hashLeaf(randomBytes(8)));
        expect(toHex32(merkleRoot(hashes)), `size ${n}`).to.equal(toHex32(referenceRoot(hashes)));
      }
    });
  });

  describe("MerkleTree.inclusionProof", () => {
    it("produces the known proof for every index of every size 1-8", () => {
      for (const c of rfc6962.inclusion()) {
        const t = MerkleTree.fromLeafHashes(leafHashes.slice(0, c.treeSize));
        expect(t.inclusionProof(c.leafIndex).map(toHex32), c.desc).to.deep.equal(c.path);
      }
    });

    it("refuses an index outside the tree", () => {
      const t = MerkleTree.fromLeafHashes(leafHashes.slice(0, 3));
      for (const index of [-1, 3, 1.5]) {
        expect(() => t.inclusionProof(index)).to.throw(EvidenceError, /outside a tree of size 3/);
      }
    });

    it("proves every index of random trees up to 1,000 leaves", () => {
      for (const n of [1, 2, 3, 4, 5, 31, 32, 33, 999, 1000]) {
        const hashes = Array.from({ length: n }, () => hashLeaf(randomBytes(8)));
        const t = MerkleTree.fromLeafHashes(hashes);
        for (let i = 0; i < n; i++) verifyInclusion(i, n, hashes[i]!, t.inclusionProof(i), t.root());
      }
    });
  });

  describe("verifyInclusion (RFC 9162 2.1.3.2)", () => {
    it("accepts every known proof", () => {
      for (const c of rfc6962.inclusion()) expect(() => verifyCase(c), c.desc).not.to.throw();
    });

    it("rejects every mutation in the corpus with INVALID_PROOF", () => {
      const failures = rfc6962.mutations().filter((c) => {
        try {
          verifyCase(c);
          return true;
        } catch (e) {
          return !(e instanceof EvidenceError && e.code === "INVALID_PROOF");
        }
      });
      expect(failures.map((c) => c.desc)).to.deep.equal([]);
    });

    it("accepts size-only mutations, since proofs do not commit to the tree size", () => {
      for (const c of rfc6962.sizeNotCommitted()) expect(() => verifyCase(c), c.desc).not.to.throw();
    });

    it("checks preconditions before hashing: index < size, 32-byte hashes, exact path length", () => {
      const leaf = leafHashes[0]!;
      expect(() => rootFromInclusionProof(1, 1, leaf, [])).to.throw(/leaf index 1 is outside a tree of size 1/);
      expect(() => rootFromInclusionProof(0, 0, leaf, [])).to.throw(/tree size 0/);
      expect(() => rootFromInclusionProof(0, 2, leaf, [])).to.throw(/wrong proof size 0, want 1/);
      expect(() => rootFromInclusionProof(0, 2, leaf, [new Uint8Array(33)])).to.throw(/got length=33/);
      // The index and the size are judged before the hashes' lengths.
      expect(() => rootFromInclusionProof(0, 0, new Uint8Array(31), [])).to.throw(/tree size 0/);
      expect(() => rootFromInclusionProof(5, 2, leaf, [new Uint8Array(3)])).to.throw(/leaf index 5 is outside/);
    });

    it("walks a proof the same whatever form its hashes take: chainProof over hex text gives rootFromInclusionProof's root", () => {
      const hexNode = (left: string, right: string) => toHex32(hashChildren(fromHex32(left), fromHex32(right)));
      for (const n of [1, 2, 3, 7, 8, 9, 100]) {
        const hashes = Array.from({ length: n }, () => hashLeaf(randomBytes(8)));
        const t = MerkleTree.fromLeafHashes(hashes);
        for (let i = 0; i < n; i++) {
          const proof = t.inclusionProof(i);
          expect(chainProof(i, n, toHex32(hashes[i]!), proof.map(toHex32), hexNode)).to.equal(
            toHex32(rootFromInclusionProof(i, n, hashes[i]!, proof)),
          );
        }
      }
      expect(() => chainProof(0, 2, "a", [], hexNode)).to.throw(EvidenceError, /wrong proof size 0, want 1/);
    });

    it("handles the smallest tree: size 1, empty path, root = leaf hash", () => {
      expect(() => verifyInclusion(0, 1, leafHashes[0]!, [], leafHashes[0]!)).not.to.throw();
    });

    it("computes path lengths for tree sizes beyond 32 bits", () => {
      // Leaf 2^40 of 2^40 + 3: two inner levels (index XOR last = 0b10), one border level.
      const size = 2 ** 40 + 3;
      expect(() => rootFromInclusionProof(2 ** 40, size, leafHashes[0]!, [])).to.throw(/wrong proof size 0, want 3/);
    });
  });
});

describe("MerkleTree.levelsFrom / upperProof", () => {
  it("give, with each block's own tree, every leaf's inclusion proof, for sizes around block boundaries", () => {
    for (const height of [0, 1, 3]) {
      for (const size of [1, 2, 3, 7, 8, 9, 15, 16, 17, 31, 33, 64, 100]) {
        const leaves = Array.from({ length: size }, (_, i) => hashLeaf(new Uint8Array([i, size, height])));
        const tree = MerkleTree.fromLeafHashes(leaves);
        const levels = tree.levelsFrom(height);
        const upper = new Uint8Array(levels.reduce((n, l) => n + l.length, 0));
        levels.reduce((at, l) => (upper.set(l, at), at + l.length), 0);
        const block = 2 ** height;
        for (let i = 0; i < size; i++) {
          const first = Math.floor(i / block) * block;
          const own = MerkleTree.fromLeafHashes(leaves.slice(first, Math.min(size, first + block)));
          const proof = [...own.inclusionProof(i - first), ...upperProof(upper, size, height, i)];
          expect(proof.map(toHex32), `leaf ${i} of ${size}, blocks of ${block}`).to.deep.equal(
            tree.inclusionProof(i).map(toHex32),
          );
        }
      }
    }
  });
});
