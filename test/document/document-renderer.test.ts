import { expect } from "chai";
import { renderCertificatePdf, type CertificateDocumentInput } from "../../service/document/certificate-pdf.ts";
import {
  DocumentRenderer,
  type DocumentError,
  type DocumentRendererOptions,
} from "../../service/document/document-renderer.ts";
import { exampleDocumentInput } from "../helpers/certificate-document.ts";
import { FAULTY_DOCUMENT_WORKER, type DocumentWorkerFault } from "../helpers/faulty-document-worker.ts";

/** The example's input as the route hands it to the renderer, with a note (a fault for the faulty worker). */
function documentWithNote(note: string): Omit<CertificateDocumentInput, "certificate"> {
  const { certificate: _certificate, ...input } = exampleDocumentInput();
  const certificate = JSON.parse(input.certificateJson);
  certificate.record.note = note;
  return { ...input, certificateJson: JSON.stringify(certificate) };
}

/** How a render ended: the document's first bytes, or the error's code and Retry-After. */
async function outcome(pdf: Promise<Uint8Array>): Promise<string | [string, number | undefined]> {
  return pdf.then(
    (bytes) => Buffer.from(bytes.subarray(0, 5)).toString("latin1"),
    (e: DocumentError) => [e.code, e.retryAfterSeconds],
  );
}

describe("DocumentRenderer (certificate documents made in a real worker thread)", function () {
  const renderers: DocumentRenderer[] = [];
  const renderer = (options: DocumentRendererOptions = {}) => {
    const made = new DocumentRenderer(options);
    renderers.push(made);
    return made;
  };

  afterEach(async () => {
    for (const r of renderers.splice(0)) await r.close();
  });

  it("makes in its worker the very bytes renderCertificatePdf makes on the calling thread", async () => {
    const pdf = await renderer().render(documentWithNote("a note"));
    const { certificateJson } = documentWithNote("a note");
    const here = await renderCertificatePdf({
      ...documentWithNote("a note"),
      certificate: JSON.parse(certificateJson),
    });
    expect(Buffer.from(pdf).equals(Buffer.from(here))).to.equal(true);
  });

  it("refuses a document past its capacity with BUSY and a Retry-After, and one asked for again as it waits takes no room", async () => {
    const documents = renderer({ worker: FAULTY_DOCUMENT_WORKER, capacity: 2 });
    const hung = outcome(documents.render(documentWithNote("hang")));
    const waiting = documents.render(documentWithNote("waiting"));
    const again = documents.render(documentWithNote("waiting"));
    const refused = outcome(documents.render(documentWithNote("one too many")));

    expect(await refused).to.deep.equal(["BUSY", 5]);
    expect(again).to.equal(waiting);
    expect(documents.held).to.equal(2);
    await documents.close();
    expect([await hung, await outcome(waiting)]).to.deep.equal([
      ["CLOSED", 2],
      ["CLOSED", 2],
    ]);
  });

  it("holds one client to its share of the places, and still makes documents for another", async () => {
    const documents = renderer({ worker: FAULTY_DOCUMENT_WORKER, capacity: 8, perClient: 2 });
    const hung = outcome(documents.render(documentWithNote("hang"), "192.0.2.1"));
    const waiting = outcome(documents.render(documentWithNote("waiting"), "192.0.2.1"));
    const refused = outcome(documents.render(documentWithNote("a third"), "192.0.2.1"));
    const shared = documents.render(documentWithNote("waiting"), "192.0.2.1");
    const other = outcome(documents.render(documentWithNote("another client's"), "2001:db8::/64"));

    expect(await refused, "the third for one client").to.deep.equal(["BUSY", 5]);
    expect(documents.held, "a document already held is shared, whoever asks").to.equal(3);
    void shared.catch(() => {});
    await documents.close();
    expect([await hung, await waiting, await other]).to.deep.equal([
      ["CLOSED", 2],
      ["CLOSED", 2],
      ["CLOSED", 2],
    ]);
  });

  it("stops a document that runs past its time limit with TIMEOUT, and makes the next with a new worker", async () => {
    // Long enough for a document made by a worker that has just started, on a slow machine.
    const documents = renderer({ worker: FAULTY_DOCUMENT_WORKER, timeoutMs: 10_000 });
    const hung = outcome(documents.render(documentWithNote("hang")));
    const next = outcome(documents.render(documentWithNote("next")));
    expect(await hung).to.deep.equal(["TIMEOUT", 10]);
    expect(await next).to.equal("%PDF-");
  });

  const deaths: [DocumentWorkerFault, string][] = [
    ["throw", "throws in its message handler"],
    ["exit", "exits"],
  ];
  for (const [fault, death] of deaths) {
    it(`replaces a worker that ${death} while making a document: that one fails with WORKER_FAILED, the next is made`, async () => {
      const documents = renderer({ worker: FAULTY_DOCUMENT_WORKER });
      const failed = outcome(documents.render(documentWithNote(fault)));
      const next = outcome(documents.render(documentWithNote("next")));
      expect(await failed).to.deep.equal(["WORKER_FAILED", 5]);
      expect(await next).to.equal("%PDF-");
      // And the worker that took over makes documents asked for after it.
      expect(await outcome(documents.render(documentWithNote("later")))).to.equal("%PDF-");
    });
  }

  it("answers a certificate the worker cannot parse with FAILED, rather than dying of it", async () => {
    const documents = renderer();
    const unreadable = await documents.render({ ...documentWithNote("x"), certificateJson: "{" }).catch((e) => e);
    expect([unreadable.code, unreadable.message]).to.deep.equal([
      "FAILED",
      "the certificate document could not be made: certificate is not valid JSON",
    ]);
  });
});
