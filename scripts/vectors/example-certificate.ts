/**
 * Writes test/vectors/certificate/: a batch of three example records, their leaf hashes,
 * the tree, and signed certificates (version 1 and version 2) for the second record, for
 * the core, service, CLI and web tests to share. Deterministic: fixed ids, salts and times, and ECDSA signatures
 * are deterministic (RFC 6979).
 *
 *     node scripts/vectors/example-certificate.ts
 */
import { writeFileSync } from "node:fs";
import {
  buildCertificates,
  buildRecord,
  canonicalize,
  contentHashOf,
  MerkleTree,
  recordLeafHash,
  toHex32,
  type AnchorJson,
} from "../../service/core/index.ts";
import { InProcessSigner } from "../../service/anchoring/signers.ts";

const OUT = new URL("../../test/vectors/certificate/", import.meta.url);

// The first default account of Hardhat and Anvil: a key everybody knows, for vectors only.
const ISSUER_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";

/** The file the example certificate is about. */
const EVIDENCE_FILE = "infringing page";

const records = [
  buildRecord({
    id: "Ue7gQ2hTn4c1mXbVq9KzAw",
    contentHash: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    submitter: "acct_example",
    submittedAt: new Date("2026-11-25T16:39:00.123Z"),
    salt: "00112233445566778899aabbccddeeff",
    size: 0,
    fileName: "empty.txt",
    mediaType: "text/plain",
  }),
  buildRecord({
    id: "q1Zr8xYwK0pLmN3oB5cD7e",
    contentHash: contentHashOf(new TextEncoder().encode(EVIDENCE_FILE)),
    submitter: "acct_example",
    submittedAt: new Date("2026-11-25T16:39:01.456Z"),
    salt: "ffeeddccbbaa99887766554433221100",
    size: 15,
    fileName: "侵权页面截图.png",
    mediaType: "image/png",
    title: "商品详情页截图 / product page screenshot",
    sourceUrl: 'https://shop.example.com/item/123?ref=a&b="c"',
    note: "line one\nline two \u00e9 \ud83d\udcf7",
  }),
  buildRecord({
    id: "Zx9Yw8Vu7Ts6Rq5Po4Nm3L",
    contentHash: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    submitter: "acct_other",
    submittedAt: new Date("2026-11-25T16:39:02.789Z"),
    salt: "0123456789abcdef0123456789abcdef",
  }),
];

const leafHashes = records.map(recordLeafHash);
const tree = MerkleTree.fromLeafHashes(leafHashes);
const index = 1;
const anchor: AnchorJson = {
  chainId: 31337,
  contract: "0x5FbDB2315678afecb367f032d93F642f64180aa3",
  txHash: "0x6b3d7a2f1c0e9d8b7a6f5e4d3c2b1a09f8e7d6c5b4a39281706f5e4d3c2b1a09",
  blockNumber: 12,
  blockHash: "0x1f2e3d4c5b6a79880f1e2d3c4b5a69788f9eadbccbdae0f1021324354657687f",
  timestamp: 1795624745,
};
const signer = new InProcessSigner(ISSUER_KEY);
// The same function the service issues certificates with, for both versions.
const certify = (version: 1 | 2) =>
  buildCertificates(
    {
      version,
      leaves: records.map((record, i) => ({ record, leafHash: toHex32(leafHashes[i]!) })),
      tree,
      anchor,
      issuerName: "Evidence Anchor example issuer",
      issuedAt: "2026-11-25T16:39:07.000Z",
    },
    signer,
  );
const certificate = (await certify(1))[index]!;
const certificateV2 = (await certify(2))[index]!;

write("records.json", {
  source: "scripts/vectors/example-certificate.ts",
  records: records.map((record, i) => ({
    record,
    canonical: canonicalize(record),
    leafHash: toHex32(leafHashes[i]!),
  })),
  root: toHex32(tree.root()),
});
write("certificate.json", certificate);
write("certificate-v2.json", certificateV2);
write("issuer.json", { address: signer.address, privateKey: ISSUER_KEY });
writeFileSync(new URL("evidence.txt", OUT), EVIDENCE_FILE);

function write(name: string, value: unknown): void {
  writeFileSync(new URL(name, OUT), `${JSON.stringify(value, null, 2)}\n`);
}
