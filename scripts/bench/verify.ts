/**
 * Verification speed: the core verifier in process (one batch; distinct batches), and the
 * `evidence verify` command (many certificates in one run; a single certificate).
 */
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { InProcessSigner } from "../../service/anchoring/signers.ts";
import {
  buildCertificates,
  CachingChainReader,
  claimsOf,
  fromHex32,
  hashChildren,
  hashLeaf,
  JsonRpcChainReader,
  MerkleTree,
  personalMessageDigest,
  signedBytes,
  recordLeaf,
  toHex32,
  verifyCertificate,
  buildRecord,
  type Certificate,
  type ChainReader,
  type Hex32,
} from "../../service/core/index.ts";
import { recoverSignerAddress } from "../../service/core/issuer-signature.ts";
import { runScript } from "../../test/helpers/processes.ts";
import { alternating, count, median, timed, type Report } from "./report.ts";

const CLI = "scripts/evidence.mjs";
const CONTRACT = "0x5FbDB2315678afecb367f032d93F642f64180aa3";

/** Certificates of `batches` batches of `perBatch` items each, signed by a real key, as JSON text. */
async function certificatesOf(batches: number, perBatch: number): Promise<{ texts: string[]; reader: ChainReader }> {
  const signer = new InProcessSigner(`0x${"11".repeat(32)}`);
  const texts: string[] = [];
  const claims: ReturnType<typeof claimsOf>[] = [];
  for (let b = 0; b < batches; b++) {
    const leaves = Array.from({ length: perBatch }, (_, i) => {
      const record = buildRecord({
        contentHash: randomBytes(32).toString("hex"),
        submitter: "acct",
        fileName: `f-${i}.pdf`,
      });
      return { record, leafHash: toHex32(recordLeaf(record).leafHash) };
    });
    const certificates = await buildCertificates(
      {
        version: 2,
        leaves,
        tree: MerkleTree.fromLeafHashes(leaves.map((l) => fromHex32(l.leafHash))),
        anchor: {
          chainId: 4043,
          contract: CONTRACT,
          txHash: toHex32(randomBytes(32)),
          blockNumber: 10 + b,
          blockHash: toHex32(randomBytes(32)),
          timestamp: 1_800_000_000 + b,
        },
        issuerName: "Evidence Anchor bench",
        issuedAt: new Date().toISOString(),
      },
      signer,
    );
    for (const c of certificates) texts.push(JSON.stringify(c, null, 2));
    claims.push(claimsOf(certificates[0]!));
  }
  return { texts, reader: memoryReader(claims, signer.address) };
}

/** A chain that answers exactly what the certificates claim, from memory: the verifier's own cost is what is left. */
function memoryReader(claims: ReturnType<typeof claimsOf>[], issuer: string): ChainReader {
  const byRoot = new Map(claims.map((c) => [c.root, c]));
  const byBlock = new Map(claims.map((c) => [c.anchor.blockNumber, c]));
  const byTx = new Map(claims.map((c) => [c.anchor.txHash, c]));
  return {
    chainId: async () => 4043,
    blockNumber: async () => 1_000_000,
    hasCode: async () => true,
    anchorOf: async (_contract, root) => {
      const c = byRoot.get(root)!;
      return { timestamp: c.anchor.timestamp, blockNumber: c.anchor.blockNumber, treeSize: c.treeSize };
    },
    block: async (n) => ({
      hash: byBlock.get(n)!.anchor.blockHash as Hex32,
      timestamp: byBlock.get(n)!.anchor.timestamp,
      transactions: [byBlock.get(n)!.anchor.txHash as Hex32],
    }),
    receipt: async (tx) => {
      const c = byTx.get(tx)!;
      return {
        status: 1,
        blockNumber: c.anchor.blockNumber,
        blockHash: c.anchor.blockHash as Hex32,
        anchored: [
          { contract: CONTRACT, root: c.root, anchorer: issuer, treeSize: c.treeSize, timestamp: c.anchor.timestamp },
        ],
      };
    },
  };
}

async function verifyAll(texts: readonly string[], chain: ChainReader): Promise<void> {
  for (const text of texts) {
    const result = await verifyCertificate(text, { chain });
    if (!result.valid) throw new Error(`a certificate did not verify: ${JSON.stringify(result.checks)}`);
  }
}

/**
 * The core verifier in process, chain reads answered from memory (CachingChainReader in
 * front, as the CLI and the service use it). One batch: against the core of the work of a
 * verifier that remembers nothing (JSON.parse, the leaf and every path hash of each).
 * Distinct batches: against bare secp256k1 public-key recovery, one per batch.
 */
export async function benchCoreVerify(report: Report): Promise<void> {
  const rounds = report.quick ? 1 : 3;

  // Each round verifies a batch it has not seen, so that no round profits from the interior
  // nodes an earlier one hashed (verify-certificate.ts remembers them).
  const oneBatch = report.quick ? 2_000 : 10_000;
  const batches = await Promise.all(Array.from({ length: rounds }, () => certificatesOf(1, oneBatch)));
  const bare = (texts: readonly string[]) => {
    for (const text of texts) {
      const c = JSON.parse(text) as Extract<Certificate, { version: 2 }>;
      let h = hashLeaf(new TextEncoder().encode(JSON.stringify(c.record)));
      for (const p of c.proof.path) h = hashChildren(h, fromHex32(p));
    }
  };
  const warmUp = await certificatesOf(1, 200);
  await verifyAll(warmUp.texts, new CachingChainReader(warmUp.reader)); // warm the JIT
  const single = await alternating(
    rounds,
    (r) => bare(batches[r]!.texts),
    (r) => verifyAll(batches[r]!.texts, new CachingChainReader(batches[r]!.reader)),
  );
  const rate = (n: number, s: number) => n / s;
  report.row({
    what: `core verification, ${count(oneBatch)} certificates of one batch${rounds > 1 ? `, median of ${rounds}` : ""}`,
    value: `${count(rate(oneBatch, single.oursS))} /s`,
    baseline: `JSON.parse + leaf and every path SHA-256, nothing remembered: ${count(rate(oneBatch, single.baselineS))} /s`,
    ratio: rate(oneBatch, single.oursS) / 10_000,
    target: ">= 10,000/s (ratio to it)",
    met: rate(oneBatch, single.oursS) >= 10_000,
  });

  // Distinct batches: each round verifies certificates it has not seen, so no round profits
  // from the signatures an earlier one checked. They share one issuer, as a court's or a
  // mediator's pile does: its key is recovered once, in the warm-up, and each signature is
  // then checked against it (issuer-signature.ts, signerAddress).
  const distinct = report.quick ? 300 : 2_000;
  const many = await certificatesOf(distinct * rounds, 1);
  const digests = many.texts.map((t) => {
    const c = JSON.parse(t) as Extract<Certificate, { version: 2 }>;
    return { digest: personalMessageDigest(signedBytes(c)), signature: c.signature };
  });
  const warm = await certificatesOf(50, 1);
  await verifyAll(warm.texts, new CachingChainReader(warm.reader)); // warm the JIT
  const several = await alternating(
    rounds,
    (r) => {
      const from = distinct * r;
      for (const d of digests.slice(from, from + distinct)) recoverSignerAddress(d.digest, d.signature);
    },
    (r) => verifyAll(many.texts.slice(distinct * r, distinct * (r + 1)), new CachingChainReader(many.reader)),
  );
  report.row({
    what: `core verification, ${count(distinct)} certificates of distinct batches of one issuer${rounds > 1 ? `, median of ${rounds}` : ""}`,
    value: `${count(rate(distinct, several.oursS))} /s`,
    baseline: `bare secp256k1 recovery: ${count(rate(distinct, several.baselineS))} /s`,
    ratio: rate(distinct, several.oursS) / 1_000,
    target: ">= 1,000/s (ratio to it)",
    met: rate(distinct, several.oursS) >= 1_000,
  });
  report.results.coreVerify = {
    oneBatch: { certificates: oneBatch, ...single },
    distinctBatches: { certificates: distinct, ...several },
  };
}

/**
 * `evidence verify` as an installed command: many certificates in one run (--json lines)
 * against the real chain, and a single certificate against the start-up of `node -e 0`
 * plus the RPC round trips a verification needs. Both after one warm-up run, so that the
 * compile cache is filled, as for any command used more than once.
 */
export async function benchCliVerify(
  report: Report,
  work: string,
  options: { rpc: string; certificates: Certificate[] },
): Promise<void> {
  const dir = path.join(work, "certificates");
  mkdirSync(dir, { recursive: true });
  options.certificates.forEach((c, i) =>
    writeFileSync(path.join(dir, `${String(i).padStart(6, "0")}.evidence.json`), JSON.stringify(c, null, 2)),
  );
  const n = options.certificates.length;
  const warm = await runScript(CLI, ["verify", path.join(dir, "000000.evidence.json"), "--rpc", options.rpc]);
  if (warm.code !== 0) throw new Error(`evidence verify failed: ${warm.stdout}${warm.stderr}`);

  // A single certificate: medians of alternating runs.
  const one = path.join(dir, "000000.evidence.json");
  const runs = report.quick ? 3 : 7;
  const nodeS: number[] = [];
  const verifyS: number[] = [];
  for (let i = 0; i < runs; i++) {
    nodeS.push((await timed(() => execFileSync(process.execPath, ["-e", "0"])))[1]);
    const [res, s] = await timed(() => runScript(CLI, ["verify", one, "--rpc", options.rpc]));
    if (res.code !== 0) throw new Error(`evidence verify exited ${res.code}`);
    verifyS.push(s);
  }
  // In process, the same certificates and node: the core's rate, for comparison. Alternating
  // with the command, and the median run of each kept: one run is at the mercy of whatever
  // else this shared machine does in those two seconds.
  const bulkRuns = report.quick ? 1 : 3;
  const coreRuns: number[] = [];
  const bulkRunsS: number[] = [];
  for (let i = 0; i < bulkRuns; i++) {
    const reader = new CachingChainReader(new JsonRpcChainReader(options.rpc));
    const texts = options.certificates.map((c) => JSON.stringify(c));
    coreRuns.push((await timed(() => verifyAll(texts, reader)))[1]);
    const [bulk, s] = await timed(() => runScript(CLI, ["verify", dir, "--rpc", options.rpc, "--json"]));
    if (bulk.code !== 0) throw new Error(`evidence verify (bulk) exited ${bulk.code}: ${bulk.stderr}`);
    const lines = bulk.stdout.trim().split("\n");
    if (lines.length !== n || lines.some((l) => (JSON.parse(l) as { verdict: string }).verdict !== "valid")) {
      throw new Error("evidence verify (bulk) did not report every certificate valid");
    }
    bulkRunsS.push(s);
  }
  const coreS = median(coreRuns);
  const bulkS = median(bulkRunsS);
  report.row({
    what: `CLI bulk verification: \`evidence verify DIR --json\`, ${count(n)} certificates, real node (start-up included, ${bulkRuns === 1 ? "one run" : `median of ${bulkRuns}`})`,
    // After start-up: less the time of a single run (start-up and one verification).
    value: `${count(n / bulkS)} /s (${count(n / Math.max(0.001, bulkS - median(verifyS)))} /s after start-up)`,
    baseline: `core in process, same node: ${count(n / coreS)} /s`,
    ratio: n / bulkS / 2_000,
    target: ">= 2,000/s (ratio to it)",
    met: n / bulkS >= 2_000,
  });

  const rtts: number[] = [];
  const rpc = new JsonRpcChainReader(options.rpc);
  for (let i = 0; i < 20; i++) rtts.push((await timed(() => rpc.blockNumber()))[1]);
  // chainId, blockNumber, getCode, anchorOf (eth_call), the block, the receipt: one after another.
  const trips = 6;
  const budget = 2 * median(nodeS) + trips * median(rtts);
  report.row({
    what: `a single \`evidence verify\` (median of ${runs}, warm compile cache)`,
    value: `${(median(verifyS) * 1000).toFixed(0)} ms`,
    baseline: `node -e 0: ${(median(nodeS) * 1000).toFixed(0)} ms; RPC round trip ${(median(rtts) * 1000).toFixed(1)} ms × ${trips}`,
    ratio: median(verifyS) / budget,
    target: "<= 2 × node -e 0 + round trips (ratio to it <= 1)",
    met: median(verifyS) <= budget,
  });
  report.results.cliVerify = {
    bulk: { certificates: n, seconds: bulkS, coreSeconds: coreS, runsSeconds: bulkRunsS, coreRunsSeconds: coreRuns },
    single: { runs, verifySeconds: verifyS, nodeSeconds: nodeS, rttSeconds: median(rtts), trips },
  };
}
