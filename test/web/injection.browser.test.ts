import { expect } from "chai";
import { writeFileSync } from "node:fs";
import path from "node:path";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { visibleText } from "../../service/core/index.ts";
import { launchBrowser } from "../helpers/browser.ts";
import { api, cleanUpDataDir, startServiceProcess, tempDir, type ServiceProcess } from "../helpers/processes.ts";
import { sha256Hex } from "../helpers/hash.ts";

/**
 * Markup where the pages show text: each payload would set `window.__injected` (or open a
 * dialog) if it ran, or leave an element behind if it were parsed as markup.
 */
const PAYLOADS = {
  img: `<img src=x onerror="window.__injected='img';alert(1)">`,
  script: `</script><script>window.__injected='script'</script>`,
  svg: `<svg onload="window.__injected='svg'"></svg>`,
  rtl: "invoice\u202Egnp.exe",
};

const FILE_NAME = `${PAYLOADS.img} ${PAYLOADS.rtl}`;
const TITLE = `${PAYLOADS.script} 标题`;
const SOURCE_URL = `https://shop.example.com/item?q=${PAYLOADS.svg}`;
const NOTE = `${PAYLOADS.img} note`;
const ISSUER_NAME = `${PAYLOADS.svg} Issuer ${PAYLOADS.rtl}`;
const CHAIN_NAME = `${PAYLOADS.img} chain`;

describe("markup in certificate fields, file names and errors is shown as text (Debian Chromium, real service)", function () {
  this.timeout(120_000);
  let service: ServiceProcess;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let dataDir: string;
  let work: string;
  let certificate: any;
  let dialogs: string[];
  let violations: string[];

  before(async () => {
    dataDir = tempDir("injection");
    work = tempDir("injection-files");
    service = await startServiceProcess(dataDir, {
      ISSUER_NAME,
      CHAIN_NAMES: `31337=${CHAIN_NAME}`,
      MAX_FILE_BYTES: "1024",
    });
    const client = api(service.url, service.apiKey);
    const { body } = await client.postJson("/api/v1/evidence/digests", {
      items: [
        { contentHash: sha256Hex("injection"), fileName: FILE_NAME, title: TITLE, sourceUrl: SOURCE_URL, note: NOTE },
      ],
    });
    certificate = await client.anchored(body.items[0].id);
    browser = await launchBrowser();
  });

  beforeEach(async () => {
    dialogs = [];
    violations = [];
    context = await browser.newContext({ locale: "en-US" });
    page = await context.newPage();
    page.on("dialog", (d) => {
      dialogs.push(d.message());
      void d.dismiss();
    });
    // A payload parsed as markup would also show as a blocked inline script.
    page.on("console", (m) => /Content Security Policy/i.test(m.text()) && violations.push(m.text()));
  });

  afterEach(async () => {
    // Nothing ran and nothing was parsed, whatever the test showed.
    expect(
      await page.evaluate(() => (window as { __injected?: unknown }).__injected ?? null),
      "a payload ran",
    ).to.equal(null);
    expect(
      await page.$$eval("img[src='x'], svg[onload], script:not([src])", (els) => els.length),
      "payload elements",
    ).to.equal(0);
    expect(dialogs, "dialogs").to.deep.equal([]);
    expect(violations, "blocked inline scripts").to.deep.equal([]);
    await context.close();
  });

  after(async () => {
    await browser?.close();
    await service?.stop();
    await cleanUpDataDir(dataDir);
    await cleanUpDataDir(work);
  });

  const field = (key: string) => page.textContent(`[data-field="${key}"]`);

  describe("/verify", () => {
    it("shows the record's title, file name and source URL, the issuer's name and the chain's name literally", async () => {
      await page.goto(`${service.url}/verify?id=${certificate.record.id}`);
      await page.waitForSelector("#verdict.valid");
      await page.waitForSelector('[data-field="verify.issuer"]');
      expect(await field("verify.title.field")).to.equal(TITLE);
      // Markup as text; the right-to-left override written out ([U+202E]), so it reorders nothing.
      expect(await field("verify.fileName")).to.equal(`${PAYLOADS.img} invoice[U+202E]gnp.exe`);
      expect(await field("verify.sourceUrl")).to.equal(SOURCE_URL);
      expect(await field("verify.issuer")).to.equal(
        `${visibleText(ISSUER_NAME)} (${certificate.batch.issuer.address})`,
      );
      expect(await field("verify.chain")).to.equal(`31337 — ${CHAIN_NAME}`);
    });

    it("shows an error naming a field of a pasted certificate literally", async () => {
      await page.goto(`${service.url}/verify`);
      await page.fill("#cert-text", JSON.stringify({ ...certificate, [PAYLOADS.img]: PAYLOADS.script }));
      await page.click("#verify");
      await page.waitForSelector("#verdict.invalid");
      expect(await page.textContent('#checks li[data-check="format"]')).to.include(`unknown field "${PAYLOADS.img}"`);
    });

    it("shows the name of a chosen certificate document literally", async () => {
      const name = path.join(work, `${PAYLOADS.img}.pdf`);
      writeFileSync(name, "%PDF-1.7 not really");
      await page.goto(`${service.url}/verify`);
      await page.setInputFiles("#cert-file", name);
      await page.waitForFunction(() => (document.querySelector("#cert-name") as HTMLOutputElement).value.length > 0);
      expect(await page.textContent("#cert-name")).to.include(`${PAYLOADS.img}.pdf`);
    });
  });

  describe("/ (submitting evidence)", () => {
    async function signIn(): Promise<void> {
      await page.goto(service.url);
      await page.fill("#api-key", service.apiKey!);
      await page.click("#use-key");
    }

    it("lists the account's evidence with its file name literally, the right-to-left override written out", async () => {
      await signIn();
      await page.waitForSelector("#mine tbody tr");
      expect(await page.textContent("#mine tbody")).to.include(`${PAYLOADS.img} invoice[U+202E]gnp.exe`);
    });

    it("shows an uploaded file's name in the upload table literally, the right-to-left override written out", async () => {
      // A file name cannot hold "/": the svg element is left open.
      const file = path.join(work, `<svg onload="window.__injected='svg'"> ${PAYLOADS.rtl}.txt`);
      writeFileSync(file, "small");
      await signIn();
      await page.setInputFiles("#files", file);
      await page.waitForSelector("#uploads tbody tr");
      expect(await page.textContent("#uploads tbody tr td")).to.equal(
        `<svg onload="window.__injected='svg'"> invoice[U+202E]gnp.exe.txt`,
      );
    });

    it("shows a refused upload's error with the file's name literally", async () => {
      const file = path.join(work, `${PAYLOADS.img}.bin`);
      writeFileSync(file, Buffer.alloc(4096, 1)); // over this service's MAX_FILE_BYTES
      await signIn();
      await page.setInputFiles("#files", file);
      await page.waitForFunction(() => (document.querySelector("#error") as HTMLElement).textContent!.length > 0);
      expect(await page.textContent("#error")).to.match(new RegExp(`^${escape(path.basename(file))}: `));
    });
  });
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
