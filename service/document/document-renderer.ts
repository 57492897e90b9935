import { createHash } from "node:crypto";
import type { Logger } from "../log.ts";
import { SerialWorker, WorkerJobError } from "../serial-worker.ts";
import type { CertificateDocumentInput } from "./certificate-pdf.ts";

/**
 * Why a certificate document was not made, as a stable code the HTTP layer can branch on:
 *
 * - `BUSY`: the renderer holds as many documents as it may, in all or for the client asking.
 * - `TIMEOUT`: making it took longer than the time limit; its worker was stopped.
 * - `WORKER_FAILED`: the worker stopped (an uncaught exception, or it exited) while making it.
 * - `CLOSED`: the renderer was closed (the service is stopping).
 * - `FAILED`: the worker could not make it from this input; the message says why.
 */
export type DocumentErrorCode = "BUSY" | "TIMEOUT" | "WORKER_FAILED" | "CLOSED" | "FAILED";

export class DocumentError extends Error {
  readonly code: DocumentErrorCode;
  /** Seconds after which asking again may succeed (the HTTP Retry-After); none for `FAILED`. */
  readonly retryAfterSeconds: number | undefined;

  constructor(code: DocumentErrorCode, message: string, options?: { cause?: unknown; retryAfterSeconds?: number }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.name = "DocumentError";
    this.retryAfterSeconds = options?.retryAfterSeconds;
  }
}

/** True when `e` is a {@link DocumentError}, optionally with the given code. */
export function isDocumentError(e: unknown, code?: DocumentErrorCode): e is DocumentError {
  return e instanceof DocumentError && (code === undefined || e.code === code);
}

export interface DocumentRendererOptions {
  /** Documents held at once, the one being made included; past it a render is refused with `BUSY`. */
  capacity?: number;
  /**
   * Documents one client may have held at once (default a quarter of `capacity`): one client
   * asking for many leaves the others room.
   */
  perClient?: number;
  /** How long making one document may take, from when it is handed to the worker. */
  timeoutMs?: number;
  /** The worker's module (tests give one that can be made to hang or to die). */
  worker?: URL;
  log?: Logger;
}

/** What the worker is sent: the input, with its time as text (a Date does not cross threads as one). */
export type DocumentRequest = Omit<CertificateDocumentInput, "certificate" | "generatedAt"> & { generatedAt: string };

/** What the worker answers: the document, or why it could not make it. */
export type DocumentAnswer = { pdf: Uint8Array } | { error: string };

/**
 * Renders certificate documents in a worker thread: laying out a page with CJK fonts takes
 * about a second of CPU, which must not stall intake. The output depends only on the
 * input (its time is the certificate's issue time), so recent documents are kept, and a
 * document asked for again while it is made is made once.
 *
 * One document is made at a time, within a time limit; the others wait in a bounded queue.
 * A worker that runs past the limit is stopped, and one that dies is replaced: the document
 * it was making fails, and the next is made by a new worker, so no request waits forever.
 */
export class DocumentRenderer {
  readonly #capacity: number;
  readonly #perClient: number;
  readonly #timeoutMs: number;
  readonly #worker: SerialWorker<DocumentRequest, DocumentAnswer>;
  /** Documents being made or waiting, by the client that asked. */
  readonly #clients = new Map<string, number>();
  readonly #recent = new Map<string, Promise<Uint8Array>>();
  #closed = false;

  constructor(options: DocumentRendererOptions = {}) {
    this.#capacity = options.capacity ?? 16;
    this.#perClient = options.perClient ?? Math.max(1, Math.floor(this.#capacity / 4));
    this.#timeoutMs = options.timeoutMs ?? 30_000;
    this.#worker = new SerialWorker({
      url: options.worker ?? new URL("./document-worker.ts", import.meta.url),
      timeoutMs: this.#timeoutMs,
      task: "making the certificate document",
      name: "the document worker",
      log: options.log,
    });
  }

  /** Documents being made or waiting to be. */
  get held(): number {
    return this.#worker.held;
  }

  /**
   * The document; rejects with a {@link DocumentError} when it is not made. `client` is who
   * asks (see `clientKey`), held to `perClient` documents; a document already held is shared
   * whoever asks.
   */
  render(input: Omit<CertificateDocumentInput, "certificate">, client?: string): Promise<Uint8Array> {
    const key = createHash("sha256").update(JSON.stringify(input)).digest("hex");
    const recent = this.#recent.get(key);
    if (recent) return recent;
    if (this.#closed) return Promise.reject(closed());
    if (this.held >= this.#capacity) {
      // A document takes about a second: five seconds on, a few places are free again.
      return Promise.reject(
        new DocumentError("BUSY", `${this.held} certificate documents are being made or waiting`, {
          retryAfterSeconds: 5,
        }),
      );
    }
    if (client !== undefined && (this.#clients.get(client) ?? 0) >= this.#perClient) {
      return Promise.reject(
        new DocumentError(
          "BUSY",
          `${this.#perClient} certificate documents asked for by this address are being made or waiting`,
          {
            retryAfterSeconds: 5,
          },
        ),
      );
    }
    if (client !== undefined) this.#clients.set(client, (this.#clients.get(client) ?? 0) + 1);
    const pdf = this.#worker.run({ ...input, generatedAt: input.generatedAt.toISOString() }).then(
      (answer) => {
        if ("pdf" in answer) return answer.pdf;
        throw new DocumentError("FAILED", `the certificate document could not be made: ${answer.error}`);
      },
      (e: unknown) => {
        throw this.#documentError(e);
      },
    );
    const settled = () => {
      if (this.#recent.get(key) === pdf) this.#recent.delete(key);
    };
    pdf.catch(settled);
    if (client !== undefined) {
      const released = () => {
        const held = this.#clients.get(client)! - 1;
        if (held === 0) this.#clients.delete(client);
        else this.#clients.set(client, held);
      };
      pdf.then(released, released);
    }
    if (this.#recent.size >= 32) this.#recent.delete(this.#recent.keys().next().value as string);
    this.#recent.set(key, pdf);
    return pdf;
  }

  /** Stops the worker; documents held fail with `CLOSED`. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.#worker.close();
  }

  /** The worker's failure as the renderer's, with when asking again may succeed. */
  #documentError(e: unknown): Error {
    if (!(e instanceof WorkerJobError)) return e as Error;
    if (e.code === "CLOSED") return closed();
    // Asked again at once, a document that ran out of time on a busy machine would likely do so again.
    const retryAfterSeconds = e.code === "TIMEOUT" ? Math.ceil(this.#timeoutMs / 1000) : 5;
    return new DocumentError(e.code, e.message, { cause: e.cause, retryAfterSeconds });
  }
}

function closed(): DocumentError {
  return new DocumentError("CLOSED", "the service is stopping", { retryAfterSeconds: 2 });
}
