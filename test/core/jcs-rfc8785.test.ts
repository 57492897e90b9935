import { expect } from "chai";
import { readdirSync, readFileSync } from "node:fs";
import { canonicalBytes, EvidenceError } from "../../service/core/index.ts";

const DIR = new URL("../vectors/jcs-rfc8785/", import.meta.url);
const read = (path: string) => readFileSync(new URL(path, DIR));

/** The reference test data of RFC 8785's author (test/vectors/jcs-rfc8785/README.md). */
const REPRODUCED = ["arrays", "french", "structures", "unicode", "weird"];
const REFUSED = ["values"];

describe("canonicalBytes against the RFC 8785 reference test data (cyberphone/json-canonicalization)", () => {
  for (const name of REPRODUCED) {
    it(`writes testdata/output/${name}.json byte for byte from testdata/input/${name}.json`, () => {
      const produced = Buffer.from(canonicalBytes(JSON.parse(read(`input/${name}.json`).toString("utf8"))));
      const expected = read(`output/${name}.json`);
      expect(produced.toString("hex")).to.equal(expected.toString("hex"));
      // The hexadecimal rendering of the same bytes agrees with the output file.
      expect(read(`outhex/${name}.txt`).toString("latin1").replace(/\s+/g, "")).to.equal(expected.toString("hex"));
    });
  }

  for (const name of REFUSED) {
    it(`refuses testdata/input/${name}.json, whose numbers are not integers records use (NOT_CANONICALIZABLE)`, () => {
      expect(() => canonicalBytes(JSON.parse(read(`input/${name}.json`).toString("utf8"))))
        .to.throw(EvidenceError)
        .with.property("code", "NOT_CANONICALIZABLE");
    });
  }

  it("covers every file of the reference data: five reproduced, one refused", () => {
    const inputs = readdirSync(new URL("input/", DIR)).map((f) => f.replace(/\.json$/, ""));
    expect([...REPRODUCED, ...REFUSED].sort()).to.deep.equal(inputs);
  });
});
