import { expect } from "chai";
import { parseCertificate } from "../../service/core/index.ts";
import { example } from "../helpers/vectors.ts";

/** The message parseCertificate throws for `input`, or "accepted". */
function outcome(input: unknown): string {
  try {
    parseCertificate(input);
    return "accepted";
  } catch (e) {
    return `${(e as { code?: string }).code}: ${(e as Error).message}`;
  }
}

/**
 * Certificates given as text skip checking a batch statement already checked in full (the
 * certificates of a batch carry equal statements). That must change no verdict and no reason.
 */
describe("parseCertificate with a batch statement already known", () => {
  const mutations: [string, (c: Record<string, any>) => void][] = [
    ["a signature in upper case", (c) => (c.signature = c.signature.toUpperCase())],
    ["leafIndex outside batch.treeSize", (c) => (c.proof.leafIndex = c.batch.treeSize)],
    ["an unknown field", (c) => (c.extra = 1)],
    ["a record without salt", (c) => delete c.record.salt],
    ["a path element that is not hex", (c) => (c.proof.path = ["0x12"])],
    ["a batch treeSize as a string", (c) => (c.batch.treeSize = String(c.batch.treeSize))],
    ["a batch with an unknown field", (c) => (c.batch.extra = "x")],
    [
      "a batch issuer with a wrong checksum",
      (c) => (c.batch.issuer.address = c.batch.issuer.address.toLowerCase().replace(/^0x./, "0xF")),
    ],
  ];

  it("accepts the example again, as text, after it was seen", () => {
    const text = JSON.stringify(example.certificateV2());
    expect(outcome(text)).to.equal("accepted");
    expect(outcome(text)).to.equal("accepted");
  });

  for (const [desc, mutate] of mutations) {
    it(`rejects ${desc} with the same reason as a full check`, () => {
      expect(outcome(JSON.stringify(example.certificateV2())), "the statement is now known").to.equal("accepted");
      const mutated = example.certificateV2();
      mutate(mutated);
      // An object is always checked in full; text may use the known statement.
      const full = outcome(structuredClone(mutated));
      expect(full).not.to.equal("accepted");
      expect(outcome(JSON.stringify(mutated))).to.equal(full);
    });
  }
});
