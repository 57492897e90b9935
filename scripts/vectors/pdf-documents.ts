/**
 * Writes test/vectors/pdf/: small hand-built PDFs, each with one property a reader of
 * certificate documents must handle (an indirect /Length, an object stream, a UTF-16 file
 * name, an earlier revision, …) or must refuse (a zip bomb, a huge /Length, two
 * certificates, …), and cases.json saying what extractEmbeddedFiles and certificateFromPdf
 * must return for each. Deterministic: the same bytes on every run. One vector is written by
 * qpdf, when it is installed, from another.
 *
 *     node scripts/vectors/pdf-documents.ts
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { deflateSync } from "node:zlib";
import { paeth } from "../../service/core/pdf-attachment.ts";

const OUT = new URL("../../test/vectors/pdf/", import.meta.url);
const CERTIFICATE = readFileSync(new URL("../../test/vectors/certificate/certificate.json", import.meta.url));
const CERTIFICATE_NAME = "q1Zr8xYwK0pLmN3oB5cD7e.evidence.json";

type Body = string | { dict: string; data: Uint8Array };

/** Writes a PDF section by section; each section after the first is an incremental update (ISO 32000-1 §7.5.6). */
class PdfBuilder {
  readonly #parts: Uint8Array[] = [];
  #offset = 0;
  #offsets = new Map<number, number>();
  #lastXref: number | undefined;

  constructor(version = "1.7") {
    this.raw(`%PDF-${version}\n%\xe2\xe3\xcf\xd3\n`);
  }

  raw(text: string | Uint8Array): this {
    const bytes = typeof text === "string" ? Buffer.from(text, "latin1") : text;
    this.#parts.push(bytes);
    this.#offset += bytes.length;
    return this;
  }

  object(num: number, body: Body, gen = 0): this {
    this.#offsets.set(num, this.#offset);
    this.raw(`${num} ${gen} obj\n`);
    if (typeof body === "string") this.raw(`${body}\n`);
    else this.raw(`${body.dict}\nstream\n`).raw(body.data).raw("\nendstream\n");
    return this.raw("endobj\n");
  }

  /** Ends a section with a classic cross-reference table and trailer (§7.5.4, §7.5.5). */
  table(trailer = "/Root 1 0 R"): this {
    const xref = this.#offset;
    const nums = [...this.#offsets.keys()].sort((a, b) => a - b);
    const size = Math.max(0, ...nums) + 1;
    let text = this.#lastXref === undefined ? "xref\n0 1\n0000000000 65535 f \n" : "xref\n";
    for (const num of nums) text += `${num} 1\n${String(this.#offsets.get(num)).padStart(10, "0")} 00000 n \n`;
    const prev = this.#lastXref === undefined ? "" : ` /Prev ${this.#lastXref}`;
    this.raw(`${text}trailer\n<< /Size ${size} ${trailer}${prev} >>\nstartxref\n${xref}\n%%EOF\n`);
    this.#lastXref = xref;
    this.#offsets = new Map();
    return this;
  }

  /**
   * Ends the document with a cross-reference stream (§7.5.8) as object `num`; `compressed`
   * maps object numbers to [object stream, index] for objects stored in an object stream.
   */
  xrefStream(
    num: number,
    compressed: Map<number, [number, number]>,
    trailer = "/Root 1 0 R",
    options: { predicted?: boolean } = {},
  ): this {
    const xref = this.#offset;
    this.#offsets.set(num, xref);
    const size = Math.max(num, ...this.#offsets.keys(), ...compressed.keys()) + 1;
    const rows = Buffer.alloc(size * 7);
    for (let n = 0; n < size; n++) {
      const row = rows.subarray(n * 7, n * 7 + 7);
      const inStream = compressed.get(n);
      if (n === 0) row.set([0, 0, 0, 0, 0, 0xff, 0xff]);
      else if (inStream !== undefined) {
        row[0] = 2;
        row.writeUInt32BE(inStream[0], 1);
        row.writeUInt16BE(inStream[1], 5);
      } else if (this.#offsets.has(n)) {
        row[0] = 1;
        row.writeUInt32BE(this.#offsets.get(n)!, 1);
      }
    }
    // The way qpdf and Acrobat write it: each row Up-predicted (PNG filter 2), then Flate.
    const data = options.predicted ? deflateSync(pngPredict(rows, 7, 1, () => 2)) : rows;
    const encoding = options.predicted ? " /Filter /FlateDecode /DecodeParms << /Predictor 12 /Columns 7 >>" : "";
    const dict = `<< /Type /XRef /Size ${size} /W [1 4 2] ${trailer}${encoding} /Length ${data.length} >>`;
    this.raw(`${num} 0 obj\n${dict}\nstream\n`).raw(data).raw(`\nendstream\nendobj\nstartxref\n${xref}\n%%EOF\n`);
    return this;
  }

  /**
   * Ends an incremental update with a cross-reference stream (§7.5.8) as object `num` that
   * lists only this update's objects (its /Index), with /Prev to the section before.
   */
  xrefStreamUpdate(num: number, compressed: Map<number, [number, number]>, trailer = "/Root 1 0 R"): this {
    const xref = this.#offset;
    this.#offsets.set(num, xref);
    const nums = [...new Set([...this.#offsets.keys(), ...compressed.keys()])].sort((a, b) => a - b);
    const rows = Buffer.alloc(nums.length * 7);
    nums.forEach((n, i) => {
      const row = rows.subarray(i * 7, i * 7 + 7);
      const inStream = compressed.get(n);
      if (inStream !== undefined) {
        row[0] = 2;
        row.writeUInt32BE(inStream[0], 1);
        row.writeUInt16BE(inStream[1], 5);
      } else {
        row[0] = 1;
        row.writeUInt32BE(this.#offsets.get(n)!, 1);
      }
    });
    const size = Math.max(...nums) + 1;
    const index = nums.map((n) => `${n} 1`).join(" ");
    const dict = `<< /Type /XRef /Size ${size} /Index [${index}] /W [1 4 2] ${trailer} /Prev ${this.#lastXref} /Length ${rows.length} >>`;
    this.raw(`${num} 0 obj\n${dict}\nstream\n`).raw(rows).raw(`\nendstream\nendobj\nstartxref\n${xref}\n%%EOF\n`);
    this.#lastXref = xref;
    this.#offsets = new Map();
    return this;
  }

  /**
   * Ends an incremental update with a cross-reference table written out by hand: its
   * subsections (`entries`), then a trailer with /Prev to the section before. `beforeEof`
   * goes between the startxref and %%EOF.
   */
  update(entries: string, trailer: string, beforeEof = ""): this {
    const xref = this.#offset;
    this.raw(
      `xref\n${entries}trailer\n<< ${trailer} /Prev ${this.#lastXref} >>\nstartxref\n${xref}\n${beforeEof}%%EOF\n`,
    );
    this.#lastXref = xref;
    this.#offsets = new Map();
    return this;
  }

  /** Where the next byte written will be. */
  get offset(): number {
    return this.#offset;
  }

  /** Where the last cross-reference table begins. */
  get lastXref(): number | undefined {
    return this.#lastXref;
  }

  bytes(): Buffer {
    return Buffer.concat(this.#parts);
  }
}

/** A PDF string literal of ASCII text. */
const str = (text: string) => `(${text.replace(/[()\\]/g, (c) => `\\${c}`)})`;
const md5 = (data: Uint8Array) => createHash("md5").update(data).digest("hex");
const sha256 = (data: Uint8Array) => createHash("sha256").update(data).digest("hex");

/**
 * `data` as rows of `rowBytes`, each prefixed by its PNG filter type (RFC 2083 §6) and
 * filtered by it: what a stream with a PNG predictor (§7.4.4.4) holds before Flate.
 */
function pngPredict(data: Uint8Array, rowBytes: number, pixelBytes: number, type: (row: number) => number): Buffer {
  const rows = data.length / rowBytes;
  const out = Buffer.alloc(rows * (rowBytes + 1));
  const at = (r: number, i: number) => (r >= 0 && i >= 0 ? data[r * rowBytes + i]! : 0);
  for (let r = 0; r < rows; r++) {
    const t = type(r);
    out[r * (rowBytes + 1)] = t;
    for (let i = 0; i < rowBytes; i++) {
      const [a, b, c] = [at(r, i - pixelBytes), at(r - 1, i), at(r - 1, i - pixelBytes)];
      const prediction = [0, a, b, (a + b) >> 1, paeth(a, b, c)][t] ?? 0;
      out[r * (rowBytes + 1) + 1 + i] = (at(r, i) - prediction) & 0xff;
    }
  }
  return out;
}

/** An embedded file stream (§7.11.4) holding `data`, Flate-compressed unless `compress` is false. */
function embeddedFile(data: Uint8Array, options: { compress?: boolean; extra?: string; length?: string } = {}): Body {
  const compress = options.compress ?? true;
  const stored = compress ? deflateSync(data) : data;
  const filter = compress ? " /Filter /FlateDecode" : "";
  const length = options.length ?? String(stored.length);
  return {
    dict: `<< /Type /EmbeddedFile /Subtype /application#2Fjson /Params << /Size ${data.length} /CheckSum <${md5(data)}> >>${filter}${options.extra ?? ""} /Length ${length} >>`,
    data: stored,
  };
}

const filespec = (name: string, stream: number, names = `/F ${str(name)} /UF ${str(name)}`) =>
  `<< /Type /Filespec ${names} /EF << /F ${stream} 0 R >> >>`;

/** Catalog, pages and one empty page: objects 1 to 3. `files` are [name, file specification object] pairs. */
function skeleton(pdf: PdfBuilder, files: [string, number][]): PdfBuilder {
  const names = files.map(([name, num]) => `${str(name)} ${num} 0 R`).join(" ");
  const embedded = files.length === 0 ? "" : ` /Names << /EmbeddedFiles << /Names [${names}] >> >>`;
  return pdf
    .object(1, `<< /Type /Catalog /Pages 2 0 R${embedded} >>`)
    .object(2, "<< /Type /Pages /Kids [3 0 R] /Count 1 >>")
    .object(3, "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>");
}

/** The example certificate as the one attachment: objects 4 (specification) and 5 (file). */
function withCertificate(body: Body = embeddedFile(CERTIFICATE), name = CERTIFICATE_NAME): PdfBuilder {
  return skeleton(new PdfBuilder(), [[name, 4]])
    .object(4, filespec(name, 5))
    .object(5, body);
}

/** A cross-reference table entry: an object in use at `offset`, or (`kind` "f") a free one. */
const xrefEntry = (offset: number, kind = "n") => `${String(offset).padStart(10, "0")} 00000 ${kind} \n`;

/** The example certificate with one digest changed: what a forger would attach. */
const FORGED = Buffer.from(CERTIFICATE.toString("utf8").replace("313ebae9", "00000000"));

/** The forged certificate as an embedded file stream. */
function forgedFile(): Body {
  return embeddedFile(FORGED);
}

/** The forged certificate as embedded file stream `num`, written out as an object (to hide in a stream's data). */
function forgedObject(num: number): Buffer {
  const forged = forgedFile() as { dict: string; data: Uint8Array };
  return Buffer.concat([
    Buffer.from(`${num} 0 obj\n${forged.dict}\nstream\n`, "latin1"),
    forged.data,
    Buffer.from("\nendstream\nendobj\n", "latin1"),
  ]);
}

/** Where object `num` begins in `pdf` as written so far (its last definition). */
function offsetOf(pdf: PdfBuilder, num: number): number {
  return Buffer.from(pdf.bytes()).lastIndexOf(`\n${num} 0 obj\n`) + 1;
}

interface Expectation {
  files?: { name: string; sha256: string }[];
  error?: string;
}

interface Case {
  file: string;
  desc: string;
  /** What extractEmbeddedFiles returns, or the pattern of its INVALID_DOCUMENT message. */
  extract: Expectation;
  /** What certificateFromPdf returns, or the pattern of its INVALID_DOCUMENT message. */
  certificate: { name?: string; sha256?: string; error?: string };
  /** pdfdetach (poppler) extracts exactly the same files: the vector is a PDF other readers read too. */
  popplerAgrees?: boolean;
}

const certificateFile = { name: CERTIFICATE_NAME, sha256: sha256(CERTIFICATE) };
const certificateFound = certificateFile;
const cases: [Case, Uint8Array][] = [];
const add = (c: Case, bytes: Uint8Array) => cases.push([c, bytes]);

add(
  {
    file: "minimal.pdf",
    desc: "one Flate-compressed certificate attachment with a 16-byte MD5 /CheckSum",
    extract: { files: [certificateFile] },
    certificate: certificateFound,
    popplerAgrees: true,
  },
  withCertificate().table().bytes(),
);

add(
  {
    file: "uncompressed.pdf",
    desc: "the attachment stored without a filter",
    extract: { files: [certificateFile] },
    certificate: certificateFound,
    popplerAgrees: true,
  },
  withCertificate(embeddedFile(CERTIFICATE, { compress: false }))
    .table()
    .bytes(),
);

add(
  {
    file: "indirect-length.pdf",
    desc: "the attachment's /Length is an indirect object written after the stream",
    extract: { files: [certificateFile] },
    certificate: certificateFound,
    popplerAgrees: true,
  },
  withCertificate(embeddedFile(CERTIFICATE, { length: "6 0 R" }))
    .object(6, String(deflateSync(CERTIFICATE).length))
    .table()
    .bytes(),
);

{
  // Objects 1 to 4 compressed in object stream 6 (§7.5.7), found through a cross-reference stream.
  const objects = [
    "<< /Type /Catalog /Pages 2 0 R /Names << /EmbeddedFiles << /Names [(" + CERTIFICATE_NAME + ") 4 0 R] >> >> >>",
    "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
    "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>",
    filespec(CERTIFICATE_NAME, 5),
  ];
  let header = "";
  let body = "";
  objects.forEach((o, i) => {
    header += `${i + 1} ${body.length} `;
    body += `${o}\n`;
  });
  const content = Buffer.from(header + body, "latin1");
  const packed = deflateSync(content);
  const pdf = () =>
    new PdfBuilder().object(5, embeddedFile(CERTIFICATE)).object(6, {
      dict: `<< /Type /ObjStm /N ${objects.length} /First ${header.length} /Filter /FlateDecode /Length ${packed.length} >>`,
      data: packed,
    });
  const compressed = new Map<number, [number, number]>(objects.map((_, i) => [i + 1, [6, i]]));
  add(
    {
      file: "object-stream.pdf",
      desc: "the catalog and the file specification inside a compressed object stream, with a cross-reference stream",
      extract: { files: [certificateFile] },
      certificate: certificateFound,
      popplerAgrees: true,
    },
    pdf().xrefStream(7, compressed).bytes(),
  );
  add(
    {
      file: "object-stream-predicted-xref.pdf",
      desc: "as object-stream.pdf, with the cross-reference stream Flate-compressed after a PNG Up predictor (as qpdf --object-streams=generate and Acrobat write it)",
      extract: { files: [certificateFile] },
      certificate: certificateFound,
      popplerAgrees: true,
    },
    pdf().xrefStream(7, compressed, "/Root 1 0 R", { predicted: true }).bytes(),
  );
}

{
  // An object stream whose index points every entry at the same offset: each object would
  // be read again and again, so the index must increase.
  const content = Buffer.from(`${"4 0 ".repeat(1000)}${filespec(CERTIFICATE_NAME, 5)}\n`, "latin1");
  const first = "4 0 ".repeat(1000).length;
  const packed = deflateSync(content);
  const pdf = skeleton(new PdfBuilder(), [[CERTIFICATE_NAME, 4]])
    .object(5, embeddedFile(CERTIFICATE))
    .object(6, {
      dict: `<< /Type /ObjStm /N 1000 /First ${first} /Filter /FlateDecode /Length ${packed.length} >>`,
      data: packed,
    })
    .table();
  add(
    {
      file: "object-stream-index.pdf",
      desc: "an object stream whose index gives one offset a thousand times",
      extract: { error: "object stream's index is malformed" },
      certificate: { error: "object stream's index is malformed" },
    },
    pdf.bytes(),
  );
}

{
  // UTF-16BE with a byte order mark (§7.9.2.2), as a hex string.
  const name = "证书 q1Zr8xYwK0pLmN3oB5cD7e.evidence.json";
  const utf16 = Buffer.from(name, "utf16le").swap16();
  const hex = `<feff${utf16.toString("hex")}>`;
  const pdf = new PdfBuilder()
    .object(1, `<< /Type /Catalog /Pages 2 0 R /Names << /EmbeddedFiles << /Names [${hex} 4 0 R] >> >> >>`)
    .object(2, "<< /Type /Pages /Kids [3 0 R] /Count 1 >>")
    .object(3, "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>")
    .object(4, filespec(name, 5, `/F ${hex} /UF ${hex}`))
    .object(5, embeddedFile(CERTIFICATE))
    .table();
  add(
    {
      file: "utf16-name.pdf",
      desc: "a Chinese file name in UTF-16BE with a byte order mark, as hex strings",
      extract: { files: [{ name, sha256: sha256(CERTIFICATE) }] },
      certificate: { name, sha256: sha256(CERTIFICATE) },
      popplerAgrees: true,
    },
    pdf.bytes(),
  );
}

{
  // Text that looks like objects, inside a content stream and inside a string: not objects.
  const fake =
    "7 0 obj\n<< /Type /Filespec /F (fake.evidence.json) /EF << /F 8 0 R >> >>\nendobj\n" +
    "8 0 obj\n<< /Length 4 >>\nstream\nfake\nendstream\nendobj\n";
  add(
    {
      file: "objects-in-stream.pdf",
      desc: "object-like text inside a stream is data, not a second attachment",
      extract: { files: [certificateFile] },
      certificate: certificateFound,
      popplerAgrees: true,
    },
    withCertificate()
      .object(6, { dict: `<< /Length ${fake.length} >>`, data: Buffer.from(fake, "latin1") })
      .table()
      .bytes(),
  );
  add(
    {
      file: "objects-in-string.pdf",
      desc: "object-like text inside a string is data, not a second attachment",
      extract: { files: [certificateFile] },
      certificate: certificateFound,
    },
    withCertificate()
      .object(9, `<< /Title ${str(fake)} >>`)
      .table("/Root 1 0 R /Info 9 0 R")
      .bytes(),
  );
}

add(
  {
    file: "no-attachment.pdf",
    desc: "a PDF without embedded files",
    extract: { files: [] },
    certificate: { error: "no embedded \\*\\.evidence\\.json certificate" },
    popplerAgrees: true,
  },
  skeleton(new PdfBuilder(), []).table().bytes(),
);

{
  const other = Buffer.from('{"note":"not a certificate"}');
  const pdf = skeleton(new PdfBuilder(), [
    ["notes.json", 6],
    [CERTIFICATE_NAME, 4],
  ])
    .object(4, filespec(CERTIFICATE_NAME, 5))
    .object(5, embeddedFile(CERTIFICATE))
    .object(6, filespec("notes.json", 7))
    .object(7, embeddedFile(other))
    .table();
  add(
    {
      file: "other-attachment.pdf",
      desc: "the certificate beside an attachment that is not one",
      extract: { files: [certificateFile, { name: "notes.json", sha256: sha256(other) }] },
      certificate: certificateFound,
      popplerAgrees: true,
    },
    pdf.bytes(),
  );
}

{
  const pdf = skeleton(new PdfBuilder(), [
    [CERTIFICATE_NAME, 4],
    ["second.evidence.json", 6],
  ])
    .object(4, filespec(CERTIFICATE_NAME, 5))
    .object(5, embeddedFile(CERTIFICATE))
    .object(6, filespec("second.evidence.json", 7))
    .object(7, embeddedFile(CERTIFICATE))
    .table();
  add(
    {
      file: "two-certificates.pdf",
      desc: "two certificate attachments",
      extract: { files: [certificateFile, { name: "second.evidence.json", sha256: sha256(CERTIFICATE) }] },
      certificate: { error: "has 2 embedded certificates" },
      popplerAgrees: true,
    },
    pdf.bytes(),
  );
}

{
  // An incremental update replaces the catalog, so that a viewer lists only the new
  // attachment; the first certificate is still in the bytes.
  const pdf = withCertificate()
    .table()
    .object(
      1,
      `<< /Type /Catalog /Pages 2 0 R /Names << /EmbeddedFiles << /Names [(other.evidence.json) 6 0 R] >> >> >>`,
    )
    .object(6, filespec("other.evidence.json", 7))
    .object(7, forgedFile())
    .table();
  add(
    {
      file: "earlier-revision.pdf",
      desc: "a second certificate added by an incremental update that unlists the first",
      extract: { files: [certificateFile, { name: "other.evidence.json", sha256: sha256(FORGED) }] },
      certificate: { error: "has 2 embedded certificates" },
    },
    pdf.bytes(),
  );
}

{
  // An update whose objects lie inside another stream's data, where only its cross-reference
  // table points at them: a reader that follows the table (poppler) lists the forged
  // certificate; one that reads objects in order skips that data and finds the original.
  const hidden = [
    Buffer.from(
      "1 0 obj\n<< /Type /Catalog /Pages 2 0 R /Names << /EmbeddedFiles << /Names [(other.evidence.json) 7 0 R] >> >> >>\nendobj\n",
      "latin1",
    ),
    Buffer.from(`7 0 obj\n${filespec("other.evidence.json", 8)}\nendobj\n`, "latin1"),
    forgedObject(8),
  ];
  const filler = Buffer.concat(hidden);
  const pdf = withCertificate().table();
  const fillerObject = pdf.offset;
  const dict = `<< /Length ${filler.length} >>`;
  const fillerData = fillerObject + `6 0 obj\n${dict}\nstream\n`.length;
  pdf.object(6, { dict, data: filler });
  const at = (i: number) => fillerData + hidden.slice(0, i).reduce((n, b) => n + b.length, 0);
  pdf.update(
    `1 1\n${xrefEntry(at(0))}6 3\n${xrefEntry(fillerObject)}${xrefEntry(at(1))}${xrefEntry(at(2))}`,
    "/Size 9 /Root 1 0 R",
  );
  add(
    {
      file: "xref-into-stream.pdf",
      desc: "an update's cross-reference table points inside a stream's data, at a forged certificate only table readers see",
      extract: { error: "where that object does not begin" },
      certificate: { error: "where that object does not begin" },
    },
    pdf.bytes(),
  );
}

{
  // A whole section hidden inside a stream's data: objects, cross-reference table and trailer,
  // reached only through the visible trailer's /Prev. A reader that follows /Prev (poppler)
  // takes the hidden section as the revision before the visible one, and lists the forged
  // certificate; one that reads objects in order skips that data and finds the original.
  const pdf = withCertificate().table();
  const original = pdf.lastXref!;
  const fillerObject = pdf.offset;
  /** The hidden section, its offsets counted from `start`; the offset of its table. */
  const hiddenAt = (start: number): [Buffer, number] => {
    const parts = [
      Buffer.from(
        "1 0 obj\n<< /Type /Catalog /Pages 2 0 R /Names << /EmbeddedFiles << /Names [(other.evidence.json) 7 0 R] >> >> >>\nendobj\n",
        "latin1",
      ),
      Buffer.from(`7 0 obj\n${filespec("other.evidence.json", 8)}\nendobj\n`, "latin1"),
      forgedObject(8),
    ];
    const at = (i: number) => start + parts.slice(0, i).reduce((n, b) => n + b.length, 0);
    const table = at(3);
    const section = Buffer.concat([
      ...parts,
      Buffer.from(
        `xref\n1 1\n${xrefEntry(at(0))}7 2\n${xrefEntry(at(1))}${xrefEntry(at(2))}trailer\n<< /Size 9 /Root 1 0 R /Prev ${original} >>\n`,
        "latin1",
      ),
    ]);
    return [section, table];
  };
  // The section's length does not depend on where it starts (offsets are ten digits).
  const length = hiddenAt(0)[0].length;
  const dict = `<< /Length ${length} >>`;
  const [section, hiddenTable] = hiddenAt(fillerObject + `6 0 obj\n${dict}\nstream\n`.length);
  pdf.object(6, { dict, data: section });
  const xref = pdf.offset;
  pdf.raw(
    `xref\n6 1\n${xrefEntry(fillerObject)}trailer\n<< /Size 9 /Root 1 0 R /Prev ${hiddenTable} >>\nstartxref\n${xref}\n%%EOF\n`,
  );
  add(
    {
      file: "prev-into-stream.pdf",
      desc: "a trailer's /Prev points inside a stream's data, at a hidden section with a forged certificate only readers following /Prev see",
      extract: { error: "/Prev points at offset" },
      certificate: { error: "/Prev points at offset" },
    },
    pdf.bytes(),
  );
}

{
  // An update whose cross-reference stream says the file specification is compressed in
  // object 6, a stream not marked /Type /ObjStm: this reading reads no object from it, a reader
  // that does not check the type would read the forged file specification it holds.
  const pdf = withCertificate().table();
  const original = pdf.lastXref!;
  const spec = `${filespec(CERTIFICATE_NAME, 8)}\n`;
  const content = Buffer.from(`4 0 ${spec}`, "latin1");
  pdf.object(8, forgedFile()).object(6, {
    dict: `<< /N 1 /First 4 /Length ${content.length} >>`,
    data: content,
  });
  add(
    {
      file: "compressed-into-plain-stream.pdf",
      desc: "a cross-reference stream puts the file specification in a stream that is not an object stream",
      extract: { error: "which is not an object stream" },
      certificate: { error: "which is not an object stream" },
    },
    pdf.xrefStream(7, new Map([[4, [6, 0]]]), `/Root 1 0 R /Prev ${original}`).bytes(),
  );
}

/**
 * Objects that only exist inside stream object `num`'s data, where the file-order reading
 * skips them: a catalog (20) naming a file specification (21) of a forged certificate (22),
 * or, with `replace`, a file specification numbered 4 instead, for the genuine catalog. With
 * `section`, the data ends with their own cross-reference table and trailer (its /Prev the
 * given offset). Returns the offset of that table.
 */
function hideForgery(pdf: PdfBuilder, num: number, options: { replace?: boolean; section?: number } = {}): number {
  const parts = [
    ...(options.replace
      ? [Buffer.from(`4 0 obj\n${filespec(CERTIFICATE_NAME, 22)}\nendobj\n`, "latin1")]
      : [
          Buffer.from(
            `20 0 obj\n<< /Type /Catalog /Pages 2 0 R /Names << /EmbeddedFiles << /Names [${str(CERTIFICATE_NAME)} 21 0 R] >> >> >>\nendobj\n`,
            "latin1",
          ),
          Buffer.from(`21 0 obj\n${filespec(CERTIFICATE_NAME, 22)}\nendobj\n`, "latin1"),
        ]),
    forgedObject(22),
  ];
  const objects = Buffer.concat(parts);
  // Offsets are written in ten digits: the table's length does not depend on them.
  const at = (start: number, i: number) => start + parts.slice(0, i).reduce((n, b) => n + b.length, 0);
  const table = (start: number) =>
    options.section === undefined
      ? ""
      : `xref\n20 3\n${parts.map((_, i) => xrefEntry(at(start, i))).join("")}` +
        `trailer\n<< /Size 31 /Root 20 0 R /Prev ${options.section} >>\n`;
  const dict = `<< /Length ${objects.length + table(0).length} >>`;
  const start = pdf.offset + `${num} 0 obj\n${dict}\nstream\n`.length;
  pdf.object(num, { dict, data: Buffer.concat([objects, Buffer.from(table(start), "latin1")]) });
  return start + objects.length;
}

/**
 * The example document with an update that hides a forgery in stream object 30's data
 * ({@link hideForgery}) and lists only that stream: its trailer names `root` as /Root, it
 * marks `freed` free, and with `comment` the file ends with a "%startxref" comment pointing
 * at a section hidden with the forgery.
 */
function withHiddenUpdate(options: { root: number; replace?: boolean; freed?: number; comment?: boolean }): Uint8Array {
  const pdf = withCertificate().table();
  const prev = pdf.lastXref!;
  const stream = pdf.offset;
  const hidden = hideForgery(pdf, 30, { replace: options.replace, section: options.comment ? prev : undefined });
  const freed = options.freed === undefined ? "" : `${options.freed} 1\n${xrefEntry(0, "f")}`;
  const comment = options.comment ? `%startxref ${hidden}\n` : "";
  return pdf.update(`${freed}30 1\n${xrefEntry(stream)}`, `/Size 31 /Root ${options.root} 0 R`, comment).bytes();
}

// Readers that meet a reference to an object no section lists rebuild the cross-reference by
// scanning the file, stream data included, and find the catalog hidden there.
add(
  {
    file: "root-unlisted.pdf",
    desc: "a trailer's /Root names an object no cross-reference section lists: readers rebuild the cross-reference by scanning, and find a forged catalog in a stream's data",
    extract: { error: "object 20 0 is referred to" },
    certificate: { error: "object 20 0 is referred to" },
  },
  withHiddenUpdate({ root: 20 }),
);

// Readers that fetch an object marked free rebuild the cross-reference by scanning too.
add(
  {
    file: "referenced-object-freed.pdf",
    desc: "an update marks the certificate's file specification free while the catalog still names it, and hides another in a stream's data",
    extract: { error: "object 4 0 is referred to" },
    certificate: { error: "object 4 0 is referred to" },
  },
  withHiddenUpdate({ root: 1, replace: true, freed: 4 }),
);

// Readers search backwards for the last "startxref" bytes: in the comment, pointing at the
// section hidden in a stream's data.
add(
  {
    file: "startxref-in-comment.pdf",
    desc: "a comment after the last startxref holds another, pointing at a section hidden in a stream's data, which readers searching backwards take",
    extract: { error: "last startxref is not where this reading finds one" },
    certificate: { error: "last startxref is not where this reading finds one" },
  },
  withHiddenUpdate({ root: 1, comment: true }),
);

/**
 * A linearized file (ISO 32000-1 Annex F) that `build` writes after `dict`, its first object:
 * a linearization dictionary whose /L is the length of the whole file, so readers honour it.
 */
function linearized(build: (pdf: PdfBuilder) => PdfBuilder, extra = ""): Uint8Array {
  const write = (length: number) =>
    build(new PdfBuilder().object(6, `<< /Linearized 1 /L ${String(length).padStart(10, "0")}${extra} >>`)).bytes();
  return write(write(0).length);
}

add(
  {
    file: "linearized.pdf",
    desc: "a linearized file whose first endobj bytes lie in a string of its linearization dictionary: readers that honour linearization start reading after them",
    extract: { error: 'first "endobj" bytes are not where its first object ends' },
    certificate: { error: 'first "endobj" bytes are not where its first object ends' },
  },
  linearized(
    (pdf) =>
      skeleton(pdf, [[CERTIFICATE_NAME, 4]])
        .object(4, filespec(CERTIFICATE_NAME, 5))
        .object(5, embeddedFile(CERTIFICATE))
        .table(),
    " /X (endobj)",
  ),
);

add(
  {
    file: "linearized-other-start.pdf",
    desc: "a linearized file whose last startxref names a section other than the one after its first object: readers that honour linearization read only that one, which lists no catalog, and rebuild the cross-reference",
    extract: { error: "last startxref does not name the section right after its first object" },
    certificate: { error: "last startxref does not name the section right after its first object" },
  },
  linearized((pdf) =>
    skeleton(pdf.table(), [[CERTIFICATE_NAME, 4]])
      .object(4, filespec(CERTIFICATE_NAME, 5))
      .object(5, embeddedFile(CERTIFICATE))
      .table(),
  ),
);

{
  // An update lists the certificate's stream (object 5) at its genuine place but with
  // generation 1: readers see "5 0 R" name no object in use, rebuild the cross-reference by
  // scanning, and find a forged "5 0 obj" hidden in a stream's data.
  const pdf = withCertificate().table();
  const genuine = offsetOf(pdf, 5);
  const stream = pdf.offset;
  const hidden = forgedObject(5);
  pdf
    .object(30, { dict: `<< /Length ${hidden.length} >>`, data: hidden })
    .update(`5 1\n${String(genuine).padStart(10, "0")} 00001 n \n30 1\n${xrefEntry(stream)}`, "/Size 31 /Root 1 0 R");
  add(
    {
      file: "xref-generation-mismatch.pdf",
      desc: "an update lists the certificate's stream at its place with another generation: readers rebuild the cross-reference by scanning, and find a forged one in a stream's data",
      extract: { error: "where that object does not begin" },
      certificate: { error: "where that object does not begin" },
    },
    pdf.bytes(),
  );
}

{
  // An update's catalog names file specification 21, which only a cross-reference table no
  // startxref or /Prev reaches lists: readers that follow the cross-reference do not find it,
  // rebuild it by scanning, and take the last "21 0 obj" in the file, hidden in a stream's data.
  const pdf = withCertificate().table();
  const catalog = pdf.offset;
  pdf.raw(
    `1 0 obj\n<< /Type /Catalog /Pages 2 0 R /Names << /EmbeddedFiles << /Names [${str(CERTIFICATE_NAME)} 21 0 R] >> >> >>\nendobj\n`,
  );
  const spec = pdf.offset;
  pdf.raw(`21 0 obj\n${filespec(CERTIFICATE_NAME, 5)}\nendobj\n`);
  pdf.raw(`xref\n21 1\n${xrefEntry(spec)}trailer\n<< /Size 31 /Root 1 0 R >>\n`);
  const stream = pdf.offset;
  const hidden = Buffer.concat([
    Buffer.from(`21 0 obj\n${filespec(CERTIFICATE_NAME, 22)}\nendobj\n`, "latin1"),
    forgedObject(22),
  ]);
  pdf
    .object(30, { dict: `<< /Length ${hidden.length} >>`, data: hidden })
    .update(`1 1\n${xrefEntry(catalog)}30 1\n${xrefEntry(stream)}`, "/Size 31 /Root 1 0 R");
  add(
    {
      file: "section-unreached.pdf",
      desc: "the file specification is listed only in a cross-reference table no startxref or /Prev reaches: readers rebuild the cross-reference by scanning, and take a forged one hidden in a stream's data",
      extract: { error: "object 21 0 is referred to" },
      certificate: { error: "object 21 0 is referred to" },
    },
    pdf.bytes(),
  );
}

{
  // An object stream (40) defined twice: first a real one, then a plain stream with /N and
  // /First holding a forged file specification; the update's cross-reference stream points
  // 40 at the plain one, and puts object 4 in it.
  const pdf = withCertificate().table();
  const real = Buffer.from("41 0 << /Type /Annot >>\n", "latin1");
  const spec = Buffer.from(`4 0 ${filespec(CERTIFICATE_NAME, 8)}\n`, "latin1");
  pdf
    .object(40, { dict: `<< /Type /ObjStm /N 1 /First 5 /Length ${real.length} >>`, data: real })
    .object(8, forgedFile())
    .object(40, { dict: `<< /N 1 /First 4 /Length ${spec.length} >>`, data: spec });
  add(
    {
      file: "object-stream-redefined.pdf",
      desc: "an object stream redefined as a plain stream that holds a forged file specification, where the update's cross-reference stream puts it",
      extract: { error: "which is not an object stream" },
      certificate: { error: "which is not an object stream" },
    },
    pdf.xrefStreamUpdate(9, new Map([[4, [40, 0]]])).bytes(),
  );
}

{
  // A second file specification whose names are indirect objects holding the certificate's
  // name: readers resolve them and list it; this reading takes names written directly only.
  const pdf = withCertificate()
    .table()
    .object(
      1,
      `<< /Type /Catalog /Pages 2 0 R /Names << /EmbeddedFiles << /Names [${str(CERTIFICATE_NAME)} 7 0 R] >> >> >>`,
    )
    .object(6, str(CERTIFICATE_NAME))
    .object(7, filespec(CERTIFICATE_NAME, 8, "/F 6 0 R /UF 6 0 R"))
    .object(8, forgedFile());
  add(
    {
      file: "indirect-name.pdf",
      desc: "an update's file specification takes the certificate's name from an indirect object, for a forged certificate",
      extract: { error: "name is an indirect object" },
      certificate: { error: "name is an indirect object" },
    },
    pdf.table().bytes(),
  );
}

{
  // A second attachment named as the certificate followed by a NUL: readers cut the name there
  // and write the forged file over the genuine one; this reading sees another name.
  const nul = `${CERTIFICATE_NAME}\u0000`;
  const pdf = skeleton(new PdfBuilder(), [
    [CERTIFICATE_NAME, 4],
    [nul, 6],
  ])
    .object(4, filespec(CERTIFICATE_NAME, 5))
    .object(5, embeddedFile(CERTIFICATE))
    .object(6, filespec(nul, 7, `/F (${CERTIFICATE_NAME}\\000) /UF (${CERTIFICATE_NAME}\\000)`))
    .object(7, forgedFile());
  add(
    {
      file: "name-with-nul.pdf",
      desc: "a second attachment named as the certificate followed by a NUL, which readers cut off",
      extract: { error: "name holds a control character" },
      certificate: { error: "name holds a control character" },
    },
    pdf.table().bytes(),
  );
}

{
  // An incremental update as editors write one to delete an annotation: the page no longer
  // lists it, and its number is marked free. The earlier revision still refers to it; nothing
  // live does.
  const pdf = new PdfBuilder()
    .object(
      1,
      `<< /Type /Catalog /Pages 2 0 R /Names << /EmbeddedFiles << /Names [${str(CERTIFICATE_NAME)} 4 0 R] >> >> >>`,
    )
    .object(2, "<< /Type /Pages /Kids [3 0 R] /Count 1 >>")
    .object(3, "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Annots [6 0 R] >>")
    .object(4, filespec(CERTIFICATE_NAME, 5))
    .object(5, embeddedFile(CERTIFICATE))
    .object(6, "<< /Type /Annot /Subtype /Text /Rect [10 10 30 30] /Contents (a note) >>")
    .table();
  const page = pdf.offset;
  pdf
    .object(3, "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>")
    .update(`3 1\n${xrefEntry(page)}6 1\n0000000000 00001 f \n`, "/Size 7 /Root 1 0 R");
  add(
    {
      file: "object-deleted.pdf",
      desc: "an incremental update deletes an annotation: its number marked free, referred to only by the earlier revision",
      extract: { files: [certificateFile] },
      certificate: certificateFound,
      popplerAgrees: true,
    },
    pdf.bytes(),
  );
}

{
  const pdf = withCertificate().table().object(5, forgedFile()).table();
  add(
    {
      file: "stream-redefined.pdf",
      desc: "an incremental update redefines the certificate's stream with other contents",
      extract: { error: "defined more than once with different contents" },
      certificate: { error: "defined more than once with different contents" },
    },
    pdf.bytes(),
  );
}

{
  // A tool that saves incrementally may write the certificate's stream again in another
  // encoding: every reader, whichever definition it takes, reads the same certificate.
  const pdf = withCertificate()
    .table()
    .object(5, embeddedFile(CERTIFICATE, { compress: false }))
    .table();
  add(
    {
      file: "stream-re-encoded.pdf",
      desc: "an incremental update writes the certificate's stream again uncompressed: the same decoded contents",
      extract: { files: [certificateFile] },
      certificate: certificateFound,
      popplerAgrees: true,
    },
    pdf.bytes(),
  );
}

{
  // The same, but the update's stream decodes to other bytes: one byte of the certificate changed.
  const altered = Buffer.from(CERTIFICATE);
  const at = altered.length - 2;
  altered[at] = altered[at]! ^ 0x01;
  const pdf = withCertificate()
    .table()
    .object(5, embeddedFile(altered, { compress: false }))
    .table();
  add(
    {
      file: "stream-re-encoded-altered.pdf",
      desc: "an incremental update writes the certificate's stream again uncompressed, one byte changed",
      extract: { error: "defined more than once with different contents" },
      certificate: { error: "defined more than once with different contents" },
    },
    pdf.bytes(),
  );
}

{
  // The original revision again, unchanged, after an update that rewrites nothing of the attachment.
  const pdf = withCertificate()
    .table()
    .object(5, embeddedFile(CERTIFICATE))
    .object(4, filespec(CERTIFICATE_NAME, 5))
    .table();
  add(
    {
      file: "same-revision-twice.pdf",
      desc: "an incremental update rewrites the attachment objects unchanged",
      extract: { files: [certificateFile] },
      certificate: certificateFound,
      popplerAgrees: true,
    },
    pdf.bytes(),
  );
}

add(
  {
    file: "names-disagree.pdf",
    desc: "/F names a certificate, /UF names something else",
    extract: { error: "has the names" },
    certificate: { error: "has the names" },
  },
  skeleton(new PdfBuilder(), [[CERTIFICATE_NAME, 4]])
    .object(4, filespec(CERTIFICATE_NAME, 5, `/F ${str(CERTIFICATE_NAME)} /UF (notes.txt)`))
    .object(5, embeddedFile(CERTIFICATE))
    .table()
    .bytes(),
);

add(
  {
    file: "two-streams-in-ef.pdf",
    desc: "/EF holds two different streams under /F and /UF",
    extract: { error: "two different files" },
    certificate: { error: "two different files" },
  },
  skeleton(new PdfBuilder(), [[CERTIFICATE_NAME, 4]])
    .object(4, `<< /Type /Filespec /F ${str(CERTIFICATE_NAME)} /EF << /F 5 0 R /UF 6 0 R >> >>`)
    .object(5, embeddedFile(CERTIFICATE))
    .object(6, embeddedFile(Buffer.from("{}")))
    .table()
    .bytes(),
);

{
  // 64 MiB of zeros deflate to about 64 KB (DEFLATE's ratio tops out near 1032:1).
  const zeros = Buffer.alloc(64 * 1024 * 1024);
  add(
    {
      file: "zip-bomb.pdf",
      desc: "a 64 KB Flate stream that inflates to 64 MiB",
      extract: { error: "inflates to more than 8388608 bytes" },
      certificate: { error: "inflates to more than 262144 bytes" },
    },
    withCertificate(embeddedFile(zeros)).table().bytes(),
  );
}

{
  // Five 7 MiB files: each within the per-file bound, together past the document's.
  const big = Buffer.alloc(7 * 1024 * 1024, 0x20);
  const files: [string, number][] = [[CERTIFICATE_NAME, 4]];
  for (let i = 0; i < 5; i++) files.push([`big-${i}.bin`, 10 + 2 * i]);
  const pdf = skeleton(new PdfBuilder(), files)
    .object(4, filespec(CERTIFICATE_NAME, 5))
    .object(5, embeddedFile(CERTIFICATE));
  for (let i = 0; i < 5; i++)
    pdf.object(10 + 2 * i, filespec(`big-${i}.bin`, 11 + 2 * i)).object(11 + 2 * i, embeddedFile(big));
  add(
    {
      file: "many-large-files.pdf",
      desc: "five attachments of 7 MiB: reading them all passes the inflation budget, the certificate alone does not",
      extract: { error: "inflates to more than 8388608 bytes" },
      certificate: certificateFound,
    },
    pdf.table().bytes(),
  );
}

add(
  {
    file: "huge-length.pdf",
    desc: "the attachment declares /Length 999999999999",
    extract: { error: "declares /Length 999999999999, past the end" },
    certificate: { error: "declares /Length 999999999999, past the end" },
  },
  withCertificate(embeddedFile(CERTIFICATE, { length: "999999999999" }))
    .table()
    .bytes(),
);

add(
  {
    file: "short-length.pdf",
    desc: "the attachment's /Length is ten bytes short of its data",
    extract: { error: "does not end where its /Length says" },
    certificate: { error: "does not end where its /Length says" },
  },
  withCertificate(embeddedFile(CERTIFICATE, { length: String(deflateSync(CERTIFICATE).length - 10) }))
    .table()
    .bytes(),
);

{
  const body = embeddedFile(CERTIFICATE) as { dict: string; data: Uint8Array };
  const corrupt = Buffer.from(body.data);
  corrupt[corrupt.length >> 1]! ^= 0xff;
  add(
    {
      file: "corrupt-flate.pdf",
      desc: "one byte of the compressed attachment flipped",
      extract: { error: "compressed stream" },
      certificate: { error: "compressed stream" },
    },
    withCertificate({ dict: body.dict, data: corrupt }).table().bytes(),
  );
  const wrongAdler = Buffer.from(body.data);
  wrongAdler[wrongAdler.length - 1]! ^= 0x01;
  add(
    {
      file: "wrong-adler.pdf",
      desc: "valid DEFLATE data with a wrong Adler-32",
      extract: { error: "Adler-32" },
      certificate: { error: "Adler-32" },
    },
    withCertificate({ dict: body.dict, data: wrongAdler }).table().bytes(),
  );
}

add(
  {
    file: "wrong-checksum.pdf",
    desc: "the attachment's /CheckSum is the MD5 of other bytes",
    extract: { error: "does not match its /CheckSum" },
    certificate: { error: "does not match its /CheckSum" },
  },
  withCertificate({
    dict: `<< /Type /EmbeddedFile /Params << /Size ${CERTIFICATE.length} /CheckSum <${md5(Buffer.from("x"))}> >> /Length ${CERTIFICATE.length} >>`,
    data: CERTIFICATE,
  })
    .table()
    .bytes(),
);

add(
  {
    file: "wrong-size.pdf",
    desc: "the attachment's /Size is one byte more than its data",
    extract: { error: "its /Size says" },
    certificate: { error: "its /Size says" },
  },
  withCertificate({
    dict: `<< /Type /EmbeddedFile /Params << /Size ${CERTIFICATE.length + 1} >> /Length ${CERTIFICATE.length} >>`,
    data: CERTIFICATE,
  })
    .table()
    .bytes(),
);

add(
  {
    file: "unsupported-filter.pdf",
    desc: "the attachment is ASCIIHex-encoded",
    extract: { error: "filter /ASCIIHexDecode is not supported" },
    certificate: { error: "filter /ASCIIHexDecode is not supported" },
  },
  withCertificate({
    dict: `<< /Type /EmbeddedFile /Filter /ASCIIHexDecode /Length ${CERTIFICATE.length * 2 + 1} >>`,
    data: Buffer.from(`${CERTIFICATE.toString("hex")}>`),
  })
    .table()
    .bytes(),
);

/** The certificate as an embedded file stream with a predictor: `predicted` is what goes into Flate. */
function predictedFile(parms: string, predicted: Uint8Array, options: { compress?: boolean } = {}): Body {
  const stored = options.compress === false ? predicted : deflateSync(predicted);
  const filter = options.compress === false ? "" : " /Filter /FlateDecode";
  return {
    dict: `<< /Type /EmbeddedFile /Params << /Size ${CERTIFICATE.length} /CheckSum <${md5(CERTIFICATE)}> >>${filter} /DecodeParms << ${parms} >> /Length ${stored.length} >>`,
    data: stored,
  };
}

// The certificate is 1,675 bytes: rows of 5 bytes (one 8-bit colour, 5 columns) cycle
// through the five PNG filter types.
const PNG_ROWS = pngPredict(CERTIFICATE, 5, 1, (row) => row % 5);
add(
  {
    file: "predictor.pdf",
    desc: "the attachment with a PNG predictor, its rows filtered by each of the five PNG filter types in turn",
    extract: { files: [certificateFile] },
    certificate: certificateFound,
    popplerAgrees: true,
  },
  withCertificate(predictedFile("/Predictor 15 /Columns 5", PNG_ROWS)).table().bytes(),
);

add(
  {
    file: "predictor-colors.pdf",
    desc: "the attachment with a PNG predictor over five colours (5-byte pixels, 5 columns), Sub and Paeth rows",
    extract: { files: [certificateFile] },
    certificate: certificateFound,
    popplerAgrees: true,
  },
  withCertificate(
    predictedFile(
      "/Predictor 11 /Colors 5 /Columns 5",
      pngPredict(CERTIFICATE, 25, 5, (row) => (row % 2 === 0 ? 1 : 4)),
    ),
  )
    .table()
    .bytes(),
);

{
  // TIFF Predictor 2 (§7.4.4.4): each byte the difference from the same colour's last one.
  const rowBytes = CERTIFICATE.length / 5;
  const differences = Buffer.from(CERTIFICATE.map((b, i) => (i % rowBytes < 5 ? b : b - CERTIFICATE[i - 5]!) & 0xff));
  add(
    {
      file: "predictor-tiff.pdf",
      desc: "the attachment with TIFF Predictor 2, five 8-bit colours in rows of 67 columns",
      extract: { files: [certificateFile] },
      certificate: certificateFound,
      popplerAgrees: true,
    },
    withCertificate(predictedFile(`/Predictor 2 /Colors 5 /Columns ${rowBytes / 5}`, differences))
      .table()
      .bytes(),
  );
}

{
  const unknownRow = Buffer.from(PNG_ROWS);
  unknownRow[6 * 10] = 5;
  add(
    {
      file: "predictor-unknown-row.pdf",
      desc: "a PNG-predicted attachment with a row of filter type 5, which PNG does not define",
      extract: { error: "unknown PNG filter type 5" },
      certificate: { error: "unknown PNG filter type 5" },
    },
    withCertificate(predictedFile("/Predictor 15 /Columns 5", unknownRow)).table().bytes(),
  );
}

add(
  {
    file: "predictor-short-row.pdf",
    desc: "a PNG-predicted attachment whose last row is cut short",
    extract: { error: "does not end on a whole row" },
    certificate: { error: "does not end on a whole row" },
  },
  withCertificate(predictedFile("/Predictor 15 /Columns 5", PNG_ROWS.subarray(0, -1)))
    .table()
    .bytes(),
);

add(
  {
    file: "predictor-without-filter.pdf",
    desc: "an attachment with a PNG predictor but no filter (readers ignore it, or do not)",
    extract: { error: "/DecodeParms does not match its /Filter" },
    certificate: { error: "/DecodeParms does not match its /Filter" },
  },
  withCertificate(predictedFile("/Predictor 15 /Columns 5", PNG_ROWS, { compress: false }))
    .table()
    .bytes(),
);

add(
  {
    file: "predictor-tiff-4-bit.pdf",
    desc: "an attachment with TIFF Predictor 2 over 4-bit samples",
    extract: { error: "TIFF predictors are supported only with 8 bits" },
    certificate: { error: "TIFF predictors are supported only with 8 bits" },
  },
  withCertificate(predictedFile("/Predictor 2 /BitsPerComponent 4 /Columns 10", CERTIFICATE)).table().bytes(),
);

add(
  {
    file: "predictor-real.pdf",
    desc: "a PNG predictor written as a real number (15.0): poppler ignores it, other readers take it as 15",
    extract: { error: "unsupported /Predictor" },
    certificate: { error: "unsupported /Predictor" },
  },
  withCertificate(predictedFile("/Predictor 15.0 /Columns 5", PNG_ROWS)).table().bytes(),
);

add(
  {
    file: "decode-parms-abbreviated.pdf",
    desc: "a predictor's parameters with /BPC beside /BitsPerComponent: pdf.js takes the abbreviation, other readers ignore it",
    extract: { error: "has the key /BPC" },
    certificate: { error: "has the key /BPC" },
  },
  withCertificate(predictedFile("/Predictor 15 /Columns 5 /BPC 16", PNG_ROWS)).table().bytes(),
);

add(
  {
    file: "decode-parms-dp.pdf",
    desc: "an attachment whose parameters are given as /DP, the inline-image abbreviation mupdf and pdf.js honour in streams too",
    extract: { error: "has the key /DP" },
    certificate: { error: "has the key /DP" },
  },
  withCertificate(embeddedFile(CERTIFICATE, { extra: " /DP << /Predictor 12 /Columns 5 >>" }))
    .table()
    .bytes(),
);

add(
  {
    file: "real-length.pdf",
    desc: "an attachment whose /Length is a real number: poppler calls it bad and searches for endstream instead",
    extract: { error: "no valid /Length" },
    certificate: { error: "no valid /Length" },
  },
  withCertificate(embeddedFile(CERTIFICATE, { length: `${deflateSync(CERTIFICATE).length}.0` }))
    .table()
    .bytes(),
);

add(
  {
    file: "trailing-space.pdf",
    desc: "2,000 spaces after %%EOF: qpdf (and poppler past about 30 KB) no longer find startxref and rebuild the cross-reference by scanning the whole file",
    extract: { error: "does not end with startxref, its offset and %%EOF" },
    certificate: { error: "does not end with startxref, its offset and %%EOF" },
  },
  Buffer.concat([withCertificate().table().bytes(), Buffer.alloc(2000, 0x20)]),
);

add(
  {
    file: "padding-before-eof.pdf",
    desc: "2,000 spaces between the last startxref's offset and %%EOF: qpdf no longer finds startxref and rebuilds the cross-reference by scanning the whole file",
    extract: { error: "does not end with startxref, its offset and %%EOF" },
    certificate: { error: "does not end with startxref, its offset and %%EOF" },
  },
  (() => {
    const bytes = withCertificate().table().bytes();
    const eof = bytes.lastIndexOf("%%EOF");
    return Buffer.concat([bytes.subarray(0, eof), Buffer.alloc(2000, 0x20), bytes.subarray(eof)]);
  })(),
);

add(
  {
    file: "linearized-real-length.pdf",
    desc: "linearized-other-start.pdf with its /L written as a real number: pdf.js still honours the linearization",
    extract: { error: "/L is not an integer" },
    certificate: { error: "/L is not an integer" },
  },
  (() => {
    const bytes = cases.find(([c]) => c.file === "linearized-other-start.pdf")![1];
    const text = Buffer.from(bytes).toString("latin1");
    const length = /\/L (\d{10})/.exec(text)!;
    const real = `${Number(length[1])}.`.padEnd(10, "0");
    return Buffer.from(text.replace(length[0], `/L ${real}`), "latin1");
  })(),
);

add(
  {
    file: "platform-name.pdf",
    desc: "the name tree lists, under the certificate's name, a file specification named only by /Unix and holding a forged certificate: readers take /Unix as its name and extract the forgery",
    extract: { error: "platform-specific /Unix entry" },
    certificate: { error: "platform-specific /Unix entry" },
  },
  new PdfBuilder()
    .object(
      1,
      `<< /Type /Catalog /Pages 2 0 R /Names << /EmbeddedFiles << /Names [${str(CERTIFICATE_NAME)} 6 0 R] >> >> >>`,
    )
    .object(2, "<< /Type /Pages /Kids [3 0 R] /Count 1 >>")
    .object(3, "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>")
    .object(4, filespec(CERTIFICATE_NAME, 5))
    .object(5, embeddedFile(CERTIFICATE))
    .object(6, `<< /Type /Filespec /Unix ${str(CERTIFICATE_NAME)} /EF << /F 7 0 R >> >>`)
    .object(7, forgedFile())
    .table()
    .bytes(),
);

/**
 * Catalog, pages, the certificate (5), a forged one (7), and object stream 6 holding file
 * specification 4, whose decoded bytes `content` gives; the cross-reference is a stream.
 */
function withSpecInObjectStream(content: Buffer, first: number, encoding: string): Buffer {
  const packed = deflateSync(content);
  return new PdfBuilder()
    .object(
      1,
      `<< /Type /Catalog /Pages 2 0 R /Names << /EmbeddedFiles << /Names [${str(CERTIFICATE_NAME)} 4 0 R] >> >> >>`,
    )
    .object(2, "<< /Type /Pages /Kids [3 0 R] /Count 1 >>")
    .object(3, "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>")
    .object(5, embeddedFile(CERTIFICATE))
    .object(6, {
      dict: `<< /Type /ObjStm /N 1 /First ${first}${encoding} /Length ${packed.length} >>`,
      data: packed,
    })
    .object(7, forgedFile())
    .xrefStream(8, new Map([[4, [6, 0]]]))
    .bytes();
}

{
  // The index puts object 4 300 bytes past /First; a forged specification lies in between,
  // where poppler (which counts that offset from the stream's start) reads it.
  const [first, offset] = [200, 300];
  const content = Buffer.alloc(first + offset + 200, 0x20);
  content.write(`4 ${offset}`, 0, "latin1");
  content.write(filespec(CERTIFICATE_NAME, 7), offset, "latin1");
  content.write(filespec(CERTIFICATE_NAME, 5), first + offset, "latin1");
  add(
    {
      file: "object-stream-gap.pdf",
      desc: "an object stream whose first object begins 300 bytes past /First, with a forged file specification in the gap, which poppler reads",
      extract: { error: "bytes between its index and its first object" },
      certificate: { error: "bytes between its index and its first object" },
    },
    withSpecInObjectStream(content, first, " /Filter /FlateDecode"),
  );
}

{
  // PNG rows of filter type 0: applying the predictor drops a NUL before each 64-byte row,
  // ignoring it keeps them, and the index's offset lands on the genuine specification in one
  // reading and on a forged one in the other.
  const [columns, first] = [64, 16];
  const forged = `<</F${str(CERTIFICATE_NAME)}/EF<</F 7 0 R>>>>`;
  const row = forged.length + 2;
  const genuineAt = row * (columns + 1);
  const genuine = filespec(CERTIFICATE_NAME, 5);
  const content = Buffer.alloc(Math.ceil((genuineAt + genuine.length + 1) / columns) * columns, 0x20);
  content.write(`4 ${genuineAt - first}`, 0, "latin1");
  content.write(forged, row * columns, "latin1");
  content.write(genuine, genuineAt, "latin1");
  const rows = pngPredict(content, columns, 1, () => 0);
  const packed = (encoding: string) => withSpecInObjectStream(rows, first, encoding);
  add(
    {
      file: "decode-parms-shape.pdf",
      desc: "an object stream with /Filter [/FlateDecode] beside a /DecodeParms dictionary: qpdf applies the predictor, poppler, mupdf and pdf.js do not, and read a forged file specification",
      extract: { error: "/DecodeParms does not match its /Filter" },
      certificate: { error: "/DecodeParms does not match its /Filter" },
    },
    packed(` /Filter [/FlateDecode] /DecodeParms << /Predictor 10 /Columns ${columns} >>`),
  );
}

add(
  {
    file: "duplicate-key.pdf",
    desc: "the attachment's dictionary has /Length twice",
    extract: { error: "has the key /Length twice" },
    certificate: { error: "has the key /Length twice" },
  },
  withCertificate(embeddedFile(CERTIFICATE, { extra: " /Length 3" }))
    .table()
    .bytes(),
);

add(
  {
    file: "encrypted.pdf",
    desc: "the trailer names an /Encrypt dictionary",
    extract: { error: "encrypted PDFs are not supported" },
    certificate: { error: "encrypted PDFs are not supported" },
  },
  withCertificate()
    .object(6, "<< /Filter /Standard /V 2 /R 3 /O <00> /U <00> /P -4 >>")
    .table("/Root 1 0 R /Encrypt 6 0 R /ID [<00> <00>]")
    .bytes(),
);

add(
  {
    file: "deep-nesting.pdf",
    desc: "arrays nested 10000 deep",
    extract: { error: "nest deeper than 64 levels" },
    certificate: { error: "nest deeper than 64 levels" },
  },
  withCertificate()
    .object(6, `${"[".repeat(10_000)}${"]".repeat(10_000)}`)
    .table()
    .bytes(),
);

add(
  {
    file: "unterminated-string.pdf",
    desc: "a string that never closes",
    extract: { error: "ends inside a string" },
    certificate: { error: "ends inside a string" },
  },
  withCertificate().raw("6 0 obj\n(never closed\n%%EOF\n").bytes(),
);

{
  const complete = withCertificate().table().bytes();
  add(
    {
      file: "truncated.pdf",
      desc: "the minimal document cut in the middle of its attachment",
      extract: { error: "does not end with %%EOF" },
      certificate: { error: "does not end with %%EOF" },
    },
    complete.subarray(0, complete.indexOf("endstream") - 20),
  );
  add(
    {
      file: "trailing-garbage.pdf",
      desc: "bytes after the last %%EOF",
      extract: { error: "does not end with %%EOF" },
      certificate: { error: "does not end with %%EOF" },
    },
    Buffer.concat([complete, Buffer.from("garbage\n")]),
  );
}

add(
  {
    file: "not-utf8.pdf",
    desc: "the certificate attachment is not UTF-8",
    extract: { files: [{ name: CERTIFICATE_NAME, sha256: sha256(Buffer.from([0xff, 0xfe, 0x7b, 0x7d])) }] },
    certificate: { error: "is not UTF-8 text" },
  },
  withCertificate(embeddedFile(Buffer.from([0xff, 0xfe, 0x7b, 0x7d])))
    .table()
    .bytes(),
);

add(
  {
    file: "empty.pdf",
    desc: "zero bytes",
    extract: { error: "not a PDF" },
    certificate: { error: "not a PDF" },
  },
  new Uint8Array(0),
);

add(
  {
    file: "zip-named-pdf.pdf",
    desc: "a ZIP file (a capture package) named .pdf",
    extract: { error: "not a PDF" },
    certificate: { error: "not a PDF" },
  },
  Buffer.from("PK\x03\x04\x14\x00\x00\x00\x08\x00", "latin1"),
);

/**
 * A vector another program wrote: run it on `input` when it is installed (its output is
 * deterministic for a given version), else keep the file written before.
 */
function writtenBy(file: string, command: string, args: string[], input: Uint8Array): Uint8Array {
  const dir = mkdtempSync(join(tmpdir(), "pdf-vector-"));
  try {
    writeFileSync(join(dir, "in.pdf"), input);
    execFileSync(command, [...args, join(dir, "in.pdf"), join(dir, "out.pdf")], { stdio: "ignore" });
    return readFileSync(join(dir, "out.pdf"));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
    console.warn(`${command} is not installed: ${file} is kept as it is`);
    return readFileSync(new URL(file, OUT));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const minimal = cases.find(([c]) => c.file === "minimal.pdf")![1];
const qpdf = (file: string, desc: string, args: string[]) => {
  const bytes = writtenBy(file, "qpdf", [...args, "--deterministic-id"], minimal);
  add({ file, desc, extract: { files: [certificateFile] }, certificate: certificateFound, popplerAgrees: true }, bytes);
  return bytes;
};
qpdf(
  "qpdf-object-streams.pdf",
  "minimal.pdf rewritten by qpdf 11.3 --object-streams=generate: objects in an object stream, a PNG-predicted cross-reference stream",
  ["--object-streams=generate"],
);
const qpdfLinearized = qpdf(
  "qpdf-linearized.pdf",
  "minimal.pdf linearized by qpdf 11.3 --linearize: a first-page section ending in startxref 0, the main one at the end",
  ["--linearize"],
);
qpdf(
  "qpdf-linearized-object-streams.pdf",
  "minimal.pdf linearized by qpdf 11.3 with object streams: both sections cross-reference streams",
  ["--linearize", "--object-streams=generate"],
);
{
  // An incremental update (a new /Info) appended to a linearized file: its /L no longer
  // matches, readers read it as any updated file, from the last startxref.
  const head = Buffer.from(qpdfLinearized);
  const firstPage = Number(/startxref\s+(\d+)\s+%%EOF\s*$/.exec(head.toString("latin1"))![1]);
  const root = /\/Root (\d+) 0 R/.exec(head.toString("latin1"))![1];
  const info = head.length;
  const object = `30 0 obj\n<< /Title (updated) >>\nendobj\n`;
  const xref = info + object.length;
  const update = `${object}xref\n30 1\n${xrefEntry(info)}trailer\n<< /Size 31 /Root ${root} 0 R /Info 30 0 R /Prev ${firstPage} >>\nstartxref\n${xref}\n%%EOF\n`;
  add(
    {
      file: "linearized-updated.pdf",
      desc: "qpdf-linearized.pdf with an incremental update appended (a new /Info), as an editor saves it",
      extract: { files: [certificateFile] },
      certificate: certificateFound,
      popplerAgrees: true,
    },
    Buffer.concat([head, Buffer.from(update, "latin1")]),
  );
}

mkdirSync(OUT, { recursive: true });
for (const [c, bytes] of cases) writeFileSync(new URL(c.file, OUT), bytes);
const index = {
  source:
    "scripts/vectors/pdf-documents.ts: hand-built PDFs around the example certificate; extract is what extractEmbeddedFiles returns (files in order, or an INVALID_DOCUMENT message pattern), certificate what certificateFromPdf returns",
  cases: cases.map(([c]) => c),
};
writeFileSync(new URL("cases.json", OUT), `${JSON.stringify(index, null, 2)}\n`);
console.log(`${cases.length} cases written to ${OUT.pathname}`);
