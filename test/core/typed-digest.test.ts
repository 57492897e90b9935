import { expect } from "chai";
import { typedDigest } from "../../service/core/index.ts";
import { loadVector } from "../helpers/vectors.ts";

const { cases } = loadVector<{ cases: { typed: string; digest: string | null; desc: string }[] }>("typed-sha256.json");

describe("a SHA-256 as people paste it (core/schema.ts typedDigest)", () => {
  for (const c of cases) {
    it(`${c.digest ? "takes" : "refuses"} ${c.desc}`, () => {
      expect(typedDigest(c.typed) ?? null).to.equal(c.digest);
    });
  }
});
