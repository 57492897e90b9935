/**
 * The document reader's worker (service/document/document-reader-worker.ts) with the faults
 * a test asks for by a comment in the PDF's bytes: `%fault:hang` blocks the thread until it is
 * stopped, `%fault:memory` takes memory until the worker's limit stops it, `%fault:exit` ends
 * the thread. The real worker reads every other document.
 */
import { isMainThread, parentPort } from "node:worker_threads";
import type { WorkerMessage } from "../../service/serial-worker.ts";

export const FAULTY_DOCUMENT_READER = new URL(import.meta.url);

export type DocumentReaderFault = "hang" | "memory" | "exit";

/** A PDF's first bytes with the comment that asks the faulty reader for `fault`. */
export function pdfWithFault(fault: DocumentReaderFault): Uint8Array {
  return new TextEncoder().encode(`%PDF-1.7\n%fault:${fault}\n%%EOF\n`);
}

// Mocha loads every file under test/ on its main thread: only a worker sets up the faults.
if (!isMainThread) {
  parentPort!.on("message", ({ request }: WorkerMessage<Uint8Array>) => {
    const fault = /%fault:(hang|memory|exit)/.exec(Buffer.from(request).toString("latin1"))?.[1];
    if (fault === "hang") Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);
    if (fault === "memory") {
      const held: number[][] = [];
      for (;;) held.push(new Array(1_000_000).fill(held.length));
    }
    if (fault === "exit") process.exit(3);
  });
  await import("../../service/document/document-reader-worker.ts");
}
