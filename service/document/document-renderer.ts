import { createHash } from "node:crypto";
import { Worker } from "node:worker_threads";
import type { Logger } from "../log.ts";
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

/** What the worker is sent: the input, its time as text (a Date does not cross threads as one), and an id. */
export type DocumentRequest = Omit<CertificateDocumentInput, "certificate" | "generatedAt"> & {
  id: number;
  generatedAt: string;
};

/** What the worker answers: the document, or why it could not make it. */
export type DocumentAnswer = { id: number; pdf: Uint8Array } | { id: number; error: string };

interface Job {
  id: number;
  client: string | undefined;
  request: DocumentRequest;
  resolve: (pdf: Uint8Array) => void;
  reject: (e: Error) => void;
}

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
  readonly #workerUrl: URL;
  readonly #log: Logger | undefined;
  /** Started for the first document, and again after one was stopped or died. */
  #worker: Worker | undefined;
  #current: { job: Job; timer: NodeJS.Timeout } | undefined;
  readonly #queue: Job[] = [];
  readonly #recent = new Map<string, Promise<Uint8Array>>();
  #nextId = 1;
  #closed = false;

  constructor(options: DocumentRendererOptions = {}) {
    this.#capacity = options.capacity ?? 16;
    this.#perClient = options.perClient ?? Math.max(1, Math.floor(this.#capacity / 4));
    this.#timeoutMs = options.timeoutMs ?? 30_000;
    this.#workerUrl = options.worker ?? new URL("./document-worker.ts", import.meta.url);
    this.#log = options.log;
  }

  /** Documents being made or waiting to be. */
  get held(): number {
    return this.#queue.length + (this.#current ? 1 : 0);
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
    if (client !== undefined && this.#heldFor(client) >= this.#perClient) {
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
    const pdf = new Promise<Uint8Array>((resolve, reject) => {
      const id = this.#nextId++;
      this.#queue.push({
        id,
        client,
        request: { ...input, id, generatedAt: input.generatedAt.toISOString() },
        resolve,
        reject,
      });
    });
    pdf.catch(() => {
      if (this.#recent.get(key) === pdf) this.#recent.delete(key);
    });
    if (this.#recent.size >= 32) this.#recent.delete(this.#recent.keys().next().value as string);
    this.#recent.set(key, pdf);
    this.#next();
    return pdf;
  }

  #heldFor(client: string): number {
    return this.#queue.filter((job) => job.client === client).length + (this.#current?.job.client === client ? 1 : 0);
  }

  /** Stops the worker; documents held fail with `CLOSED`. */
  async close(): Promise<void> {
    this.#closed = true;
    const worker = this.#worker;
    this.#worker = undefined;
    const held = this.#queue.splice(0);
    if (this.#current) {
      clearTimeout(this.#current.timer);
      held.unshift(this.#current.job);
      this.#current = undefined;
    }
    for (const job of held) job.reject(closed());
    await worker?.terminate();
  }

  /** Hands the next waiting document to the worker, starting one if there is none. */
  #next(): void {
    if (this.#current || this.#closed) return;
    const job = this.#queue.shift();
    // An idle worker does not keep the process alive; one making a document does.
    if (!job) return void this.#worker?.unref();
    this.#worker ??= this.#start();
    this.#worker.ref();
    this.#current = { job, timer: setTimeout(() => this.#timedOut(job), this.#timeoutMs) };
    this.#worker.postMessage(job.request);
  }

  #start(): Worker {
    const worker = new Worker(this.#workerUrl);
    let error: Error | undefined;
    // A worker stopped or replaced is no longer listened to: what it says or does after is moot.
    worker.on("message", (answer: DocumentAnswer) => {
      if (worker === this.#worker) this.#answered(answer);
    });
    worker.on("error", (e) => {
      error = e;
    });
    worker.on("exit", (code) => {
      if (worker === this.#worker) this.#died(code, error);
    });
    return worker;
  }

  #answered(answer: DocumentAnswer): void {
    const current = this.#current;
    if (current?.job.id !== answer.id) return;
    clearTimeout(current.timer);
    this.#current = undefined;
    if ("pdf" in answer) current.job.resolve(answer.pdf);
    else current.job.reject(new DocumentError("FAILED", `the certificate document could not be made: ${answer.error}`));
    this.#next();
  }

  #timedOut(job: Job): void {
    const worker = this.#worker;
    this.#worker = undefined;
    this.#current = undefined;
    this.#log?.warn({ timeoutMs: this.#timeoutMs }, "a certificate document took too long; its worker was stopped");
    const limit = `${this.#timeoutMs} ms`;
    // Asked again at once, a document that ran out of time on a busy machine would likely do so again.
    const retryAfterSeconds = Math.ceil(this.#timeoutMs / 1000);
    job.reject(
      new DocumentError("TIMEOUT", `making the certificate document took longer than ${limit}`, { retryAfterSeconds }),
    );
    void worker?.terminate();
    this.#next();
  }

  /** The worker exited on its own: what it was making fails, and a new worker takes the next. */
  #died(code: number, error: Error | undefined): void {
    this.#worker = undefined;
    const current = this.#current;
    this.#current = undefined;
    this.#log?.error({ err: error, exitCode: code }, "the document worker stopped; a new one takes the next document");
    if (current) {
      clearTimeout(current.timer);
      current.job.reject(
        new DocumentError(
          "WORKER_FAILED",
          `the document worker stopped while making the certificate document (${error?.message ?? `exit code ${code}`})`,
          { cause: error, retryAfterSeconds: 5 },
        ),
      );
    }
    this.#next();
  }
}

function closed(): DocumentError {
  return new DocumentError("CLOSED", "the service is stopping", { retryAfterSeconds: 2 });
}
