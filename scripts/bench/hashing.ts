/** Hashing whole files: the `evidence hash` command, and the web pages' worker in Chromium, each against openssl. */
import { execFileSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { openAsBlob, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { zipSync } from "fflate";
import { blobSource, CAPTURE_MANIFEST_TYPE, readCapturePackage } from "../../service/core/capture-package.ts";
import { canonicalize } from "../../service/core/jcs.ts";
import { STREAM_HASH_ENGINE } from "../../service/core/stream-hash.ts";
import { sha256File } from "../../service/intake/file-digest.ts";
import { launchBrowser } from "../../test/helpers/browser.ts";
import { HASH_CHOSEN_FILE, startHashPage } from "../../test/helpers/hash-page.ts";
import { runCli } from "../../test/helpers/processes.ts";
import { mib, timed, writeRandomFile, type Report } from "./report.ts";

/** `evidence hash` as a process (start-up included) against `openssl dgst -sha256` of the same file. */
export async function benchFileHash(report: Report, work: string): Promise<void> {
  const bytes = report.quick ? 256 * 1024 ** 2 : 1024 ** 3;
  const file = path.join(work, "file.bin");
  await writeRandomFile(file, bytes);
  execFileSync("openssl", ["dgst", "-sha256", file]); // warm the page cache
  const [, opensslS] = await timed(() => execFileSync("openssl", ["dgst", "-sha256", file]));
  const [cli, oursS] = await timed(() => runCli(["hash", file]));
  if (cli.code !== 0) throw new Error(`evidence hash failed: ${cli.stderr}`);
  const [, inProcessS] = await timed(() => sha256File(file));
  const rate = (s: number) => mib(bytes) / s;
  report.row({
    what: `\`evidence hash\` (the command, start-up included), ${mib(bytes)} MiB file`,
    value: `${rate(oursS).toFixed(0)} MiB/s (in process ${rate(inProcessS).toFixed(0)})`,
    baseline: `openssl ${rate(opensslS).toFixed(0)} MiB/s`,
    ratio: opensslS / oursS,
    target: ">= 0.8",
    met: opensslS / oursS >= 0.8,
  });
  report.results.fileHash = { bytes, commandSeconds: oursS, inProcessSeconds: inProcessS, opensslSeconds: opensslS };
  rmSync(file);
}

/**
 * A file hashed by the web pages' worker (web/src/file-hash.ts: 8 MiB slices, hash-wasm's
 * WebAssembly SHA-256) in headless Chromium, against openssl on the same file. The file is
 * handed to the page as a user would pick it; the time is taken inside the page, from the
 * call to the digest. openssl reads the same file from the page cache.
 */
export async function benchBrowserHash(report: Report, work: string): Promise<void> {
  const bytes = report.quick ? 128 * 1024 ** 2 : 1024 ** 3;
  const file = path.join(work, "browser.bin");
  await writeRandomFile(file, bytes);
  const expected = await sha256File(file);
  const site = await startHashPage();
  const browser = await launchBrowser();
  try {
    const page = await browser.newPage();
    await page.goto(site.url);
    await page.waitForFunction(() => "hashFileWithEngine" in globalThis);
    await page.setInputFiles("#file", file);
    const rounds = report.quick ? 1 : 3;
    const measured: { browserS: number; opensslS: number }[] = [];
    let engine = "";
    for (let i = 0; i < rounds; i++) {
      const [, opensslS] = await timed(() => execFileSync("openssl", ["dgst", "-sha256", file]));
      const result = await page.evaluate(HASH_CHOSEN_FILE);
      if (result.digest !== expected) throw new Error("the browser hashed the file to another value");
      engine = result.engine;
      measured.push({ browserS: result.seconds, opensslS });
    }
    measured.sort((a, b) => a.opensslS / a.browserS - b.opensslS / b.browserS);
    const { browserS, opensslS } = measured[Math.floor(measured.length / 2)]!;
    const ratio = opensslS / browserS;
    report.row({
      what: `browser hashing (a worker, ${engine === "wasm" ? "WebAssembly" : "JavaScript"} SHA-256) of a ${mib(bytes)} MiB file in Chromium${rounds > 1 ? `, median of ${rounds}` : ""}`,
      value: `${(mib(bytes) / browserS).toFixed(0)} MiB/s`,
      baseline: `openssl ${(mib(bytes) / opensslS).toFixed(0)} MiB/s`,
      ratio,
      target: ">= 0.5",
      met: ratio >= 0.5,
    });
    report.results.browserHash = {
      bytes,
      engine,
      rounds: measured,
      browserSeconds: browserS,
      opensslSeconds: opensslS,
    };
  } finally {
    await browser.close();
    await site.close();
    rmSync(file, { force: true });
  }
}

/**
 * Verifying a capture package's files, as `evidence verify` and the service do: every artifact
 * read from disk by ranges, inflated where deflated, hashed and CRC-checked. The package holds
 * a stored video (most of its bytes, as a recorded capture's do) and a deflated page; the
 * baseline is `openssl dgst -sha256` of the same ZIP, which reads every byte once too.
 */
export async function benchPackageRead(report: Report, work: string): Promise<void> {
  const videoBytes = report.quick ? 64 * 1024 ** 2 : 512 * 1024 ** 2;
  const video = new Uint8Array(randomBytes(videoBytes));
  // Markup-like text: deflate takes it to about a tenth.
  const line = (i: number) =>
    `<tr><td>${i}</td><td>${(i * 2654435761) % 1_000_003}</td><td>item ${i % 977}</td></tr>\n`;
  const page = new TextEncoder().encode(Array.from({ length: videoBytes / 512 }, (_, i) => line(i)).join(""));
  const artifact = (name: string, mediaType: string, bytes: Uint8Array) => ({
    name,
    mediaType,
    size: bytes.length,
    sha256: createHash("sha256").update(bytes).digest("hex"),
  });
  const manifest = canonicalize({
    type: CAPTURE_MANIFEST_TYPE,
    version: 1,
    url: "https://example.com/",
    finalUrl: "https://example.com/",
    startedAt: "2026-01-01T00:00:00Z",
    finishedAt: "2026-01-01T00:00:10Z",
    artifacts: [artifact("page.html", "text/html", page), artifact("video.mp4", "video/mp4", video)],
  });
  const file = path.join(work, "capture.zip");
  writeFileSync(
    file,
    zipSync({
      "manifest.json": new TextEncoder().encode(manifest),
      "page.html": page,
      "video.mp4": [video, { level: 0 }],
    }),
  );
  const size = (await openAsBlob(file)).size;
  execFileSync("openssl", ["dgst", "-sha256", file]); // warm the page cache
  const [read, oursS] = await timed(async () => readCapturePackage(blobSource(await openAsBlob(file))));
  if (read.problems.length > 0 || !read.artifacts.every((a) => a.ok)) {
    throw new Error(`the package did not verify: ${read.problems.join("; ")}`);
  }
  const [, opensslS] = await timed(() => execFileSync("openssl", ["dgst", "-sha256", file]));
  report.row({
    what: `capture package verified in process (${mib(size).toFixed(0)} MiB ZIP: a stored video, a deflated page; SHA-256 and CRC-32 by ${STREAM_HASH_ENGINE.sha256 === "node" ? "Node's built-ins" : "JavaScript"})`,
    value: `${(mib(size) / oursS).toFixed(0)} MiB/s`,
    baseline: `openssl dgst -sha256 of the ZIP ${(mib(size) / opensslS).toFixed(0)} MiB/s`,
    ratio: opensslS / oursS,
    target: "report",
    met: null,
  });
  report.results.packageRead = { bytes: size, seconds: oursS, opensslSeconds: opensslS, engine: STREAM_HASH_ENGINE };
  rmSync(file);
}
