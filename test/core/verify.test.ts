import { expect } from "chai";
import { readFileSync } from "node:fs";
import { Wallet } from "ethers";
import { zipSync } from "fflate";
import {
  buildCertificates,
  buildRecord,
  CachingChainReader,
  canonicalBytes,
  CHECK_IDS,
  canonicalize,
  fromHex32,
  CERTIFICATE_WITH_STATEMENTS,
  claimsOf,
  hashLeaf,
  MEDIA_TYPE_CAPTURE,
  MerkleTree,
  NOTICE_REANCHORED,
  notACertificate,
  OutageReader,
  PDF_LIMITS,
  parseCertificate,
  recordLeaf,
  toHex32,
  verifyCertificate,
  verifyEvidence,
  type Certificate,
  type CheckId,
  type CheckStatus,
  type VerificationResult,
} from "../../service/core/index.ts";
import { InProcessSigner } from "../../service/anchoring/signers.ts";
import { RecordedChain } from "../helpers/recorded-chain.ts";
import { example, loadVector } from "../helpers/vectors.ts";
import { trustList, trustListVerifier } from "../../service/core/verify/timestamp-verifier.ts";
import { sha256Hex } from "../helpers/hash.ts";

const fileDigest = sha256Hex(example.file());
const failed = (r: VerificationResult) => r.checks.filter((c) => c.status === "failed").map((c) => c.id);
const statusOf = (r: VerificationResult, id: CheckId) => r.checks.find((c) => c.id === id)!.status;
const reasonOf = (r: VerificationResult, id: CheckId) => r.checks.find((c) => c.id === id)!.reason;

/** Signs a mutated certificate again, with the example issuer's key or another: what a forger can do. */
async function resign(c: Record<string, any>, key = example.issuer().privateKey): Promise<Certificate> {
  const signer = new InProcessSigner(key);
  if (c.version === 2) {
    const [signature] = await signer.signMessages([canonicalBytes(c.batch)]);
    return parseCertificate({ ...c, signature });
  }
  const { signature: _, ...unsigned } = c;
  const [signature] = await signer.signMessages([canonicalBytes(unsigned)]);
  return parseCertificate({ ...unsigned, signature });
}

/** The checks of docs/protocol.md §8 applied to both versions of the example certificate. */
for (const version of [1, 2] as const) {
  const load = () => (version === 1 ? example.certificate() : example.certificateV2()) as Record<string, any>;
  const chainFor = () => RecordedChain.holding(parseCertificate(load()));
  /** Where a version keeps what version 1 has at the top level. */
  const at = (c: Record<string, any>) =>
    version === 1
      ? { anchor: c.anchor, issuer: c.issuer, proof: c.proof, treeSizeOwner: c.proof, rootOwner: c.proof, top: c }
      : {
          anchor: c.batch.anchor,
          issuer: c.batch.issuer,
          proof: c.proof,
          treeSizeOwner: c.batch,
          rootOwner: c.batch,
          top: c.batch,
        };

  describe(`verifyCertificate, certificate version ${version}`, () => {
    it("passes every check with the file, skips the time-stamp check without tokens, and is valid", async () => {
      const result = await verifyCertificate(load(), { fileDigest, chain: chainFor() });
      expect(result.checks.map((c) => [c.id, c.status])).to.deep.equal(
        CHECK_IDS.map((id) => [id, id === "timestamp" ? "skipped" : "passed"]),
      );
      expect([result.verdict, result.valid, result.fileCompared]).to.deep.equal(["valid", true, true]);
      expect(result.anchoredAt).to.equal("2026-11-25T16:39:05.000Z");
    });

    it("is a valid certificate with no file compared when no file is given", async () => {
      const result = await verifyCertificate(JSON.stringify(load()), { chain: chainFor() });
      expect(statusOf(result, "content")).to.equal("skipped");
      expect([result.verdict, result.fileCompared]).to.deep.equal(["valid", false]);
    });

    it("is invalid, failing content only, for another file", async () => {
      const result = await verifyCertificate(load(), { fileDigest: sha256Hex("another file"), chain: chainFor() });
      expect(failed(result)).to.deep.equal(["content"]);
      expect(result.verdict).to.equal("invalid");
    });

    it("reads numbers as the binary64 values they round to (protocol §5.1): 2.0, 1e0 and a fraction below the double's precision verify as the integers", async () => {
      const text = JSON.stringify(load());
      const timestamp = String(at(load()).anchor.timestamp);
      const written = text
        .replace(`"version":${version}`, `"version":${version}.0`)
        .replace(`"timestamp":${timestamp}`, `"timestamp":${timestamp}.00000001`)
        .replace('"leafIndex":1', '"leafIndex":1e0');
      expect(written).to.include(`${timestamp}.00000001`).and.include('"leafIndex":1e0');
      const result = await verifyCertificate(written, { fileDigest, chain: chainFor() });
      expect(result.verdict).to.equal("valid");
      const altered = text.replace(`"timestamp":${timestamp}`, `"timestamp":${timestamp}.001`);
      expect((await verifyCertificate(altered, { chain: chainFor() })).verdict, "a fraction a double keeps").to.equal(
        "invalid",
      );
    });

    it("accepts an uppercase SHA-256, and cannot compare one that is not hex", async () => {
      expect(
        (await verifyCertificate(load(), { fileDigest: fileDigest.toUpperCase(), chain: chainFor() })).verdict,
      ).to.equal("valid");
      const bad = await verifyCertificate(load(), { fileDigest: "xyz", chain: chainFor() });
      expect([statusOf(bad, "content"), bad.verdict]).to.deep.equal(["error", "indeterminate"]);
    });

    describe("when a field is changed after signing", () => {
      const cases: [string, (c: Record<string, any>) => void, CheckId[]][] = [
        ["record.contentHash", (c) => (c.record.contentHash = "0".repeat(64)), ["content", "leaf", "signature"]],
        ["record.submittedAt", (c) => (c.record.submittedAt = "2020-01-01T00:00:00.000Z"), ["leaf", "signature"]],
        ["leafHash", (c) => (c.leafHash = `0x${"1".repeat(64)}`), ["leaf", "inclusion", "signature"]],
        ["proof.path[0]", (c) => (c.proof.path[0] = `0x${"2".repeat(64)}`), ["inclusion", "signature"]],
        ["proof.leafIndex", (c) => (c.proof.leafIndex = 0), ["inclusion", "signature"]],
        ["the tree size", (c) => (at(c).treeSizeOwner.treeSize = 4), ["anchor", "signature"]],
        ["the root", (c) => (at(c).rootOwner.root = `0x${"3".repeat(64)}`), ["inclusion", "anchor", "signature"]],
        ["anchor.timestamp", (c) => (at(c).anchor.timestamp -= 86_400), ["anchor", "signature"]],
        ["anchor.blockNumber", (c) => (at(c).anchor.blockNumber += 1), ["anchor", "signature"]],
        ["anchor.blockHash", (c) => (at(c).anchor.blockHash = `0x${"4".repeat(64)}`), ["anchor", "signature"]],
        ["anchor.contract", (c) => (at(c).anchor.contract = "0x" + "5".repeat(40)), ["anchor", "signature"]],
        ["anchor.txHash", (c) => (at(c).anchor.txHash = `0x${"6".repeat(64)}`), ["anchor", "signature"]],
        ["issuer.address", (c) => (at(c).issuer.address = "0x" + "7".repeat(40)), ["anchor", "signature"]],
        ["issuer.name", (c) => (at(c).issuer.name = "Someone else"), ["signature"]],
        ["issuedAt", (c) => (at(c).top.issuedAt = "2030-01-01T00:00:00.000Z"), ["signature"]],
        [
          "signature",
          (c) =>
            (c.signature = c.signature.slice(0, 10) + (c.signature[10] === "0" ? "1" : "0") + c.signature.slice(11)),
          ["signature"],
        ],
      ];
      // Version 2 signs the batch statement only: a record, leaf or path changed in one
      // certificate fails its own checks, not the batch's signature.
      const outsideBatch = ["record.contentHash", "record.submittedAt", "leafHash", "proof.path[0]", "proof.leafIndex"];
      for (const [field, mutate, all] of cases) {
        const want = version === 2 && outsideBatch.includes(field) ? all.filter((id) => id !== "signature") : all;
        it(`fails ${want.join(" and ")} for a changed ${field}, and is invalid`, async () => {
          const c = load();
          mutate(c);
          const result = await verifyCertificate(c, { fileDigest, chain: chainFor() });
          expect(failed(result)).to.deep.equal(want);
          expect(result.verdict).to.equal("invalid");
        });
      }

      it("cannot check the anchor of a changed chain id (the node is of another chain), and fails the signature", async () => {
        const c = load();
        at(c).anchor.chainId = 1;
        const result = await verifyCertificate(c, { chain: chainFor() });
        expect([statusOf(result, "anchor"), failed(result), result.verdict]).to.deep.equal([
          "error",
          ["signature"],
          "invalid",
        ]);
      });

      it("still fails on the proof's own check when the forger re-signs with another key", async () => {
        const c = load();
        c.record.contentHash = "0".repeat(64);
        at(c).issuer.address = new Wallet(FORGER_KEY).address;
        const result = await verifyCertificate(await resign(c, FORGER_KEY), { chain: chainFor() });
        expect(failed(result)).to.deep.equal(["leaf", "anchor"]);
      });
    });

    describe("binding the issuer to the anchor (hostile certificates)", () => {
      it("fails anchor when the issuer is not the member that anchored the root, though the signature is good", async () => {
        const c = load();
        at(c).issuer.address = new Wallet(FORGER_KEY).address;
        at(c).issuer.name = "Evidence Anchor";
        const result = await verifyCertificate(await resign(c, FORGER_KEY), { chain: chainFor() });
        expect([failed(result), reasonOf(result, "anchor").code]).to.deep.equal([["anchor"], "anchor.not-anchorer"]);
      });

      it("fails anchor when the block at the anchored height has another time (a back-dated anchor written into storage)", async () => {
        const c = parseCertificate(load());
        const chain = RecordedChain.holding(c);
        const { blockNumber, blockHash, timestamp } = version === 1 ? (c as any).anchor : (c as any).batch.anchor;
        chain.recordBlock(blockNumber, { hash: blockHash, timestamp: timestamp + 3_600, transactions: [] });
        const result = await verifyCertificate(c, { chain });
        expect([failed(result), reasonOf(result, "anchor").code]).to.deep.equal([
          ["anchor"],
          "anchor.block-time-differs",
        ]);
      });

      it("fails anchor when the stated transaction failed", async () => {
        const c = parseCertificate(load());
        const chain = RecordedChain.holding(c);
        const { txHash, blockNumber, blockHash } = version === 1 ? (c as any).anchor : (c as any).batch.anchor;
        chain.recordReceipt(txHash, { status: 0, blockNumber, blockHash, anchored: [] });
        const result = await verifyCertificate(c, { chain });
        expect([failed(result), reasonOf(result, "anchor").code]).to.deep.equal([
          ["anchor"],
          "anchor.transaction-failed",
        ]);
      });

      it("cannot check the anchor when the block holds the transaction but the node keeps no receipt for it", async () => {
        const c = parseCertificate(load());
        const chain = RecordedChain.holding(c);
        const { txHash } = version === 1 ? (c as any).anchor : (c as any).batch.anchor;
        chain.forgetReceipt(txHash);
        const result = await verifyCertificate(c, { chain });
        expect([statusOf(result, "anchor"), reasonOf(result, "anchor").code, result.verdict]).to.deep.equal([
          "error",
          "anchor.receipt-unavailable",
          "indeterminate",
        ]);
      });

      it("fails anchor for a contract other than the trusted registry, when one is given", async () => {
        const result = await verifyCertificate(load(), {
          chain: chainFor(),
          trustedContracts: ["0x" + "a".repeat(40)],
        });
        expect([failed(result), reasonOf(result, "anchor").code]).to.deep.equal([
          ["anchor"],
          "anchor.unknown-contract",
        ]);
        const trusted = await verifyCertificate(load(), {
          chain: chainFor(),
          trustedContracts: [at(load()).anchor.contract.toLowerCase()],
        });
        expect(trusted.verdict).to.equal("valid");
        // Registries trusted by chain id apply to certificates of that chain only.
        const byChain = (id: number) => (id === 1 ? ["0x" + "a".repeat(40)] : undefined);
        const ofAnotherChain = await verifyCertificate(load(), { chain: chainFor(), trustedContracts: byChain });
        expect(ofAnotherChain.verdict).to.equal("valid");
        const ofThisChain = await verifyCertificate(load(), {
          chain: chainFor(),
          trustedContracts: () => ["0x" + "a".repeat(40)],
        });
        expect(reasonOf(ofThisChain, "anchor").code).to.equal("anchor.unknown-contract");
      });

      it("could not verify, rather than fail, when the node lacks the trusted registry: another chain with the same id", async () => {
        const contract = at(load()).anchor.contract;
        const otherChain = new RecordedChain(31337);
        otherChain.latest = 1_000;
        const trusted = await verifyCertificate(load(), {
          fileDigest,
          chain: otherChain,
          trustedContracts: [contract],
        });
        expect([statusOf(trusted, "anchor"), reasonOf(trusted, "anchor"), trusted.verdict]).to.deep.equal([
          "error",
          { code: "anchor.registry-missing", contract, chainId: 31337 },
          "indeterminate",
        ]);
        // Without a registry, nor the certificate's block: another chain that shares the id, or a
        // block that never existed; not told apart, so neither is called altered.
        const untrusted = await verifyCertificate(load(), { fileDigest, chain: otherChain });
        const { blockNumber, blockHash } = at(load()).anchor;
        expect([statusOf(untrusted, "anchor"), reasonOf(untrusted, "anchor"), untrusted.verdict]).to.deep.equal([
          "error",
          {
            code: "anchor.chain-unconfirmed",
            missing: "contract",
            contract,
            chainId: 31337,
            blockNumber,
            onChain: null,
            stated: blockHash,
          },
          "indeterminate",
        ]);
        // A node that has the certificate's block is of its chain: the contract the certificate names is not there.
        otherChain.recordBlock(blockNumber, { hash: blockHash, timestamp: 1, transactions: [] });
        const sameChain = await verifyCertificate(load(), { fileDigest, chain: otherChain });
        expect([failed(sameChain), reasonOf(sameChain, "anchor").code, sameChain.verdict]).to.deep.equal([
          ["anchor"],
          "anchor.no-contract",
          "invalid",
        ]);
      });

      it("fails the signature's malleable twin (s in the upper half) and refuses a v other than 27 or 28", async () => {
        const c = load();
        const n = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
        const s = BigInt(`0x${c.signature.slice(66, 130)}`);
        const v = c.signature.slice(130) === "1b" ? "1c" : "1b";
        const twin = `${c.signature.slice(0, 66)}${(n - s).toString(16).padStart(64, "0")}${v}`;
        const result = await verifyCertificate({ ...c, signature: twin }, { chain: chainFor() });
        expect([failed(result), reasonOf(result, "signature").code]).to.deep.equal([
          ["signature"],
          "signature.malformed",
        ]);
        const zeroV = await verifyCertificate(
          { ...c, signature: `${c.signature.slice(0, 130)}00` },
          { chain: chainFor() },
        );
        expect(failed(zeroV)).to.deep.equal(["format"]);
      });

      for (const [what, token] of [
        ["that is not even base64", "AAAAA"],
        ["whose base64 is not the one canonical form (MAQ= with a bit set past the data)", "MAR="],
      ] as const) {
        it(`fails a time-stamp token ${what} as an unreadable token, without throwing`, async () => {
          const c = load();
          const owner = version === 1 ? c : c.batch;
          owner.timestamps = [{ type: "rfc3161", token }];
          const resigned = await resign(c);
          const verifier = { verify: async () => ({ status: "passed" as const }) };
          const result = await verifyCertificate(resigned, { chain: chainFor(), timestamps: verifier });
          expect([statusOf(result, "timestamp"), reasonOf(result, "timestamp")]).to.deep.equal([
            "failed",
            { code: "timestamp.invalid", index: 0, problem: "unreadable" },
          ]);
        });
      }

      it("keeps a certificate whose time-stamp token is genuine but not in DER valid, its token not checked (a warning), and fails one whose token was altered", async () => {
        const tokens = loadVector<{ cases: { desc: string; token: string }[] }>("timestamp/tokens.json").cases;
        const tokenOf = (desc: string) => tokens.find((t) => t.desc === desc)!.token;
        const timestamps = trustListVerifier(
          trustList(readFileSync(new URL("../vectors/timestamp/der-root.pem", import.meta.url), "utf8")),
        );
        const withToken = async (desc: string) => {
          const c = load();
          (version === 1 ? c : c.batch).timestamps = [{ type: "rfc3161", token: tokenOf(desc) }];
          return verifyCertificate(await resign(c), { chain: chainFor(), timestamps });
        };
        const genuine = await withToken("der-genuine");
        expect([genuine.verdict, statusOf(genuine, "timestamp")]).to.deep.equal(["valid", "passed"]);
        // The signed attributes unsorted: OpenSSL accepts the token, BouncyCastle would not.
        const unsorted = await withToken("der-signed-attributes-unsorted");
        expect([unsorted.verdict, statusOf(unsorted, "timestamp")]).to.deep.equal(["valid", "error"]);
        expect(reasonOf(unsorted, "timestamp")).to.deep.include({
          code: "timestamp.unverifiable",
          index: 0,
          problem: "not-canonical",
        });
        const altered = await withToken("signature-byte-flipped");
        expect([altered.verdict, statusOf(altered, "timestamp")]).to.deep.equal(["invalid", "failed"]);
      });

      it("fails anchor when the stated transaction anchored something else", async () => {
        const c = parseCertificate(load());
        const chain = RecordedChain.holding(c);
        const { txHash, blockNumber, blockHash } = version === 1 ? (c as any).anchor : (c as any).batch.anchor;
        chain.recordReceipt(txHash, { status: 1, blockNumber, blockHash, anchored: [] });
        const result = await verifyCertificate(c, { chain });
        expect(reasonOf(result, "anchor").code).to.equal("anchor.no-event");
      });

      it("fails format for a duplicate key, naming it, and checks nothing else", async () => {
        const text = JSON.stringify(load()).replace(
          '"contentHash":',
          `"contentHash":"${"0".repeat(64)}","contentHash":`,
        );
        const result = await verifyCertificate(text, { chain: chainFor() });
        expect([result.verdict, failed(result)]).to.deep.equal(["invalid", ["format"]]);
        expect(reasonOf(result, "format")).to.deep.include({ code: "format.malformed" });
        expect((reasonOf(result, "format") as { message: string }).message).to.match(/contentHash.*twice/);
      });
    });

    describe("when the chain cannot be checked (an error, never a failure)", () => {
      const errorCases: [string, (chain: RecordedChain) => void, string][] = [
        ["the node is unreachable", (chain) => (chain.unreachable = true), "anchor.unreachable"],
        ["the node has not reached the anchoring block", (chain) => (chain.latest = 5), "anchor.behind"],
      ];
      for (const [what, breakIt, code] of errorCases) {
        it(`could not verify when ${what}: indeterminate, no anchoring time`, async () => {
          const chain = chainFor();
          breakIt(chain);
          const result = await verifyCertificate(load(), { fileDigest, chain });
          expect([statusOf(result, "anchor"), reasonOf(result, "anchor").code]).to.deep.equal(["error", code]);
          expect([result.verdict, result.valid, result.anchoredAt, failed(result)]).to.deep.equal([
            "indeterminate",
            false,
            null,
            [],
          ]);
        });
      }

      it("could not verify against a node of another chain, and names both ids", async () => {
        const chain = new RecordedChain(1337);
        const result = await verifyCertificate(load(), { chain });
        expect(reasonOf(result, "anchor")).to.deep.equal({ code: "anchor.other-chain", actual: 1337, stated: 31337 });
        expect(result.verdict).to.equal("indeterminate");
      });
    });

    it("fails on the record swapped between two valid certificates", async () => {
      const c = load();
      c.record = example.records().records[0]!.record;
      const result = await verifyCertificate(await resign(c), { chain: chainFor() });
      expect(failed(result)).to.deep.equal(["leaf"]);
    });

    /** A chain with the certificate's contract, not its root; with the certificate's block when `withBlock`. */
    const chainWithoutRoot = (withBlock: boolean) => {
      const c = parseCertificate(load());
      const anchor = claimsOf(c).anchor;
      const other = new RecordedChain(31337);
      other.latest = RecordedChain.holding(c).latest;
      other.record(anchor.contract, `0x${"9".repeat(64)}`, { timestamp: 1, blockNumber: 1, treeSize: 1 });
      if (withBlock) {
        other.recordBlock(anchor.blockNumber, {
          hash: anchor.blockHash as `0x${string}`,
          timestamp: anchor.timestamp,
          transactions: [],
        });
      }
      return { c, other, contract: anchor.contract };
    };

    it("fails anchor for a valid proof to a root that was never anchored, on a node that has the certificate's block", async () => {
      const { c, other } = chainWithoutRoot(true);
      const result = await verifyCertificate(c, { chain: other });
      expect([failed(result), reasonOf(result, "anchor").code]).to.deep.equal([["anchor"], "anchor.never-anchored"]);
    });

    it("could not verify a root never anchored on a node without the certificate's block, with no registry trusted (another chain that shares the id); fails it with the registry trusted", async () => {
      const { c, other, contract } = chainWithoutRoot(false);
      const result = await verifyCertificate(c, { chain: other });
      expect([statusOf(result, "anchor"), reasonOf(result, "anchor").code, result.verdict]).to.deep.equal([
        "error",
        "anchor.chain-unconfirmed",
        "indeterminate",
      ]);
      const trusted = await verifyCertificate(c, { chain: other, trustedContracts: [contract] });
      expect([failed(trusted), reasonOf(trusted, "anchor").code]).to.deep.equal([["anchor"], "anchor.never-anchored"]);
      // A node that has the stated transaction is of the chain where it was sent: the claim fails.
      const anchor = claimsOf(c).anchor;
      other.recordReceipt(anchor.txHash, {
        status: 1,
        blockNumber: anchor.blockNumber,
        blockHash: `0x${"77".repeat(32)}`,
        anchored: [],
      });
      const withTransaction = await verifyCertificate(c, { chain: other });
      expect([failed(withTransaction), reasonOf(withTransaction, "anchor").code]).to.deep.equal([
        ["anchor"],
        "anchor.never-anchored",
      ]);
    });

    it("says when the chain is a development chain its operator can rewrite", async () => {
      const result = await verifyCertificate(load(), { chain: chainFor() });
      expect([result.developmentChain, result.warnings[0]?.code]).to.deep.equal([true, "warning.development-chain"]);
      const production = await verifyCertificate(load(), { chain: chainFor(), developmentChainIds: [] });
      expect([production.developmentChain, production.warnings.map((w) => w.code)]).to.deep.equal([
        false,
        ["warning.registry-unchecked"],
      ]);
      const trusting = await verifyCertificate(load(), {
        chain: chainFor(),
        developmentChainIds: [],
        trustedContracts: [at(load()).anchor.contract],
      });
      expect(trusting.warnings, "a registry named: nothing to warn of").to.deep.equal([]);
    });
  });
}

describe("verifyCertificate when the certificate is malformed", () => {
  for (const [what, input] of [
    ["not JSON", "{not json"],
    ["JSON null", "null"],
    ["an array", []],
    ["empty", ""],
    ["version 3", { ...example.certificate(), version: 3 }],
  ] as const) {
    it(`fails format for ${what} and skips the rest, without throwing`, async () => {
      const result = await verifyCertificate(input, { chain: new RecordedChain(31337) });
      expect(result.verdict).to.equal("invalid");
      expect(result.checks[0]).to.include({ id: "format", status: "failed" });
      expect(result.checks.slice(1).map((c) => c.status)).to.deep.equal(Array<CheckStatus>(6).fill("skipped"));
    });
  }
});

describe("verifying many certificates", () => {
  it("reads each anchor once through a CachingChainReader", async () => {
    const inner = RecordedChain.holding(parseCertificate(example.certificate()));
    const chain = new CachingChainReader(inner);
    for (let i = 0; i < 5; i++)
      expect((await verifyCertificate(example.certificate(), { chain })).verdict).to.equal("valid");
    // chain id, newest block, code, anchorOf, block, receipt: once each.
    expect(inner.reads).to.equal(6);
  });

  it("reads each anchor once through a CachingChainReader when its certificates are verified at the same time", async () => {
    const inner = RecordedChain.holding(parseCertificate(example.certificate()));
    const chain = new CachingChainReader(inner);
    const results = await Promise.all(
      Array.from({ length: 16 }, () => verifyCertificate(example.certificate(), { chain })),
    );
    expect(results.map((r) => r.verdict)).to.deep.equal(Array<string>(16).fill("valid"));
    // A read under way is shared: chain id, newest block, code, anchorOf, block, receipt, once each.
    expect(inner.reads).to.equal(6);
  });

  it("reads each anchor once when the CachingChainReader is read through an OutageReader, as evidence verify and the API read it", async () => {
    const inner = RecordedChain.holding(parseCertificate(example.certificate()));
    const chain = new OutageReader().over(new CachingChainReader(inner));
    for (let i = 0; i < 5; i++)
      expect((await verifyCertificate(example.certificate(), { chain })).verdict).to.equal("valid");
    // The newest block, too, once: the cache's highest seen is not lost behind the wrapper.
    expect(inner.reads).to.equal(6);
  });

  describe("on a chain whose blocks are final only some blocks deep (finalityDepth)", () => {
    const certificate = () => parseCertificate(example.certificate());
    const anchoredIn = () => claimsOf(certificate()).anchor.blockNumber;

    it("remembers nothing of a block with fewer blocks above it than the depth: whoever asks first does not decide what later verifications are told", async () => {
      const inner = RecordedChain.holding(certificate());
      inner.latest = anchoredIn() + 1;
      const chain = new CachingChainReader(inner, { finalityDepth: 3 });
      expect((await verifyCertificate(example.certificate(), { chain })).verdict).to.equal("valid");
      const first = inner.reads;
      expect((await verifyCertificate(example.certificate(), { chain })).verdict).to.equal("valid");
      // anchorOf, block and receipt again (and the newest block, asked whether they are final yet).
      expect(inner.reads - first).to.be.at.least(3);
    });

    it("remembers them once as many blocks are above as the depth", async () => {
      const inner = RecordedChain.holding(certificate());
      inner.latest = anchoredIn() + 3;
      const chain = new CachingChainReader(inner, { finalityDepth: 3 });
      await verifyCertificate(example.certificate(), { chain });
      const first = inner.reads;
      for (let i = 0; i < 3; i++)
        expect((await verifyCertificate(example.certificate(), { chain })).verdict).to.equal("valid");
      expect(inner.reads).to.equal(first);
    });

    it("answers from the chain as it is after a block not yet final is replaced (a reorganisation)", async () => {
      const inner = RecordedChain.holding(certificate());
      inner.latest = anchoredIn();
      const chain = new CachingChainReader(inner, { finalityDepth: 2 });
      expect((await verifyCertificate(example.certificate(), { chain })).verdict).to.equal("valid");
      // The block is replaced by one without the transaction: the anchor is gone from it.
      inner.recordBlock(anchoredIn(), { hash: `0x${"ab".repeat(32)}`, timestamp: 1, transactions: [] });
      inner.record(claimsOf(certificate()).anchor.contract, claimsOf(certificate()).root, {
        timestamp: 0,
        blockNumber: 0,
        treeSize: 0,
      });
      const after = await verifyCertificate(example.certificate(), { chain });
      // The anchor is gone from the chain that still has its transaction: read afresh, not remembered.
      expect(after.checks.find((c) => c.id === "anchor")!.reason.code).to.equal("anchor.never-anchored");
    });
  });

  describe("CachingChainReader.stillHeld: whether the node still has the newest block anything remembered is in", () => {
    const certificate = () => parseCertificate(example.certificate());
    const anchoredIn = () => claimsOf(certificate()).anchor.blockNumber;

    it("is true, and forgets nothing, while the node has that block as it was", async () => {
      const inner = RecordedChain.holding(certificate());
      const chain = new CachingChainReader(inner);
      await verifyCertificate(example.certificate(), { chain });
      expect(await chain.stillHeld()).to.equal(true);
      const before = inner.reads;
      await verifyCertificate(example.certificate(), { chain });
      expect(inner.reads, "nothing read again").to.equal(before);
    });

    it("is false when a newer block was read on another fork since it last asked: the blocks remembered before are asked about too", async () => {
      const inner = RecordedChain.holding(certificate());
      const chain = new CachingChainReader(inner);
      await verifyCertificate(example.certificate(), { chain });
      expect(await chain.stillHeld()).to.equal(true);
      // A fork replaces the anchoring block and those after it; a verification then reads a newer block of the fork.
      const fork = (n: number) => ({
        hash: `0x${n.toString(16).padStart(64, "e")}` as `0x${string}`,
        timestamp: 1,
        transactions: [],
      });
      inner.recordBlock(anchoredIn(), fork(anchoredIn()));
      inner.recordBlock(anchoredIn() + 5, fork(anchoredIn() + 5));
      await chain.block(anchoredIn() + 5);
      expect(await chain.stillHeld()).to.equal(false);
      expect((await chain.block(anchoredIn()))?.hash, "read again").to.equal(fork(anchoredIn()).hash);
    });

    // newest block, code, anchorOf, block, receipt; and with no block, the block again for
    // the anchor, which is remembered only with its block's hash.
    for (const [what, change, reads] of [
      [
        "has another block there (a fork deeper than the finality depth)",
        (inner: RecordedChain) =>
          inner.recordBlock(anchoredIn(), { hash: `0x${"cd".repeat(32)}`, timestamp: 1, transactions: [] }),
        5,
      ],
      [
        "has no block there (a node restored from an older backup)",
        (inner: RecordedChain) => inner.forgetBlock(anchoredIn()),
        6,
      ],
    ] as const) {
      it(`is false, and everything is read again, when the node ${what}`, async () => {
        const inner = RecordedChain.holding(certificate());
        const chain = new CachingChainReader(inner);
        await verifyCertificate(example.certificate(), { chain });
        change(inner);
        expect(await chain.stillHeld()).to.equal(false);
        const before = inner.reads;
        await verifyCertificate(example.certificate(), { chain });
        expect(inner.reads - before).to.equal(reads);
      });
    }
  });

  it("reads everything again after a CachingChainReader is told to forget, keeping nothing a read begun before returned", async () => {
    const inner = RecordedChain.holding(parseCertificate(example.certificate()));
    const chain = new CachingChainReader(inner);
    await verifyCertificate(example.certificate(), { chain });
    const { contract, root } = {
      contract: (example.certificate() as any).anchor.contract,
      root: (example.certificate() as any).proof.root,
    };
    chain.forget();
    const begun = chain.anchorOf(contract, root); // under way when the chain is found changed again
    chain.forget();
    await begun;
    const before = inner.reads;
    expect((await verifyCertificate(example.certificate(), { chain })).verdict).to.equal("valid");
    // chain id stays (a node of another chain is refused anyway); newest block, code, anchorOf, block, receipt again.
    expect(inner.reads - before).to.equal(5);
  });

  it("remembers the interior nodes a batch's proofs share, never a verdict: once the whole batch verifies, a certificate with any path element or its leaf index changed still fails inclusion", async () => {
    const leaves = Array.from({ length: 13 }, (_, i) => {
      const record = buildRecord({ contentHash: sha256Hex(new Uint8Array([i])), submitter: "acct" });
      return { record, leafHash: toHex32(recordLeaf(record).leafHash) };
    });
    const { anchor, issuer, issuedAt } = claimsOf(parseCertificate(example.certificateV2()));
    const batch = await buildCertificates(
      {
        version: 2,
        leaves,
        tree: MerkleTree.fromLeafHashes(leaves.map((l) => fromHex32(l.leafHash))),
        anchor,
        issuerName: issuer.name,
        issuedAt,
      },
      new InProcessSigner(example.issuer().privateKey),
    );
    const chain = new CachingChainReader(RecordedChain.holding(batch[0]!));
    for (const certificate of batch)
      expect((await verifyCertificate(certificate, { chain })).verdict).to.equal("valid");
    const altered = (c: Certificate, change: (proof: any) => void) => {
      const copy = structuredClone(c) as any;
      change(copy.proof);
      return copy;
    };
    for (const certificate of batch) {
      const { leafIndex, path } = (certificate as any).proof;
      const forgeries = [
        ...path.map((_: string, j: number) =>
          altered(
            certificate,
            (proof) => (proof.path[j] = `0x${"0".repeat(63)}${proof.path[j].endsWith("0") ? 1 : 0}`),
          ),
        ),
        altered(
          certificate,
          (proof) => (proof.leafIndex = leafIndex === batch.length - 1 ? leafIndex - 1 : leafIndex ^ 1),
        ),
      ];
      for (const forgery of forgeries) {
        const result = await verifyCertificate(forgery, { chain });
        expect(statusOf(result, "inclusion"), JSON.stringify(forgery.proof)).to.equal("failed");
      }
    }
  });

  it("keeps a CachingChainReader within its limit, dropping the entry read longest ago", async () => {
    const certificate = parseCertificate(example.certificate());
    const inner = RecordedChain.holding(certificate);
    const chain = new CachingChainReader(inner, { limit: 1 });
    await verifyCertificate(certificate, { chain });
    const afterFirst = inner.reads;
    await verifyCertificate(certificate, { chain });
    expect(inner.reads, "the one anchor, block and receipt stay cached").to.equal(afterFirst);
    const { contract, blockNumber, blockHash, timestamp } = (certificate as any).anchor;
    await chain.anchorOf(contract, `0x${"ab".repeat(32)}`); // never anchored: not cached, evicts nothing
    inner.recordBlock(blockNumber + 1, { hash: blockHash, timestamp: timestamp + 1, transactions: [] });
    await chain.block(blockNumber + 1);
    const beforeLast = inner.reads;
    await verifyCertificate(certificate, { chain });
    expect(inner.reads - beforeLast, "only the certificate's block, pushed out by the other, is read again").to.equal(
      1,
    );
  });
});

/** A key that is not the issuer's: a forger's. */
const FORGER_KEY = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d";

describe("verifyEvidence on JSON that carries the certificate under 'certificate' (the status route's answer, the API's body)", () => {
  const chain = () => RecordedChain.holding(parseCertificate(example.certificate()));
  const bytes = (text: string) => new TextEncoder().encode(text);
  const certificate = example.certificate() as Record<string, any>;

  it("verifies the certificate it carries, as the API does", async () => {
    const view = JSON.stringify({ id: certificate.record.id, status: "anchored", certificate });
    const result = await verifyEvidence({ kind: "bytes", bytes: bytes(view) }, { chain: chain(), fileDigest });
    expect([result.verdict, result.fileCompared]).to.deep.equal(["valid", true]);
  });

  /** The status answer the service writes for this certificate: its record, one history entry. */
  const statusAnswer = () => {
    const claims = claimsOf(parseCertificate(certificate));
    return {
      id: claims.record.id,
      status: "anchored",
      record: claims.record,
      certificate,
      history: [
        { issuedAt: claims.issuedAt, reason: "anchored", current: true, blockNumber: claims.anchor.blockNumber },
      ],
    } as Record<string, any>;
  };
  const verifyText = (value: unknown) =>
    verifyEvidence({ kind: "bytes", bytes: bytes(JSON.stringify(value)) }, { chain: chain(), fileDigest });

  /** The status answer after a second certificate (`reason`), the first issued at submission naming `firstBlock`. */
  const reissuedAnswer = (reason: "time-stamped" | "re-anchored", firstBlock: number) => {
    const answer = statusAnswer();
    const claims = claimsOf(parseCertificate(certificate));
    answer.history[0].reason = reason;
    answer.history.unshift({
      issuedAt: claims.record.submittedAt,
      reason: "anchored",
      current: false,
      blockNumber: firstBlock,
    });
    return answer;
  };
  const anchorBlock = () => claimsOf(parseCertificate(certificate)).anchor.blockNumber;

  it("verifies the status answer as the service writes it, and with a certificate issued before this one in its history", async () => {
    expect((await verifyText(statusAnswer())).verdict).to.equal("valid");
    expect((await verifyText(reissuedAnswer("time-stamped", anchorBlock()))).verdict).to.equal("valid");
  });

  it("verifies the status answer of evidence anchored again after a rollback, the lost anchor in a higher block", async () => {
    const again = reissuedAnswer("re-anchored", anchorBlock() + 50);
    again.notice = NOTICE_REANCHORED;
    expect((await verifyText(again)).verdict).to.equal("valid");
  });

  for (const [what, change] of [
    [
      "a record other than the certificate's",
      (a: Record<string, any>) => (a.record = { ...a.record, title: "Signed contract (original, 2020)" }),
    ],
    ["a member the status answer never has", (a: Record<string, any>) => (a.anchoredAt = "2020-01-01T00:00:05.000Z")],
    ["another evidence id", (a: Record<string, any>) => (a.id = "AAAAAAAAAAAAAAAAAAAAAA")],
    ["a status other than anchored", (a: Record<string, any>) => (a.status = "pending")],
    ["a notice in other words", (a: Record<string, any>) => (a.notice = "first anchored on 1 January 2020")],
    [
      "an earlier certificate dated before the record was submitted",
      (a: Record<string, any>) =>
        a.history.unshift({ issuedAt: "2020-01-01T00:00:00.000Z", reason: "anchored", current: false, blockNumber: 1 }),
    ],
    ["a history that ends with another certificate", (a: Record<string, any>) => (a.history[0].blockNumber += 1)],
    ["a history entry with more in it", (a: Record<string, any>) => (a.history[0].note = "issued in 2020")],
    [
      "an earlier certificate naming a negative block",
      (a: Record<string, any>) =>
        a.history.unshift({ ...a.history[0], reason: "anchored", current: false, blockNumber: -9007199254740991 }),
    ],
    [
      "the service's notice of a lost anchor where the history shows none",
      (a: Record<string, any>) => (a.notice = NOTICE_REANCHORED),
    ],
  ] as const) {
    it(`is invalid, nothing but the format checked, with ${what} beside the certificate`, async () => {
      const answer = statusAnswer();
      change(answer);
      const result = await verifyText(answer);
      expect([result.verdict, result.checks[0]!.status]).to.deep.equal(["invalid", "failed"]);
      expect(
        result.checks.slice(1).every((c) => c.status === "skipped"),
        "nothing else was checked",
      ).to.equal(true);
      expect(reasonOf(result, "format")).to.include({ code: "format.malformed" });
      expect((reasonOf(result, "format") as { message: string }).message).to.match(
        new RegExp(`^${CERTIFICATE_WITH_STATEMENTS}: "`),
      );
    });
  }

  it("is invalid when what it carries was altered, or when a key is written twice anywhere in it", async () => {
    const altered = structuredClone(certificate);
    altered.record.contentHash = "0".repeat(64);
    const alteredView = JSON.stringify({ certificate: altered });
    expect((await verifyEvidence({ kind: "bytes", bytes: bytes(alteredView) }, { chain: chain() })).verdict).to.equal(
      "invalid",
    );
    const twice = `{"status":"anchored","status":"pending","certificate":${JSON.stringify(certificate)}}`;
    const result = await verifyEvidence({ kind: "bytes", bytes: bytes(twice) }, { chain: chain() });
    expect([result.verdict, result.checks[0]!.status]).to.deep.equal(["invalid", "failed"]);
  });
});

describe("times the issuer states that the anchor contradicts (protocol §8.6)", () => {
  /** A certificate of one record the example issuer signs with the times given: all its key takes. */
  async function issued(version: 1 | 2, times: { submittedAt?: string; issuedAt?: string }): Promise<Certificate> {
    const c = structuredClone(version === 1 ? example.certificate() : example.certificateV2()) as Record<string, any>;
    if (times.submittedAt) c.record = { ...c.record, submittedAt: times.submittedAt };
    const leaf = toHex32(hashLeaf(canonicalBytes(c.record)));
    c.leafHash = leaf;
    if (version === 1) {
      c.proof = { ...c.proof, leafIndex: 0, treeSize: 1, path: [], root: leaf };
      if (times.issuedAt) c.issuedAt = times.issuedAt;
    } else {
      c.proof = { ...c.proof, leafIndex: 0, path: [] };
      c.batch = { ...c.batch, root: leaf, treeSize: 1, ...(times.issuedAt ? { issuedAt: times.issuedAt } : {}) };
    }
    return resign(c);
  }
  const anchoredAt = (c: Certificate) => claimsOf(c).anchor.timestamp * 1000;
  const iso = (ms: number) => new Date(ms).toISOString();
  const stated = (r: VerificationResult) =>
    r.warnings.filter((w) => w.code === "warning.stated-time-contradicts-anchor").map((w) => w.stated);

  const versions = [1, 2] as const;
  const anchoredOf = (version: 1 | 2) =>
    anchoredAt(parseCertificate(version === 1 ? example.certificate() : example.certificateV2()));

  it("warns, beside VALID, of a certificate (either version) submitted an hour after its root was anchored, or issued an hour before", async () => {
    for (const version of versions) {
      const anchored = anchoredOf(version);
      const late = await issued(version, { submittedAt: iso(anchored + 3_600_000) });
      const early = await issued(version, { issuedAt: iso(anchored - 3_600_000) });
      const both = await issued(version, {
        submittedAt: iso(anchored + 3_600_000),
        issuedAt: iso(anchored - 3_600_000),
      });
      for (const [certificate, warned] of [
        [late, ["submittedAt"]],
        [early, ["issuedAt"]],
        [both, ["submittedAt", "issuedAt"]],
      ] as const) {
        const result = await verifyCertificate(certificate, { chain: RecordedChain.holding(certificate) });
        expect([result.verdict, stated(result)], `version ${version}`).to.deep.equal(["valid", warned]);
      }
      const warning = (await verifyCertificate(late, { chain: RecordedChain.holding(late) })).warnings.find(
        (w) => w.code === "warning.stated-time-contradicts-anchor",
      );
      expect(warning).to.deep.equal({
        code: "warning.stated-time-contradicts-anchor",
        stated: "submittedAt",
        at: iso(anchored + 3_600_000),
        anchoredAt: iso(anchored),
      });
    }
  });

  it("says nothing of times within 600 s of the anchor's, or of a submission long before it (items wait while the chain is unreachable)", async () => {
    for (const version of versions) {
      const anchored = anchoredOf(version);
      for (const times of [
        { submittedAt: iso(anchored + 600_000), issuedAt: iso(anchored - 600_000) },
        { submittedAt: iso(anchored - 30 * 86_400_000) },
      ]) {
        const certificate = await issued(version, times);
        const result = await verifyCertificate(certificate, { chain: RecordedChain.holding(certificate) });
        expect([result.verdict, stated(result)], `version ${version} ${JSON.stringify(times)}`).to.deep.equal([
          "valid",
          [],
        ]);
      }
    }
  });

  it("says neither of a certificate whose anchor did not pass: its time is not known", async () => {
    const certificate = await issued(2, { submittedAt: "2031-01-01T00:00:00.000Z" });
    const result = await verifyCertificate(certificate, {
      chain: new RecordedChain(claimsOf(certificate).anchor.chainId),
    });
    expect(result.verdict).to.not.equal("valid");
    expect(stated(result)).to.deep.equal([]);
  });
});

describe("verifyEvidence beside a ZIP its caller could not read (unreadPackage)", () => {
  /** A genuine-looking capture certificate: the record of a capture's manifest, a tree of one, signed by the example issuer. */
  async function captureCertificate(contentHash?: string): Promise<Certificate> {
    const c = structuredClone(example.certificate()) as Record<string, any>;
    c.record = {
      ...c.record,
      mediaType: MEDIA_TYPE_CAPTURE,
      fileName: "manifest.json",
      ...(contentHash ? { contentHash } : {}),
    };
    const leaf = toHex32(hashLeaf(canonicalBytes(c.record)));
    c.leafHash = leaf;
    c.proof = { ...c.proof, leafIndex: 0, treeSize: 1, path: [], root: leaf };
    return resign(c);
  }
  const zipDigest = sha256Hex("the bytes of a capture package too large to read");
  const content = (r: VerificationResult) => [r.verdict, statusOf(r, "content"), reasonOf(r, "content").code];

  it("could not verify a capture's certificate whose content hash is not the ZIP's: the package is compared by its files", async () => {
    const certificate = await captureCertificate();
    const result = await verifyEvidence(
      { kind: "certificate", certificate },
      { chain: RecordedChain.holding(certificate), fileDigest: zipDigest, unreadPackage: { size: 70_000_000 } },
    );
    expect(content(result)).to.deep.equal(["indeterminate", "error", "content.package-unread"]);
    expect(result.fileCompared).to.equal(false);
  });

  it("still says INVALID when the capture's certificate itself fails, and VALID when the ZIP is what was certified", async () => {
    const certificate = await captureCertificate();
    const altered = { ...structuredClone(certificate), issuedAt: "2020-01-01T00:00:00.000Z" };
    const chain = () => RecordedChain.holding(certificate);
    const unread = { unreadPackage: { size: 70_000_000 } };
    const forged = await verifyEvidence(
      { kind: "certificate", certificate: altered },
      { chain: chain(), fileDigest: zipDigest, ...unread },
    );
    expect([forged.verdict, statusOf(forged, "signature")]).to.deep.equal(["invalid", "failed"]);
    const itself = await verifyEvidence(
      { kind: "certificate", certificate },
      { chain: chain(), fileDigest: certificate.record.contentHash, ...unread },
    );
    expect(content(itself)).to.deep.equal(["valid", "passed", "content.match"]);
  });

  it("could not verify a capture package beside a ZIP it could not read, which may be the same capture zipped again", async () => {
    const screenshot = new TextEncoder().encode("a screenshot's bytes");
    const manifest = new TextEncoder().encode(
      canonicalize({
        type: "evidence-anchor-capture",
        version: 1,
        url: "https://shop.example/item",
        finalUrl: "https://shop.example/item",
        startedAt: "2026-11-27T10:00:00Z",
        finishedAt: "2026-11-27T10:00:05Z",
        artifacts: [
          { name: "screenshot.png", mediaType: "image/png", size: screenshot.length, sha256: sha256Hex(screenshot) },
        ],
      }),
    );
    const certificate = await captureCertificate(sha256Hex(manifest));
    const zip = zipSync({
      "manifest.json": manifest,
      "screenshot.png": screenshot,
      "certificate.evidence.json": new TextEncoder().encode(JSON.stringify(certificate)),
    });
    const chain = () => RecordedChain.holding(certificate);
    const read = await verifyEvidence({ kind: "bytes", bytes: zip }, { chain: chain() });
    expect(read.verdict, "the package itself").to.equal("valid");
    const result = await verifyEvidence(
      { kind: "bytes", bytes: zip },
      { chain: chain(), fileDigest: zipDigest, unreadPackage: { size: 70_000_000 } },
    );
    expect(content(result)).to.deep.equal(["indeterminate", "error", "content.package-unread"]);
  });

  it("judges a certificate of an ordinary file by the hash as ever: another file is INVALID", async () => {
    const result = await verifyEvidence(
      { kind: "certificate", certificate: example.certificate() },
      {
        chain: RecordedChain.holding(parseCertificate(example.certificate())),
        fileDigest: zipDigest,
        unreadPackage: { size: 70_000_000 },
      },
    );
    expect(content(result)).to.deep.equal(["invalid", "failed", "content.mismatch"]);
  });
});

/** An encrypted PDF of something else: a contract sealed by its author's PDF tool. */
const ENCRYPTED_CONTRACT = new TextEncoder().encode(
  "%PDF-1.7\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n2 0 obj\n<< /Type /Pages /Kids [] /Count 0 >>\nendobj\n" +
    "3 0 obj\n<< /Filter /Standard /V 2 /R 3 /Length 128 /P -44 >>\nendobj\n" +
    "xref\n0 4\n0000000000 65535 f \n0000000009 00000 n \n0000000058 00000 n \n0000000115 00000 n \n" +
    "trailer\n<< /Size 4 /Root 1 0 R /Encrypt 3 0 R >>\nstartxref\n186\n%%EOF\n",
);

describe("notACertificate: a folder's files that hold no certificate are passed over, large ones too", () => {
  const bytes = (text: string) => new TextEncoder().encode(text);
  const nested = (depth: number) => `${"[".repeat(depth)}${"]".repeat(depth)}`;

  it("passes over JSON whose certificate member is another kind of certificate (a product's CCC number), and verifies one whose member could be a certificate", async () => {
    const listing = { product: "蓝牙耳机 X1", certificate: { type: "CCC", number: "2024011606000001" } };
    expect(await notACertificate("product.json", bytes(JSON.stringify(listing)))).to.equal("json-not-a-certificate");
    for (const certificate of [{ record: {} }, { type: "evidence-anchor-certificate" }, "text", null, []]) {
      expect(await notACertificate("answer.json", bytes(JSON.stringify({ certificate }))), JSON.stringify(certificate))
        .to.be.undefined;
    }
  });

  it("passes over JSON nested past the limit (an organisation chart, say) that names nothing of a certificate", async () => {
    expect(await notACertificate("orgchart.json", bytes(`{"staff":${nested(100)}}`))).to.equal(
      "json-not-a-certificate",
    );
  });

  it("verifies JSON nested past the limit that names a certificate's keys: it claims to be one", async () => {
    expect(await notACertificate("x.json", bytes(`{"record":${nested(100)}}`))).to.equal(undefined);
  });

  it("passes over a ZIP whose manifest.json nests past the limit, as one whose manifest.json is not JSON: archives of other things", async () => {
    for (const manifest of [`{"a":${nested(100)}}`, "not json"]) {
      expect(await notACertificate("other.zip", zipSync({ "manifest.json": bytes(manifest) }))).to.equal(
        "zip-not-a-package",
      );
    }
  });

  it("passes over a PDF with more values than the reader reads, unless it names Evidence Anchor", async () => {
    const group = `${"[".repeat(63)}${"]".repeat(63)} `;
    const body = group.repeat(Math.ceil((PDF_LIMITS.values + 1) / 63));
    const pdf = (extra: string) => bytes(`%PDF-1.7\n1 0 obj\n[${body}(${extra})]\nendobj\nstartxref\n9\n%%EOF\n`);
    // Nothing is said of what it carries (a large document's names may be compressed): it was not read.
    expect(await notACertificate("atlas.pdf", pdf("an atlas"))).to.equal("pdf-unreadable");
    expect(await notACertificate("c.pdf", pdf("Evidence Anchor"))).to.equal(undefined);
    // Verified, one that names Evidence Anchor could not be verified: never INVALID.
    const named = await verifyEvidence(
      { kind: "bytes", bytes: pdf("Evidence Anchor") },
      { chain: RecordedChain.holding(parseCertificate(example.certificate())) },
    );
    expect([named.verdict, named.checks[0]!.reason.code]).to.deep.equal([
      "indeterminate",
      "format.unsupported-document",
    ]);
  });

  it("passes over a PDF it cannot read that names neither Evidence Anchor nor a certificate (a download cut short); verifies one that names either, so that a damaged certificate document is INVALID, and any encrypted one, whose strings hide what it names", async () => {
    const vector = (name: string) => new Uint8Array(readFileSync(new URL(`../vectors/pdf/${name}`, import.meta.url)));
    expect(await notACertificate("sealed.pdf", ENCRYPTED_CONTRACT)).to.equal(undefined);
    // An encrypted certificate document names its attachment: verified (could not verify, as it is).
    expect(await notACertificate("certificate.pdf", vector("encrypted.pdf"))).to.equal(undefined);
    const cut = (extra: string) =>
      bytes(`%PDF-1.4\n1 0 obj << /Type /Catalog ${extra} /Pages 2 0 R >>\nendobj\n2 0 obj <<`);
    expect(await notACertificate("invoice.pdf", cut(""))).to.equal("pdf-unreadable");
    expect(await notACertificate("c.pdf", cut("(Evidence Anchor)"))).to.equal(undefined);
    expect(await notACertificate("c.pdf", cut("(DP74eCXW4WbtG9jvZFxeBdFWuWk.evidence.json)"))).to.equal(undefined);
    // A certificate document cut short still names its attachment: verified, and INVALID.
    expect(await notACertificate("certificate.pdf", vector("truncated.pdf"))).to.equal(undefined);
  });
});
