/**
 * Capture benchmark: latency of one capture of a simple page (new browser process, guard proxy,
 * every artifact, WACZ, manifest) and the memory each concurrent capture costs.
 *
 *   node scripts/bench/capture.ts [--quick]
 *
 * Memory is the peak, sampled every 50 ms, of this process's RSS plus the proportional set size
 * (PSS, from /proc/<pid>/smaps_rollup) of every process it started: Chromium runs as a dozen
 * processes sharing pages, and PSS counts each shared page once across them.
 */
import { once } from "node:events";
import { readdirSync, readFileSync, rmSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { AddressPolicy } from "../../service/capture/address-policy.ts";
import { capturePage } from "../../service/capture/capture.ts";
import { launchBrowser } from "../../test/helpers/browser.ts";

export interface CaptureBenchResult {
  captures: number;
  latencyMs: { p50: number; p99: number; min: number; max: number };
  /** The floor: a bare Chromium launched, the page loaded, a full-page screenshot, closed (median). */
  bareMs: number;
  /** How many captures ran at once for `perCaptureOfThree`. */
  concurrent: number;
  memoryMiB: {
    /** This process with nothing running. */
    idle: number;
    /** Peak with one capture running, above idle. */
    oneCapture: number;
    /** Peak with `concurrent` captures running at once (three; two in quick mode), above idle, divided by them. */
    perCaptureOfThree: number;
  };
}

export async function benchCapture({ quick }: { quick: boolean }): Promise<CaptureBenchResult> {
  const work = mkdtempSync(path.join(tmpdir(), "evidence-bench-capture-"));
  const page = `<!doctype html><meta charset="utf-8"><title>基准页面</title><h1>侵权商品</h1>${"<p>段落文字 paragraph text</p>".repeat(200)}`;
  const server = http
    .createServer((_req, res) => res.writeHead(200, { "content-type": "text/html; charset=utf-8" }).end(page))
    .listen(0, "127.0.0.1");
  await once(server, "listening");
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  const policy = new AddressPolicy({ allow: "127.0.0.1/32" });
  let n = 0;
  const once1 = () => capturePage({ url }, { outDir: path.join(work, `c${++n}`), policy });

  try {
    // The bare browser runs first: it also warms the page cache for the browser binary.
    const bare: number[] = [];
    for (let i = 0; i < (quick ? 1 : 3); i++) {
      const start = performance.now();
      const browser = await launchBrowser();
      const tab = await browser.newPage();
      await tab.goto(url);
      await tab.screenshot({ fullPage: true });
      await browser.close();
      bare.push(performance.now() - start);
    }
    bare.sort((a, b) => a - b);

    if (!quick) await once1(); // and a first capture, outside the figures
    const captures = quick ? 2 : 20;
    const times: number[] = [];
    const idle = memoryMiB();
    let one = 0;
    for (let i = 0; i < captures; i++) {
      const start = performance.now();
      // The first timed capture is also the one whose memory is sampled.
      if (i === 0) one = await peakDuring(() => once1());
      else await once1();
      times.push(performance.now() - start);
    }
    times.sort((a, b) => a - b);
    const pick = (q: number) => Math.round(times[Math.min(times.length - 1, Math.ceil(q * times.length) - 1)]!);

    const concurrent = quick ? 2 : 3;
    const several = await peakDuring(() => Promise.all(Array.from({ length: concurrent }, () => once1())));
    return {
      captures,
      latencyMs: { p50: pick(0.5), p99: pick(0.99), min: Math.round(times[0]!), max: Math.round(times.at(-1)!) },
      bareMs: Math.round(bare[Math.floor(bare.length / 2)]!),
      concurrent,
      memoryMiB: {
        idle: Math.round(idle),
        oneCapture: Math.round(one - idle),
        perCaptureOfThree: Math.round((several - idle) / concurrent),
      },
    };
  } finally {
    server.close();
    rmSync(work, { recursive: true, force: true });
  }
}

async function peakDuring(work: () => Promise<unknown>): Promise<number> {
  let peak = memoryMiB();
  const timer = setInterval(() => (peak = Math.max(peak, memoryMiB())), 50);
  try {
    await work();
  } finally {
    clearInterval(timer);
  }
  return Math.max(peak, memoryMiB());
}

/** This process's RSS plus the PSS of all its descendants, in MiB. */
function memoryMiB(): number {
  const parents = new Map<number, number>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // /proc/<pid>/stat: "pid (comm) state ppid …"; comm may contain spaces and parentheses.
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      parents.set(Number(entry), Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]));
    } catch {
      // the process ended while we looked
    }
  }
  const descendants = new Set<number>([process.pid]);
  for (let grew = true; grew;) {
    grew = false;
    for (const [pid, ppid] of parents) {
      if (!descendants.has(pid) && descendants.has(ppid)) {
        descendants.add(pid);
        grew = true;
      }
    }
  }
  let kib = process.memoryUsage.rss() / 1024;
  for (const pid of descendants) {
    if (pid === process.pid) continue;
    try {
      const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, "utf8");
      kib += Number(/^Pss:\s+(\d+) kB/m.exec(rollup)?.[1] ?? 0);
    } catch {
      // the process ended while we looked
    }
  }
  return kib / 1024;
}

if (import.meta.main) {
  console.log(JSON.stringify(await benchCapture({ quick: process.argv.includes("--quick") }), null, 2));
}
