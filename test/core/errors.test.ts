import { expect } from "chai";
import { firstLineOf } from "../../service/core/errors.ts";

describe("firstLineOf (core/errors.ts): what was thrown, as one line", () => {
  it("takes the first line of an Error's message, never its stack", () => {
    expect(firstLineOf(new Error("node unreachable\n    at somewhere"))).to.equal("node unreachable");
  });

  it("takes the first line of anything else thrown, as text", () => {
    expect(firstLineOf("a thrown string\nwith a second line")).to.equal("a thrown string");
    expect(firstLineOf(42)).to.equal("42");
    expect(firstLineOf(undefined)).to.equal("undefined");
    expect(firstLineOf({ toString: () => "an object\nthat speaks" })).to.equal("an object");
  });

  it("cuts the line to the length asked for", () => {
    expect(firstLineOf(new Error("x".repeat(600)), 500)).to.have.length(500);
    expect(firstLineOf("short", 500)).to.equal("short");
  });
});
