import { expect } from "chai";
import { hashMessage, hexlify, verifyMessage } from "ethers";
import {
  buildCertificates,
  certificateFileName,
  claimsOf,
  EvidenceError,
  MerkleTree,
  parseCertificate,
  parseRecord,
  personalMessageDigest,
  signedBytes,
  toHex32,
  fromHex32,
  type CertificateV1,
} from "../../service/core/index.ts";
import { InProcessSigner } from "../../service/anchoring/signers.ts";
import { example } from "../helpers/vectors.ts";

describe("certificates", () => {
  describe("parseCertificate", () => {
    it("parses the example certificates of both versions, from JSON text and from a parsed value", () => {
      for (const c of [example.certificate(), example.certificateV2()]) {
        expect(parseCertificate(JSON.stringify(c))).to.deep.equal(c);
        expect(parseCertificate(c)).to.deep.equal(c);
      }
    });

    it("turns text that is not JSON into INVALID_JSON, never a SyntaxError", () => {
      for (const text of ["", "{", "null x", '{"type":'])
        expect(() => parseCertificate(text))
          .to.throw(EvidenceError)
          .with.property("code", "INVALID_JSON");
    });

    it("refuses a duplicate key in any object as DUPLICATE_KEY, naming the key and where", () => {
      const text = JSON.stringify(example.certificate()).replace('"blockNumber":', '"blockNumber":1,"blockNumber":');
      expect(() => parseCertificate(text))
        .to.throw(EvidenceError, /"blockNumber" twice in anchor/)
        .with.property("code", "DUPLICATE_KEY");
    });

    const mutations: [string, (c: Record<string, any>) => void, RegExp][] = [
      ["another type", (c) => (c.type = "x"), /certificate\.type/],
      ["version 3", (c) => (c.version = 3), /version must be 1 or 2/],
      ["version 2 with version 1's fields", (c) => (c.version = 2), /unknown field|batch/],
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
      ["a time-stamp token that is not base64", (c) => (c.timestamps = [{ type: "rfc3161", token: "!!" }]), /token/],
      ["a time-stamp of an unknown type", (c) => (c.timestamps = [{ type: "ots", token: "AA==" }]), /type/],
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

    it("rejects a version 2 certificate whose leafIndex is not inside batch.treeSize", () => {
      const c = example.certificateV2() as Record<string, any>;
      c.proof.leafIndex = c.batch.treeSize;
      expect(() => parseCertificate(c)).to.throw(EvidenceError, /leafIndex must be less than batch\.treeSize/);
    });

    it("rejects a malformed record with INVALID_RECORD", () => {
      const c = example.certificate() as { record: Record<string, unknown> };
      c.record.v = 2;
      expect(() => parseCertificate(c))
        .to.throw(EvidenceError)
        .with.property("code", "INVALID_RECORD");
    });
  });

  describe("buildCertificates", () => {
    const records = example.records();
    const leaves = records.records.map((r) => ({
      record: parseRecord(r.record),
      leafHash: r.leafHash as `0x${string}`,
    }));
    const tree = MerkleTree.fromLeafHashes(leaves.map((l) => fromHex32(l.leafHash)));
    const v1 = parseCertificate(example.certificate()) as CertificateV1;
    const batch = (version: 1 | 2) => ({
      version,
      leaves,
      tree,
      anchor: v1.anchor,
      issuerName: v1.issuer.name,
      issuedAt: v1.issuedAt,
    });

    it("reproduces the example certificates of both versions, one per leaf, in tree order", async () => {
      const signer = new InProcessSigner(example.issuer().privateKey);
      const [one, two] = await Promise.all([buildCertificates(batch(1), signer), buildCertificates(batch(2), signer)]);
      expect(one.map((c) => c.record.id)).to.deep.equal(leaves.map((l) => l.record.id));
      expect(one[1]).to.deep.equal(example.certificate());
      expect(two[1]).to.deep.equal(example.certificateV2());
      expect(toHex32(tree.root())).to.equal(records.root);
    });

    it("signs a version 2 batch once: every certificate carries the same statement and signature", async () => {
      let signed = 0;
      const inner = new InProcessSigner(example.issuer().privateKey);
      const counting = {
        address: inner.address,
        signMessages: (m: readonly Uint8Array[]) => ((signed += m.length), inner.signMessages(m)),
      };
      const certificates = await buildCertificates(batch(2), counting);
      expect(signed).to.equal(1);
      expect(new Set(certificates.map((c) => c.signature)).size).to.equal(1);
    });

    it("signs JCS(certificate without signature) in version 1 and JCS(batch) in version 2 with EIP-191", () => {
      for (const c of [parseCertificate(example.certificate()), parseCertificate(example.certificateV2())]) {
        expect(verifyMessage(signedBytes(c), c.signature)).to.equal(example.issuer().address);
      }
    });

    /** A signer whose every signature is rewritten by `alter` (a broken or foreign signing backend). */
    const alteredSigner = (alter: (signature: string) => string) => {
      const inner = new InProcessSigner(example.issuer().privateKey);
      return {
        address: inner.address,
        signMessages: async (m: readonly Uint8Array[]) => (await inner.signMessages(m)).map(alter),
      };
    };
    const N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
    for (const [what, alter] of [
      [
        "a recovery byte of 0 or 1 instead of 27 or 28",
        (sig: string) => sig.slice(0, 130) + (sig.endsWith("1b") ? "00" : "01"),
      ],
      [
        "the high-s twin of the signature",
        (sig: string) => {
          const s = (N - BigInt(`0x${sig.slice(66, 130)}`)).toString(16).padStart(64, "0");
          return `${sig.slice(0, 66)}${s}${sig.endsWith("1b") ? "1c" : "1b"}`;
        },
      ],
      ["upper-case hex", (sig: string) => `0x${sig.slice(2).toUpperCase()}`],
    ] as const) {
      for (const version of [1, 2] as const) {
        it(`issues no version ${version} certificate from a signer that gives ${what}`, async () => {
          const error = await buildCertificates(batch(version), alteredSigner(alter)).catch((e: unknown) => e);
          expect(error).to.be.instanceOf(EvidenceError).with.property("code", "INVALID_CERTIFICATE");
        });
      }
    }

    it("refuses a tree that does not hold the batch's leaves", async () => {
      const other = MerkleTree.fromLeafHashes([tree.root()]);
      const error = await buildCertificates(
        { ...batch(2), tree: other },
        new InProcessSigner(example.issuer().privateKey),
      ).catch((e: unknown) => e);
      expect(error).to.be.instanceOf(RangeError);
    });
  });

  describe("claimsOf", () => {
    it("reads version 1 and version 2 alike", () => {
      const one = claimsOf(parseCertificate(example.certificate()));
      const two = claimsOf(parseCertificate(example.certificateV2()));
      const { version: _1, signature: _s1, timestamps: _t1, ...a } = one;
      const { version: _2, signature: _s2, timestamps: _t2, ...b } = two;
      expect(a).to.deep.equal(b);
    });
  });

  describe("personalMessageDigest", () => {
    it("is the EIP-191 digest ethers signs, for the example and for messages of every length up to 300 bytes", () => {
      const messages = [signedBytes(parseCertificate(example.certificate()))];
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
