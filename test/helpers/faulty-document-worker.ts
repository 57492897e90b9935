/**
 * The document worker (service/document/document-worker.ts) with the faults a test asks for
 * by the record's note: `hang` blocks the thread until it is stopped, `throw` throws in the
 * message handler (an uncaught exception ends the worker), `exit` ends the thread. The real
 * worker makes every document.
 */
import { isMainThread, parentPort } from "node:worker_threads";
import type { DocumentRequest } from "../../service/document/document-renderer.ts";
import type { WorkerMessage } from "../../service/serial-worker.ts";

export const FAULTY_DOCUMENT_WORKER = new URL(import.meta.url);

export type DocumentWorkerFault = "hang" | "throw" | "exit";

// Mocha loads every file under test/ on its main thread: only a worker sets up the faults.
if (!isMainThread) {
  parentPort!.on("message", ({ request: { certificateJson } }: WorkerMessage<DocumentRequest>) => {
    const fault = /"note":\s*"(hang|throw|exit)"/.exec(certificateJson)?.[1];
    if (fault === "hang") Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);
    if (fault === "throw") throw new Error("a fault in the document worker's message handler");
    if (fault === "exit") process.exit(3);
  });
  await import("../../service/document/document-worker.ts");
}
