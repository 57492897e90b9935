#!/usr/bin/env python3
"""Generates the RFC 6962 test vectors in test/vectors/rfc6962/.

Independent of the TypeScript and Solidity code under test: Python's hashlib and the
recursive definitions of RFC 6962 section 2.1 (MTH) and 2.1.1 (PATH), transcribed
literally; RFC 9162 section 2.1.3.2 decides which mutations a correct verifier rejects.

    python3 scripts/vectors/rfc6962.py
"""
import hashlib
import json
import os

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "test", "vectors", "rfc6962")

# The leaves of Certificate Transparency's own Merkle tests (merkle_tree_test.cc).
LEAVES = ["", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f"]


def sha256(b: bytes) -> bytes:
    return hashlib.sha256(b).digest()


def leaf_hash(data: bytes) -> bytes:
    return sha256(b"\x00" + data)


def node_hash(left: bytes, right: bytes) -> bytes:
    return sha256(b"\x01" + left + right)


def split(n: int) -> int:
    """The largest power of two smaller than n (n > 1)."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def mth(hashes: list) -> bytes:
    """RFC 6962 section 2.1, over leaf hashes."""
    if len(hashes) == 0:
        return sha256(b"")
    if len(hashes) == 1:
        return hashes[0]
    k = split(len(hashes))
    return node_hash(mth(hashes[:k]), mth(hashes[k:]))


def path(m: int, hashes: list) -> list:
    """RFC 6962 section 2.1.1 PATH(m, D[n])."""
    n = len(hashes)
    if n == 1:
        return []
    k = split(n)
    if m < k:
        return path(m, hashes[:k]) + [mth(hashes[k:])]
    return path(m - k, hashes[k:]) + [mth(hashes[:k])]


def verify(index: int, size: int, leaf: bytes, proof: list, root: bytes) -> bool:
    """RFC 9162 section 2.1.3.2, step by step."""
    if index < 0 or size < 1 or index >= size:
        return False
    if len(leaf) != 32 or len(root) != 32 or any(len(p) != 32 for p in proof):
        return False
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 == 1 or fn == sn:
            r = node_hash(p, r)
            while not (fn & 1 == 1 or fn == 0):
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def hx(b: bytes) -> str:
    return "0x" + b.hex()


def flip(b: bytes, bit: int) -> bytes:
    out = bytearray(b)
    out[bit // 8] ^= 0x80 >> (bit % 8)
    return bytes(out)


def mutations(index: int, size: int, leaf: bytes, proof: list, root: bytes):
    other = sha256(b"not a leaf of this tree")
    yield "wrong-leaf", index, size, leaf_hash(b"not a leaf of this tree"), proof, root
    yield "leaf-bit-flipped", index, size, flip(leaf, 0), proof, root
    yield "wrong-root", index, size, leaf, proof, other
    yield "root-bit-flipped@255", index, size, leaf, proof, flip(root, 255)
    for i in range(len(proof)):
        for bit in (0, 7, 255):
            mutated = list(proof)
            mutated[i] = flip(proof[i], bit)
            yield f"proof-bit-flipped@{i}-bit{bit}", index, size, leaf, mutated, root
    if proof:
        yield "proof-truncated", index, size, leaf, proof[:-1], root
        yield "proof-first-removed", index, size, leaf, proof[1:], root
        yield "empty-proof", index, size, leaf, [], root
        if len(proof) > 1:
            yield "proof-reversed", index, size, leaf, list(reversed(proof)), root
    yield "extra-element-before", index, size, leaf, [other] + proof, root
    yield "extra-element-after", index, size, leaf, proof + [other], root
    yield "trailing-root-appended", index, size, leaf, proof + [root], root
    yield "leafIndex+1", index + 1, size, leaf, proof, root
    yield "leafIndex-1", index - 1, size, leaf, proof, root
    yield "leafIndex-XOR-1", index ^ 1, size, leaf, proof, root
    yield "leafIndex-XOR-2", index ^ 2, size, leaf, proof, root
    yield "leafIndex=treeSize", size, size, leaf, proof, root
    yield "treeSize+1", index, size + 1, leaf, proof, root
    yield "treeSize-1", index, size - 1, leaf, proof, root
    yield "treeSize*2", index, size * 2, leaf, proof, root
    yield "treeSize/2", index, size // 2, leaf, proof, root
    yield "treeSize=0", index, 0, leaf, proof, root


def case(desc, index, size, leaf, proof, root):
    return {"desc": desc, "leafIndex": index, "treeSize": size, "leafHash": hx(leaf),
            "path": [hx(p) for p in proof], "root": hx(root)}


def main():
    leaves = [bytes.fromhex(x) for x in LEAVES]
    hashes = [leaf_hash(x) for x in leaves]
    roots = {str(n): hx(mth(hashes[:n])) for n in range(1, 9)}
    write("tree.json", {
        "source": "Certificate Transparency merkle_tree_test.cc leaves; hashes by scripts/vectors/rfc6962.py",
        "leaves": LEAVES,
        "leafHashes": [hx(h) for h in hashes],
        "emptyRoot": hx(mth([])),
        "roots": roots,
    })
    inclusion, rejected, accepted = [], [], []
    for n in range(1, 9):
        root = mth(hashes[:n])
        for m in range(n):
            proof = path(m, hashes[:n])
            assert verify(m, n, hashes[m], proof, root)
            inclusion.append(case(f"leaf-{m}-of-{n}", m, n, hashes[m], proof, root))
            for desc, *args in mutations(m, n, hashes[m], proof, root):
                entry = case(f"{desc} (leaf {m} of {n})", *args)
                # RFC 6962 proofs do not commit to the tree size: where a size change keeps the
                # same proof shape, the proof still verifies. The anchor's recorded tree size
                # is what catches that, so those cases are kept apart.
                (accepted if verify(*args) else rejected).append(entry)
    assert all(not e["desc"].startswith(("wrong", "leaf-bit", "root-bit", "proof-bit")) for e in accepted)
    write("inclusion.json", {"source": "RFC 6962 section 2.1.1 PATH over tree.json", "cases": inclusion})
    write("mutations.json", {
        "source": "mutations of inclusion.json; every one is rejected by RFC 9162 section 2.1.3.2",
        "cases": rejected,
    })
    write("size-not-committed.json", {
        "source": "mutations of inclusion.json that RFC 9162 section 2.1.3.2 still accepts: the proof "
                  "does not commit to the tree size, the anchor does",
        "cases": accepted,
    })
    print(f"{len(inclusion)} proofs, {len(rejected)} rejected mutations, {len(accepted)} size-only mutations")


def write(name, value):
    with open(os.path.join(OUT, name), "w") as f:
        json.dump(value, f, indent=2)
        f.write("\n")


if __name__ == "__main__":
    main()
