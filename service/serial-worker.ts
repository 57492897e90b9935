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
  /** For `WORKER_FAILED`, what became of the worker: "exit code 3", its error's message, "it did not start within 60000 ms". */
  readonly detail: string | undefined;

  constructor(code: WorkerJobErrorCode, message: string, options?: { cause?: unknown; detail?: string }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.name = "WorkerJobError";
    this.detail = options?.detail;
  }
}

export interface SerialWorkerOptions<Request> {
  /**
   * The worker's module: once it listens, it says so with `{ ready: true }`, then answers each
   * `{ id, request }` with `{ id, answer }`.
   */
  url: URL;
  /** How long one job may take, from when the worker is ready to take it. */
  timeoutMs: number;
  /** How long a new worker may take to be ready (loading its modules; default 60 s). */
  startupTimeoutMs?: number;
  /** The memory the worker may use; past it the worker is stopped (`WORKER_FAILED`). */
  resourceLimits?: ResourceLimits;
  /** What the worker is started with (its `workerData`). */
  workerData?: unknown;
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

/** What a worker module is sent, and answers; `WORKER_READY` once it listens. */
export type WorkerMessage<T> = { id: number; request: T };
export type WorkerReply<T> = { id: number; answer: T };
export const WORKER_READY = { ready: true } as const;

interface Job<Request, Answer> {
  id: number;
  request: Request;
  resolve: (answer: Answer) => void;
  reject: (e: Error) => void;
}

/** A worker thread, whether it listens yet, and the limit on its start-up until it does. */
interface Thread {
  worker: Worker;
  ready: boolean;
  startup: NodeJS.Timeout | undefined;
}

/**
 * One worker thread doing one job at a time, in order, each within a time limit: work that
 * takes long on the CPU (laying out a document, reading one) must not stall the event loop.
 * A job's time counts from when the worker is ready for it, so that a worker's start-up
 * (bounded on its own) is never charged to the job it waits with. A worker that runs past
 * the limit is stopped, and one that dies is replaced: the job it was doing fails, and the
 * next goes to a new worker, so no job waits forever. An idle worker does not keep the
 * process alive.
 */
export class SerialWorker<Request, Answer> {
  readonly #options: SerialWorkerOptions<Request>;
  /** Started for the first job, and again after one was stopped or died. */
  #thread: Thread | undefined;
  #current: { job: Job<Request, Answer>; timer: NodeJS.Timeout | undefined } | undefined;
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
    const thread = this.#dropThread();
    const held = this.#queue.splice(0);
    const current = this.#takeCurrent();
    if (current) held.unshift(current);
    for (const job of held) job.reject(closed());
    await thread?.worker.terminate();
  }

  /** Hands the next waiting job to the worker, starting one if there is none. */
  #next(): void {
    if (this.#current || this.#closed) return;
    const job = this.#queue.shift();
    if (!job) return void this.#thread?.worker.unref();
    this.#thread ??= this.#start();
    const { worker, ready } = this.#thread;
    worker.ref();
    // A worker that is not ready yet gets the job as soon as it listens; its time starts then.
    this.#current = { job, timer: ready ? this.#jobTimer() : undefined };
    const { message, transfer } = this.#options.send?.(job.request) ?? { message: job.request, transfer: [] };
    worker.postMessage({ id: job.id, request: message } satisfies WorkerMessage<Request>, transfer);
  }

  #jobTimer(): NodeJS.Timeout {
    return setTimeout(() => this.#timedOut(), this.#options.timeoutMs);
  }

  #start(): Thread {
    const { url, resourceLimits, workerData, startupTimeoutMs = 60_000 } = this.#options;
    const worker = new Worker(url, { workerData, ...(resourceLimits ? { resourceLimits } : {}) });
    const thread: Thread = {
      worker,
      ready: false,
      startup: setTimeout(
        () => this.#stopped(thread, `it did not start within ${startupTimeoutMs} ms`),
        startupTimeoutMs,
      ),
    };
    let error: Error | undefined;
    // A worker stopped or replaced is no longer listened to: what it says or does after is moot.
    worker.on("message", (reply: WorkerReply<Answer> | typeof WORKER_READY) => {
      if (thread !== this.#thread) return;
      if ("ready" in reply) this.#ready(thread);
      else this.#answered(reply);
    });
    worker.on("error", (e) => {
      error = e;
    });
    worker.on("exit", (code) => {
      if (thread === this.#thread) this.#stopped(thread, error?.message ?? `exit code ${code}`, error);
    });
    return thread;
  }

  #ready(thread: Thread): void {
    clearTimeout(thread.startup);
    thread.startup = undefined;
    thread.ready = true;
    if (this.#current && this.#current.timer === undefined) this.#current.timer = this.#jobTimer();
  }

  #answered(reply: WorkerReply<Answer>): void {
    if (this.#current?.job.id !== reply.id) return;
    this.#takeCurrent()!.resolve(reply.answer);
    this.#next();
  }

  #timedOut(): void {
    const { timeoutMs, task, log } = this.#options;
    const thread = this.#dropThread();
    const job = this.#takeCurrent();
    log?.warn({ timeoutMs }, `${task} took too long; its worker was stopped`);
    job?.reject(new WorkerJobError("TIMEOUT", `${task} took longer than ${timeoutMs} ms`));
    void thread?.worker.terminate();
    this.#next();
  }

  /**
   * The worker exited on its own, or never got ready: the job it had fails, and a new worker
   * takes the next.
   */
  #stopped(thread: Thread, detail: string, error?: Error): void {
    const { task, name, log } = this.#options;
    if (thread !== this.#thread) return;
    this.#dropThread();
    void thread.worker.terminate();
    const job = this.#takeCurrent();
    log?.error({ err: error, detail }, `${name} stopped; a new one takes the next job`);
    job?.reject(
      new WorkerJobError("WORKER_FAILED", `${name} stopped while ${task} (${detail})`, { cause: error, detail }),
    );
    this.#next();
  }

  /** The job being done, no longer timed; none is then. */
  #takeCurrent(): Job<Request, Answer> | undefined {
    const current = this.#current;
    this.#current = undefined;
    clearTimeout(current?.timer);
    return current?.job;
  }

  /** The worker, no longer listened to or timed; none is then. */
  #dropThread(): Thread | undefined {
    const thread = this.#thread;
    this.#thread = undefined;
    clearTimeout(thread?.startup);
    return thread;
  }
}

function closed(): WorkerJobError {
  return new WorkerJobError("CLOSED", "the service is stopping");
}
