import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { expect } from "chai";
import PDFDocument from "pdfkit";
import { claimsOf, isEvidenceError, MEDIA_TYPE_CAPTURE, parseCertificate } from "../../service/core/index.ts";
import { renderCertificatePdf, type CertificateDocumentInput } from "../../service/document/certificate-pdf.ts";
import { exampleDocumentInput, Poppler } from "../helpers/certificate-document.ts";
import { pdfQrMismatches } from "../helpers/qr.ts";

/** Text with all white-space removed: pdftotext breaks lines where the layout wraps them. */
const squash = (text: string) => text.replace(/\s+/g, "");

/** The input with a changed certificate; certificateJson follows it. */
function withCertificate(input: CertificateDocumentInput, change: (c: Record<string, any>) => void) {
  const certificate = JSON.parse(input.certificateJson);
  change(certificate);
  return { ...input, certificate, certificateJson: JSON.stringify(certificate) };
}

/** A web capture's input whose final URL (after redirects) is `finalUrl`; the capture's facts are not in the certificate. */
function withFinalUrl(finalUrl: string): CertificateDocumentInput {
  const certified = withCertificate(exampleDocumentInput(), (c) => {
    c.record.mediaType = MEDIA_TYPE_CAPTURE;
    c.record.fileName = "manifest.json";
    c.record.sourceUrl = "http://shop.example/item/1";
  });
  return {
    ...certified,
    capture: {
      url: "http://shop.example/item/1",
      finalUrl,
      status: 200,
      title: "Item 1",
      startedAt: "2026-11-25T16:38:50.000Z",
      finishedAt: "2026-11-25T16:38:58.000Z",
    },
  };
}

/**
 * The characters pdfkit measures while the document is made: the work of laying out its
 * text, which wraps lines by measuring what they would hold.
 */
async function charactersMeasured(input: CertificateDocumentInput): Promise<number> {
  const widthOfString = PDFDocument.prototype.widthOfString;
  let characters = 0;
  PDFDocument.prototype.widthOfString = function (
    this: PDFKit.PDFDocument,
    text: string,
    options?: PDFKit.Mixins.TextOptions,
  ) {
    characters += text.length;
    return widthOfString.call(this, text, options);
  };
  try {
    await renderCertificatePdf(input);
  } finally {
    PDFDocument.prototype.widthOfString = widthOfString;
  }
  return characters;
}

describe("renderCertificatePdf", function () {
  const poppler = new Poppler();
  let example: Uint8Array;
  let exampleText: string;

  before(async function () {
    example = await renderCertificatePdf(exampleDocumentInput());
    exampleText = poppler.text(example);
  });

  after(() => poppler.remove());

  it("prints every field of the certificate, in Chinese and English", () => {
    const text = squash(exampleText);
    const fields = {
      title: ["区块链存证证书", "BLOCKCHAIN EVIDENCE CERTIFICATE"],
      number: ["证书编号", "Certificate No.", "q1Zr8xYwK0pLmN3oB5cD7e"],
      applicant: ["申请人", "Applicant", "示例知识产权代理有限公司 Example IP Agency Ltd.", "acct_example"],
      evidenceTitle: ["证据标题", "商品详情页截图 / product page screenshot"],
      fileName: ["文件名", "File name", "侵权页面截图.png"],
      size: ["15 字节 bytes"],
      mediaType: ["image/png"],
      sourceUrl: ['https://shop.example.com/item/123?ref=a&b="c"'],
      sha256: ["SHA-256", "313ebae9f8adca08ba8b525fdbd69cac86ba565e1b8f8a03c020157c14efd5c9"],
      submitted: ["提交时间", "Submitted", "2026-11-26 00:39:01.456 北京时间 (UTC+8)", "2026-11-25 16:39:01.456 UTC"],
      anchoredLocal: ["锚定时间", "Anchored", "2026-11-26 00:39:05 北京时间 Beijing time (UTC+8)"],
      anchoredUtc: ["2026-11-25 16:39:05 协调世界时 UTC"],
      chain: ["示例联盟链 Example consortium chain", "chain id 31337"],
      contract: ["存证合约", "0x5FbDB2315678afecb367f032d93F642f64180aa3"],
      transaction: ["交易哈希", "0x6b3d7a2f1c0e9d8b7a6f5e4d3c2b1a09f8e7d6c5b4a39281706f5e4d3c2b1a09"],
      block: ["区块", "Block", "12", "0x1f2e3d4c5b6a79880f1e2d3c4b5a69788f9eadbccbdae0f1021324354657687f"],
      root: ["Merkle root", "0x99d40b5fe4443b02d9d4f98c9441dce1b9ec54d79f547b3dfda651a94486f1ca"],
      issuer: ["签发方", "Issuer", "Evidence Anchor example issuer", "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"],
      timestamps: [
        "Independent time-stamps (RFC 3161)",
        "Example Time-Stamping Authority (CN=Example TSA, O=Example Trust Services)",
        "2026-11-26 00:39:06 北京时间 (UTC+8) 2026-11-25 16:39:06 UTC",
        "Evidence Anchor development TSA",
        "2026-11-26 00:39:06.250 北京时间 (UTC+8) 2026-11-25 16:39:06.250 UTC",
      ],
      proves: [
        "本证书证明",
        "What this certificate proves",
        "一个 SHA-256 值等于上述内容哈希的文件，不晚于锚定时间已经存在。",
        "A file whose SHA-256 is the content hash above existed no later than the anchoring time.",
      ],
      doesNotProve: [
        "本证书不证明",
        "What it does not prove",
        "谁创作了该文件，或谁享有其权利。",
        "Who made the file or who holds rights in it.",
        "文件内容真实、合法或完整。",
        "That the content is true, lawful or complete.",
      ],
      howToVerify: [
        "如何验证",
        "How to verify",
        "https://evidence.example.com/verify?id=q1Zr8xYwK0pLmN3oB5cD7e",
        "https://evidence.example.com/verifier/evidence-verify.mjs",
        "node evidence-verify.mjs verify q1Zr8xYwK0pLmN3oB5cD7e.pdf --file <original file> --rpc <node URL> --contract <registry>",
        "q1Zr8xYwK0pLmN3oB5cD7e.evidence.json",
      ],
      footer: [
        "生成时间 Generated 2026-11-26 00:40:00 (UTC+8)",
        "证书签发 Certificate issued",
        "证书格式 Certificate version 1",
        "https://evidence.example.com",
      ],
    };
    const missing = Object.entries(fields).flatMap(([field, needles]) =>
      needles.filter((n) => !text.includes(squash(n))).map((n) => `${field}: ${n}`),
    );
    expect(missing).to.deep.equal([]);
  });

  it("labels exactly the development time-stamp as not trusted by courts", () => {
    const label = squash("开发用时间戳机构，法院不予采信 / development TSA — not trusted by courts");
    expect(squash(exampleText).split(label)).to.have.length(2);
  });

  it("prints the development-chain warning if and only if the chain is a development chain", async () => {
    const warning = squash("开发链：运营方可改写，仅供试用，不具证据效力");
    const english = squash("Development chain: its operator can rewrite it; for trying the service only.");
    const development = squash(poppler.text(await renderCertificatePdf(exampleDocumentInput({ development: true }))));
    expect(development).to.include(warning).and.to.include(english);
    expect(squash(exampleText)).not.to.include(warning).and.not.to.include(english);
  });

  it("fits the example on one A4 page", () => {
    const info = poppler.info(example);
    expect(info.Pages).to.equal("1");
    expect(info["Page size"]).to.match(/^595\.2\d* x 841\.8\d* pts \(A4\)/);
  });

  it("states the issue time once in the footer when the document is made at the certificate's time, as the service makes it", async () => {
    const input = exampleDocumentInput();
    input.generatedAt = new Date(claimsOf(input.certificate).issuedAt);
    const text = squash(poppler.text(await renderCertificatePdf(input)));
    expect(text).to.include(squash("证书签发 Certificate issued"));
    expect(text).not.to.include(squash("生成时间 Generated"));
  });

  it("fits a development certificate with its development time-stamp on one page", async () => {
    const input = exampleDocumentInput({ development: true });
    input.timestamps = input.timestamps!.filter((t) => t.development);
    expect(poppler.info(await renderCertificatePdf(input)).Pages).to.equal("1");
  });

  it("keeps the longest fields a record may hold to two pages, cutting them with a note", async () => {
    const input = withCertificate(exampleDocumentInput({ development: true }), (c) => {
      c.record.title = "很长的标题 long title ".repeat(64);
      c.record.fileName = `${"a".repeat(1000)}.png`;
      c.record.sourceUrl = `https://example.com/${"x".repeat(4000)}`;
      c.record.note = "一行\n".repeat(2000);
      c.issuer.name = "签发机构".repeat(64);
    });
    input.applicant = "申请人".repeat(100);
    input.chainName = "链".repeat(300);
    input.timestamps = [...input.timestamps!, ...input.timestamps!, ...input.timestamps!];
    const pdf = await renderCertificatePdf(input);
    expect(poppler.info(pdf).Pages).to.equal("2");
    const text = squash(poppler.text(pdf));
    expect(text).to.include(squash("“…”: cut short, full text in the attached certificate"));
    expect(text).to.include("1/2").and.to.include("2/2");
  });

  it("prints each line of the verification command whole, on one line, so that it pastes into a terminal as it is", async () => {
    // An id of today's length (27 characters, the second it was made first).
    const input = withCertificate(exampleDocumentInput(), (c) => {
      c.record.id = "DP74eCXW4WbtG9jvZFxeBdFWuWk";
    });
    const lines = poppler.text(await renderCertificatePdf(input)).split("\n");
    expect(lines).to.include(
      "node evidence-verify.mjs verify DP74eCXW4WbtG9jvZFxeBdFWuWk.pdf --file <original file> --rpc <node URL> --contract <registry>",
    );
  });

  it("cuts a long file name in the middle, keeping its end, where one file of a series differs from the next", async () => {
    const input = withCertificate(exampleDocumentInput(), (c) => {
      c.record.fileName = `侵权截图_${"商品详情页".repeat(40)}_第17张.png`;
    });
    const text = squash(poppler.text(await renderCertificatePdf(input)));
    expect(text).to.include(squash("侵权截图_商品详情页商品详情页"));
    expect(text).to.match(/…[商品详情页]*_第17张\.png/);
    expect(text).to.include(squash("“…”: cut short, full text in the attached certificate"));
  });

  describe("when a text is far longer than its lines can show", () => {
    const fields: [string, (text: string) => CertificateDocumentInput][] = [
      ["a note", (text) => withCertificate(exampleDocumentInput(), (c) => (c.record.note = text))],
      ["a title", (text) => withCertificate(exampleDocumentInput(), (c) => (c.record.title = text))],
      [
        "a source URL",
        (text) => withCertificate(exampleDocumentInput(), (c) => (c.record.sourceUrl = `https://shop.example/${text}`)),
      ],
      [
        "a file name (cut in its middle)",
        (text) => withCertificate(exampleDocumentInput(), (c) => (c.record.fileName = `${text}.png`)),
      ],
      ["a capture's final URL", (text) => withFinalUrl(`https://shop.example/${text}`)],
    ];
    for (const [field, inputWith] of fields) {
      it(`lays out no more of ${field} of 16,000 characters than of one of 2,000: only what its lines can show`, async () => {
        const long = await charactersMeasured(inputWith("W".repeat(16_000)));
        const short = await charactersMeasured(inputWith("W".repeat(2_000)));
        expect(short, "characters measured for the whole page").to.be.above(0);
        expect(long).to.equal(short);
      });
    }

    it("prints a capture's final URL of 16,000 characters on its three lines, cut with an ellipsis", async () => {
      const pdf = await renderCertificatePdf(withFinalUrl(`https://shop.example/${"W".repeat(16_000)}`));
      const lines = poppler.text(pdf).split("\n");
      const row = lines.findIndex((line) => line.startsWith("最终网址 Final URL"));
      const shown = lines.slice(row, row + 3);
      expect(shown[0]).to.match(/^最终网址 Final URL https:\/\/shop\.example\/W+$/);
      expect(shown.slice(1)).to.satisfy((l: string[]) => /^W+$/.test(l[0]!) && /^W+…$/.test(l[1]!));
      expect(lines[row + 3]).to.match(/^HTTP 状态 HTTP status 200/);
      expect(squash(lines.join(""))).to.include(squash("“…”: cut short, full text in the attached certificate"));
    });
  });

  it("never cuts a long file name through a [U+XXXX] label", async () => {
    const input = withCertificate(exampleDocumentInput(), (c) => {
      c.record.fileName = "\u202E".repeat(120) + "gnp.exe";
    });
    const text = squash(poppler.text(await renderCertificatePdf(input)));
    const shown = text.slice(text.indexOf("Filename") + "Filename".length, text.indexOf("gnp.exe") + "gnp.exe".length);
    expect(shown).to.match(/^(\[U\+202E\])+…(\[U\+202E\])+gnp\.exe$/);
  });

  it("omits missing optional fields rather than printing them as undefined", async () => {
    const input = withCertificate(exampleDocumentInput(), (c) => {
      for (const key of ["size", "fileName", "mediaType", "title", "sourceUrl", "note"]) delete c.record[key];
    });
    const { applicant: _a, chainName: _c, serviceUrl: _s, timestamps: _t, ...bare } = input;
    const text = poppler.text(await renderCertificatePdf(bare));
    expect(text).not.to.match(/undefined|null|NaN/);
    for (const label of ["Title", "File name", "Size", "Media type", "Source URL", "Note", "Time-stamps", "TSA"]) {
      expect(text).not.to.match(new RegExp(`\\b${label}\\b`), label);
    }
    expect(squash(text)).to.include(squash("账户 account acct_example")).and.to.include(squash("chain id 31337"));
    expect(squash(text)).to.include(squash("Evidence Anchor")).and.not.to.include(squash("Evidence Anchor · https://"));
  });

  it("tells how to verify a web capture from its package (ZIP), whose manifest.json is the certified file", async () => {
    const input = withCertificate(exampleDocumentInput(), (c) => {
      c.record.mediaType = MEDIA_TYPE_CAPTURE;
      c.record.fileName = "manifest.json";
    });
    const pdf = await renderCertificatePdf(input);
    const text = squash(poppler.text(pdf));
    const id = input.certificate.record.id;
    expect(text).to.include(squash(`node evidence-verify.mjs verify ${id}.zip --rpc <node URL> --contract <registry>`));
    expect(text)
      .to.include(squash("提交网页取证包（ZIP）"))
      .and.to.include(squash("The certified file is its manifest.json"))
      // The name the package gives the certificate (service/capture/package.ts), not the PDF's attachment's.
      .and.to.include(squash("this certificate as certificate.evidence.json"))
      .and.to.include(squash("取证包内含本证书 certificate.evidence.json"));
    expect(text).not.to.include("--file").and.not.to.include(squash("the original file"));
    expect(poppler.info(pdf).Pages, "one page").to.equal("1");
  });

  it("states a web capture as the page the service visited: its address, where it led, its HTTP status and time", async () => {
    const certified = withCertificate(exampleDocumentInput(), (c) => {
      c.record.mediaType = MEDIA_TYPE_CAPTURE;
      c.record.fileName = "manifest.json";
      c.record.sourceUrl = "http://shop.example/item/1";
    });
    const input = {
      ...certified,
      capture: {
        url: "http://shop.example/item/1",
        finalUrl: "https://shop.example/gone",
        status: 404,
        title: "Not Found",
        startedAt: "2026-11-25T16:38:50.000Z",
        finishedAt: "2026-11-25T16:38:58.000Z",
      },
    };
    const text = squash(poppler.text(await renderCertificatePdf(input)));
    expect(text)
      .to.include(squash("取证网址 Captured URL http://shop.example/item/1"))
      .and.to.include(squash("最终网址 Final URL https://shop.example/gone"))
      .and.to.include(squash("HTTP 状态 HTTP status 404 网站返回错误，所取证的是该错误页面 / an error page"))
      .and.to.include(squash("取证时间 Captured 2026-11-26 00:38:50 北京时间 (UTC+8)"))
      .and.to.include(squash("网页取证 Web capture（取证清单 manifest manifest.json"))
      .and.to.include(squash("That the page showed the same to others or at other times"));
    // Not a file handed in by the applicant, nor an address the applicant supplied unchecked.
    expect(text)
      .not.to.include(squash("File name"))
      .and.not.to.include(squash("Source URL"))
      .and.not.to.include(squash("the applicant supplied them, unchecked"));
  });

  it("shows characters that would print as nothing or as something else as [U+XXXX]", async () => {
    const input = withCertificate(exampleDocumentInput(), (c) => {
      c.record.title = "invoice\u202Egnp.exe\u200B \u0007📷";
      c.record.fileName = "line\nbreak.png";
    });
    const text = poppler.text(await renderCertificatePdf(input));
    expect(text).to.include("invoice[U+202E]gnp.exe[U+200B] [U+0007][U+1F4F7]");
    expect(text).to.include("line[U+000A]break.png");
  });

  it("prints a version 2 certificate's batch fields", async () => {
    const certificateJson = readFileSync(
      new URL("../vectors/certificate/certificate-v2.json", import.meta.url),
      "utf8",
    );
    const certificate = parseCertificate(certificateJson);
    const { root, anchor, issuer, record } = claimsOf(certificate);
    const input = { ...exampleDocumentInput(), certificate, certificateJson };
    const pdf = await renderCertificatePdf(input);
    const text = squash(poppler.text(pdf));
    for (const needle of [record.contentHash, root, anchor.txHash, issuer.address, "Certificate version 2"]) {
      expect(text).to.include(squash(needle));
    }
    expect(poppler.attachments(pdf)[0]!.bytes.toString("utf8")).to.equal(certificateJson);
  });

  it("attaches certificateJson byte for byte as <id>.evidence.json, as pdfdetach reads it", () => {
    const attached = poppler.attachments(example);
    expect(attached.map((a) => a.name)).to.deep.equal(["q1Zr8xYwK0pLmN3oB5cD7e.evidence.json"]);
    expect(attached[0]!.bytes.equals(Buffer.from(exampleDocumentInput().certificateJson, "utf8"))).to.equal(true);
  });

  it("rejects a certificateJson that is not the certificate given", async () => {
    const input = exampleDocumentInput();
    const other = JSON.parse(input.certificateJson);
    other.record.contentHash = "0".repeat(64);
    const error = await renderCertificatePdf({ ...input, certificateJson: JSON.stringify(other) }).catch((e) => e);
    expect(isEvidenceError(error, "INVALID_ARGUMENT")).to.equal(true);
  });

  it("rejects a generatedAt that is not a valid date", async () => {
    const error = await renderCertificatePdf({ ...exampleDocumentInput(), generatedAt: new Date(NaN) }).catch((e) => e);
    expect(isEvidenceError(error, "INVALID_ARGUMENT")).to.equal(true);
  });

  it("sets the document's title, subject, creator and creation date", () => {
    const info = poppler.info(example);
    expect(info.Title).to.equal("区块链存证证书 Blockchain Evidence Certificate q1Zr8xYwK0pLmN3oB5cD7e");
    expect(info.Subject).to.equal("SHA-256 313ebae9f8adca08ba8b525fdbd69cac86ba565e1b8f8a03c020157c14efd5c9");
    expect(info.Creator).to.equal("Evidence Anchor");
    expect(info.CreationDate).to.equal("2026-11-25T16:40:00Z");
  });

  it("writes the same bytes for the same input", async () => {
    const again = await renderCertificatePdf(exampleDocumentInput());
    expect(Buffer.from(again).equals(Buffer.from(example))).to.equal(true);
  });

  it("draws the QR code of verifyUrl module for module, with its quiet zone", () => {
    expect(pdfQrMismatches(poppler.save(example), exampleDocumentInput().verifyUrl)).to.deep.equal([]);
  });

  it("renders page 1 with pdftoppm at 80 dpi as an A4 image", () => {
    const file = poppler.save(example);
    const prefix = path.join(poppler.dir, "page");
    execFileSync("pdftoppm", ["-png", "-r", "80", "-f", "1", "-l", "1", "-singlefile", file, prefix]);
    const png = readFileSync(`${prefix}.png`);
    expect(png.subarray(1, 4).toString()).to.equal("PNG");
    // IHDR: width and height at bytes 16 and 20; A4 at 80 dpi is 661.4 × 935.4 pixels, rounded up.
    expect([png.readUInt32BE(16), png.readUInt32BE(20)]).to.deep.equal([662, 936]);
  });
});
