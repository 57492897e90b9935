/**
 * npm run bench [-- --quick]
 *
 * Each figure is reported next to a baseline measured in the same run, on the same
 * machine, so the ratios mean something on shared, noisy machines. Writes a table to
 * stdout and bench/results.json. No thresholds here: the README holds the latest table.
 */
import { execFileSync } from "node:child_process";
import { once } from "node:events";
import { createWriteStream, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import path from "node:path";
import { randomBytes } from "node:crypto";
import { performance } from "node:perf_hooks";
import { setTimeout as delay } from "node:timers/promises";
import { sha256 } from "@noble/hashes/sha2.js";
import express from "express";
import { Wallet } from "ethers";
import {
  CachingChainReader,
  claimsOf,
  hashLeaf,
  JsonRpcChainReader,
  MerkleTree,
  verifyCertificate,
  type Certificate,
} from "../../service/core/index.ts";
import { ServiceClient } from "../../service/cli/service-client.ts";
import { sha256File } from "../../service/intake/file-digest.ts";
import { ChainClient } from "../../service/chain/chain-client.ts";
import { deployEvidenceAnchor } from "../../service/chain/deploy.ts";
import { ADMIN_KEY } from "../../test/helpers/consortium.ts";
import {
  api,
  cleanUpDataDir,
  freePort,
  runCli,
  startChainNode,
  startServiceProcess,
  tempDir,
} from "../../test/helpers/processes.ts";

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

/** `evidence hash` as a process (start-up included) against `openssl dgst -sha256` of the same file. */
async function benchFileHash(): Promise<void> {
  const bytes = quick ? 256 * 1024 ** 2 : 1024 ** 3;
  const file = path.join(work, "file.bin");
  await writeRandomFile(file, bytes);
  execFileSync("openssl", ["dgst", "-sha256", file]); // warm the page cache
  const [, opensslS] = await timed(() => execFileSync("openssl", ["dgst", "-sha256", file]));
  const [cli, oursS] = await timed(() => runCli(["hash", file]));
  if (cli.code !== 0) throw new Error(`evidence hash failed: ${cli.stderr}`);
  const [, inProcessS] = await timed(() => sha256File(file));
  const mbps = (s: number) => bytes / 1024 ** 2 / s;
  rows.push({
    what: `evidence hash (the command), ${bytes / 1024 ** 2} MiB file`,
    value: `${mbps(oursS).toFixed(0)} MiB/s (in process ${mbps(inProcessS).toFixed(0)})`,
    baseline: `openssl ${mbps(opensslS).toFixed(0)} MiB/s`,
    ratio: opensslS / oursS,
    target: ">= 0.8",
  });
  results.fileHash = { bytes, commandSeconds: oursS, inProcessSeconds: inProcessS, opensslSeconds: opensslS };
  rmSync(file);
}

/**
 * Root and every inclusion proof of N leaves against 2N bare SHA-256 of 65-byte inputs.
 * Baseline and ours alternate over several rounds and the median round is reported: on
 * a shared machine a single pair can differ by a third.
 */
async function benchMerkle(): Promise<void> {
  const n = quick ? 100_000 : 1_000_000;
  const rounds = quick ? 1 : 3;
  const input = new Uint8Array(65);
  const measured: { bareS: number; oursS: number }[] = [];
  for (let round = 0; round < rounds; round++) {
    const [, bareS] = await timed(() => {
      for (let i = 0; i < 2 * n; i++) {
        input[1] = i & 0xff;
        sha256(input);
      }
    });
    const [, oursS] = await timed(() => {
      // Leaf i is the hash of a 32-byte record; leaves are written end to end, as a batch does.
      const record = new Uint8Array(32);
      const leaves = new Uint8Array(n * 32);
      for (let i = 0; i < n; i++) {
        record[0] = i & 0xff;
        record[1] = (i >> 8) & 0xff;
        record[2] = (i >> 16) & 0xff;
        leaves.set(hashLeaf(record), i * 32);
      }
      const tree = MerkleTree.fromFlatLeafHashes(leaves);
      tree.root();
      for (let i = 0; i < n; i++) tree.inclusionProof(i);
    });
    measured.push({ bareS, oursS });
  }
  measured.sort((a, b) => a.oursS / a.bareS - b.oursS / b.bareS);
  const { bareS, oursS } = measured[Math.floor(measured.length / 2)]!;
  rows.push({
    what: `root + every proof, ${n.toLocaleString("en")} leaves (median of ${rounds})`,
    value: `${oursS.toFixed(2)} s`,
    baseline: `${(2 * n).toLocaleString("en")} bare SHA-256: ${bareS.toFixed(2)} s`,
    ratio: oursS / bareS,
    target: "<= 1.5 (time)",
  });
  results.merkle = { leaves: n, rounds: measured, oursSeconds: oursS, bareSeconds: bareS };
}

/** Gas of anchor() at several batch sizes, from receipts on a real node. */
async function benchGas(): Promise<void> {
  const chain = await startChainNode({ chainId: 31337 });
  try {
    const admin = new Wallet(ADMIN_KEY);
    const { contract } = await deployEvidenceAnchor({
      rpcUrl: chain.url,
      deployer: admin,
      anchorers: [admin.address],
      tx: { gasPrice: undefined, legacy: false },
    });
    const client = new ChainClient(chain.url, 31337, admin, contract, { gasPrice: undefined, legacy: false });
    const gas: Record<string, number> = {};
    for (const size of [1, 100, 10_000, 100_000]) {
      const sent = await client.sendAnchor(`0x${randomBytes(32).toString("hex")}`, size);
      if (sent.kind !== "sent") throw new Error("a fresh root was refused");
      await client.waitForReceipt(sent.txHash, 1, 30_000);
      gas[size] = Number((await client.provider.getTransactionReceipt(sent.txHash))!.gasUsed);
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

/** A bare express route that reads the whole body and answers 201: the HTTP floor. */
async function bareServer(): Promise<{ url: string; close: () => void }> {
  const bare = express();
  bare.post("/digests", express.json({ limit: "8mb" }), (req, res) => {
    res.status(201).json({ items: (req.body as { items: unknown[] }).items.length });
  });
  bare.post("/upload", (req, res) => {
    req.resume();
    req.on("end", () => res.status(201).json({ ok: true }));
  });
  const server = bare.listen(0, "127.0.0.1");
  await once(server, "listening");
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, close: () => server.close() };
}

/** Runs `total` requests from `clients` concurrent loops; returns requests per second. */
async function drive(total: number, clients: number, send: (i: number) => Promise<Response>): Promise<number> {
  let next = 0;
  const [, seconds] = await timed(() =>
    Promise.all(
      Array.from({ length: clients }, async () => {
        while (next < total) {
          const res = await send(next++);
          if (res.status !== 201) throw new Error(`answered ${res.status}: ${await res.text()}`);
          await res.arrayBuffer();
        }
      }),
    ),
  );
  return total / seconds;
}

function rssKiB(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return Number(match?.[1] ?? 0);
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/** Everything measured through a running service: one service, the embedded chain at 1 s blocks. */
async function benchService(): Promise<void> {
  const batchWaitMs = 1000;
  const chainPort = await freePort();
  const chainUrl = `http://127.0.0.1:${chainPort}`;
  const dataDir = tempDir("bench-service");
  const service = await startServiceProcess(dataDir, {
    LOCAL_CHAIN_PORT: String(chainPort),
    LOCAL_CHAIN_BLOCK_TIME: "1",
    BATCH_MAX_WAIT_MS: String(batchWaitMs),
    RATE_LIMIT_PER_MINUTE: "1000000",
  });
  const auth = { authorization: `Bearer ${service.apiKey}` };
  const bare = await bareServer();
  try {
    // Submission -> certificate latency: one digest every 150 ms, from the service's own clocks.
    const count = quick ? 20 : 100;
    const ids: string[] = [];
    for (let i = 0; i < count; i++) {
      const res = await fetch(`${service.url}/api/v1/evidence/digests`, {
        method: "POST",
        headers: { ...auth, "content-type": "application/json" },
        body: JSON.stringify({ items: [{ contentHash: randomBytes(32).toString("hex") }] }),
      });
      ids.push(((await res.json()) as { items: { id: string }[] }).items[0]!.id);
      await delay(150);
    }
    const client = api(service.url);
    const certificates: Certificate[] = [];
    for (const id of ids) certificates.push(await client.anchored(id, 120_000));
    const latencies = certificates
      .map((c) => Date.parse(claimsOf(c).issuedAt) - Date.parse(c.record.submittedAt))
      .sort((a, b) => a - b);
    const [p50, p99] = [percentile(latencies, 50), percentile(latencies, 99)];
    rows.push({
      what: `submission -> certificate, ${count} submissions, 1 s blocks`,
      value: `p50 ${(p50 / 1000).toFixed(2)} s, p99 ${(p99 / 1000).toFixed(2)} s`,
      baseline: `batch wait ${batchWaitMs / 1000} s`,
      ratio: p99 / batchWaitMs,
      target: `p99 <= wait + 2 s (${((batchWaitMs + 2000) / batchWaitMs).toFixed(1)})`,
    });
    results.latency = { count, batchWaitMs, p50Ms: p50, p99Ms: p99 };

    // Verification: the core verifier with chain reads cached per root, and the CLI.
    const reader = new CachingChainReader(new JsonRpcChainReader(chainUrl));
    let verified = 0;
    const [, coreS] = await timed(async () => {
      const until = performance.now() + (quick ? 1000 : 3000);
      while (performance.now() < until) {
        const result = await verifyCertificate(certificates[verified % certificates.length], { chain: reader });
        if (!result.valid) throw new Error("a certificate failed to verify");
        verified++;
      }
    });
    const certFile = path.join(work, "bench.evidence.json");
    writeFileSync(certFile, JSON.stringify(certificates[0]));
    const cliRuns = quick ? 3 : 10;
    const [, cliS] = await timed(async () => {
      for (let i = 0; i < cliRuns; i++) {
        const res = await runCli(["verify", certFile, "--rpc", chainUrl]);
        if (res.code !== 0) throw new Error(`evidence verify failed: ${res.stdout}`);
      }
    });
    rows.push({
      what: "certificates verified (core: proof + signature, chain reads cached per root)",
      value: `${(verified / coreS).toFixed(0)} /s`,
      baseline: `evidence verify (a process each): ${(cliRuns / cliS).toFixed(1)} /s`,
      ratio: null,
      target: "report",
    });
    results.verify = { corePerSecond: verified / coreS, cliPerSecond: cliRuns / cliS };

    // One large upload over loopback: throughput against openssl, and the service's memory.
    const bytes = quick ? 256 * 1024 ** 2 : 1024 ** 3;
    const file = path.join(work, "upload.bin");
    await writeRandomFile(file, bytes);
    const [, opensslS] = await timed(() => execFileSync("openssl", ["dgst", "-sha256", file]));
    // The disk's own floor for a durable copy: what the service does besides hashing.
    const copy = path.join(work, "copy.bin");
    const [, ddS] = await timed(() =>
      execFileSync("dd", [`if=${file}`, `of=${copy}`, "bs=4M", "conv=fsync"], { stdio: "ignore" }),
    );
    rmSync(copy);
    const pid = service.child.pid!;
    const rssBefore = rssKiB(pid);
    let rssPeak = rssBefore;
    const sampler = setInterval(() => (rssPeak = Math.max(rssPeak, rssKiB(pid))), 20);
    const uploader = new ServiceClient(service.url, service.apiKey);
    const [item, uploadS] = await timed(() => uploader.upload(file, {}));
    clearInterval(sampler);
    if (item.contentHash !== (await sha256File(file))) throw new Error("the upload hashed to another value");
    const mibps = (s: number) => bytes / 1024 ** 2 / s;
    rows.push({
      what: `upload of ${bytes / 1024 ** 2} MiB over loopback (multipart -> hash -> disk)`,
      value: `${mibps(uploadS).toFixed(0)} MiB/s, RSS +${((rssPeak - rssBefore) / 1024).toFixed(0)} MB`,
      baseline: `openssl ${mibps(opensslS).toFixed(0)} MiB/s; dd conv=fsync ${mibps(ddS).toFixed(0)} MiB/s`,
      ratio: opensslS / uploadS,
      target: ">= 0.5; RSS growth <= 100 MB",
    });
    results.upload = {
      bytes,
      seconds: uploadS,
      opensslSeconds: opensslS,
      ddFsyncSeconds: ddS,
      rssGrowthKiB: rssPeak - rssBefore,
    };
    rmSync(file);

    // Small files, concurrent clients, against the bare route.
    const small = quick ? 200 : 2000;
    const clients = 8;
    const payload = randomBytes(4096);
    const form = () => {
      const f = new FormData();
      f.append("file", new Blob([payload, randomBytes(16)]), "small.bin");
      return f;
    };
    const bareSmall = await drive(small, clients, () => fetch(`${bare.url}/upload`, { method: "POST", body: form() }));
    const oursSmall = await drive(small, clients, () =>
      fetch(`${service.url}/api/v1/evidence`, { method: "POST", headers: auth, body: form() }),
    );
    rows.push({
      what: `4 KB uploads, ${clients} clients`,
      value: `${oursSmall.toFixed(0)} req/s`,
      baseline: `bare express ${bareSmall.toFixed(0)} req/s`,
      ratio: oursSmall / bareSmall,
      target: "report",
    });
    results.smallUploads = { count: small, clients, perSecond: oursSmall, barePerSecond: bareSmall };

    // Digest intake: 1,000 per request.
    const perRequest = 1_000;
    const requests = quick ? 20 : 100;
    const bodies = Array.from({ length: requests }, (_, r) =>
      JSON.stringify({
        items: Array.from({ length: perRequest }, (_, i) => ({
          contentHash: randomBytes(32).toString("hex"),
          fileName: `f-${r}-${i}`,
        })),
      }),
    );
    const json = { "content-type": "application/json" };
    const bareDigests =
      perRequest *
      (await drive(requests, 4, (i) =>
        fetch(`${bare.url}/digests`, { method: "POST", headers: json, body: bodies[i] }),
      ));
    const oursDigests =
      perRequest *
      (await drive(requests, 4, (i) =>
        fetch(`${service.url}/api/v1/evidence/digests`, {
          method: "POST",
          headers: { ...auth, ...json },
          body: bodies[i],
        }),
      ));
    rows.push({
      what: `digest intake, ${perRequest} per request, 4 clients`,
      value: `${oursDigests.toFixed(0)} digests/s`,
      baseline: `bare express ${bareDigests.toFixed(0)}/s`,
      ratio: oursDigests / bareDigests,
      target: ">= 20,000 digests/s",
    });
    results.digestIntake = { perRequest, requests, digestsPerSecond: oursDigests, bareDigestsPerSecond: bareDigests };
  } finally {
    bare.close();
    await service.kill9();
    await cleanUpDataDir(dataDir);
  }
}

try {
  await benchFileHash();
  await benchMerkle();
  await benchGas();
  await benchService();
} finally {
  rmSync(work, { recursive: true, force: true });
}

const machine = `${cpus().length} × ${cpus()[0]?.model ?? "cpu"}, node ${process.version}`;
console.log(`\nEvidence Anchor benchmarks (${quick ? "quick" : "full"}) on ${machine}\n`);
console.log("| what | value | baseline (same run) | ratio | target |\n|---|---|---|---|---|");
for (const r of rows) {
  console.log(
    `| ${r.what} | ${r.value} | ${r.baseline} | ${r.ratio === null ? "—" : r.ratio.toFixed(2)} | ${r.target} |`,
  );
}
writeFileSync(
  new URL("../../bench/results.json", import.meta.url),
  `${JSON.stringify({ date: new Date().toISOString(), quick, machine, rows, results }, null, 2)}\n`,
);
