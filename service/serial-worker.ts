import { Worker, type ResourceLimits, type Transferable } from "node:worker_threads";
import type { Logger } from "./log.ts";

/**
 * Why a job got no answer from its worker:
 *
 * - `TIMEOUT`: it ran past the time limit; its worker was stopped.
 * - `WORKER_FAILED`: the worker stopped while doing it (an uncaught exception, running out of
 *   the memory it may use, or an exit).
 * - `CLOSED`: the worker was closed (the service is stopping).
 */
export type WorkerJobErrorCode = "TIMEOUT" | "WORKER_FAILED" | "CLOSED";

export class WorkerJobError extends Error {
  readonly code: WorkerJobErrorCode;

  constructor(code: WorkerJobErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = "WorkerJobError";
  }
}

export interface SerialWorkerOptions<Request> {
  /** The worker's module: it answers each `{ id, request }` with `{ id, answer }`. */
  url: URL;
  /** How long one job may take, from when it is handed to the worker. */
  timeoutMs: number;
  /** The memory the worker may use; past it the worker is stopped (`WORKER_FAILED`). */
  resourceLimits?: ResourceLimits;
  /** The job, as errors and the log name it: "making the certificate document". */
  task: string;
  /** The worker, as errors and the log name it: "the document worker". */
  name: string;
  /**
   * What is posted for a request, and what of it is transferred, made as the job is handed to
   * the worker, not while it waits (a copy made then is held by one job at a time). By default
   * the request itself, cloned.
   */
  send?: (request: Request) => { message: Request; transfer: Transferable[] };
  log?: Logger | undefined;
}

/** What a worker module is sent, and answers. */
export type WorkerMessage<T> = { id: number; request: T };
export type WorkerReply<T> = { id: number; answer: T };

interface Job<Request, Answer> {
  id: number;
  request: Request;
  resolve: (answer: Answer) => void;
  reject: (e: Error) => void;
}

/**
 * One worker thread doing one job at a time, in order, each within a time limit: work that
 * takes long on the CPU (laying out a document, reading one) must not stall the event loop.
 * A worker that runs past the limit is stopped, and one that dies is replaced: the job it was
 * doing fails, and the next goes to a new worker, so no job waits forever. An idle worker
 * does not keep the process alive.
 */
export class SerialWorker<Request, Answer> {
  readonly #options: SerialWorkerOptions<Request>;
  /** Started for the first job, and again after one was stopped or died. */
  #worker: Worker | undefined;
  #current: { job: Job<Request, Answer>; timer: NodeJS.Timeout } | undefined;
  readonly #queue: Job<Request, Answer>[] = [];
  #nextId = 1;
  #closed = false;

  constructor(options: SerialWorkerOptions<Request>) {
    this.#options = options;
  }

  /** Jobs being done or waiting to be. */
  get held(): number {
    return this.#queue.length + (this.#current ? 1 : 0);
  }

  /** The worker's answer to `request`; rejects with a {@link WorkerJobError} when there is none. */
  run(request: Request): Promise<Answer> {
    if (this.#closed) return Promise.reject(closed());
    return new Promise<Answer>((resolve, reject) => {
      this.#queue.push({ id: this.#nextId++, request, resolve, reject });
      this.#next();
    });
  }

  /** Stops the worker; jobs held fail with `CLOSED`. */
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

  /** Hands the next waiting job to the worker, starting one if there is none. */
  #next(): void {
    if (this.#current || this.#closed) return;
    const job = this.#queue.shift();
    if (!job) return void this.#worker?.unref();
    this.#worker ??= this.#start();
    this.#worker.ref();
    this.#current = { job, timer: setTimeout(() => this.#timedOut(), this.#options.timeoutMs) };
    const { message, transfer } = this.#options.send?.(job.request) ?? { message: job.request, transfer: [] };
    this.#worker.postMessage({ id: job.id, request: message } satisfies WorkerMessage<Request>, transfer);
  }

  #start(): Worker {
    const { url, resourceLimits } = this.#options;
    const worker = new Worker(url, resourceLimits ? { resourceLimits } : {});
    let error: Error | undefined;
    // A worker stopped or replaced is no longer listened to: what it says or does after is moot.
    worker.on("message", (reply: WorkerReply<Answer>) => {
      if (worker === this.#worker) this.#answered(reply);
    });
    worker.on("error", (e) => {
      error = e;
    });
    worker.on("exit", (code) => {
      if (worker === this.#worker) this.#died(code, error);
    });
    return worker;
  }

  #answered(reply: WorkerReply<Answer>): void {
    const current = this.#current;
    if (current?.job.id !== reply.id) return;
    clearTimeout(current.timer);
    this.#current = undefined;
    current.job.resolve(reply.answer);
    this.#next();
  }

  #timedOut(): void {
    const { timeoutMs, task, log } = this.#options;
    const worker = this.#worker;
    const job = this.#current?.job;
    this.#worker = undefined;
    this.#current = undefined;
    log?.warn({ timeoutMs }, `${task} took too long; its worker was stopped`);
    job?.reject(new WorkerJobError("TIMEOUT", `${task} took longer than ${timeoutMs} ms`));
    void worker?.terminate();
    this.#next();
  }

  /** The worker exited on its own: the job it was doing fails, and a new worker takes the next. */
  #died(code: number, error: Error | undefined): void {
    const { task, name, log } = this.#options;
    this.#worker = undefined;
    const current = this.#current;
    this.#current = undefined;
    log?.error({ err: error, exitCode: code }, `${name} stopped; a new one takes the next job`);
    if (current) {
      clearTimeout(current.timer);
      current.job.reject(
        new WorkerJobError(
          "WORKER_FAILED",
          `${name} stopped while ${task} (${error?.message ?? `exit code ${code}`})`,
          { cause: error },
        ),
      );
    }
    this.#next();
  }
}

function closed(): WorkerJobError {
  return new WorkerJobError("CLOSED", "the service is stopping");
}
