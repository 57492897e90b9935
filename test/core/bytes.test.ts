import { expect } from "chai";
import { equalBytes, indexOfBytes, lastIndexOfBytes } from "../../service/core/bytes.ts";
import { seededRandom } from "../helpers/random.ts";

const bytes = (text: string) => new TextEncoder().encode(text);

describe("byte comparisons and searches (service/core/bytes.ts)", () => {
  it("finds the first and the last occurrence, at the ends too, and -1 for none", () => {
    const hay = bytes("startxref 1 startxref 2 startxref");
    expect(indexOfBytes(hay, bytes("startxref"))).to.equal(0);
    expect(lastIndexOfBytes(hay, bytes("startxref"))).to.equal(24);
    expect(indexOfBytes(hay, bytes("endobj"))).to.equal(-1);
    expect(lastIndexOfBytes(hay, bytes("endobj"))).to.equal(-1);
    expect(indexOfBytes(bytes("ab"), bytes("abc")), "a needle longer than the bytes").to.equal(-1);
    expect(lastIndexOfBytes(bytes("ab"), bytes("abc"))).to.equal(-1);
    expect(lastIndexOfBytes(bytes("xstartxre"), bytes("startxref")), "cut short at the end").to.equal(-1);
  });

  it("agrees with Buffer's indexOf and lastIndexOf on random bytes over a small alphabet (property)", () => {
    const random = seededRandom(20261127);
    let found = 0;
    for (let n = 0; n < 2_000; n++) {
      const hay = Buffer.from(Array.from({ length: Math.floor(random() * 40) }, () => Math.floor(random() * 3)));
      const needle = Buffer.from(Array.from({ length: 1 + Math.floor(random() * 4) }, () => Math.floor(random() * 3)));
      expect(indexOfBytes(hay, needle), `${hay.toString("hex")} / ${needle.toString("hex")}`).to.equal(
        hay.indexOf(needle),
      );
      expect(lastIndexOfBytes(hay, needle), `${hay.toString("hex")} / ${needle.toString("hex")}`).to.equal(
        hay.lastIndexOf(needle),
      );
      if (hay.indexOf(needle) !== -1) found++;
    }
    expect(found, "enough cases where the needle occurs").to.be.greaterThan(500);
  });

  it("says two arrays are equal only for the same length and the same bytes", () => {
    expect(equalBytes(bytes("abc"), bytes("abc"))).to.equal(true);
    expect(equalBytes(bytes("abc"), bytes("abd"))).to.equal(false);
    expect(equalBytes(bytes("abc"), bytes("ab"))).to.equal(false);
    expect(equalBytes(new Uint8Array(0), new Uint8Array(0))).to.equal(true);
  });
});
