import { expect } from "chai";
import { createHash } from "node:crypto";
import { once } from "node:events";
import { createServer } from "node:http";
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { launchBrowser } from "../helpers/browser.ts";
import {
  api,
  cleanUpDataDir,
  freePort,
  startServiceProcess,
  tempDir,
  type ServiceProcess,
} from "../helpers/processes.ts";
import { sha256Hex } from "../helpers/hash.ts";

describe("web pages in a real browser (Debian Chromium, real service and chain)", function () {
  this.timeout(120_000);
  let service: ServiceProcess;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let dataDir: string;
  let work: string;
  let chainUrl: string;
  let evidencePath: string;
  let certificatePath: string;
  let certificate: any;
  const requestedHosts = new Set<string>();
  /** Hosts a test pointed the page at on purpose (a reader's own node). */
  const chosenHosts = new Set<string>();

  before(async () => {
    dataDir = tempDir("web");
    work = tempDir("web-files");
    const chainPort = await freePort();
    chainUrl = `http://127.0.0.1:${chainPort}`;
    service = await startServiceProcess(dataDir, { LOCAL_CHAIN_PORT: String(chainPort) });
    evidencePath = path.join(work, "侵权截图.png");
    writeFileSync(evidencePath, "pixels of an infringing product page");
    const form = new FormData();
    form.append("file", new Blob([readFileSync(evidencePath)]), "侵权截图.png");
    const { body } = await api(service.url, service.apiKey).postForm("/api/v1/evidence", form);
    certificate = await api(service.url).anchored(body.items[0].id);
    certificatePath = path.join(work, "certificate.evidence.json");
    writeFileSync(certificatePath, JSON.stringify(certificate, null, 2));
    browser = await launchBrowser();
  });

  beforeEach(async () => {
    context = await browser.newContext({ locale: "en-US", acceptDownloads: true });
    page = await context.newPage();
    page.on("request", (r) => requestedHosts.add(new URL(r.url()).host));
  });

  afterEach(async () => {
    await context?.close();
  });

  after(async () => {
    await browser?.close();
    await service?.stop();
    await cleanUpDataDir(dataDir);
    await cleanUpDataDir(work);
  });

  async function verifyWith(options: { certificate: string; file?: string; sha256?: string; rpc?: string }) {
    await page.goto(`${service.url}/verify`);
    await page.setInputFiles("#cert-file", options.certificate);
    await page.waitForFunction(() => (document.querySelector("#cert-text") as HTMLTextAreaElement).value.length > 0);
    if (options.file) await page.setInputFiles("#evidence-file", options.file);
    if (options.sha256) await page.fill("#sha256", options.sha256);
    if (options.rpc) await page.fill("#rpc", options.rpc);
    await page.click("#verify");
    await page.waitForSelector("#verdict:not(:empty)");
    const verdict = await page.getAttribute("#verdict", "class");
    const statuses = await page.$$eval("#checks li", (items) =>
      items.map((li) => [li.getAttribute("data-check"), li.className]),
    );
    return { verdict, checks: Object.fromEntries(statuses) as Record<string, string> };
  }

  describe("/verify", () => {
    it("shows VALID for a certificate with its file, hashed in the browser, and the anchored time", async () => {
      const result = await verifyWith({ certificate: certificatePath, file: evidencePath });
      expect(result.verdict).to.equal("valid");
      expect(result.checks).to.deep.equal({
        format: "passed",
        content: "passed",
        leaf: "passed",
        inclusion: "passed",
        anchor: "passed",
        signature: "passed",
        // The development TSA is not trusted unless the reader says so: a warning, not a failure.
        timestamp: "error",
      });
      const utc = await page.textContent('[data-field="verify.anchoredUtc"]');
      const anchoredAt = new Date(certificate.batch.anchor.timestamp * 1000).toISOString();
      expect(utc).to.equal(`${anchoredAt.slice(0, 10)} ${anchoredAt.slice(11, 19)} UTC`);
      expect(await page.textContent("#file-hash")).to.include(certificate.record.contentHash);
      expect(await page.getAttribute("#qr", "src")).to.match(/^data:image\/gif;base64,/);
    });

    it("shows NOT VALID for a tampered certificate and names the failed check", async () => {
      const tampered = structuredClone(certificate);
      tampered.proof.path = [`0x${"ab".repeat(32)}`];
      const file = path.join(work, "tampered.evidence.json");
      writeFileSync(file, JSON.stringify(tampered));
      const result = await verifyWith({ certificate: file });
      expect(result.verdict).to.equal("invalid");
      expect(result.checks.inclusion).to.equal("failed");
      expect(await page.textContent("#verdict-text")).to.include("Merkle proof");
    });

    it("fails content for the wrong file", async () => {
      const other = path.join(work, "other.png");
      writeFileSync(other, "another picture");
      const result = await verifyWith({ certificate: certificatePath, file: other });
      expect(result.verdict).to.equal("invalid");
      expect(result.checks.content).to.equal("failed");
      expect(result.checks.anchor).to.equal("passed");
    });

    it("accepts a typed SHA-256 instead of the file", async () => {
      const digest = sha256Hex(readFileSync(evidencePath)).toUpperCase();
      const result = await verifyWith({ certificate: certificatePath, sha256: digest });
      expect(result.verdict).to.equal("valid");
      expect(result.checks.content).to.equal("passed");
    });

    it("reads the chain from a node URL the user gives, bypassing the service's proxy", async () => {
      // The reader's own node, open to pages (CORS), in front of the same chain. The embedded
      // node itself answers no page: it sends no CORS headers and refuses any Origin.
      const courtNode = createServer((req, res) => {
        if (req.method === "OPTIONS") {
          res
            .writeHead(204, { "access-control-allow-origin": "*", "access-control-allow-headers": "content-type" })
            .end();
          return;
        }
        const chunks: Buffer[] = [];
        req.on("data", (c: Buffer) => chunks.push(c));
        req.on("end", () => {
          fetch(chainUrl, {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: Buffer.concat(chunks),
          })
            .then(async (upstream) => {
              res.writeHead(upstream.status, {
                "content-type": "application/json",
                "access-control-allow-origin": "*",
              });
              res.end(Buffer.from(await upstream.arrayBuffer()));
            })
            .catch(() => res.writeHead(502).end());
        });
      }).listen(0, "127.0.0.1");
      await once(courtNode, "listening");
      try {
        const proxied: string[] = [];
        page.on("request", (r) => r.url().endsWith("/rpc") && proxied.push(r.url()));
        const own = `http://127.0.0.1:${(courtNode.address() as { port: number }).port}`;
        chosenHosts.add(new URL(own).host);
        const result = await verifyWith({ certificate: certificatePath, rpc: own });
        expect(result.verdict).to.equal("valid");
        expect(proxied).to.deep.equal([]);
      } finally {
        courtNode.close();
      }
    });

    it("takes a pasted certificate", async () => {
      await page.goto(`${service.url}/verify`);
      await page.fill("#cert-text", JSON.stringify(certificate));
      await page.click("#verify");
      await page.waitForSelector("#verdict.valid");
    });

    it("takes a certificate dropped on the drop zone", async () => {
      await page.goto(`${service.url}/verify`);
      const text = JSON.stringify(certificate);
      const dataTransfer = await page.evaluateHandle((json) => {
        const dt = new DataTransfer();
        dt.items.add(new File([json], "dropped.evidence.json", { type: "application/json" }));
        return dt;
      }, text);
      await page.dispatchEvent("#cert-drop", "drop", { dataTransfer });
      await page.waitForFunction(() => (document.querySelector("#cert-text") as HTMLTextAreaElement).value.length > 0);
      await page.click("#verify");
      await page.waitForSelector("#verdict.valid");
    });

    it("hashes a 64 MiB file in the browser in chunks, with progress, to the same SHA-256 as node", async () => {
      const big = path.join(work, "video.mp4");
      const chunk = Buffer.alloc(1024 * 1024);
      const hash = createHash("sha256");
      const parts: Buffer[] = [];
      for (let i = 0; i < 64; i++) {
        chunk.fill(i);
        hash.update(chunk);
        parts.push(Buffer.from(chunk));
      }
      writeFileSync(big, Buffer.concat(parts));
      await page.goto(`${service.url}/verify`);
      await page.setInputFiles("#evidence-file", big);
      await page.waitForFunction(() => (document.querySelector("#file-hash") as HTMLOutputElement).value.length > 0);
      expect(await page.textContent("#file-hash")).to.equal(`SHA-256 ${hash.digest("hex")}`);
      expect(await page.$eval("#hash-progress", (p) => (p as HTMLProgressElement).value)).to.equal(1);
    });

    it("opens from a QR code link (/verify?id=…) and verifies at once", async () => {
      await page.goto(`${service.url}/verify?id=${certificate.record.id}`);
      await page.waitForSelector("#verdict.valid");
    });
  });

  describe("/ (submitting evidence)", () => {
    it("uploads a file and ends in a downloadable certificate that /verify accepts", async () => {
      await page.goto(service.url);
      await page.fill("#api-key", service.apiKey!);
      await page.click("#use-key");
      const file = path.join(work, "合同 contract.pdf");
      writeFileSync(file, "%PDF-1.4 a contract");
      await page.setInputFiles("#files", file);
      await page.waitForSelector('#uploads td[data-status="anchored"]', { timeout: 60_000 });
      expect(await page.textContent("#uploads tbody")).to.include("matches the service");
      // "My evidence" follows by itself: the file is listed there with its certificate, unasked.
      await page.waitForFunction(
        () =>
          [...document.querySelectorAll("#mine tbody tr")].some(
            (tr) => tr.textContent!.includes("合同 contract.pdf") && tr.querySelector("a.download") !== null,
          ),
        undefined,
        { timeout: 10_000 },
      );
      await page.click("#lang"); // the hash's note is written again in Chinese, and back
      expect(await page.textContent("#uploads tbody")).to.include("与服务端一致");
      await page.click("#lang");
      const [download] = await Promise.all([page.waitForEvent("download"), page.click("#uploads a.download")]);
      const saved = path.join(work, download.suggestedFilename());
      await download.saveAs(saved);
      expect(download.suggestedFilename()).to.match(/^[A-Za-z0-9_-]{27}\.evidence\.json$/);
      const result = await verifyWith({ certificate: saved, file });
      expect(result.verdict).to.equal("valid");
    });

    it("lists the account's evidence, each submission time with its time zone", async () => {
      await page.goto(service.url);
      await page.fill("#api-key", service.apiKey!);
      await page.click("#use-key");
      await page.waitForSelector("#mine tbody tr");
      expect(await page.textContent("#mine tbody")).to.include("侵权截图.png");
      expect(await page.textContent("#mine tbody tr td:nth-child(2)")).to.match(
        /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d( \(|（)UTC([+-]\d\d:\d\d)?(\)|）)$/,
      );
    });

    it("shows older evidence a page at a time, until none is left", async () => {
      const client = api(service.url, service.apiKey);
      const items = Array.from({ length: 150 }, (_, i) => ({ contentHash: sha256Hex(`older evidence ${i}`) }));
      expect((await client.postJson("/api/v1/evidence/digests", { items })).status).to.equal(201);
      let total = 0;
      for (let before: number | null | undefined; before !== null;) {
        const { body } = await client.get(`/api/v1/evidence?limit=500${before ? `&before=${before}` : ""}`);
        total += body.items.length;
        before = body.next;
      }
      await page.goto(service.url);
      await page.fill("#api-key", service.apiKey!);
      await page.click("#use-key");
      const rows = page.locator("#mine tbody tr:not([data-capture])");
      await page.waitForSelector("#more:not([hidden])");
      expect(await rows.count()).to.equal(100);
      while (await page.isVisible("#more")) {
        const shown = await rows.count();
        await page.click("#more");
        // A page was added, or the last one was empty and there is nothing more to show.
        await page.waitForFunction(
          (n) =>
            document.querySelectorAll("#mine tbody tr:not([data-capture])").length > n ||
            (document.querySelector("#more") as HTMLButtonElement).hidden,
          shown,
        );
      }
      expect(await rows.count()).to.equal(total);
    });
  });

  describe("languages and policy", () => {
    it("defaults to the browser's language and switches between Chinese and English", async () => {
      const zh = await browser.newContext({ locale: "zh-CN" });
      const zhPage = await zh.newPage();
      await zhPage.goto(`${service.url}/verify`);
      expect(await zhPage.textContent("h1")).to.equal("验证存证证书");
      expect(await zhPage.getAttribute("html", "lang")).to.equal("zh-CN");
      await zhPage.click("#lang");
      expect(await zhPage.textContent("h1")).to.equal("Verify an evidence certificate");
      await zh.close();

      await page.goto(service.url);
      expect(await page.textContent("h1")).to.equal("Submit evidence");
      await page.click("#lang");
      expect(await page.textContent("h1")).to.equal("提交证据");
    });

    it("writes an error already shown again in the new language when the language is switched", async () => {
      const zh = await browser.newContext({ locale: "zh-CN" });
      try {
        const upload = await zh.newPage();
        await upload.goto(service.url);
        await upload.fill("#api-key", "W".repeat(43));
        await upload.setInputFiles("#files", { name: "截图.png", mimeType: "image/png", buffer: Buffer.from("png") });
        await upload.waitForFunction(() => document.querySelector("#error")!.textContent !== "");
        expect(await upload.textContent("#error")).to.equal("截图.png: API 密钥无效。");
        await upload.click("#lang");
        expect(await upload.textContent("#error")).to.equal("截图.png: The API key is not valid.");

        // The choice of English is remembered for the site: the verify page opens in it.
        const verify = await zh.newPage();
        await verify.goto(`${service.url}/verify`);
        await verify.click("#verify");
        const before = await verify.textContent("#error");
        await verify.click("#lang");
        const after = await verify.textContent("#error");
        expect([before, after]).to.deep.equal([
          "Choose, drop or paste a certificate first.",
          "请先选择、拖放或粘贴证书。",
        ]);
      } finally {
        await zh.close();
      }
    });

    it("serves the pages with a strict Content-Security-Policy and loads nothing from elsewhere", async () => {
      const res = await page.goto(`${service.url}/verify`);
      const csp = res!.headers()["content-security-policy"]!;
      expect(csp).to.include("default-src 'self'").and.include("script-src 'self'").and.include("object-src 'none'");
      expect(csp, "no unsafe-* source").not.to.match(/unsafe-/);
      const own = new Set([new URL(service.url).host, new URL(chainUrl).host, ...chosenHosts]);
      expect([...requestedHosts].filter((h) => !own.has(h))).to.deep.equal([]);
    });

    it("names every chunk a page's script imports for preloading, and fetches the RFC 3161 verifier before Verify is pressed", async () => {
      for (const route of ["/", "/verify"]) {
        await page.goto(`${service.url}${route}`);
        const preloaded = await page.$$eval('link[rel="modulepreload"]', (links) =>
          links.map((l) => new URL((l as HTMLLinkElement).href).pathname),
        );
        const chunks = await page.evaluate(() =>
          performance
            .getEntriesByType("resource")
            .map((e) => new URL(e.name).pathname)
            .filter((p) => p.startsWith("/assets/chunk-")),
        );
        expect(chunks, `${route}: its script imports chunks`).not.to.be.empty;
        expect(preloaded, `${route}: every chunk loaded is preloaded`).to.include.members(chunks);
      }
      await page.waitForFunction(() =>
        performance.getEntriesByType("resource").some((e) => e.name.includes("/assets/timestamp-verifier-")),
      );
    });

    it("is operable from the keyboard alone: every input labelled, sign-in, file choice and verification by Tab, Enter and Space", async () => {
      for (const route of ["/", "/verify"]) {
        await page.goto(`${service.url}${route}`);
        const unlabelled = await page.$$eval("input, textarea", (inputs) =>
          inputs.filter((i) => !i.id || !document.querySelector(`label[for="${i.id}"]`)).map((i) => i.outerHTML),
        );
        expect(unlabelled, route).to.deep.equal([]);
      }
      /** Presses Tab until `selector` has the focus: it is reachable in the page's tab order. */
      const tabTo = async (selector: string) => {
        for (let i = 0; i < 40; i++) {
          await page.keyboard.press("Tab");
          if (await page.evaluate((s) => document.activeElement?.matches(s) ?? false, selector)) return;
        }
        throw new Error(`${selector} is not reachable with Tab`);
      };

      /** Presses `key` on the focused drop zone and checks it opened the file input's chooser (a click on the input). */
      const opensFileChooser = async (input: string, key: string) => {
        await page.evaluate((selector) => {
          document
            .querySelector(selector)!
            .addEventListener("click", () => ((window as { chooserOpened?: boolean }).chooserOpened = true), {
              once: true,
            });
        }, input);
        await page.keyboard.press(key);
        expect(
          await page.evaluate(() => (window as { chooserOpened?: boolean }).chooserOpened ?? false),
          `${key} opens ${input}`,
        ).to.equal(true);
      };

      // Submitting: the key typed and used, a file chosen through the drop zone with Space.
      await page.goto(service.url);
      await tabTo("#api-key");
      await page.keyboard.type(service.apiKey!);
      await tabTo("#use-key");
      await page.keyboard.press("Enter");
      await page.waitForSelector("#mine tbody tr");
      const file = path.join(work, "keyboard.txt");
      writeFileSync(file, `chosen from the keyboard ${Date.now()}`);
      await tabTo("#drop");
      await opensFileChooser("#files", "Space");
      await page.setInputFiles("#files", file);
      await page.waitForSelector("#uploads tbody tr td[data-status]");
      expect(await page.textContent("#uploads tbody tr td")).to.equal("keyboard.txt");

      // Verifying: the certificate chosen through the drop zone with Enter, then Verify with Enter.
      await page.goto(`${service.url}/verify`);
      await tabTo("#cert-drop");
      await opensFileChooser("#cert-file", "Enter");
      await page.setInputFiles("#cert-file", certificatePath);
      await page.waitForFunction(() => (document.querySelector("#cert-text") as HTMLTextAreaElement).value.length > 0);
      await tabTo("#verify");
      await page.keyboard.press("Enter");
      await page.waitForSelector("#verdict.valid");
    });
  });
});
