/** The worker thread of DocumentRenderer: lays out certificate documents off the event loop. */
import { parentPort } from "node:worker_threads";
import { parseCertificate } from "../core/index.ts";
import { renderCertificatePdf } from "./certificate-pdf.ts";
import { WORKER_READY, type WorkerMessage, type WorkerReply } from "../serial-worker.ts";
import type { DocumentAnswer, DocumentRequest } from "./document-renderer.ts";

// Parsed inside the async function: a certificate that does not parse is answered as an
// error, where a throw in this handler would end the worker.
async function render({ generatedAt, ...input }: DocumentRequest): Promise<Uint8Array> {
  return renderCertificatePdf({
    ...input,
    certificate: parseCertificate(input.certificateJson),
    generatedAt: new Date(generatedAt),
  });
}

parentPort!.on("message", ({ id, request }: WorkerMessage<DocumentRequest>) => {
  const reply = (answer: DocumentAnswer, transfer: ArrayBuffer[] = []) =>
    parentPort!.postMessage({ id, answer } satisfies WorkerReply<DocumentAnswer>, transfer);
  render(request).then(
    (pdf) => reply({ pdf }, [pdf.buffer as ArrayBuffer]),
    (e: unknown) => reply({ error: (e as Error).message }),
  );
});
parentPort!.postMessage(WORKER_READY);
