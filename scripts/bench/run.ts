/**
 * npm run bench [-- --quick]
 *
 * Each figure is reported next to a baseline measured in the same run, on the same
 * machine, so the ratios mean something on shared, noisy machines. Writes a table to
 * stdout and bench/results.json. No thresholds here: the README holds the latest table.
 */
import { execFileSync } from "node:child_process";
import { once } from "node:events";
import { createWriteStream, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import path from "node:path";
import { randomBytes } from "node:crypto";
import { performance } from "node:perf_hooks";
import { sha256 } from "@noble/hashes/sha2.js";
import express from "express";
import { Wallet } from "ethers";
import { hashLeaf, MerkleTree } from "../../service/core/index.ts";
import { sha256File } from "../../service/cli/commands.ts";
import { AnchorClient } from "../../service/chain/anchor-client.ts";
import { deployEvidenceAnchor } from "../../service/chain/deploy.ts";
import { startChainNode, startServiceProcess, tempDir, cleanUpDataDir } from "../../test/helpers/processes.ts";

const quick = process.argv.includes("--quick");
const work = mkdtempSync(path.join(tmpdir(), "evidence-bench-"));

interface Row {
  what: string;
  value: string;
  baseline: string;
  ratio: number | null;
  target: string;
}
const rows: Row[] = [];
const results: Record<string, unknown> = {};

async function timed<T>(fn: () => Promise<T> | T): Promise<[T, number]> {
  const start = performance.now();
  const value = await fn();
  return [value, (performance.now() - start) / 1000];
}

async function writeRandomFile(file: string, bytes: number): Promise<void> {
  const out = createWriteStream(file);
  const chunk = randomBytes(1 << 20);
  for (let left = bytes; left > 0; left -= chunk.length) {
    if (!out.write(left >= chunk.length ? chunk : chunk.subarray(0, left))) await once(out, "drain");
  }
  out.end();
  await once(out, "finish");
}

/** `evidence hash` (node:crypto, streaming) against `openssl dgst -sha256` of the same file. */
async function benchFileHash(): Promise<void> {
  const bytes = quick ? 256 * 1024 ** 2 : 1024 ** 3;
  const file = path.join(work, "file.bin");
  await writeRandomFile(file, bytes);
  execFileSync("openssl", ["dgst", "-sha256", file]); // warm the page cache
  const [, opensslS] = await timed(() => execFileSync("openssl", ["dgst", "-sha256", file]));
  const [, oursS] = await timed(() => sha256File(file));
  const mbps = (s: number) => bytes / 1024 ** 2 / s;
  rows.push({
    what: `evidence hash, ${bytes / 1024 ** 2} MiB file`,
    value: `${mbps(oursS).toFixed(0)} MiB/s`,
    baseline: `openssl ${mbps(opensslS).toFixed(0)} MiB/s`,
    ratio: opensslS / oursS,
    target: ">= 0.8",
  });
  results.fileHash = { bytes, oursSeconds: oursS, opensslSeconds: opensslS };
  rmSync(file);
}

/** Root and every inclusion proof of N leaves against 2N bare SHA-256 of 65-byte inputs. */
async function benchMerkle(): Promise<void> {
  const n = quick ? 100_000 : 1_000_000;
  const input = new Uint8Array(65);
  const [, bareS] = await timed(() => {
    for (let i = 0; i < 2 * n; i++) {
      input[1] = i & 0xff;
      sha256(input);
    }
  });
  const records = Array.from({ length: n }, (_, i) => {
    const r = new Uint8Array(32);
    r[0] = i & 0xff;
    r[1] = (i >> 8) & 0xff;
    r[2] = (i >> 16) & 0xff;
    return r;
  });
  const [, oursS] = await timed(() => {
    const tree = MerkleTree.fromLeafHashes(records.map((r) => hashLeaf(r)));
    tree.root();
    for (let i = 0; i < n; i++) tree.inclusionProof(i);
  });
  rows.push({
    what: `root + every proof, ${n.toLocaleString("en")} leaves`,
    value: `${oursS.toFixed(2)} s`,
    baseline: `${(2 * n).toLocaleString("en")} bare SHA-256: ${bareS.toFixed(2)} s`,
    ratio: oursS / bareS,
    target: "<= 1.5 (time)",
  });
  results.merkle = { leaves: n, oursSeconds: oursS, bareSeconds: bareS };
}

/** Gas of anchor() at several batch sizes, from receipts on a real node. */
async function benchGas(): Promise<void> {
  const chain = await startChainNode({ chainId: 31337 });
  try {
    const admin = new Wallet("0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80");
    const { contract } = await deployEvidenceAnchor({
      rpcUrl: chain.url,
      deployer: admin,
      anchorers: [admin.address],
      tx: { gasPrice: undefined, legacy: false },
    });
    const client = new AnchorClient(chain.url, 31337, admin, contract, { gasPrice: undefined, legacy: false });
    const gas: Record<string, number> = {};
    for (const size of [1, 100, 10_000, 100_000]) {
      const txHash = await client.sendAnchor(`0x${randomBytes(32).toString("hex")}`, size);
      const receipt = await client.waitForReceipt(txHash, 1, 30_000);
      gas[size] = Number(receipt!.gasUsed);
      rows.push({
        what: `anchor(), batch of ${size.toLocaleString("en")}`,
        value: `${gas[size]!.toLocaleString("en")} gas`,
        baseline: `${(gas[size]! / size).toFixed(size >= 100 ? 2 : 0)} gas per item`,
        ratio: null,
        target: "<= 52,000 per anchor",
      });
    }
    client.destroy();
    results.gas = gas;
  } finally {
    await chain.stop();
  }
}

/** Digest intake through the service against a bare express route answering the same requests. */
async function benchDigestIntake(): Promise<void> {
  const perRequest = 1_000;
  const requests = quick ? 20 : 100;
  const clients = 4;
  const body = (r: number) =>
    JSON.stringify({
      items: Array.from({ length: perRequest }, (_, i) => ({
        contentHash: randomBytes(32).toString("hex"),
        fileName: `f-${r}-${i}`,
      })),
    });
  const bodies = Array.from({ length: requests }, (_, r) => body(r));

  async function drive(url: string, headers: Record<string, string>): Promise<number> {
    let next = 0;
    const [, seconds] = await timed(() =>
      Promise.all(
        Array.from({ length: clients }, async () => {
          while (next < requests) {
            const res = await fetch(url, {
              method: "POST",
              headers: { "content-type": "application/json", ...headers },
              body: bodies[next++],
            });
            if (res.status !== 201) throw new Error(`${url} answered ${res.status}`);
            await res.arrayBuffer();
          }
        }),
      ),
    );
    return (requests * perRequest) / seconds;
  }

  const bare = express();
  bare.post("/digests", express.json({ limit: "8mb" }), (req, res) => {
    res.status(201).json({ items: (req.body as { items: unknown[] }).items.length });
  });
  const server = bare.listen(0, "127.0.0.1");
  await once(server, "listening");
  const bareRate = await drive(`http://127.0.0.1:${(server.address() as { port: number }).port}/digests`, {});
  server.close();

  const dataDir = tempDir("bench-service");
  const service = await startServiceProcess(dataDir, {
    LOCAL_CHAIN_PORT: String(18_000 + Math.floor(Math.random() * 1000)),
  });
  try {
    const ours = await drive(`${service.url}/api/v1/evidence/digests`, { authorization: `Bearer ${service.apiKey}` });
    rows.push({
      what: `digest intake, ${perRequest} per request, ${clients} clients`,
      value: `${ours.toFixed(0)} digests/s`,
      baseline: `bare express ${bareRate.toFixed(0)}/s`,
      ratio: ours / bareRate,
      target: ">= 20,000 digests/s",
    });
    results.digestIntake = { perRequest, requests, clients, digestsPerSecond: ours, bareDigestsPerSecond: bareRate };
  } finally {
    await service.stop();
    await cleanUpDataDir(dataDir);
  }
}

try {
  await benchFileHash();
  await benchMerkle();
  await benchGas();
  await benchDigestIntake();
} finally {
  rmSync(work, { recursive: true, force: true });
}

const machine = `${cpus().length} × ${cpus()[0]?.model ?? "cpu"}, node ${process.version}`;
console.log(`\nEvidence Anchor benchmarks (${quick ? "quick" : "full"}) on ${machine}\n`);
console.log("| what | value | baseline (same run) | ratio | target |\n|---|---|---|---|---|");
for (const r of rows)
  console.log(
    `| ${r.what} | ${r.value} | ${r.baseline} | ${r.ratio === null ? "—" : r.ratio.toFixed(2)} | ${r.target} |`,
  );
writeFileSync(
  new URL("../../bench/results.json", import.meta.url),
  `${JSON.stringify({ date: new Date().toISOString(), quick, machine, rows, results }, null, 2)}\n`,
);
