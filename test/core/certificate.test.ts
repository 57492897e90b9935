import { expect } from "chai";
import { hashMessage, hexlify, Wallet, verifyMessage } from "ethers";
import {
  certificateFileName,
  EvidenceError,
  parseCertificate,
  personalMessageDigest,
  signCertificate,
  signingBytes,
  type UnsignedCertificate,
} from "../../service/core/index.ts";
import { example } from "../helpers/vectors.ts";

describe("certificates", () => {
  describe("parseCertificate", () => {
    it("parses the example certificate from JSON text and from a parsed value", () => {
      const text = JSON.stringify(example.certificate());
      expect(parseCertificate(text)).to.deep.equal(example.certificate());
      expect(parseCertificate(example.certificate())).to.deep.equal(example.certificate());
    });

    it("turns text that is not JSON into INVALID_JSON, never a SyntaxError", () => {
      for (const text of ["", "{", "null x", '{"type":'])
        expect(() => parseCertificate(text))
          .to.throw(EvidenceError)
          .with.property("code", "INVALID_JSON");
    });

    const mutations: [string, (c: Record<string, any>) => void, RegExp][] = [
      ["another type", (c) => (c.type = "x"), /certificate\.type/],
      ["version 2", (c) => (c.version = 2), /version/],
      ["a leafHash without 0x", (c) => (c.leafHash = c.leafHash.slice(2)), /leafHash/],
      ["an uppercase leafHash", (c) => (c.leafHash = c.leafHash.toUpperCase().replace("0X", "0x")), /leafHash/],
      ["a 31-byte root", (c) => (c.proof.root = c.proof.root.slice(0, -2)), /proof\.root/],
      ["leafIndex >= treeSize", (c) => (c.proof.leafIndex = c.proof.treeSize), /leafIndex must be less/],
      ["a negative leafIndex", (c) => (c.proof.leafIndex = -1), /leafIndex/],
      ["a treeSize of 0", (c) => (c.proof.treeSize = 0), /treeSize/],
      ["a treeSize as a string", (c) => (c.proof.treeSize = "3"), /treeSize/],
      ["an unsafe integer timestamp", (c) => (c.anchor.timestamp = 2 ** 53), /timestamp/],
      ["another algorithm", (c) => (c.proof.algorithm = "sha1"), /algorithm/],
      ["a path that is not an array", (c) => (c.proof.path = "0x00"), /path/],
      ["a path of 65 elements", (c) => (c.proof.path = Array(65).fill(c.leafHash)), /more than 64/],
      ["a bad EIP-55 checksum", (c) => (c.anchor.contract = c.anchor.contract.replace("F", "f")), /checksum/],
      ["a short address", (c) => (c.issuer.address = "0x1234"), /issuer\.address/],
      ["chainId 0", (c) => (c.anchor.chainId = 0), /chainId/],
      ["an unknown field", (c) => (c.extra = 1), /unknown field/],
      ["an uppercase signature", (c) => (c.signature = c.signature.toUpperCase().replace("0X", "0x")), /signature/],
      ["a missing signature", (c) => delete c.signature, /signature/],
      ["issuedAt without milliseconds", (c) => (c.issuedAt = "2026-11-25T16:39:07Z"), /issuedAt/],
      ["an issuer name that is not a string", (c) => (c.issuer.name = 7), /issuer\.name/],
    ];
    for (const [what, mutate, message] of mutations) {
      it(`rejects ${what}`, () => {
        const c = example.certificate();
        mutate(c);
        expect(() => parseCertificate(c))
          .to.throw(EvidenceError, message)
          .with.property("code", "INVALID_CERTIFICATE");
      });
    }

    it("rejects a malformed record with INVALID_RECORD", () => {
      const c = example.certificate() as { record: Record<string, unknown> };
      c.record.v = 2;
      expect(() => parseCertificate(c))
        .to.throw(EvidenceError)
        .with.property("code", "INVALID_RECORD");
    });
  });

  describe("signCertificate", () => {
    it("signs JCS(certificate without signature) with EIP-191, reproducing the example", async () => {
      const { signature, ...unsigned } = example.certificate();
      const signed = await signCertificate(unsigned as UnsignedCertificate, new Wallet(example.issuer().privateKey));
      expect(signed.signature).to.equal(signature);
      expect(verifyMessage(signingBytes(signed), signed.signature)).to.equal(example.issuer().address);
    });
  });

  describe("personalMessageDigest", () => {
    it("is the EIP-191 digest ethers signs, for the example and for messages of every length up to 300 bytes", () => {
      const messages = [signingBytes(example.certificate() as UnsignedCertificate)];
      for (let n = 0; n <= 300; n++) messages.push(Uint8Array.from({ length: n }, (_, i) => (i * 31 + n) & 0xff));
      for (const m of messages) expect(hexlify(personalMessageDigest(m)), `${m.length} bytes`).to.equal(hashMessage(m));
    });
  });

  it("names the file <id>.evidence.json", () => {
    expect(certificateFileName(parseCertificate(example.certificate()))).to.equal(
      "q1Zr8xYwK0pLmN3oB5cD7e.evidence.json",
    );
  });
});
