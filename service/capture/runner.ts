import { EventEmitter } from "node:events";
import { existsSync } from "node:fs";
import {
  capturePage,
  checkRequest,
  DEFAULT_CHROMIUM,
  DEFAULT_LIMITS,
  type CaptureOptions,
  type CaptureRequest,
  type CaptureResult,
  type CaptureStage,
} from "./capture.ts";
import { CaptureError, isCaptureError } from "./errors.ts";

/**
 * Runs captures with a concurrency limit and a bounded queue. Each capture is a browser
 * process of a few hundred MB and one CPU core for seconds, so the limit is what keeps a burst
 * of submissions from taking the service down; past the queue a submission is refused at once
 * with `BUSY` and a Retry-After estimate (RFC 9110 §10.2.3), which the HTTP layer turns into
 * 429 or 503.
 */

export interface CaptureRunnerOptions {
  /** Captures at the same time; default 2. */
  concurrency?: number;
  /** Captures waiting beyond those running; default 8. */
  queueLimit?: number;
  /** What every capture is run with (the output directory comes with each submission). */
  capture: Omit<CaptureOptions, "outDir" | "signal" | "onStage">;
  /** The time of one capture assumed until one has been measured; default 15 s. */
  initialEstimateSeconds?: number;
}

export type CaptureEvent =
  | { type: "queued"; id: string; position: number }
  | { type: "capturing"; id: string }
  | { type: "stage"; id: string; stage: CaptureStage }
  | { type: "done"; id: string; result: CaptureResult }
  | { type: "failed"; id: string; error: CaptureError };

export interface CaptureJob {
  id: string;
  outDir: string;
  /** The capture's outcome; rejects with a CaptureError. Unobserved rejections are not reported as unhandled. */
  result: Promise<CaptureResult>;
  /** Drops the capture from the queue, or stops it while it runs; its result rejects with CANCELLED. */
  cancel(): void;
}

interface Pending {
  id: string;
  request: CaptureRequest;
  outDir: string;
  controller: AbortController;
  resolve: (result: CaptureResult) => void;
  reject: (error: CaptureError) => void;
}

export class CaptureRunner extends EventEmitter<{ progress: [CaptureEvent] }> {
  private readonly concurrency: number;
  private readonly queueLimit: number;
  private readonly captureOptions: CaptureRunnerOptions["capture"];
  private readonly waiting: Pending[] = [];
  private readonly active = new Map<string, Pending>();
  private readonly settled = new Set<Promise<unknown>>();
  /** Exponentially weighted mean of recent capture durations, in seconds. */
  private meanSeconds: number;
  private closed = false;

  constructor(options: CaptureRunnerOptions) {
    super();
    this.concurrency = options.concurrency ?? 2;
    this.queueLimit = options.queueLimit ?? 8;
    if (!Number.isInteger(this.concurrency) || this.concurrency < 1) throw new RangeError("concurrency must be ≥ 1");
    if (!Number.isInteger(this.queueLimit) || this.queueLimit < 0) throw new RangeError("queueLimit must be ≥ 0");
    this.captureOptions = options.capture;
    this.meanSeconds = options.initialEstimateSeconds ?? 15;
  }

  /** Captures running now. */
  get running(): number {
    return this.active.size;
  }

  /** Captures waiting for a free slot. */
  get queued(): number {
    return this.waiting.length;
  }

  /** Seconds until a slot is likely free for one more submission: the work ahead divided among the slots. */
  retryAfterSeconds(): number {
    const ahead = this.active.size + this.waiting.length;
    return Math.max(1, Math.ceil((this.meanSeconds * Math.max(ahead, 1)) / this.concurrency));
  }

  /**
   * Starts a capture, or queues it. Throws at once, before anything is queued: `URL_REFUSED`,
   * `ADDRESS_REFUSED` or `INVALID_REQUEST` for a request {@link checkRequest} refuses, `BROWSER_UNAVAILABLE` when Chromium
   * is missing, `BUSY` (with `retryAfterSeconds`) when the queue is full.
   */
  submit(request: CaptureRequest, job: { id: string; outDir: string }): CaptureJob {
    if (this.closed) throw new CaptureError("BUSY", "the capture runner is shutting down", { retryAfterSeconds: 60 });
    if (this.active.has(job.id) || this.waiting.some((p) => p.id === job.id)) {
      throw new RangeError(`a capture with id ${job.id} is already submitted`);
    }
    checkRequest(request, this.captureOptions.policy, { ...DEFAULT_LIMITS, ...this.captureOptions.limits });
    const chromium = this.captureOptions.chromiumPath ?? DEFAULT_CHROMIUM;
    if (!existsSync(chromium)) {
      throw new CaptureError("BROWSER_UNAVAILABLE", `no Chromium at ${chromium} (Debian package "chromium")`);
    }
    if (this.active.size >= this.concurrency && this.waiting.length >= this.queueLimit) {
      const retryAfterSeconds = this.retryAfterSeconds();
      throw new CaptureError("BUSY", `${this.active.size} captures running and ${this.waiting.length} waiting`, {
        retryAfterSeconds,
      });
    }
    let resolve!: (result: CaptureResult) => void;
    let reject!: (error: CaptureError) => void;
    const result = new Promise<CaptureResult>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    result.catch(() => {});
    const pending: Pending = {
      id: job.id,
      request,
      outDir: job.outDir,
      controller: new AbortController(),
      resolve,
      reject,
    };
    this.waiting.push(pending);
    if (this.active.size < this.concurrency) this.next();
    else this.emit("progress", { type: "queued", id: job.id, position: this.waiting.length });
    return {
      id: job.id,
      outDir: job.outDir,
      result,
      cancel: () => this.cancel(pending),
    };
  }

  /** Refuses new submissions, cancels the queue, stops running captures and waits for them to clean up. */
  async close(): Promise<void> {
    this.closed = true;
    for (const pending of this.waiting.splice(0))
      this.fail(pending, new CaptureError("CANCELLED", "the runner closed"));
    for (const pending of this.active.values()) pending.controller.abort();
    await Promise.allSettled([...this.settled]);
  }

  private cancel(pending: Pending): void {
    const at = this.waiting.indexOf(pending);
    if (at >= 0) {
      this.waiting.splice(at, 1);
      this.fail(pending, new CaptureError("CANCELLED", "the capture was cancelled"));
    } else pending.controller.abort();
  }

  private fail(pending: Pending, error: CaptureError): void {
    pending.reject(error);
    this.emit("progress", { type: "failed", id: pending.id, error });
  }

  private next(): void {
    while (this.active.size < this.concurrency && this.waiting.length > 0) {
      const pending = this.waiting.shift()!;
      this.active.set(pending.id, pending);
      this.emit("progress", { type: "capturing", id: pending.id });
      const started = Date.now();
      const run = capturePage(pending.request, {
        ...this.captureOptions,
        outDir: pending.outDir,
        signal: pending.controller.signal,
        onStage: (stage) => this.emit("progress", { type: "stage", id: pending.id, stage }),
      }).then(
        (result) => {
          this.meanSeconds = 0.7 * this.meanSeconds + 0.3 * ((Date.now() - started) / 1000);
          pending.resolve(result);
          this.emit("progress", { type: "done", id: pending.id, result });
        },
        (e: unknown) => {
          const error = isCaptureError(e) ? e : new CaptureError("CAPTURE_FAILED", String(e), { cause: e });
          this.fail(pending, error);
        },
      );
      const tracked = run.finally(() => {
        this.active.delete(pending.id);
        this.settled.delete(tracked);
        this.next();
      });
      this.settled.add(tracked);
    }
  }
}
