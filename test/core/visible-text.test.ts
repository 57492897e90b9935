import { expect } from "chai";
import { visibleText } from "../../service/core/index.ts";

describe("visibleText (text from a certificate, as it may be shown)", () => {
  for (const [what, text, shown] of [
    ["a terminal's escape sequence", "x.txt\u001b[2J\u001b[32mVALID", "x.txt[U+001B][2J[U+001B][32mVALID"],
    ["a line break and a carriage return", "a\nb\rc", "a[U+000A]b[U+000D]c"],
    ["a right-to-left override", "invoice\u202Egnp.exe", "invoice[U+202E]gnp.exe"],
    ["a zero-width space and a C1 control", "a\u200Bb\u009Bc", "a[U+200B]b[U+009B]c"],
    ["Chinese text, emoji and spaces", "侵权 截图 📷.png", "侵权 截图 📷.png"],
  ] as const) {
    it(`writes out ${what}`, () => {
      expect(visibleText(text)).to.equal(shown);
    });
  }
});
