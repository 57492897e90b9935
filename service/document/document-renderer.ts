import { createHash } from "node:crypto";
import { Worker } from "node:worker_threads";
import type { CertificateDocumentInput } from "./certificate-pdf.ts";

/**
 * Renders certificate documents in a worker thread: laying out a page with CJK fonts takes
 * about a second of CPU, which must not stall intake. The output depends only on the
 * input (its time is the certificate's issue time), so recent documents are kept.
 */
export class DocumentRenderer {
  readonly #worker: Worker;
  readonly #waiting = new Map<number, { resolve: (pdf: Uint8Array) => void; reject: (e: Error) => void }>();
  readonly #recent = new Map<string, Promise<Uint8Array>>();
  #nextId = 1;

  constructor() {
    this.#worker = new Worker(new URL("./document-worker.ts", import.meta.url));
    this.#worker.unref();
    this.#worker.on("message", ({ id, pdf, error }: { id: number; pdf?: Uint8Array; error?: string }) => {
      const waiting = this.#waiting.get(id);
      this.#waiting.delete(id);
      if (pdf) waiting?.resolve(pdf);
      else waiting?.reject(new Error(`the certificate document could not be made: ${error}`));
    });
    this.#worker.on("error", (e) => {
      for (const w of this.#waiting.values()) w.reject(e);
      this.#waiting.clear();
    });
  }

  render(input: Omit<CertificateDocumentInput, "certificate">): Promise<Uint8Array> {
    const key = createHash("sha256").update(JSON.stringify(input)).digest("hex");
    let pdf = this.#recent.get(key);
    if (!pdf) {
      const id = this.#nextId++;
      pdf = new Promise<Uint8Array>((resolve, reject) => {
        this.#waiting.set(id, { resolve, reject });
        this.#worker.postMessage({ ...input, id, generatedAt: input.generatedAt.toISOString() });
      });
      pdf.catch(() => this.#recent.delete(key));
      if (this.#recent.size >= 32) this.#recent.delete(this.#recent.keys().next().value as string);
      this.#recent.set(key, pdf);
    }
    return pdf;
  }

  async close(): Promise<void> {
    await this.#worker.terminate();
  }
}
