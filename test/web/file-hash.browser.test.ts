import { expect } from "chai";
import { createHash } from "node:crypto";
import { rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import type { Browser, Page } from "playwright-core";
import { launchBrowser } from "../helpers/browser.ts";
import { HASH_CHOSEN_FILE, startHashPage } from "../helpers/hash-page.ts";
import { tempDir } from "../helpers/processes.ts";

describe("hashFile (web/src/file-hash.ts) in Debian's Chromium: a worker with WebAssembly SHA-256", function () {
  this.timeout(120_000);
  let browser: Browser;
  let page: Page;
  let site: Awaited<ReturnType<typeof startHashPage>>;
  let work: string;

  before(async () => {
    work = tempDir("file-hash");
    site = await startHashPage();
    browser = await launchBrowser();
  });

  beforeEach(async () => {
    page = await browser.newPage();
    await page.goto(site.url);
    await page.waitForFunction(() => "hashFileWithEngine" in globalThis);
  });

  afterEach(async () => {
    await page?.close();
  });

  after(async () => {
    await browser?.close();
    await site?.close();
    rmSync(work, { recursive: true, force: true });
  });

  /** A file of `bytes` bytes in which no two slices are alike (a multiplicative hash of each offset). */
  function fileOf(name: string, bytes: number): { file: string; sha256: string } {
    const data = Buffer.alloc(bytes);
    for (let at = 0; at + 4 <= bytes; at += 4) data.writeUInt32LE(Math.imul(at, 2654435761) >>> 0, at);
    const file = path.join(work, name);
    writeFileSync(file, data);
    return { file, sha256: createHash("sha256").update(data).digest("hex") };
  }

  it("gives node's SHA-256 of a 37 MiB file (not a whole number of slices), with WebAssembly, reporting progress slice by slice up to the size", async () => {
    const size = 37 * 1024 * 1024 + 12_345;
    const { file, sha256 } = fileOf("video.mp4", size);
    await page.setInputFiles("#file", file);
    const result = await page.evaluate(HASH_CHOSEN_FILE);
    expect(result.digest).to.equal(sha256);
    expect(result.engine, "hash-wasm compiled under the worker's own policy").to.equal("wasm");
    expect(result.progress.at(-1)).to.equal(size);
    expect(result.progress.length, "one report per 8 MiB slice").to.equal(Math.ceil(size / (8 * 1024 * 1024)));
    expect([...result.progress].sort((a, b) => a - b)).to.deep.equal(result.progress);
  });

  it("hashes an empty file to SHA-256 of nothing, without a progress report", async () => {
    const { file, sha256 } = fileOf("empty.bin", 0);
    await page.setInputFiles("#file", file);
    const result = await page.evaluate(HASH_CHOSEN_FILE);
    expect(result.digest).to.equal(sha256);
    expect(result.progress).to.deep.equal([]);
  });

  it("serves the worker with its own policy allowing only WebAssembly compilation, the page keeping none of 'unsafe-'", async () => {
    const origin = new URL(site.url).origin;
    const worker = await fetch(`${origin}/assets/hash-worker.js`);
    expect(worker.headers.get("content-type")).to.match(/^text\/javascript/);
    expect(worker.headers.get("content-security-policy")).to.equal(
      "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'",
    );
    const pagePolicy = (await fetch(site.url)).headers.get("content-security-policy")!;
    expect(pagePolicy).to.include("worker-src 'self'");
    expect(pagePolicy).not.to.match(/unsafe-/);
  });
});
