import { expect } from "chai";
import { readFileSync } from "node:fs";
import { network } from "hardhat";
import { MerkleTree, fromHex32, hashLeaf, toHex32, verifyInclusion } from "../../service/core/index.ts";
import { rfc6962, type InclusionCase } from "../helpers/vectors.ts";

const { ethers, networkHelpers } = await network.create();

const ANCHORER_ROLE = ethers.id("ANCHORER_ROLE");
const DEFAULT_ADMIN_ROLE = ethers.ZeroHash;
const ROOT = ethers.sha256(ethers.toUtf8Bytes("a root"));

async function fixture() {
  const [admin, anchorer, outsider] = await ethers.getSigners();
  const contract = await ethers.deployContract("EvidenceAnchor", [admin!.address]);
  await contract.grantRole(ANCHORER_ROLE, anchorer!.address);
  return { contract, admin: admin!, anchorer: anchorer!, outsider: outsider! };
}

describe("EvidenceAnchor", () => {
  it("is deployed by the service from contracts/build/, which equals the compiled contract", () => {
    // node scripts/export-artifact.ts refreshes it after a change to the contract.
    const read = (file: string) => JSON.parse(readFileSync(new URL(file, import.meta.url), "utf8"));
    const compiled = read("../../artifacts/contracts/EvidenceAnchor.sol/EvidenceAnchor.json");
    const committed = read("../../contracts/build/EvidenceAnchor.json");
    expect(committed.bytecode).to.equal(compiled.bytecode);
    expect(committed.deployedBytecode).to.equal(compiled.deployedBytecode);
    expect(committed.abi).to.deep.equal(compiled.abi);
  });

  describe("roles", () => {
    it("exposes ANCHORER_ROLE as keccak256('ANCHORER_ROLE')", async () => {
      const { contract } = await networkHelpers.loadFixture(fixture);
      expect(await contract.ANCHORER_ROLE()).to.equal(ANCHORER_ROLE);
    });

    it("gives the constructor's admin DEFAULT_ADMIN_ROLE and nothing else", async () => {
      const { contract, admin } = await networkHelpers.loadFixture(fixture);
      expect(await contract.hasRole(DEFAULT_ADMIN_ROLE, admin.address)).to.equal(true);
      expect(await contract.hasRole(ANCHORER_ROLE, admin.address)).to.equal(false);
    });

    it("lets the admin grant and revoke ANCHORER_ROLE", async () => {
      const { contract, admin, outsider } = await networkHelpers.loadFixture(fixture);
      await expect(contract.grantRole(ANCHORER_ROLE, outsider.address))
        .to.emit(contract, "RoleGranted")
        .withArgs(ANCHORER_ROLE, outsider.address, admin.address);
      await contract.connect(outsider).anchor(ROOT, 1);
      await expect(contract.revokeRole(ANCHORER_ROLE, outsider.address))
        .to.emit(contract, "RoleRevoked")
        .withArgs(ANCHORER_ROLE, outsider.address, admin.address);
      await expect(contract.connect(outsider).anchor(ethers.sha256(ROOT), 1))
        .to.be.revertedWithCustomError(contract, "AccessControlUnauthorizedAccount")
        .withArgs(outsider.address, ANCHORER_ROLE);
    });

    it("refuses anchor() from an account without ANCHORER_ROLE, the admin included", async () => {
      const { contract, admin, outsider } = await networkHelpers.loadFixture(fixture);
      for (const caller of [admin, outsider]) {
        await expect(contract.connect(caller).anchor(ROOT, 1))
          .to.be.revertedWithCustomError(contract, "AccessControlUnauthorizedAccount")
          .withArgs(caller.address, ANCHORER_ROLE);
      }
    });

    it("refuses role changes by a non-admin", async () => {
      const { contract, anchorer, outsider } = await networkHelpers.loadFixture(fixture);
      await expect(contract.connect(anchorer).grantRole(ANCHORER_ROLE, outsider.address))
        .to.be.revertedWithCustomError(contract, "AccessControlUnauthorizedAccount")
        .withArgs(anchorer.address, DEFAULT_ADMIN_ROLE);
    });
  });

  describe("anchor", () => {
    it("records the block's timestamp and number with the tree size, and emits Anchored", async () => {
      const { contract, anchorer } = await networkHelpers.loadFixture(fixture);
      const timestamp = (await networkHelpers.time.latest()) + 100;
      await networkHelpers.time.setNextBlockTimestamp(timestamp);
      const tx = contract.connect(anchorer).anchor(ROOT, 8);
      await expect(tx).to.emit(contract, "Anchored").withArgs(ROOT, anchorer.address, 8, timestamp);
      const receipt = await (await tx).wait();
      expect(await contract.anchorOf(ROOT)).to.deep.equal([BigInt(timestamp), BigInt(receipt!.blockNumber), 8n]);
    });

    it("answers zeros from anchorOf for a root never anchored", async () => {
      const { contract } = await networkHelpers.loadFixture(fixture);
      expect(await contract.anchorOf(ROOT)).to.deep.equal([0n, 0n, 0n]);
    });

    it("rejects a root anchored before, keeping the first anchor", async () => {
      const { contract, anchorer } = await networkHelpers.loadFixture(fixture);
      await contract.connect(anchorer).anchor(ROOT, 3);
      const first = await contract.anchorOf(ROOT);
      await expect(contract.connect(anchorer).anchor(ROOT, 4))
        .to.be.revertedWithCustomError(contract, "EvidenceAnchorAlreadyAnchored")
        .withArgs(ROOT);
      expect(await contract.anchorOf(ROOT)).to.deep.equal(first);
    });

    it("rejects the zero root", async () => {
      const { contract, anchorer } = await networkHelpers.loadFixture(fixture);
      await expect(contract.connect(anchorer).anchor(ethers.ZeroHash, 1)).to.be.revertedWithCustomError(
        contract,
        "EvidenceAnchorZeroRoot",
      );
    });

    it("rejects an empty tree", async () => {
      const { contract, anchorer } = await networkHelpers.loadFixture(fixture);
      await expect(contract.connect(anchorer).anchor(ROOT, 0)).to.be.revertedWithCustomError(
        contract,
        "EvidenceAnchorEmptyTree",
      );
    });

    it("accepts the largest tree size a uint64 holds", async () => {
      const { contract, anchorer } = await networkHelpers.loadFixture(fixture);
      await contract.connect(anchorer).anchor(ROOT, 2n ** 64n - 1n);
      expect((await contract.anchorOf(ROOT))[2]).to.equal(2n ** 64n - 1n);
    });

    it("uses at most 52,000 gas for a fresh root", async () => {
      const { contract, anchorer } = await networkHelpers.loadFixture(fixture);
      const receipt = await (await contract.connect(anchorer).anchor(ROOT, 10_000)).wait();
      // The README quotes this figure.
      expect(Number(receipt!.gasUsed)).to.be.at.most(52_000);
    });

    it("keeps anchors apart for random roots and sizes (property)", async () => {
      const { contract, anchorer } = await networkHelpers.loadFixture(fixture);
      const anchored = new Map<string, bigint>();
      for (let i = 0; i < 40; i++) {
        const root = ethers.hexlify(ethers.randomBytes(32));
        const size = BigInt(ethers.toBigInt(ethers.randomBytes(8)) || 1n);
        await contract.connect(anchorer).anchor(root, size);
        anchored.set(root, size);
      }
      for (const [root, size] of anchored) {
        const [timestamp, blockNumber, treeSize] = await contract.anchorOf(root);
        expect(treeSize).to.equal(size);
        expect(timestamp).to.be.greaterThan(0n);
        expect(blockNumber).to.be.greaterThan(0n);
      }
    });
  });

  describe("verifyInclusion", () => {
    const check = async (c: InclusionCase) => {
      const { contract } = await networkHelpers.loadFixture(fixture);
      return contract.verifyInclusion(c.leafHash, c.leafIndex, c.treeSize, c.path, c.root);
    };

    it("accepts every RFC 6962 inclusion proof of the CT vectors (every index, sizes 1-8)", async () => {
      for (const c of rfc6962.inclusion()) expect(await check(c), c.desc).to.equal(true);
    });

    it("rejects every mutation in the corpus", async () => {
      // uint64 cannot carry a negative index: those mutations cannot even be sent.
      const sendable = rfc6962.mutations().filter((c) => c.leafIndex >= 0);
      for (const c of sendable) expect(await check(c), c.desc).to.equal(false);
    });

    it("agrees with RFC 9162 that proofs do not commit to the tree size", async () => {
      for (const c of rfc6962.sizeNotCommitted()) expect(await check(c), c.desc).to.equal(true);
    });

    it("agrees with the TypeScript verifier on random trees up to 1,000 leaves, every index, on valid and on altered proofs", async () => {
      const { contract } = await networkHelpers.loadFixture(fixture);
      const sizes = [1, 2, 3, 5, 17, 64, 100, 257, 1000];
      const typescript = (c: InclusionCase) => {
        try {
          verifyInclusion(c.leafIndex, c.treeSize, fromHex32(c.leafHash), c.path.map((h) => fromHex32(h)), fromHex32(c.root));
          return true;
        } catch {
          return false;
        }
      };
      const flip = (hex: string) => `${hex.slice(0, -1)}${hex.endsWith("0") ? "1" : "0"}`;
      let accepted = 0;
      let rejected = 0;
      for (const size of sizes) {
        const leaves = Array.from({ length: size }, () => hashLeaf(ethers.randomBytes(24)));
        const tree = MerkleTree.fromLeafHashes(leaves);
        const root = toHex32(tree.root());
        const cases: InclusionCase[] = leaves.flatMap((leaf, i) => {
          const valid = { desc: `${i} of ${size}`, leafIndex: i, treeSize: size, leafHash: toHex32(leaf), path: tree.inclusionProof(i).map(toHex32), root };
          const altered: InclusionCase[] = [
            { ...valid, desc: `${valid.desc}, another leaf`, leafHash: flip(valid.leafHash) },
            { ...valid, desc: `${valid.desc}, another root`, root: flip(root) },
          ];
          if (valid.path.length > 0) {
            const k = i % valid.path.length;
            altered.push({ ...valid, desc: `${valid.desc}, path[${k}] altered`, path: valid.path.map((p, j) => (j === k ? flip(p) : p)) });
          }
          if (size > 1) altered.push({ ...valid, desc: `${valid.desc}, the next index`, leafIndex: (i + 1) % size });
          return [valid, ...altered];
        });
        const onChain = await Promise.all(
          cases.map((c) => contract.verifyInclusion(c.leafHash, c.leafIndex, c.treeSize, c.path, c.root)),
        );
        const disagreements = cases.filter((c, i) => onChain[i] !== typescript(c)).map((c) => c.desc);
        expect(disagreements, `size ${size}`).to.deep.equal([]);
        expect(onChain.filter(Boolean).length, `size ${size}: only the valid proofs pass`).to.equal(size);
        accepted += size;
        rejected += cases.length - size;
      }
      expect([accepted, rejected]).to.deep.equal([1449, 2 + 4 * 1448]);
    });
  });
});
