/**
 * A SerialWorker module whose start-up takes as long as a test says (`workerData.startMs`,
 * the thread blocked as by loading heavy modules), that says it is ready and listens unless told not to
 * (`workerData.ready: false`), and then answers each request with it doubled after
 * `workerData.jobMs`.
 */
import { isMainThread, parentPort, workerData } from "node:worker_threads";
import { WORKER_READY, type WorkerMessage, type WorkerReply } from "../../service/serial-worker.ts";

export const SLOW_START_WORKER = new URL(import.meta.url);

export interface SlowStart {
  startMs: number;
  jobMs: number;
  ready?: boolean;
}

const block = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

// Mocha loads every file under test/ on its main thread: only a worker starts.
if (!isMainThread) {
  const { startMs, jobMs, ready = true } = workerData as SlowStart;
  block(startMs);
  // One that never gets ready never listens either: a job it answered would race its start-up limit.
  if (ready) {
    parentPort!.on("message", ({ id, request }: WorkerMessage<number>) => {
      block(jobMs);
      parentPort!.postMessage({ id, answer: request * 2 } satisfies WorkerReply<number>);
    });
    parentPort!.postMessage(WORKER_READY);
  } else setInterval(() => {}, 60_000); // alive, as a worker still loading its modules is
}
