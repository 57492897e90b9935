import { readFileSync } from "node:fs";
import { expect } from "chai";
import { certificateOfDocument, reasonText, type DocumentOutcome } from "../../service/core/index.ts";
import { PDF_LIMITS } from "../../service/core/pdf-attachment.ts";
import { renderCertificatePdf } from "../../service/document/certificate-pdf.ts";
import { DocumentReader, type DocumentReaderOptions } from "../../service/document/document-reader.ts";
import { exampleDocumentInput } from "../helpers/certificate-document.ts";
import { FAULTY_DOCUMENT_READER, pdfWithFault } from "../helpers/faulty-document-reader.ts";
import { loadVector } from "../helpers/vectors.ts";

const cases = loadVector<{ cases: { file: string }[] }>("pdf/cases.json").cases;
const vector = (file: string) => readFileSync(new URL(`../vectors/pdf/${file}`, import.meta.url));

/** The rendered example document with `count` objects more before its last startxref: a long report with it attached. */
function padded(rendered: Uint8Array, count: number): Buffer {
  const bytes = Buffer.from(rendered);
  const tail = bytes.lastIndexOf("startxref");
  const filler = Array.from({ length: count }, (_, i) => `${100_000 + i} 0 obj null endobj\n`).join("");
  return Buffer.concat([bytes.subarray(0, tail), Buffer.from(filler), bytes.subarray(tail)]);
}

describe("DocumentReader (certificate documents given to verify, read in a real worker thread)", function () {
  const readers: DocumentReader[] = [];
  const reader = (options: DocumentReaderOptions = {}) => {
    const made = new DocumentReader(options);
    readers.push(made);
    return made;
  };
  let rendered: Uint8Array;

  before(async function () {
    rendered = await renderCertificatePdf(exampleDocumentInput());
  });

  afterEach(async () => {
    for (const r of readers.splice(0)) await r.close();
  });

  it("answers for every document of the PDF vectors, and for a rendered one, what certificateOfDocument answers on the calling thread", async () => {
    const documents = reader();
    const files: [string, Uint8Array][] = [
      ...cases.map(({ file }): [string, Uint8Array] => [file, vector(file)]),
      ["rendered", rendered],
      ["rendered, past the object limit", padded(rendered, PDF_LIMITS.objects)],
    ];
    const answers = await Promise.all(files.map(([, bytes]) => documents.read(bytes)));
    files.forEach(([name, bytes], i) => expect(answers[i], name).to.deep.equal(certificateOfDocument(bytes)));
    expect(answers.at(-2)).to.deep.equal({ certificate: exampleDocumentInput().certificateJson });
    expect(answers.at(-1)).to.deep.equal({ unsupported: `the PDF has more than ${PDF_LIMITS.objects} objects` });
  });

  it("leaves the calling thread free while it reads: work queued after a reading began is done before its answer", async () => {
    const order: string[] = [];
    const reading = reader()
      .read(padded(rendered, PDF_LIMITS.objects - 100))
      .then(() => order.push("read"));
    const elsewhere = new Promise<void>((resolve) =>
      setImmediate(() => {
        order.push("other work");
        resolve();
      }),
    );
    await Promise.all([reading, elsewhere]);
    expect(order).to.deep.equal(["other work", "read"]);
  });

  it("reads the caller's bytes without taking them: a Buffer's memory stays the caller's", async () => {
    const pool = Buffer.alloc(rendered.length + 64);
    const view = pool.subarray(32, 32 + rendered.length);
    view.set(rendered);
    expect(await reader().read(view)).to.deep.equal({ certificate: exampleDocumentInput().certificateJson });
    expect([pool.byteLength, Buffer.compare(view, rendered)]).to.deep.equal([rendered.length + 64, 0]);
  });

  const stops: [string, Parameters<typeof pdfWithFault>[0], DocumentReaderOptions, DocumentOutcome, string][] = [
    [
      "runs past its time limit",
      "hang",
      { timeoutMs: 2_000 },
      { unsupported: "the PDF could not be read within 2000 ms" },
      "未能在 2000 毫秒内读完",
    ],
    [
      "takes more memory than the worker may use",
      "memory",
      { maxHeapMb: 32 },
      { unsupported: "reading the PDF needs more memory than the reader may use" },
      "读取所需的内存超过本验证程序可用的上限",
    ],
    [
      "ends the worker",
      "exit",
      {},
      { unsupported: "the PDF's reader stopped while reading it (exit code 3)" },
      "读取时读取程序中止（退出码 3）",
    ],
  ];
  for (const [what, fault, options, outcome, zh] of stops) {
    it(`could not verify (unsupported, never INVALID) a document whose reading ${what}, and reads the next with a new worker`, async () => {
      const documents = reader({ worker: FAULTY_DOCUMENT_READER, ...options });
      const [stopped, next] = [documents.read(pdfWithFault(fault)), documents.read(rendered)];
      void next.catch(() => {});
      expect(await stopped).to.deep.equal(outcome);
      const reason = {
        code: "format.unsupported-document",
        message: (outcome as { unsupported: string }).unsupported,
      } as const;
      expect(reasonText(reason, "zh-CN")).to.equal(`该 PDF 使用了本验证程序不读取的形式：${zh}`);
      expect(await next).to.deep.equal({ certificate: exampleDocumentInput().certificateJson });
    });
  }

  it("rejects the readings it holds once closed, and any asked for after", async () => {
    const documents = reader({ worker: FAULTY_DOCUMENT_READER });
    const outcome = (reading: Promise<unknown>) =>
      reading.then(
        () => "read",
        (e: { code: string }) => e.code,
      );
    const held = outcome(documents.read(pdfWithFault("hang")));
    const waiting = outcome(documents.read(rendered));
    await documents.close();
    expect([await held, await waiting, await outcome(documents.read(rendered))]).to.deep.equal([
      "CLOSED",
      "CLOSED",
      "CLOSED",
    ]);
  });
});
