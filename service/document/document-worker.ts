/** The worker thread of DocumentRenderer: lays out certificate documents off the event loop. */
import { parentPort } from "node:worker_threads";
import { parseCertificate } from "../core/index.ts";
import { renderCertificatePdf } from "./certificate-pdf.ts";
import type { DocumentAnswer, DocumentRequest } from "./document-renderer.ts";

// Parsed inside the async function: a certificate that does not parse is answered as an
// error, where a throw in this handler would end the worker.
async function render({ id: _id, generatedAt, ...input }: DocumentRequest): Promise<Uint8Array> {
  return renderCertificatePdf({
    ...input,
    certificate: parseCertificate(input.certificateJson),
    generatedAt: new Date(generatedAt),
  });
}

parentPort!.on("message", (request: DocumentRequest) => {
  const answer = (message: DocumentAnswer, transfer: ArrayBuffer[] = []) => parentPort!.postMessage(message, transfer);
  render(request).then(
    (pdf) => answer({ id: request.id, pdf }, [pdf.buffer as ArrayBuffer]),
    (e: unknown) => answer({ id: request.id, error: (e as Error).message }),
  );
});
