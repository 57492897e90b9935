/** The worker thread of DocumentReader: reads certificate documents off the event loop. */
import { parentPort } from "node:worker_threads";
import { certificateOfDocument, type DocumentOutcome } from "../core/verify/verify-evidence.ts";
import { WORKER_READY, type WorkerMessage, type WorkerReply } from "../serial-worker.ts";

parentPort!.on("message", ({ id, request }: WorkerMessage<Uint8Array>) => {
  parentPort!.postMessage({ id, answer: certificateOfDocument(request) } satisfies WorkerReply<DocumentOutcome>);
});
parentPort!.postMessage(WORKER_READY);
