import type { DocumentOutcome, ReadDocument } from "../core/index.ts";
import type { Logger } from "../log.ts";
import { SerialWorker, WorkerJobError } from "../serial-worker.ts";

export interface DocumentReaderOptions {
  /** How long reading one document may take (default 10 s; the reader's limits keep any under about 0.3 s). */
  timeoutMs?: number;
  /** The heap the worker may use, in MiB (default 256); past it the reading stops and the worker is replaced. */
  maxHeapMb?: number;
  /** The worker's module (tests give one that can be made to hang, or to run out of memory). */
  worker?: URL;
  log?: Logger;
}

/**
 * Reads the certificate documents (PDF) a service is given to verify, in a worker thread:
 * a document is parsed on the CPU, and one sent to the public verify route must not hold up
 * uploads, anchoring or anyone else's request while it is. One is read at a time, the others
 * wait their turn; each answer is what `certificateOfDocument` answers on the calling thread.
 *
 * A document whose reading runs past the time limit, or past the memory the worker may use,
 * could not be verified (`unsupported`, never INVALID: a reader's limit says nothing of the
 * document's truth); its worker is replaced for the next.
 */
export class DocumentReader {
  readonly #timeoutMs: number;
  readonly #worker: SerialWorker<Uint8Array, DocumentOutcome>;

  constructor(options: DocumentReaderOptions = {}) {
    this.#timeoutMs = options.timeoutMs ?? 10_000;
    this.#worker = new SerialWorker({
      url: options.worker ?? new URL("./document-reader-worker.ts", import.meta.url),
      timeoutMs: this.#timeoutMs,
      resourceLimits: { maxOldGenerationSizeMb: options.maxHeapMb ?? 256 },
      // The worker is sent its own copy of the bytes, not the memory they are a view of, and
      // only once it takes them: documents waiting their turn hold no second copy.
      send: (pdf) => {
        const bytes = new Uint8Array(pdf);
        return { message: bytes, transfer: [bytes.buffer] };
      },
      task: "reading a certificate document",
      name: "the document reader",
      log: options.log,
    });
  }

  /** What the document holds ({@link ReadDocument}); rejects only once the reader is closed. */
  readonly read: ReadDocument = async (pdf) => {
    try {
      return await this.#worker.run(pdf);
    } catch (e) {
      if (!(e instanceof WorkerJobError) || e.code === "CLOSED") throw e;
      if (e.code === "TIMEOUT") return { unsupported: `the PDF could not be read within ${this.#timeoutMs} ms` };
      const outOfMemory = (e.cause as { code?: unknown } | undefined)?.code === "ERR_WORKER_OUT_OF_MEMORY";
      return {
        unsupported: outOfMemory
          ? "reading the PDF needs more memory than the reader may use"
          : `the PDF's reader stopped while reading it (${e.detail})`,
      };
    }
  };

  /** Documents being read or waiting to be. */
  get held(): number {
    return this.#worker.held;
  }

  /** Stops the worker; readings held reject with a WorkerJobError (`CLOSED`). */
  close(): Promise<void> {
    return this.#worker.close();
  }
}
