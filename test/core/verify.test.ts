import { expect } from "chai";
import { Wallet } from "ethers";
import {
  CachingAnchorReader,
  CHECK_IDS,
  parseCertificate,
  signCertificate,
  verifyCertificate,
  type Certificate,
  type CheckId,
  type UnsignedCertificate,
} from "../../service/core/index.ts";
import { RecordedChain } from "../helpers/recorded-chain.ts";
import { example } from "../helpers/vectors.ts";
import { sha256Hex } from "../helpers/hash.ts";

const fileDigest = sha256Hex(example.file());
const chainFor = () => RecordedChain.holding(parseCertificate(example.certificate()));
const failed = (checks: { id: CheckId; status: string }[]) =>
  checks.filter((c) => c.status === "failed").map((c) => c.id);

/** Re-signs a mutated certificate with the example issuer key: the signature then passes. */
async function resign(c: Record<string, unknown>): Promise<Certificate> {
  const { signature: _, ...unsigned } = c;
  return signCertificate(unsigned as unknown as UnsignedCertificate, new Wallet(example.issuer().privateKey));
}

describe("verifyCertificate", () => {
  it("passes every check of the example certificate with its file", async () => {
    const result = await verifyCertificate(example.certificate(), { fileDigest, chain: chainFor() });
    expect(result.checks.map((c) => [c.id, c.status])).to.deep.equal(CHECK_IDS.map((id) => [id, "passed"]));
    expect(result.valid).to.equal(true);
    expect(result.anchoredAt).to.equal("2026-11-25T16:39:05.000Z");
  });

  it("skips content without a file and is still valid", async () => {
    const result = await verifyCertificate(JSON.stringify(example.certificate()), { chain: chainFor() });
    expect(result.checks.find((c) => c.id === "content")!.status).to.equal("skipped");
    expect(result.valid).to.equal(true);
  });

  it("fails content for another file", async () => {
    const other = sha256Hex("another file");
    const result = await verifyCertificate(example.certificate(), { fileDigest: other, chain: chainFor() });
    expect(failed(result.checks)).to.deep.equal(["content"]);
    expect(result.valid).to.equal(false);
  });

  it("accepts an uppercase typed SHA-256, and fails content for one that is not hex", async () => {
    const ok = await verifyCertificate(example.certificate(), {
      fileDigest: fileDigest.toUpperCase(),
      chain: chainFor(),
    });
    expect(ok.valid).to.equal(true);
    const bad = await verifyCertificate(example.certificate(), { fileDigest: "xyz", chain: chainFor() });
    expect(failed(bad.checks)).to.deep.equal(["content"]);
  });

  describe("when the certificate is malformed", () => {
    for (const [what, input] of [
      ["not JSON", "{not json"],
      ["JSON null", "null"],
      ["an array", []],
      ["empty", ""],
    ] as const) {
      it(`fails format for ${what} and skips the rest, without throwing`, async () => {
        const result = await verifyCertificate(input, { chain: chainFor() });
        expect(result.valid).to.equal(false);
        expect(result.checks[0]).to.include({ id: "format", status: "failed" });
        expect(result.checks.slice(1).every((c) => c.status === "skipped")).to.equal(true);
      });
    }
  });

  describe("when a field is changed after signing", () => {
    const cases: [string, (c: Record<string, any>) => void, CheckId[]][] = [
      ["record.contentHash", (c) => (c.record.contentHash = "0".repeat(64)), ["content", "leaf", "signature"]],
      ["record.submittedAt", (c) => (c.record.submittedAt = "2020-01-01T00:00:00.000Z"), ["leaf", "signature"]],
      ["leafHash", (c) => (c.leafHash = `0x${"1".repeat(64)}`), ["leaf", "inclusion", "signature"]],
      ["proof.path[0]", (c) => (c.proof.path[0] = `0x${"2".repeat(64)}`), ["inclusion", "signature"]],
      ["proof.leafIndex", (c) => (c.proof.leafIndex = 0), ["inclusion", "signature"]],
      ["proof.treeSize", (c) => (c.proof.treeSize = 4), ["anchor", "signature"]],
      ["proof.root", (c) => (c.proof.root = `0x${"3".repeat(64)}`), ["inclusion", "anchor", "signature"]],
      ["anchor.timestamp", (c) => (c.anchor.timestamp -= 86_400), ["anchor", "signature"]],
      ["anchor.blockNumber", (c) => (c.anchor.blockNumber += 1), ["anchor", "signature"]],
      ["anchor.blockHash", (c) => (c.anchor.blockHash = `0x${"4".repeat(64)}`), ["anchor", "signature"]],
      ["anchor.chainId", (c) => (c.anchor.chainId = 1), ["anchor", "signature"]],
      ["anchor.contract", (c) => (c.anchor.contract = "0x" + "5".repeat(40)), ["anchor", "signature"]],
      ["anchor.txHash", (c) => (c.anchor.txHash = `0x${"6".repeat(64)}`), ["signature"]],
      ["issuer.address", (c) => (c.issuer.address = "0x" + "7".repeat(40)), ["signature"]],
      ["issuer.name", (c) => (c.issuer.name = "Someone else"), ["signature"]],
      ["issuedAt", (c) => (c.issuedAt = "2030-01-01T00:00:00.000Z"), ["signature"]],
      ["signature", (c) => (c.signature = c.signature.replace(/.$/, "d")), ["signature"]],
    ];
    for (const [field, mutate, want] of cases) {
      it(`fails ${want.join(" and ")} for a changed ${field}`, async () => {
        const c = example.certificate();
        mutate(c);
        const result = await verifyCertificate(c, { fileDigest, chain: chainFor() });
        expect(failed(result.checks)).to.deep.equal(want);
        expect(result.valid).to.equal(false);
      });
    }

    it("still fails on the proof's own check when the forger re-signs with another key", async () => {
      const c = example.certificate() as Record<string, any>;
      c.record.contentHash = "0".repeat(64);
      const { signature: _, ...unsigned } = c;
      const forged = await signCertificate(unsigned as UnsignedCertificate, Wallet.createRandom());
      const result = await verifyCertificate(forged, { chain: chainFor() });
      expect(failed(result.checks)).to.deep.equal(["leaf", "signature"]);
    });
  });

  it("fails anchor for a valid proof to a root that was never anchored", async () => {
    const c = example.certificate() as Record<string, any>;
    const chain = new RecordedChain(31337);
    chain.record(c.anchor.contract, `0x${"9".repeat(64)}`, { timestamp: 1, blockNumber: 1, treeSize: 1 });
    const result = await verifyCertificate(c, { chain });
    expect(failed(result.checks)).to.deep.equal(["anchor"]);
    expect(result.checks.find((x) => x.id === "anchor")!.detail).to.match(/never anchored/);
  });

  it("fails anchor, naming both ids, against a chain of another id", async () => {
    const c = example.certificate() as Record<string, any>;
    c.anchor.chainId = 1337;
    const result = await verifyCertificate(await resign(c), { chain: chainFor() });
    expect(failed(result.checks)).to.deep.equal(["anchor"]);
    expect(result.checks.find((x) => x.id === "anchor")!.detail).to.match(/31337.*1337/);
  });

  it("fails anchor when the chain cannot be read, and is not valid", async () => {
    const chain = chainFor();
    chain.unreachable = true;
    const result = await verifyCertificate(example.certificate(), { fileDigest, chain });
    expect(failed(result.checks)).to.deep.equal(["anchor"]);
    expect(result.valid).to.equal(false);
    expect(result.anchoredAt).to.equal(null);
  });

  it("fails on the record swapped between two valid certificates", async () => {
    const c = example.certificate() as Record<string, any>;
    c.record = example.records().records[0]!.record;
    const result = await verifyCertificate(await resign(c), { chain: chainFor() });
    expect(failed(result.checks)).to.deep.equal(["leaf"]);
  });

  it("reads each anchor once through a CachingAnchorReader", async () => {
    const inner = chainFor();
    const chain = new CachingAnchorReader(inner);
    for (let i = 0; i < 5; i++)
      expect((await verifyCertificate(example.certificate(), { chain })).valid).to.equal(true);
    expect(inner.reads).to.equal(3);
  });

  it("keeps a CachingAnchorReader within its limit, dropping the entry read longest ago", async () => {
    const inner = chainFor();
    const chain = new CachingAnchorReader(inner, { limit: 1 });
    const certificate = parseCertificate(example.certificate());
    await verifyCertificate(certificate, { chain });
    const afterFirst = inner.reads;
    await verifyCertificate(certificate, { chain });
    expect(inner.reads, "the one anchor and the one block stay cached").to.equal(afterFirst);
    const { contract, blockNumber, blockHash, timestamp } = certificate.anchor;
    await chain.anchorOf(contract, `0x${"ab".repeat(32)}`); // never anchored: not cached, evicts nothing
    inner.recordBlock(blockNumber + 1, { hash: blockHash, timestamp: timestamp + 1 });
    await chain.block(blockNumber + 1);
    const beforeLast = inner.reads;
    await verifyCertificate(certificate, { chain });
    expect(inner.reads - beforeLast, "only the certificate's block, pushed out by the other, is read again").to.equal(
      1,
    );
  });
});
