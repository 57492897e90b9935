/**
 * npm run bench [-- --quick] [--only NAME]
 *
 * Each figure is reported beside a baseline measured in the same run, on the same machine,
 * so the ratios mean something on shared, noisy machines; where a figure is noisy, baseline
 * and ours alternate over rounds and the median round is kept. Prints a table and writes
 * bench/results.json (a quick run: bench/tmp/results-quick.json, leaving the full run's figures
 * in place). No test asserts a time: README.md holds the latest full run. `--quick` runs every
 * benchmark at smaller sizes (CI runs it as a smoke test). `--only NAME` runs the steps whose
 * name contains NAME ("core verification", "the service", …) and writes
 * bench/tmp/results-only.json.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { benchCapture } from "./capture.ts";
import { benchCertifyBatch } from "./certify.ts";
import { benchBrowserHash, benchFileHash, benchPackageRead } from "./hashing.ts";
import { benchGas, benchMerkle } from "./merkle.ts";
import { benchReplicas } from "./replicas.ts";
import { Report, count } from "./report.ts";
import { benchService } from "./service.ts";
import { benchStoreGrowth } from "./store.ts";
import { benchCoreVerify } from "./verify.ts";

const report = new Report(process.argv.includes("--quick"));
const onlyAt = process.argv.indexOf("--only");
const only = onlyAt >= 0 ? process.argv[onlyAt + 1] : undefined;
const work = mkdtempSync(path.join(tmpdir(), "evidence-bench-"));
const started = performance.now();

async function step(name: string, run: () => Promise<void>): Promise<void> {
  if (only !== undefined && !name.includes(only)) return;
  const at = performance.now();
  console.error(`${name}…`);
  await run();
  console.error(`  (${((performance.now() - at) / 1000).toFixed(1)} s)`);
}

try {
  await step("file hashing", () => benchFileHash(report, work));
  await step("browser hashing", () => benchBrowserHash(report, work));
  await step("capture package", () => benchPackageRead(report, work));
  await step("Merkle tree", () => benchMerkle(report));
  await step("gas", () => benchGas(report));
  await step("certifying a batch", () => benchCertifyBatch(report, work));
  await step("core verification", () => benchCoreVerify(report));
  await step("the service", () => benchService(report, work));
  await step("captures", async () => {
    const c = await benchCapture({ quick: report.quick });
    report.row({
      what: `web capture of a simple page (fresh Chromium, guard proxy, every artifact, WACZ), ${c.captures} captures`,
      value: `p50 ${(c.latencyMs.p50 / 1000).toFixed(1)} s, p99 ${(c.latencyMs.p99 / 1000).toFixed(1)} s`,
      baseline: `bare Chromium launch + load + screenshot: ${(c.bareMs / 1000).toFixed(1)} s`,
      ratio: c.latencyMs.p50 / c.bareMs,
      target: "report",
      met: null,
    });
    report.row({
      what: `memory per capture (this process's RSS + PSS of its children, peak above idle)`,
      value: `one: ${c.memoryMiB.oneCapture} MiB; ${c.concurrent} at once: ${c.memoryMiB.perCaptureOfThree} MiB each`,
      baseline: `idle ${c.memoryMiB.idle} MiB`,
      ratio: null,
      target: "report",
      met: null,
    });
    report.results.capture = c;
  });
  await step("replicas", async () => {
    const r = await benchReplicas({ quick: report.quick });
    report.row({
      what: `digest intake, ${r.clients} clients × ${r.digestsPerRequest} per request: PostgreSQL, 1 and 3 replicas`,
      value: `1: ${count(r.postgres1)}/s; 3: ${count(r.postgres3)}/s`,
      baseline: `1 replica on SQLite: ${count(r.sqlite1)}/s`,
      ratio: r.postgres3 / r.postgres1,
      target: "report (ratio: 3 replicas / 1)",
      met: null,
    });
    report.results.replicas = r;
  });
  // Last: it writes and deletes about 400 MB of databases, whose writeback would slow the
  // uploads measured after it.
  await step("store growth", () => benchStoreGrowth(report, work));
} finally {
  rmSync(work, { recursive: true, force: true });
}

const machine = `${cpus().length} × ${cpus()[0]?.model ?? "cpu"}, node ${process.version}`;
const seconds = (performance.now() - started) / 1000;
console.log(
  `\nEvidence Anchor benchmarks (${report.quick ? "quick" : "full"}, ${seconds.toFixed(0)} s) on ${machine}\n`,
);
console.log(report.table());
const resultsFile = new URL(
  only !== undefined
    ? "../../bench/tmp/results-only.json"
    : report.quick
      ? "../../bench/tmp/results-quick.json"
      : "../../bench/results.json",
  import.meta.url,
);
mkdirSync(new URL(".", resultsFile), { recursive: true });
writeFileSync(
  resultsFile,
  `${JSON.stringify({ date: new Date().toISOString(), quick: report.quick, machine, seconds, rows: report.rows, results: report.results }, null, 2)}\n`,
);
