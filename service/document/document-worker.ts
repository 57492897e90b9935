/** The worker thread of DocumentRenderer: lays out certificate documents off the event loop. */
import { parentPort } from "node:worker_threads";
import { parseCertificate } from "../core/index.ts";
import { renderCertificatePdf, type CertificateDocumentInput } from "./certificate-pdf.ts";

type Request = Omit<CertificateDocumentInput, "certificate" | "generatedAt"> & { id: number; generatedAt: string };

parentPort!.on("message", ({ id, generatedAt, ...input }: Request) => {
  renderCertificatePdf({
    ...input,
    certificate: parseCertificate(input.certificateJson),
    generatedAt: new Date(generatedAt),
  }).then(
    (pdf) => parentPort!.postMessage({ id, pdf }, [pdf.buffer as ArrayBuffer]),
    (e: unknown) => parentPort!.postMessage({ id, error: (e as Error).message }),
  );
});
