import { expect } from "chai";
import { computeAddress, getAddress, recoverAddress, SigningKey } from "ethers";
import { secp256k1 } from "@noble/curves/secp256k1";
import {
  checksumAddress,
  isChecksumValid,
  madeBy,
  recoverSignerAddress,
  signerAddress,
  sizeBaseTableForFewSignatures,
} from "../../service/core/issuer-signature.ts";
import { seededRandom } from "../helpers/random.ts";

/** ethers 6's answer for the same input: the address, or "throws". */
function ethersRecover(digest: Uint8Array, signature: string): string {
  try {
    return recoverAddress(digest, signature);
  } catch {
    return "throws";
  }
}

function oursRecover(digest: Uint8Array, signature: string): string {
  try {
    return recoverSignerAddress(digest, signature);
  } catch {
    return "throws";
  }
}

function bytesOf(random: () => number, n: number): Uint8Array {
  return Uint8Array.from({ length: n }, () => Math.floor(random() * 256));
}

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");
// The order of secp256k1's group (SEC 2 §2.4.1).
const N = "fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141";

describe("recoverSignerAddress", () => {
  const random = seededRandom(7);
  const cases: { desc: string; digest: Uint8Array; signature: string; signer?: SigningKey }[] = [];
  for (let i = 0; i < 20; i++) {
    const key = new SigningKey(`0x${hex(bytesOf(random, 31))}01`);
    const digest = bytesOf(random, 32);
    const sig = key.sign(digest).serialized.slice(2);
    const [r, s, v] = [sig.slice(0, 64), sig.slice(64, 128), sig.slice(128)];
    const high = (BigInt(`0x${N}`) - BigInt(`0x${s}`)).toString(16).padStart(64, "0");
    cases.push(
      { desc: `signature ${i} as signed`, digest, signature: `0x${sig}`, signer: key },
      {
        desc: `signature ${i} with v as a recovery bit (0/1)`,
        digest,
        signature: `0x${r}${s}0${Number(`0x${v}`) - 27}`,
        signer: key,
      },
      {
        desc: `signature ${i} with the other v`,
        digest,
        signature: `0x${r}${s}${v === "1b" ? "1c" : "1b"}`,
        signer: key,
      },
      {
        desc: `signature ${i} with an EIP-155 v`,
        digest,
        signature: `0x${r}${s}${(35 + i).toString(16)}`,
        signer: key,
      },
      { desc: `signature ${i} with v = 29`, digest, signature: `0x${r}${s}1d`, signer: key },
      {
        desc: `signature ${i} with the high s of the same signature`,
        digest,
        signature: `0x${r}${high}${v}`,
        signer: key,
      },
      { desc: `signature ${i} over another digest`, digest: bytesOf(random, 32), signature: `0x${sig}`, signer: key },
      { desc: `signature ${i} in upper case`, digest, signature: `0x${sig.toUpperCase()}` },
    );
  }
  const key = new SigningKey(`0x${"22".repeat(32)}`);
  const digest = bytesOf(random, 32);
  const s = key.sign(digest).serialized.slice(66, 130);
  cases.push(
    { desc: "r = 0", digest, signature: `0x${"00".repeat(32)}${s}1b` },
    { desc: "s = 0", digest, signature: `0x${"11".repeat(32)}${"00".repeat(32)}1b` },
    { desc: "r = n", digest, signature: `0x${N}${s}1b` },
    { desc: "r with no point on the curve", digest, signature: `0x${"ff".repeat(32)}${s}1c` },
    { desc: "64 bytes", digest, signature: `0x${"11".repeat(64)}` },
    { desc: "not hex", digest, signature: `0x${"zz".repeat(65)}` },
  );
  for (let i = 0; i < 30; i++)
    cases.push({ desc: `random bytes ${i}`, digest, signature: `0x${hex(bytesOf(random, 65))}` });
  // Digests that are 0 modulo n: u1 = e/s is 0, and R = u2·Q alone.
  for (const [name, d] of [
    ["0", new Uint8Array(32)],
    ["n", Uint8Array.from(Buffer.from(N, "hex"))],
  ] as const) {
    const signer = new SigningKey(`0x${"55".repeat(32)}`);
    cases.push({ desc: `a digest of ${name} as signed`, digest: d, signature: signer.sign(d).serialized, signer });
  }

  /** The cases where recoverSignerAddress and ethers answer differently. */
  const disagreements = () =>
    cases
      .map((c) => ({
        desc: c.desc,
        ours: oursRecover(c.digest, c.signature),
        ethers: ethersRecover(c.digest, c.signature),
      }))
      .filter((r) => r.ours !== r.ethers);
  const keyOf = (k: SigningKey) => secp256k1.ProjectivePoint.fromHex(k.publicKey.slice(2));

  it("agrees with ethers' recoverAddress on every case: the address, or a refusal", () => {
    expect(disagreements()).to.deep.equal([]);
    expect(
      cases.filter((c) => oursRecover(c.digest, c.signature) === "throws").length,
      "some cases are refused",
    ).to.be.greaterThan(20);
    expect(
      cases.filter((c) => oursRecover(c.digest, c.signature) !== "throws").length,
      "most are recovered",
    ).to.be.greaterThan(60);
  });

  it("madeBy(key) is true only where ethers recovers that key's address, and true for every signature as signed", () => {
    const ofAKey = cases.filter((c) => c.signer !== undefined);
    const wrong = ofAKey.filter(
      (c) =>
        madeBy(keyOf(c.signer!), c.digest, c.signature) &&
        ethersRecover(c.digest, c.signature) !== computeAddress(c.signer!),
    );
    expect(wrong.map((c) => c.desc)).to.deep.equal([]);
    const asSigned = ofAKey.filter((c) => c.desc.endsWith("as signed"));
    expect(asSigned).to.have.length(22);
    for (const c of asSigned) expect(madeBy(keyOf(c.signer!), c.digest, c.signature), c.desc).to.equal(true);
    const other = keyOf(new SigningKey(`0x${"33".repeat(32)}`));
    for (const c of asSigned) expect(madeBy(other, c.digest, c.signature), `${c.desc}, another key`).to.equal(false);
  });

  it("signerAddress answers every case as ethers does, before and after it has learned the signer's key", () => {
    const answer = (c: (typeof cases)[number], expected: string) => {
      try {
        return signerAddress(c.digest, c.signature, expected);
      } catch {
        return "throws";
      }
    };
    const someone = computeAddress(new SigningKey(`0x${"44".repeat(32)}`));
    for (const round of ["first", "second"]) {
      const disagreements = cases
        .map((c) => ({
          desc: `${c.desc} (${round})`,
          ours: answer(c, c.signer ? computeAddress(c.signer) : someone),
          ethers: ethersRecover(c.digest, c.signature),
        }))
        .filter((r) => r.ours !== r.ethers);
      expect(disagreements).to.deep.equal([]);
    }
  });

  it("answers every case as ethers does with the base table sized for few signatures (a single verification, the page)", () => {
    sizeBaseTableForFewSignatures();
    try {
      expect(disagreements()).to.deep.equal([]);
      for (const c of cases.filter((x) => x.desc.endsWith("as signed"))) {
        expect(madeBy(keyOf(c.signer!), c.digest, c.signature), c.desc).to.equal(true);
      }
    } finally {
      secp256k1.ProjectivePoint.BASE.precompute(8); // the library's default, for the tests that follow
    }
  });
});

describe("checksumAddress / isChecksumValid", () => {
  const random = seededRandom(11);
  const addresses = Array.from({ length: 50 }, () => `0x${hex(bytesOf(random, 20))}`);

  it("writes the EIP-55 form ethers' getAddress writes", () => {
    for (const a of addresses) expect(checksumAddress(a)).to.equal(getAddress(a));
  });

  it("accepts what getAddress accepts and rejects what it rejects: one letter's case flipped is a wrong checksum", () => {
    const variants = addresses.flatMap((a) => {
      const good = getAddress(a);
      const letter = good.slice(2).search(/[a-fA-F]/);
      const flipped =
        letter < 0 ? good : good.slice(0, 2 + letter) + swapCase(good[2 + letter]!) + good.slice(3 + letter);
      return [good, a.toLowerCase(), `0x${a.slice(2).toUpperCase()}`, flipped];
    });
    for (const v of variants) {
      let accepted = true;
      try {
        getAddress(v);
      } catch {
        accepted = false;
      }
      expect(isChecksumValid(v), v).to.equal(accepted);
    }
  });
});

function swapCase(ch: string): string {
  return ch === ch.toUpperCase() ? ch.toLowerCase() : ch.toUpperCase();
}
