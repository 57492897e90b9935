import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { deflateSync, inflateSync } from "node:zlib";
import { expect } from "chai";
import PDFDocument from "pdfkit";
import {
  isEvidenceError,
  parseCertificate,
  verifyCertificate,
  verdictExplanation,
  verifyEvidence,
  type CheckId,
  type EvidenceError,
} from "../../service/core/index.ts";
import { certificateFromPdf, extractEmbeddedFiles, isPdf, PDF_LIMITS } from "../../service/core/pdf-attachment.ts";
import { renderCertificatePdf } from "../../service/document/certificate-pdf.ts";
import { exampleDocumentInput, Poppler } from "../helpers/certificate-document.ts";
import { sha256Hex } from "../helpers/hash.ts";
import { RecordedChain } from "../helpers/recorded-chain.ts";
import { example, loadVector } from "../helpers/vectors.ts";

interface PdfCase {
  file: string;
  desc: string;
  extract: { files?: { name: string; sha256: string }[]; error?: string };
  certificate: { name?: string; sha256?: string; error?: string };
  popplerAgrees?: boolean;
}

const cases = loadVector<{ cases: PdfCase[] }>("pdf/cases.json").cases;
const vector = (file: string) => readFileSync(new URL(`../vectors/pdf/${file}`, import.meta.url));
const certificateJson = exampleDocumentInput().certificateJson;
const fileDigest = sha256Hex(example.file());
const chain = () => RecordedChain.holding(parseCertificate(certificateJson));
const failedChecks = (checks: { id: CheckId; status: string }[]) =>
  checks.filter((c) => c.status === "failed").map((c) => c.id);

/** Runs `read` and returns the INVALID_DOCUMENT error it throws; fails on anything else. */
function invalidDocument(read: () => unknown): EvidenceError {
  try {
    read();
  } catch (e) {
    expect(isEvidenceError(e, "INVALID_DOCUMENT"), `threw ${String(e)}`).to.equal(true);
    return e as EvidenceError;
  }
  return expect.fail("read the document instead of refusing it");
}

/** Where the embedded certificate's stream and its /CheckSum sit in a rendered document. */
function locateAttachment(pdf: Buffer) {
  const text = pdf.toString("latin1");
  const dict = text.indexOf("/Type /EmbeddedFile");
  const start = text.indexOf("stream\n", dict) + "stream\n".length;
  const header = text.slice(dict, start);
  const length = Number(/\/Length (\d+)/.exec(header)![1]);
  const checksum = dict + header.indexOf("/CheckSum (") + "/CheckSum (".length;
  return { start, length, checksum };
}

/** A deterministic stream of numbers (xorshift32), so the mutations are the same on every run. */
function random(seed: number) {
  let x = seed;
  return (below: number) => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) % below;
  };
}

describe("isPdf", () => {
  it("accepts bytes that begin with %PDF-", () => {
    expect(isPdf(Buffer.from("%PDF-1.3\n"))).to.equal(true);
  });

  for (const [what, bytes] of [
    ["empty bytes", ""],
    ["a cut-off header", "%PDF"],
    ["a ZIP file", "PK\x03\x04"],
    ["a header after white-space", " %PDF-1.7"],
    ["JSON", '{"type":"evidence-anchor-certificate"}'],
  ] as const) {
    it(`rejects ${what}`, () => {
      expect(isPdf(Buffer.from(bytes, "latin1"))).to.equal(false);
    });
  }
});

describe("extractEmbeddedFiles", function () {
  const poppler = new Poppler();
  let rendered: Buffer;

  before(async function () {
    rendered = Buffer.from(await renderCertificatePdf(exampleDocumentInput()));
  });

  after(() => poppler.remove());

  it("returns the certificate attached to a rendered document, byte for byte", () => {
    const files = extractEmbeddedFiles(rendered);
    expect(files.map((f) => f.name)).to.deep.equal(["q1Zr8xYwK0pLmN3oB5cD7e.evidence.json"]);
    expect(Buffer.from(files[0]!.bytes).equals(Buffer.from(certificateJson, "utf8"))).to.equal(true);
  });

  it("fails the format of a certificate file whose bytes are not UTF-8, never reading U+FFFD in their place", async () => {
    // The record's file name holds "é": its second byte replaced by 0xFF, the text is no longer UTF-8.
    const certificate = JSON.parse(certificateJson) as { record: { fileName?: string } };
    certificate.record.fileName = "证据é.png";
    const bytes = Buffer.from(JSON.stringify(certificate));
    const at = bytes.indexOf(Buffer.from("é")) + 1;
    bytes[at] = 0xff;
    const result = await verifyEvidence({ kind: "bytes", bytes }, { fileDigest, chain: chain() });
    expect(result.verdict).to.equal("invalid");
    expect(result.checks.map((c) => [c.id, c.status])).to.deep.include(["format", "failed"]);
    expect(result.checks[0]).to.include({ id: "format", status: "failed" });
    expect(JSON.stringify(result.checks[0])).to.include("not UTF-8");
  });

  describe("on the vectors in test/vectors/pdf/", () => {
    for (const c of cases) {
      const { files, error } = c.extract;
      it(`${error === undefined ? "reads" : "rejects"} ${c.file}: ${c.desc}`, () => {
        const pdf = vector(c.file);
        if (error !== undefined) {
          expect(invalidDocument(() => extractEmbeddedFiles(pdf)).message).to.match(new RegExp(error));
          return;
        }
        const read = extractEmbeddedFiles(pdf).map((f) => ({ name: f.name, sha256: sha256Hex(f.bytes) }));
        expect(read).to.deep.equal(files);
      });
    }
  });

  it("reads the vectors that other readers read exactly as pdfdetach does", () => {
    const agreeing = cases.filter((c) => c.popplerAgrees);
    expect(agreeing.length).to.be.greaterThan(5);
    for (const c of agreeing) {
      const pdf = vector(c.file);
      const ours = extractEmbeddedFiles(pdf).map((f) => `${f.name} ${sha256Hex(f.bytes)}`);
      const theirs = poppler.attachments(pdf).map((f) => `${f.name} ${sha256Hex(f.bytes)}`);
      expect(ours.sort(), c.file).to.deep.equal(theirs);
    }
  });

  it("rejects a rendered document cut short at any of 60 points", () => {
    for (let i = 0; i < 60; i++) {
      const end = Math.floor((rendered.length * i) / 60);
      invalidDocument(() => extractEmbeddedFiles(rendered.subarray(0, end)));
    }
    invalidDocument(() => extractEmbeddedFiles(rendered.subarray(0, rendered.lastIndexOf("%%EOF") + 4)));
  });

  it(`refuses a document of more than ${PDF_LIMITS.values.toLocaleString("en")} values, as it reads, before it holds them all`, () => {
    // 63 levels of arrays, repeated: within the nesting limit, and 4 MB where 63 MB held gigabytes.
    const group = `${"[".repeat(63)}${"]".repeat(63)} `;
    const body = group.repeat(Math.ceil((PDF_LIMITS.values + 1) / 63));
    const pdf = Buffer.from(`%PDF-1.7\n1 0 obj\n[${body}]\nendobj\nstartxref\n9\n%%EOF\n`, "latin1");
    const e = invalidDocument(() => extractEmbeddedFiles(pdf));
    expect(e.message).to.equal(`the PDF has more than ${PDF_LIMITS.values} values`);
  });

  it("refuses a cross-reference stream of more entries than a document may have objects before it inflates them (a kilobyte of a million one-byte entries)", () => {
    const entries = 1_000_000;
    const data = deflateSync(Buffer.alloc(entries, 9));
    const head = "%PDF-1.7\n1 0 obj<</Type/Catalog>>endobj\n";
    const pdf = Buffer.concat([
      Buffer.from(
        `${head}2 0 obj<</Type/XRef/Size ${entries}/W[0 1 0]/Root 1 0 R/Filter/FlateDecode/Length ${data.length}>>stream\n`,
      ),
      data,
      Buffer.from(`\nendstream\nendobj\nstartxref\n${head.length}\n%%EOF\n`),
    ]);
    expect(pdf.length).to.be.lessThan(2048);
    const e = invalidDocument(() => extractEmbeddedFiles(pdf));
    expect(e.message).to.equal(`the PDF has more than ${PDF_LIMITS.objects} cross-reference entries`);
  });

  it("refuses a cross-reference table of more entries than a document may have objects, as it reads it", () => {
    const head = "%PDF-1.7\n1 0 obj<</Type/Catalog>>endobj\n";
    const entries = PDF_LIMITS.objects + 1;
    const table = `xref\n0 ${entries}\n${"0000000009 00000 n \n".repeat(entries)}trailer<</Size ${entries}/Root 1 0 R>>\n`;
    const pdf = Buffer.from(`${head}${table}startxref\n${head.length}\n%%EOF\n`, "latin1");
    const e = invalidDocument(() => extractEmbeddedFiles(pdf));
    expect(e.message).to.equal(`the PDF has more than ${PDF_LIMITS.objects} objects`);
  });

  it("refuses an object stream of more objects than the reader reads (PDF_LIMITS.objects), as it reads its index", () => {
    const count = PDF_LIMITS.objects + 1;
    const index = Array.from({ length: count }, (_, i) => `${i + 3} ${i * 5}`).join(" ") + " ";
    const data = deflateSync(Buffer.from(index + "null ".repeat(count)));
    const pdf = Buffer.concat([
      Buffer.from(
        `%PDF-1.7\n1 0 obj<</Type/Catalog>>endobj\n2 0 obj<</Type/ObjStm/N ${count}/First ${index.length}/Filter/FlateDecode/Length ${data.length}>>stream\n`,
      ),
      data,
      Buffer.from("\nendstream\nendobj\nstartxref\n0\n%%EOF\n"),
    ]);
    const e = invalidDocument(() => extractEmbeddedFiles(pdf));
    expect(e.message).to.equal(`the PDF has more than ${PDF_LIMITS.objects} objects`);
  });

  it("reads a document that could not be read only once: asked again, it throws what it threw", () => {
    const entries = 100_000;
    const data = deflateSync(Buffer.alloc(entries, 9));
    const pdf = Buffer.concat([
      Buffer.from(
        `%PDF-1.7\n2 0 obj<</Type/XRef/Size ${entries}/W[0 1 0]/Filter/FlateDecode/Length ${data.length}>>stream\n`,
      ),
      data,
      Buffer.from("\nendstream\nendobj\nstartxref\n9\n%%EOF\n"),
    ]);
    const first = invalidDocument(() => certificateFromPdf(pdf));
    expect(invalidDocument(() => extractEmbeddedFiles(pdf))).to.equal(first);
    // The same bytes elsewhere are other bytes to it: read again, and refused alike.
    const copy = Buffer.from(pdf);
    expect(invalidDocument(() => extractEmbeddedFiles(copy))).not.to.equal(first);
    expect(invalidDocument(() => extractEmbeddedFiles(copy)).message).to.equal(first.message);
  });

  it("throws nothing but INVALID_DOCUMENT for 300 single-byte changes of a rendered document", () => {
    const next = random(0x5eed);
    let read = 0;
    let refused = 0;
    for (let i = 0; i < 300; i++) {
      const changed = Buffer.from(rendered);
      changed[next(changed.length)] = next(256);
      try {
        extractEmbeddedFiles(changed);
        read++;
      } catch (e) {
        expect(isEvidenceError(e, "INVALID_DOCUMENT"), `change ${i}: ${String(e)}`).to.equal(true);
        refused++;
      }
    }
    // Most of a document is font and page data a change does not make unreadable; some changes hit its structure.
    expect(read).to.be.greaterThan(0);
    expect(refused).to.be.greaterThan(0);
  });
});

describe("certificateFromPdf", function () {
  const poppler = new Poppler();
  let rendered: Buffer;

  before(async function () {
    rendered = Buffer.from(await renderCertificatePdf(exampleDocumentInput()));
  });

  after(() => poppler.remove());

  /**
   * The rendered document with its attachment's stream re-encoded, the certificate's bytes
   * unchanged, in place, with a new cross-reference table: what a PDF tool's rewrite does.
   */
  function withAttachmentEncoded(pdf: Buffer, filter: string, encode: (certificate: Buffer) => Buffer): Buffer {
    const text = pdf.toString("latin1");
    const start = text.lastIndexOf("\n", text.indexOf("/Type /EmbeddedFile")) - " 0 obj\n<<".length;
    const objectStart = text.lastIndexOf("\n", start) + 1;
    const dataStart = text.indexOf("stream\n", objectStart) + "stream\n".length;
    const dataEnd = text.indexOf("\nendstream", dataStart);
    const objectEnd = text.indexOf("endobj\n", dataEnd) + "endobj\n".length;
    const number = /^(\d+) 0 obj/.exec(text.slice(objectStart))![1];
    const data = encode(inflateSync(pdf.subarray(dataStart, dataEnd)));
    const object = Buffer.concat([
      Buffer.from(
        `${number} 0 obj\n<< /Type /EmbeddedFile /Subtype /application#2Fjson /Filter ${filter} /Length ${data.length} >>\nstream\n`,
      ),
      data,
      Buffer.from("\nendstream\nendobj\n"),
    ]);
    const body = Buffer.concat([pdf.subarray(0, objectStart), object, pdf.subarray(objectEnd, text.indexOf("xref\n"))]);
    const offsets = new Map<number, number>();
    for (const m of body.toString("latin1").matchAll(/(?<=\n)(\d+) 0 obj\n/g)) offsets.set(Number(m[1]), m.index);
    const size = Math.max(...offsets.keys()) + 1;
    const rows = Array.from({ length: size }, (_, i) =>
      i === 0 ? "0000000000 65535 f \n" : `${String(offsets.get(i)).padStart(10, "0")} 00000 n \n`,
    );
    const trailer = text.slice(text.indexOf("trailer\n"), text.lastIndexOf("startxref"));
    return Buffer.concat([
      body,
      Buffer.from(`xref\n0 ${size}\n${rows.join("")}${trailer}startxref\n${body.length}\n%%EOF\n`),
    ]);
  }

  const reEncodings: [string, string, (certificate: Buffer) => Buffer][] = [
    [
      "ASCIIHex over Flate (mutool clean -a)",
      "[/ASCIIHexDecode /FlateDecode]",
      (c) => Buffer.from(`${deflateSync(c).toString("hex")}>`),
    ],
    ["Flate twice", "[/FlateDecode /FlateDecode]", (c) => deflateSync(deflateSync(c))],
    ["ASCIIHex alone", "/ASCIIHexDecode", (c) => Buffer.from(`${c.toString("hex")}>`)],
  ];
  for (const [what, filter, encode] of reEncodings) {
    it(`could not verify, never INVALID, a genuine document whose attachment a PDF tool re-encoded: ${what}`, async () => {
      const rewritten = withAttachmentEncoded(rendered, filter, encode);
      const result = await verifyEvidence({ kind: "bytes", bytes: rewritten }, { fileDigest, chain: chain() });
      expect([result.verdict, result.checks[0]!.status, result.checks[0]!.reason.code]).to.deep.equal([
        "indeterminate",
        "error",
        "format.unsupported-document",
      ]);
    });
  }

  it("reads the rendered document rewritten with its attachment re-encoded by one FlateDecode, as a PDF tool's rewrite writes it: VALID", async () => {
    const rewritten = withAttachmentEncoded(rendered, "/FlateDecode", (c) => deflateSync(c, { level: 1 }));
    const result = await verifyEvidence({ kind: "bytes", bytes: rewritten }, { fileDigest, chain: chain() });
    expect(result.verdict).to.equal("valid");
  });

  it("could not verify, never INVALID, a genuine certificate in a document of more objects than the reader reads (a long report with it attached)", async () => {
    // The rendered document with objects enough appended before its last startxref.
    const tail = rendered.lastIndexOf("startxref");
    const filler = Array.from({ length: PDF_LIMITS.objects }, (_, i) => `${100_000 + i} 0 obj null endobj\n`).join("");
    const large = Buffer.concat([rendered.subarray(0, tail), Buffer.from(filler), rendered.subarray(tail)]);
    const result = await verifyEvidence({ kind: "bytes", bytes: large }, { fileDigest, chain: chain() });
    expect([result.verdict, result.checks[0]!.status, result.checks[0]!.reason]).to.deep.equal([
      "indeterminate",
      "error",
      { code: "format.unsupported-document", message: `the PDF has more than ${PDF_LIMITS.objects} objects` },
    ]);
    expect(verdictExplanation(result, "zh-CN")).to.include(
      `对象超过 ${PDF_LIMITS.objects} 个，多于本验证程序读取的上限`,
    );
  });

  it("returns the certificate of a rendered document, which verifies with its file", async () => {
    const { name, text } = certificateFromPdf(rendered);
    expect(name).to.equal("q1Zr8xYwK0pLmN3oB5cD7e.evidence.json");
    expect(text).to.equal(certificateJson);
    const result = await verifyCertificate(text, { fileDigest, chain: chain() });
    expect(result.valid).to.equal(true);
  });

  it("takes a certificate whose bytes begin with a UTF-8 byte order mark as the same certificate, as a file and attached to a document (RFC 8259 §8.1)", async () => {
    const marked = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(certificateJson)]);
    const doc = new PDFDocument({ info: { CreationDate: new Date(0) } });
    const chunks: Buffer[] = [];
    doc.on("data", (chunk: Buffer) => chunks.push(chunk));
    const ended = new Promise((resolve) => doc.on("end", resolve));
    doc.text("A certificate saved by an editor that marks UTF-8.");
    doc.file(marked, { name: "q1Zr8xYwK0pLmN3oB5cD7e.evidence.json" });
    doc.end();
    await ended;
    expect(certificateFromPdf(Buffer.concat(chunks)).text).to.equal(certificateJson);
    for (const bytes of [marked, Buffer.concat(chunks)]) {
      const result = await verifyEvidence({ kind: "bytes", bytes }, { fileDigest, chain: chain() });
      expect([result.verdict, result.checks[0]!.status]).to.deep.equal(["valid", "passed"]);
    }
    // Text that begins with U+FEFF is no JSON: the mark belongs to a file's bytes, not to a certificate's text.
    const text = await verifyCertificate(`\ufeff${certificateJson}`, { fileDigest, chain: chain() });
    expect([text.verdict, text.checks[0]!.status]).to.deep.equal(["invalid", "failed"]);
  });

  describe("on the vectors in test/vectors/pdf/", () => {
    for (const c of cases) {
      const { name, sha256, error } = c.certificate;
      it(`${error === undefined ? "reads" : "rejects"} ${c.file}: ${c.desc}`, () => {
        const pdf = vector(c.file);
        if (error !== undefined) {
          expect(invalidDocument(() => certificateFromPdf(pdf)).message).to.match(new RegExp(error));
          return;
        }
        const found = certificateFromPdf(pdf);
        expect({ name: found.name, sha256: sha256Hex(found.text) }).to.deep.equal({ name, sha256 });
      });
    }
  });

  describe("when the attached certificate is changed", () => {
    it("refuses every flipped byte of the compressed certificate, or returns a certificate that does not verify", async () => {
      const { start, length } = locateAttachment(rendered);
      let refused = 0;
      for (let offset = start; offset < start + length; offset++) {
        const changed = Buffer.from(rendered);
        changed[offset]! ^= 0x01;
        let text: string;
        try {
          text = certificateFromPdf(changed).text;
        } catch (e) {
          expect(isEvidenceError(e, "INVALID_DOCUMENT"), `byte ${offset}: ${String(e)}`).to.equal(true);
          refused++;
          continue;
        }
        expect(text).not.to.equal(certificateJson);
        expect((await verifyCertificate(text, { fileDigest, chain: chain() })).valid, `byte ${offset}`).to.equal(false);
      }
      expect(refused).to.be.greaterThan(0);
    });

    /**
     * Changes one hex digit of the content hash and recompresses, trying digits until the
     * compressed stream has its old length: the PDF keeps its size and every offset.
     */
    function sameLengthForgery(): { pdf: Buffer; forged: string } {
      const { start, length, checksum } = locateAttachment(rendered);
      const at = certificateJson.indexOf(JSON.parse(certificateJson).record.contentHash);
      for (let i = 0; i < 64; i++) {
        for (const digit of "0123456789abcdef") {
          const forged = certificateJson.slice(0, at + i) + digit + certificateJson.slice(at + i + 1);
          const compressed = deflateSync(forged);
          if (forged === certificateJson || compressed.length !== length) continue;
          const pdf = Buffer.from(rendered);
          compressed.copy(pdf, start);
          expect(pdf.length).to.equal(rendered.length);
          expect(pdf.toString("latin1", checksum, checksum + 32)).to.match(/^[0-9a-f]{32}$/);
          return { pdf, forged };
        }
      }
      return expect.fail("no same-length forgery found");
    }

    it("refuses a same-length forgery whose /CheckSum was left alone, which pdfdetach extracts without complaint", () => {
      const { pdf, forged } = sameLengthForgery();
      expect(poppler.attachments(pdf)[0]!.bytes.toString("utf8")).to.equal(forged);
      expect(invalidDocument(() => certificateFromPdf(pdf)).message).to.match(/CheckSum/);
    });

    it("returns a same-length forgery with a matching /CheckSum, and the verifier rejects it", async () => {
      const { pdf, forged } = sameLengthForgery();
      const { checksum } = locateAttachment(rendered);
      pdf.write(createHash("md5").update(forged).digest("hex"), checksum, "latin1");
      const { text } = certificateFromPdf(pdf);
      expect(text).to.equal(forged);
      const result = await verifyCertificate(text, { fileDigest, chain: chain() });
      expect(result.valid).to.equal(false);
      expect(failedChecks(result.checks)).to.deep.equal(["content", "leaf", "signature"]);
    });

    it("returns the certificate of a PDF written by another tool, and the verifier rejects the changed record", async () => {
      const changed = JSON.parse(certificateJson);
      changed.record.submittedAt = "2020-01-01T00:00:00.000Z";
      const doc = new PDFDocument({ info: { CreationDate: new Date(0) } });
      const chunks: Buffer[] = [];
      doc.on("data", (chunk: Buffer) => chunks.push(chunk));
      const ended = new Promise((resolve) => doc.on("end", resolve));
      doc.text("A certificate with an earlier submission time.");
      doc.file(Buffer.from(JSON.stringify(changed)), { name: "q1Zr8xYwK0pLmN3oB5cD7e.evidence.json" });
      doc.end();
      await ended;
      const { text } = certificateFromPdf(Buffer.concat(chunks));
      expect(JSON.parse(text).record.submittedAt).to.equal("2020-01-01T00:00:00.000Z");
      const result = await verifyCertificate(text, { fileDigest, chain: chain() });
      expect(failedChecks(result.checks)).to.deep.equal(["leaf", "signature"]);
    });
  });
});
