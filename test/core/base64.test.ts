import { expect } from "chai";
import { randomBytes } from "node:crypto";
import { base64ToBytes, bytesToBase64 } from "../../service/core/base64.ts";
import { EvidenceError } from "../../service/core/errors.ts";

describe("base64 of tokens and trust lists (core/base64.ts): RFC 4648 §4, one text for one value", () => {
  it("writes what Node's Buffer writes, and reads it back, for every length 0-64 and a large value", () => {
    for (const n of [...Array.from({ length: 65 }, (_, i) => i), 200_000]) {
      const bytes = randomBytes(n);
      const text = bytesToBase64(bytes);
      expect(text).to.equal(bytes.toString("base64"));
      expect(Buffer.from(base64ToBytes(text, "x")).equals(bytes)).to.equal(true);
    }
  });

  for (const [what, text] of [
    ["no padding", "QQ"],
    ["padding short", "QUI"],
    ["a character outside the alphabet", "QU-="],
    ["white space", "QUJD\nREVG"],
    ["bits beyond the data in the last character (QR== is QQ== with a bit set)", "QR=="],
    ["bits beyond the data before a single =", "QUJ="],
  ] as const) {
    it(`refuses ${what}, naming what was read`, () => {
      expect(() => base64ToBytes(text, "timestamp token", "INVALID_TIMESTAMP"))
        .to.throw(EvidenceError, /^timestamp token is not (standard|canonical) base64/)
        .with.property("code", "INVALID_TIMESTAMP");
    });
  }
});
