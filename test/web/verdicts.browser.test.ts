import { expect } from "chai";
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { strFromU8, strToU8, unzipSync, zipSync } from "fflate";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { JsonRpcChainReader } from "../../service/core/index.ts";
import { launchBrowser } from "../helpers/browser.ts";
import { redirect, serve, solidPng, startSite, type Site } from "../helpers/capture-sites.ts";
import {
  api,
  cleanUpDataDir,
  freePort,
  startChainNode,
  startServiceProcess,
  tempDir,
  until,
  type ServiceProcess,
} from "../helpers/processes.ts";

/**
 * The verification page as a mediator or a court clerk uses it, in both languages: the
 * three verdicts, what each says, where it sits, what may be printed; the certificate
 * document and capture packages taken as they are; and the capture form.
 */
describe("verdicts on the pages, in Chinese and English (Debian Chromium, real service and chain)", function () {
  this.timeout(180_000);
  let service: ServiceProcess;
  let site: Site;
  let browser: Browser;
  let dataDir: string;
  let work: string;
  let evidence: string;
  let certificatePath: string;
  let certificate: any;
  let closedPort: number;

  before(async () => {
    dataDir = tempDir("verdicts");
    work = tempDir("verdicts-work");
    site = await startSite({
      "/listing": serve(
        "text/html; charset=utf-8",
        `<!doctype html><meta charset="utf-8"><title>商品页</title><h1>侵权商品</h1><img src="/p.png">`,
      ),
      "/p.png": serve("image/png", solidPng(120, 80, [20, 120, 200])),
      "/to-private": redirect("http://10.1.2.3/"),
    });
    service = await startServiceProcess(dataDir, {
      LOCAL_CHAIN_PORT: String(await freePort()),
      CAPTURE_ALLOW: "127.0.0.1/32",
    });
    evidence = path.join(work, "截图.png");
    writeFileSync(evidence, solidPng(64, 64, [200, 10, 10]));
    const form = new FormData();
    form.append("file", new Blob([readFileSync(evidence)]), "截图.png");
    form.append("title", "商品详情页");
    const { body } = await api(service.url, service.apiKey).postForm("/api/v1/evidence", form);
    certificate = await api(service.url).anchored(body.items[0].id);
    certificatePath = path.join(work, `${certificate.record.id}.evidence.json`);
    writeFileSync(certificatePath, JSON.stringify(certificate, null, 2));
    closedPort = await freePort();
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    await service?.stop();
    await site?.close();
    await cleanUpDataDir(dataDir);
    await cleanUpDataDir(work);
  });

  async function open(locale: "en-US" | "zh-CN", route = "/verify"): Promise<{ context: BrowserContext; page: Page }> {
    const context = await browser.newContext({ locale, viewport: { width: 1280, height: 800 }, acceptDownloads: true });
    const page = await context.newPage();
    await page.goto(`${service.url}${route}`);
    return { context, page };
  }

  async function verify(page: Page, options: { certificate?: string; file?: string; rpc?: string }): Promise<string> {
    if (options.certificate) await page.setInputFiles("#cert-file", options.certificate);
    await page.waitForFunction(
      () =>
        (document.querySelector("#cert-text") as HTMLTextAreaElement).value.length > 0 ||
        (document.querySelector("#cert-name") as HTMLOutputElement).value.length > 0,
    );
    if (options.file) {
      await page.setInputFiles("#evidence-file", options.file);
      await page.waitForFunction(() => (document.querySelector("#file-hash") as HTMLOutputElement).value.length > 0);
    }
    if (options.rpc) await page.fill("#rpc", options.rpc);
    await page.click("#verify");
    await page.waitForSelector("#result:not([hidden]) #verdict:not(:empty)");
    return (await page.getAttribute("#result", "data-verdict"))!;
  }

  const text = (page: Page, selector: string) => page.textContent(selector).then((t) => t ?? "");
  const visible = (page: Page, selector: string) => page.isVisible(selector);

  describe("a valid certificate with its file", () => {
    for (const [locale, headline, anchorName] of [
      ["en-US", "VALID — the file matches the certificate", "Blockchain anchor: PASS"],
      ["zh-CN", "有效——文件与存证一致", "区块链锚定: 通过"],
    ] as const) {
      it(`says so at the top, large and in view, in ${locale}; print and QR offered`, async () => {
        const { context, page } = await open(locale);
        try {
          expect(await verify(page, { certificate: certificatePath, file: evidence })).to.equal("valid");
          expect(await text(page, "#verdict")).to.equal(headline);
          expect(await text(page, '#checks li[data-check="anchor"] strong')).to.equal(anchorName);
          const verdictBox = (await page.locator("#verdict-box").boundingBox())!;
          const inputs = (await page.locator("#inputs").boundingBox())!;
          expect(verdictBox.y, "the verdict sits above the form").to.be.below(inputs.y);
          const scrolled = await page.evaluate(() => {
            const r = document.querySelector("#verdict-box")!.getBoundingClientRect();
            return r.top >= 0 && r.bottom <= window.innerHeight;
          });
          expect(scrolled, "scrolled into view at 1280×800").to.equal(true);
          expect(
            await page.evaluate(() => parseFloat(getComputedStyle(document.querySelector("#verdict")!).fontSize)),
          ).to.be.at.least(28);
          expect([await visible(page, "#print"), await visible(page, "#qr-figure")]).to.deep.equal([true, true]);
          expect(
            await page.isVisible('#warnings li[data-warning="warning.development-chain"]'),
            "development chain warned",
          ).to.equal(true);
          expect(await text(page, '[data-field="verify.anchoredUtc"]')).to.match(
            /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$/,
          );
          expect(await text(page, "#result")).not.to.match(/\b1[78]\d{8}\b/); // never Unix seconds
          if (locale === "zh-CN") {
            // The Chinese page speaks Chinese: every check's sentence and the verdict's explanation.
            for (const sentence of await page.$$eval("#checks li", (items) =>
              items.map((li) => li.childNodes[2]?.textContent ?? ""),
            )) {
              expect(sentence, "check sentence")
                .to.match(/[\u4e00-\u9fff]/)
                .and.not.match(/\b(the|file|passed|failed)\b/i);
            }
            expect(await text(page, "#verdict-text")).to.match(/^您提供的文件最迟在/);
            // Chinese punctuation around what the certificate says, as in the check details.
            expect(await text(page, '[data-field="verify.issuer"]')).to.match(/（0x[0-9a-fA-F]{40}）$/);
          }
        } finally {
          await context.close();
        }
      });
    }

    it("prints on one A4 page, with the facts of the certificate, the time of verification and the node", async () => {
      const { context, page } = await open("zh-CN");
      try {
        await verify(page, { certificate: certificatePath, file: evidence });
        await page.emulateMedia({ media: "print" });
        expect(await page.isVisible("#inputs"), "the form is not printed").to.equal(false);
        for (const field of [
          "verify.id",
          "verify.title.field",
          "verify.contentHash",
          "verify.anchoredUtc",
          "verify.tx",
          "verify.verifiedAt",
          "verify.nodeUsed",
        ]) {
          expect(await page.isVisible(`[data-field="${field}"]`), field).to.equal(true);
        }
        const pdf = await page.pdf({ format: "A4", printBackground: true });
        const pages = pdf.toString("latin1").match(/\/Type\s*\/Page[^s]/g) ?? [];
        expect(pages.length, "one page").to.equal(1);
      } finally {
        await context.close();
      }
    });
  });

  it("writes out the invisible characters a submitter put in a file name or title, as the CLI and the certificate document do, so none reorders what is shown", async () => {
    // "invoice\u202Egnp.exe" shows as "invoiceexe.png" when the override is obeyed.
    const form = new FormData();
    form.append("file", new Blob([strToU8("an executable, named as a picture")]), "invoice\u202Egnp.exe");
    form.append("title", "Valid \u2714 \u6709\u6548\u202E txt.exe\u200B");
    const { body } = await api(service.url, service.apiKey).postForm("/api/v1/evidence", form);
    const named = await api(service.url).anchored(body.items[0].id);
    const namedPath = path.join(work, "named.evidence.json");
    writeFileSync(namedPath, JSON.stringify(named));
    const { context, page } = await open("en-US");
    try {
      expect(await verify(page, { certificate: namedPath })).to.equal("valid");
      expect(await text(page, '[data-field="verify.fileName"]')).to.equal("invoice[U+202E]gnp.exe");
      expect(await text(page, '[data-field="verify.title.field"]')).to.equal(
        "Valid \u2714 \u6709\u6548[U+202E] txt.exe[U+200B]",
      );
      expect(await text(page, "#result"), "no invisible character anywhere in the result").not.to.match(
        /[\u202A-\u202E\u2066-\u2069\u200B-\u200F]/,
      );
    } finally {
      await context.close();
    }
  });

  it("links the one-file verifier the service serves, in the reader's language", async () => {
    for (const [locale, words] of [
      ["en-US", "To verify without this page or this service: download the verifier"],
      ["zh-CN", "不经本页面和本服务核验：下载验证程序"],
    ] as const) {
      const { context, page } = await open(locale);
      try {
        expect(await text(page, "#verifier-download")).to.include(words);
        const href = await page.getAttribute("#verifier-download", "href");
        const download = await fetch(new URL(href!, service.url));
        expect([download.status, (await download.text()).startsWith("#!/usr/bin/env node")]).to.deep.equal([200, true]);
      } finally {
        await context.close();
      }
    }
  });

  it("says a certificate opened from its QR code is valid but that no file was compared", async () => {
    for (const [locale, headline, compared] of [
      ["en-US", "VALID CERTIFICATE — no file compared", "no — only the certificate was checked"],
      ["zh-CN", "证书有效——未比对文件", "否——仅核验了证书"],
    ] as const) {
      const { context, page } = await open(locale, `/verify?id=${certificate.record.id}`);
      try {
        await page.waitForSelector("#result:not([hidden]) #verdict:not(:empty)");
        expect(await text(page, "#verdict")).to.equal(headline);
        expect(await text(page, '[data-field="verify.fileCompared"]')).to.equal(compared);
        expect(await page.getAttribute("#pdf", "href")).to.equal(
          `/api/v1/evidence/${certificate.record.id}/certificate.pdf`,
        );
      } finally {
        await context.close();
      }
    }
  });

  it("says INVALID for the wrong file, that the certificate itself checks out, and offers no print or QR", async () => {
    const other = path.join(work, "other.png");
    writeFileSync(other, solidPng(64, 64, [0, 200, 0]));
    for (const [locale, headline, explanation, sentence] of [
      [
        "en-US",
        "INVALID — the file does not match the certificate",
        "The certificate itself checks out",
        "The file you supplied is NOT the certified file: its SHA-256 differs.",
      ],
      ["zh-CN", "无效——文件与存证不一致", "证书本身核验无误", "您提供的文件不是存证文件：两者的 SHA-256 不同。"],
    ] as const) {
      const { context, page } = await open(locale);
      try {
        expect(await verify(page, { certificate: certificatePath, file: other })).to.equal("invalid");
        expect(await text(page, "#verdict")).to.equal(headline);
        expect(await text(page, "#verdict-text")).to.include(explanation);
        expect(await text(page, '#checks li[data-check="content"]')).to.include(sentence);
        expect(await visible(page, "#unproven"), "a genuine certificate's facts are not called unproven").to.equal(
          false,
        );
        expect([
          await visible(page, "#print"),
          await visible(page, "#qr-figure"),
          await visible(page, "#pdf"),
        ]).to.deep.equal([false, false, false]);
      } finally {
        await context.close();
      }
    }
  });

  it("says a PDF without the certificate attached (a printout) is no sign of forgery, and that no file was compared with it", async () => {
    const printout = path.resolve(import.meta.dirname, "../vectors/pdf/no-attachment.pdf");
    for (const [locale, headline, explanation, compared] of [
      [
        "en-US",
        "INVALID — there is no certificate in this file",
        'If it is a copy of a certificate document (a printout, a scan, a "print to PDF" copy), the copy lost the attachment, which is no sign of forgery',
        "no — the certificate could not be read, so nothing was compared with it",
      ],
      [
        "zh-CN",
        "无效——此文件中没有证书",
        "附件已在复制时丢失，这并不表明证书是伪造的",
        "否——证书无法读取，未与任何文件比对",
      ],
    ] as const) {
      const { context, page } = await open(locale);
      try {
        expect(await verify(page, { certificate: printout, file: evidence })).to.equal("invalid");
        expect(await text(page, "#verdict")).to.equal(headline);
        expect(await text(page, "#verdict-text")).to.include(explanation);
        expect(await text(page, '[data-field="verify.fileCompared"]')).to.equal(compared);
      } finally {
        await context.close();
      }
    }
  });

  it("says COULD NOT VERIFY, not invalid, when the node cannot be reached, with the reason and what to do", async () => {
    for (const [locale, headline, reassurance] of [
      ["en-US", "COULD NOT VERIFY", "this is not a sign of forgery"],
      ["zh-CN", "无法验证", "这并不表明证书是伪造的"],
    ] as const) {
      const { context, page } = await open(locale);
      try {
        expect(await verify(page, { certificate: certificatePath, rpc: `http://127.0.0.1:${closedPort}` })).to.equal(
          "indeterminate",
        );
        expect(await text(page, "#verdict")).to.equal(headline);
        expect(await text(page, "#verdict-text")).to.include(reassurance);
        expect(await page.getAttribute('#checks li[data-check="anchor"]', "class")).to.equal("error");
        expect([await visible(page, "#print"), await visible(page, "#qr-figure")]).to.deep.equal([false, false]);
      } finally {
        await context.close();
      }
    }
  });

  it("says COULD NOT VERIFY, not invalid, on a reader's node of another chain with the same id, which lacks the service's registry", async () => {
    const anchor = certificate.batch.anchor;
    const lookalike = await startChainNode({ chainId: anchor.chainId });
    try {
      await new JsonRpcChainReader(lookalike.url).request("anvil_mine", [
        `0x${(anchor.blockNumber + 10).toString(16)}`,
      ]);
      for (const [locale, headline, why] of [
        ["en-US", "COULD NOT VERIFY", `the node has no contract at ${anchor.contract}, the trusted registry`],
        ["zh-CN", "无法验证", `该节点在受信任的存证合约地址 ${anchor.contract} 上没有合约`],
      ] as const) {
        const { context, page } = await open(locale);
        try {
          expect(await verify(page, { certificate: certificatePath, file: evidence, rpc: lookalike.url })).to.equal(
            "indeterminate",
          );
          expect(await text(page, "#verdict")).to.equal(headline);
          expect(await text(page, '#checks li[data-check="anchor"]')).to.include(why);
        } finally {
          await context.close();
        }
      }
    } finally {
      await lookalike.stop();
    }
  });

  it("never leaves a verdict on screen once the inputs are checked again and refused", async () => {
    const { context, page } = await open("en-US");
    try {
      expect(await verify(page, { certificate: certificatePath, file: evidence })).to.equal("valid");
      await page.setInputFiles("#evidence-file", []);
      await page.fill("#sha256", "not a hash");
      await page.click("#verify");
      await page.waitForFunction(() => (document.querySelector("#error") as HTMLElement).textContent !== "");
      expect(await visible(page, "#result")).to.equal(false);
      expect(await text(page, "#error")).to.match(/^A SHA-256 is 64 hexadecimal characters/);
      // A trust list that cannot be read is refused before verifying, not reported after as an untrusted authority.
      await page.fill("#sha256", "");
      await page.fill("#tsa-trust", "-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----");
      await page.click("#verify");
      await page.waitForFunction(() => /PEM/.test((document.querySelector("#error") as HTMLElement).textContent ?? ""));
      expect(await visible(page, "#result")).to.equal(false);
      expect(await text(page, "#error")).to.match(
        /^The time-stamp authorities you trust are given as PEM certificates/,
      );
    } finally {
      await context.close();
    }
  });

  it("takes the line sha256sum prints, or 0x and the hash, as the original's SHA-256", async () => {
    const digest = certificate.record.contentHash as string;
    for (const typed of [`${digest}  截图.png`, `0x${digest.toUpperCase()}`]) {
      const { context, page } = await open("en-US");
      try {
        await page.fill("#sha256", typed);
        expect(await verify(page, { certificate: certificatePath }), typed).to.equal("valid");
        // A hash was compared, not a file: said so, so nobody reads it as a file checked.
        expect(await text(page, "#verdict")).to.equal("VALID — the SHA-256 given matches the certificate");
        expect(await text(page, "#verdict-text")).to.include("Only the hash was compared; no file was read");
      } finally {
        await context.close();
      }
    }
  });

  it("compares the file chosen last, and Verify another starts from nothing", async () => {
    const other = path.join(work, "later.png");
    writeFileSync(other, solidPng(32, 32, [1, 2, 3]));
    const { context, page } = await open("en-US");
    try {
      await page.setInputFiles("#cert-file", certificatePath);
      await page.setInputFiles("#evidence-file", other);
      await page.setInputFiles("#evidence-file", evidence);
      expect(await verify(page, {})).to.equal("valid");
      expect(await text(page, "#file-hash")).to.equal(`SHA-256 ${certificate.record.contentHash}`);
      await page.click("#again");
      expect(await visible(page, "#result")).to.equal(false);
      expect(
        await page.evaluate(() => [
          (document.querySelector("#cert-text") as HTMLTextAreaElement).value,
          (document.querySelector("#evidence-file") as HTMLInputElement).files!.length,
          (document.querySelector("#sha256") as HTMLInputElement).value,
          (document.querySelector("#file-hash") as HTMLOutputElement).value,
        ]),
      ).to.deep.equal(["", 0, "", ""]);
    } finally {
      await context.close();
    }
  });

  it("says a file that is not a certificate (the evidence itself, chosen by mistake) is no certificate, in the page's language", async () => {
    for (const [locale, explanation] of [
      ["en-US", "This is not a readable certificate: the file is not a certificate"],
      ["zh-CN", "无法读取证书：格式错误：该文件不是证书"],
    ] as const) {
      const { context, page } = await open(locale);
      try {
        expect(await verify(page, { certificate: evidence })).to.equal("invalid");
        expect(await text(page, "#verdict-text")).to.include(explanation);
        expect(await visible(page, "#unproven"), "no facts, so nothing called unproven").to.equal(false);
      } finally {
        await context.close();
      }
    }
  });

  it("judges pasted text as the API does: text that begins with a byte order mark is no JSON, while a file saved with one is the same certificate (protocol §5.1)", async () => {
    const marked = `\ufeff${JSON.stringify(certificate)}`;
    const form = new FormData();
    form.append("certificate", marked);
    const { body } = await api(service.url).postForm("/api/v1/verify", form);
    expect([body.verdict, body.checks[0].id, body.checks[0].status]).to.deep.equal(["invalid", "format", "failed"]);
    const savedWithMark = path.join(work, "marked.evidence.json");
    writeFileSync(
      savedWithMark,
      Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(JSON.stringify(certificate))]),
    );
    const { context, page } = await open("en-US");
    try {
      await page.fill("#cert-text", marked);
      expect(await verify(page, { file: evidence }), "pasted").to.equal("invalid");
      expect(await text(page, "#verdict-text")).to.include("The certificate cannot be read");
      await page.click("#again");
      expect(await verify(page, { certificate: savedWithMark, file: evidence }), "a file").to.equal("valid");
    } finally {
      await context.close();
    }
  });

  it("refuses a certificate file that is not UTF-8, as the CLI and the API do: other bytes in place of a U+FFFD the record held never verify", async () => {
    // A genuine certificate whose record holds U+FFFD (a title given as a digest's detail)…
    const digest = certificate.record.contentHash as string;
    const { body } = await api(service.url, service.apiKey).postJson("/api/v1/evidence/digests", {
      items: [{ contentHash: digest, title: "Author: \ufffd\ufffd\ufffd\ufffd" }],
    });
    const genuine = Buffer.from(JSON.stringify(await api(service.url).anchored(body.items[0].id)), "utf8");
    // …and the same with those bytes replaced by the GBK bytes of 张三, which decode to four U+FFFD.
    const replaced = Buffer.from("\ufffd".repeat(4), "utf8");
    const at = genuine.indexOf(replaced);
    expect(at).to.be.greaterThan(0);
    const altered = Buffer.concat([
      genuine.subarray(0, at),
      Buffer.from([0xd5, 0xc5, 0xc8, 0xfd]),
      genuine.subarray(at + 12),
    ]);
    const genuinePath = path.join(work, "fffd.evidence.json");
    const alteredPath = path.join(work, "gbk.evidence.json");
    writeFileSync(genuinePath, genuine);
    writeFileSync(alteredPath, altered);
    const { context, page } = await open("en-US");
    try {
      expect(await verify(page, { certificate: genuinePath, file: evidence }), "genuine").to.equal("valid");
      await page.click("#again");
      expect(await verify(page, { certificate: alteredPath, file: evidence }), "altered").to.equal("invalid");
      expect(await text(page, "#verdict-text")).to.include("not UTF-8");
    } finally {
      await context.close();
    }
    // The API's JSON body alike: refused whole, never read with U+FFFD in place of the bytes.
    const res = await fetch(`${service.url}/api/v1/verify`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: Buffer.concat([Buffer.from('{"certificate":'), altered, Buffer.from("}")]),
    });
    expect([res.status, ((await res.json()) as { code: string }).code]).to.deep.equal([400, "INVALID_BODY"]);
    // And a multipart text field, which the parser reads with U+FFFD in place of such bytes:
    // refused, the genuine one too, since the two read alike; as a file part each is its bytes.
    for (const certificateBytes of [altered, genuine]) {
      const boundary = "----certificate-as-text";
      const multipart = await fetch(`${service.url}/api/v1/verify`, {
        method: "POST",
        headers: { "content-type": `multipart/form-data; boundary=${boundary}` },
        body: Buffer.concat([
          Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="certificate"\r\n\r\n`),
          certificateBytes,
          Buffer.from(`\r\n--${boundary}--\r\n`),
        ]),
      });
      const problem = (await multipart.json()) as { code: string; detail: string };
      expect([multipart.status, problem.code]).to.deep.equal([400, "INVALID_FIELD"]);
      expect(problem.detail).to.include("send the certificate as a file part");
    }
  });

  it("hides a verdict as soon as any input it was given for changes, before Verify is clicked", async () => {
    const other = path.join(work, "changed.png");
    writeFileSync(other, solidPng(16, 16, [9, 9, 9]));
    const otherCertificate = path.join(work, "another.evidence.json");
    writeFileSync(otherCertificate, JSON.stringify(certificate));
    const { context, page } = await open("en-US");
    try {
      for (const change of [
        () => page.setInputFiles("#evidence-file", other),
        () => page.setInputFiles("#cert-file", otherCertificate),
        () => page.fill("#cert-text", JSON.stringify(certificate)),
        () => page.fill("#sha256", certificate.record.contentHash as string),
        () => page.fill("#rpc", "http://127.0.0.1:1/"),
      ]) {
        await page.goto(`${service.url}/verify`);
        expect(await verify(page, { certificate: certificatePath, file: evidence })).to.equal("valid");
        await change();
        await page.waitForSelector("#result", { state: "hidden" });
      }
    } finally {
      await context.close();
    }
  });

  it("never shows the verdict of a verification whose inputs changed while it ran (the certificate edited, another hash typed)", async () => {
    for (const change of [
      (page: Page) =>
        page.fill(
          "#cert-text",
          JSON.stringify({ ...certificate, record: { ...certificate.record, fileName: "forged.txt" } }),
        ),
      (page: Page) => page.fill("#sha256", "0".repeat(64)),
    ]) {
      const { context, page } = await open("en-US");
      try {
        await page.fill("#cert-text", JSON.stringify(certificate));
        await page.fill("#sha256", certificate.record.contentHash as string);
        // The node's answers are held until the inputs have changed.
        let release!: () => void;
        const released = new Promise<void>((resolve) => (release = resolve));
        let held = false;
        await page.route("**/rpc", async (route) => {
          held = true;
          await released;
          await route.continue();
        });
        await page.click("#verify");
        await page.waitForFunction(() => (document.querySelector("#verify") as HTMLButtonElement).disabled);
        await until(async () => (held ? true : undefined), "a chain read held", 10_000);
        await change(page);
        release();
        // Done once Verify can be clicked again.
        await page.waitForFunction(() => !(document.querySelector("#verify") as HTMLButtonElement).disabled);
        expect(await visible(page, "#result")).to.equal(false);
      } finally {
        await context.close();
      }
    }
  });

  it("takes the certificate's PDF document as it is", async () => {
    const pdf = path.join(work, "certificate.pdf");
    writeFileSync(
      pdf,
      Buffer.from(
        await (await fetch(`${service.url}/api/v1/evidence/${certificate.record.id}/certificate.pdf`)).arrayBuffer(),
      ),
    );
    const { context, page } = await open("en-US");
    try {
      expect(await verify(page, { certificate: pdf, file: evidence })).to.equal("valid");
    } finally {
      await context.close();
    }
  });

  it("captures a page from the form with progress and a preview, and verifies its package with the screenshot beside the verdict", async () => {
    const { context, page } = await open("zh-CN", "/");
    try {
      await page.fill("#api-key", service.apiKey!);
      await page.click("#use-key");
      await page.fill("#capture-url", `http://127.0.0.1:${site.port}/listing`);
      await page.click("#capture-run");
      await page.waitForSelector('#capture-progress[data-status="anchored"]', { timeout: 120_000 });
      // An image is visible once it has loaded and has a size: awaited, not sampled.
      await page.waitForSelector("#capture-preview", { state: "visible" });
      expect(
        await page.evaluate(() => (document.querySelector("#capture-preview") as HTMLImageElement).naturalWidth),
      ).to.be.greaterThan(0);
      // Everything the capture shows is written again in the other language when it is switched.
      expect(await text(page, "#capture-status")).to.equal("已上链。取证包与证书已可下载。");
      await page.click("#lang");
      expect(await text(page, "#capture-status")).to.equal("Anchored. The package and the certificate are ready.");
      expect(await text(page, "#capture-links")).not.to.match(/[\u4e00-\u9fff]/);
      await page.click("#lang");
      expect(await text(page, "#capture-links")).to.match(/[\u4e00-\u9fff]/);
      const [download] = await Promise.all([page.waitForEvent("download"), page.click("#capture-links a.package")]);
      const pkg = path.join(work, download.suggestedFilename());
      await download.saveAs(pkg);
      const verifier = await context.newPage();
      await verifier.goto(`${service.url}/verify`);
      expect(await verify(verifier, { certificate: pkg })).to.equal("valid");
      expect(await text(verifier, "#verdict")).to.equal("有效——网页取证包与存证一致");
      await verifier.waitForSelector("#capture-screenshot", { state: "visible" });
      expect(await text(verifier, '[data-field="verify.capturedUrl"]')).to.equal(
        `http://127.0.0.1:${site.port}/listing`,
      );
      expect(await text(verifier, '[data-field="verify.fileCompared"]')).to.equal(
        "未另外提供文件——已将取证包中的 manifest.json 与证书比对",
      );

      // The same package with its manifest altered: nothing of it is shown as the capture's.
      const files = unzipSync(readFileSync(pkg));
      files["manifest.json"] = strToU8(strFromU8(files["manifest.json"]!).replace("/listing", "/listinx"));
      const altered = path.join(work, "altered-manifest.zip");
      writeFileSync(altered, zipSync(files));
      await verifier.reload();
      expect(await verify(verifier, { certificate: altered })).to.equal("invalid");
      expect(await text(verifier, "#verdict")).to.equal("无效——取证包与证书不一致");
      expect(await verifier.isVisible("#capture-screenshot")).to.equal(false);
      expect(await verifier.locator('[data-field="verify.capturedUrl"]').count()).to.equal(0);
      expect(await text(verifier, "#result"))
        .not.to.include("/listinx")
        .and.not.to.include("您提供的文件");

      // The package with its certificate forged (another issuer's name): the certificate fails
      // its own checks, so the capture it certifies is not shown, and its facts are said to be unproven.
      const forgedFiles = unzipSync(readFileSync(pkg));
      const forgedCertificate = JSON.parse(strFromU8(forgedFiles["certificate.evidence.json"]!));
      forgedCertificate.batch.issuer.name = "最高人民法院司法区块链";
      forgedFiles["certificate.evidence.json"] = strToU8(JSON.stringify(forgedCertificate));
      const forged = path.join(work, "forged-certificate.zip");
      writeFileSync(forged, zipSync(forgedFiles));
      await verifier.reload();
      expect(await verify(verifier, { certificate: forged })).to.equal("invalid");
      expect(await verifier.isVisible("#capture-screenshot")).to.equal(false);
      expect(await verifier.locator('[data-field="verify.capturedUrl"]').count()).to.equal(0);
      expect(await text(verifier, "#unproven")).to.equal(
        "以下为该证书自称的内容，未经证实：证书未通过检查，其中的时间、名称、签发方等均不可采信。",
      );

      // Its certificate alone, with the package chosen as the original: the package is compared.
      const certificateOfCapture = path.join(work, "capture.evidence.json");
      writeFileSync(certificateOfCapture, unzipSync(readFileSync(pkg))["certificate.evidence.json"]!);
      await verifier.reload();
      expect(await verify(verifier, { certificate: certificateOfCapture, file: pkg })).to.equal("valid");
      expect(await text(verifier, "#verdict")).to.equal("有效——网页取证包与存证一致");
      expect(await text(verifier, '[data-field="verify.fileCompared"]')).to.equal("是");
      await verifier.waitForSelector("#capture-screenshot", { state: "visible" });

      // Printed, the verification shows the capture's screenshot, small, and stays on one A4 page.
      await verifier.emulateMedia({ media: "print" });
      const shown = await verifier.locator("#capture-screenshot").boundingBox();
      expect(shown, "the screenshot is printed").to.not.equal(null);
      expect(shown!.height, "small: at most 45 mm, and its border").to.be.at.most((45 / 25.4) * 96 + 2);
      const printed = await verifier.pdf({ format: "A4", printBackground: true });
      expect(printed.toString("latin1").match(/\/Type\s*\/Page[^s]/g) ?? [], "one page").to.have.length(1);

      // A refused request next: the finished capture's "anchored" is not left beside its error.
      await page.fill("#capture-url", "http://10.0.0.1/");
      await page.click("#capture-run");
      await page.waitForFunction(() => (document.querySelector("#capture-error")?.textContent ?? "") !== "");
      expect(await page.isVisible("#capture-progress")).to.equal(false);
    } finally {
      await context.close();
    }
  });

  it("lists a capture that failed among the account's evidence, with why, after the page is opened again", async () => {
    const { context, page } = await open("zh-CN", "/");
    try {
      await page.fill("#api-key", service.apiKey!);
      await page.click("#use-key");
      await page.fill("#capture-url", `http://127.0.0.1:${site.port}/to-private`);
      await page.click("#capture-run");
      await page.waitForSelector('#capture-progress[data-status="failed"]', { timeout: 120_000 });
      await page.reload();
      await page.fill("#api-key", service.apiKey!);
      await page.click("#use-key");
      const row = page.locator('#mine tr[data-capture="failed"]', {
        hasText: `http://127.0.0.1:${site.port}/to-private`,
      });
      await row.waitFor();
      const cells = await row.locator("td").allInnerTexts();
      expect(cells[2]).to.equal("失败");
      // The status stays on one line beside a long reason, not one character per line, on a narrow screen too.
      await page.setViewportSize({ width: 480, height: 800 });
      const statusLines = await row
        .locator("td")
        .nth(2)
        .evaluate((td) => {
          const range = document.createRange();
          range.selectNodeContents(td);
          return new Set([...range.getClientRects()].map((r) => Math.round(r.top))).size;
        });
      expect(statusLines).to.equal(1);
      expect(cells[3]).to.match(
        /^该网页或其跳转到的网页位于不能取证的地址（内网、本机或无法解析的地址）（技术细节：.*10\.1\.2\.3/,
      );
      // Among the evidence by time, newest first: below evidence submitted after it, not pinned to the top.
      const later = await api(service.url, service.apiKey).postJson("/api/v1/evidence/digests", {
        items: [{ contentHash: "ab".repeat(32), fileName: "submitted-after-the-failed-capture.png" }],
      });
      expect(later.status).to.equal(201);
      await page.click("#refresh");
      const first = page.locator("#mine tbody tr").first();
      await first.filter({ hasText: "submitted-after-the-failed-capture.png" }).waitFor();
      // Drawn again in the other language when it is switched.
      await page.click("#lang");
      const english = await row.locator("td").allInnerTexts();
      expect(english[2]).to.equal("failed");
      expect(english[3]).to.match(/^the page, or a page it led to, is at an address that cannot be captured/);
      // It recorded nothing: the rights holder can remove it from the list.
      await row.getByRole("button", { name: "Remove from the list" }).click();
      await row.waitFor({ state: "detached" });
      expect(await text(page, "#error")).to.equal("");
    } finally {
      await context.close();
    }
  });

  it("says the service cannot be reached when the list is refreshed while it is down, in the page's language", async () => {
    const { context, page } = await open("zh-CN", "/");
    try {
      await page.fill("#api-key", service.apiKey!);
      await page.click("#use-key");
      await page.route("**/api/v1/**", (route) => route.abort("connectionrefused"));
      await page.click("#refresh");
      await until(async () => ((await text(page, "#error")).length > 0 ? true : undefined), "an error", 30_000);
      expect(await text(page, "#error")).to.equal("无法连接到服务。");
    } finally {
      await context.close();
    }
  });

  it("shows upload errors in Chinese on the Chinese page", async () => {
    const { context, page } = await open("zh-CN", "/");
    try {
      await page.fill("#api-key", "W".repeat(43));
      await page.setInputFiles("#files", evidence);
      await until(async () => ((await text(page, "#error")).length > 0 ? true : undefined), "an error", 30_000);
      expect(await text(page, "#error")).to.equal("截图.png: API 密钥无效。");
    } finally {
      await context.close();
    }
  });

  it("lists every failed file of a batch, one per line, not only the last", async () => {
    const second = path.join(work, "第二张.png");
    writeFileSync(second, solidPng(8, 8, [9, 9, 9]));
    const { context, page } = await open("zh-CN", "/");
    try {
      await page.fill("#api-key", "W".repeat(43));
      await page.setInputFiles("#files", [evidence, second]);
      await page.waitForFunction(() => document.querySelectorAll("#error br").length === 1);
      const lines = await page.$eval("#error", (e) => (e as HTMLElement).innerText.split("\n"));
      expect([...lines].sort()).to.deep.equal(["截图.png: API 密钥无效。", "第二张.png: API 密钥无效。"]);
    } finally {
      await context.close();
    }
  });

  it("sends no empty file, saying why, and goes on with the others of the batch", async () => {
    const empty = path.join(work, "空白.png");
    writeFileSync(empty, "");
    const { context, page } = await open("zh-CN", "/");
    try {
      await page.fill("#api-key", service.apiKey!);
      await page.click("#use-key");
      await page.setInputFiles("#files", [empty, evidence]);
      await until(async () => ((await text(page, "#error")).length > 0 ? true : undefined), "an error", 30_000);
      expect(await text(page, "#error")).to.equal(
        "空白.png: 文件为空（0 字节），未上传：所有空文件的哈希值都相同，对其存证不能证明任何内容。",
      );
      const names = await page.locator("#uploads tbody tr td:first-child").allInnerTexts();
      expect(names).to.deep.equal(["截图.png"]);
    } finally {
      await context.close();
    }
  });

  it("checks the source and capture addresses before sending anything", async () => {
    const { context, page } = await open("zh-CN", "/");
    try {
      await page.fill("#api-key", service.apiKey!);
      await page.fill("#source-url", "javascript:alert(1)");
      await page.setInputFiles("#files", evidence);
      await page.waitForFunction(() => document.querySelector("#error")!.textContent !== "");
      expect(await text(page, "#error")).to.equal("来源网址应为 http:// 或 https:// 开头的网址。");
      expect(await page.$$eval("#uploads tbody tr", (rows) => rows.length)).to.equal(0);
      await page.fill("#capture-url", "notaurl");
      await page.click("#capture-run");
      await page.waitForFunction(() => document.querySelector("#capture-error")!.textContent !== "");
      expect(await text(page, "#capture-error")).to.equal("请输入 http 或 https 网址。");
    } finally {
      await context.close();
    }
  });
});
