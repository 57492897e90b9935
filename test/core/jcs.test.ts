import { expect } from "chai";
import { canonicalBytes, canonicalize, EvidenceError } from "../../service/core/index.ts";
import { loadVector } from "../helpers/vectors.ts";

interface JcsVectors {
  canonical: { desc: string; input: string; want: string }[];
  rejected: { desc: string; input: string }[];
}
const vectors = loadVector<JcsVectors>("jcs.json");

describe("canonicalize (RFC 8785)", () => {
  for (const v of vectors.canonical) {
    it(`writes ${v.desc}`, () => {
      expect(canonicalize(JSON.parse(v.input))).to.equal(v.want);
    });
  }

  for (const v of vectors.rejected) {
    it(`rejects ${v.desc}`, () => {
      expect(() => canonicalize(JSON.parse(v.input)))
        .to.throw(EvidenceError)
        .with.property("code", "NOT_CANONICALIZABLE");
    });
  }

  it("rejects undefined, bigint, functions, class instances and cycles", () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    for (const value of [undefined, 1n, () => 1, new Date(0), { a: undefined }, cyclic, [NaN], [Infinity]]) {
      expect(() => canonicalize(value)).to.throw(EvidenceError, /cannot canonicalize/);
    }
  });

  it("names where the value that cannot be canonicalized is", () => {
    expect(() => canonicalize({ a: [1, { b: 0.5 }] })).to.throw(/at \$\.a\[1\]\.b/);
  });

  it("accepts a shared (non-cyclic) sub-object twice", () => {
    const shared = { x: 1 };
    expect(canonicalize({ a: shared, b: shared })).to.equal('{"a":{"x":1},"b":{"x":1}}');
  });

  it("encodes as UTF-8", () => {
    // printf '"侵"' | xxd -p  ->  22e4beb522
    expect(Buffer.from(canonicalBytes("侵")).toString("hex")).to.equal("22e4beb522");
  });
});
