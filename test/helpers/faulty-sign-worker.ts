/**
 * The signing worker (service/anchoring/sign-worker.ts) that ends its thread when asked to
 * sign a message reading "exit", as a worker whose memory ran out would end. The real
 * worker signs everything else.
 */
import { isMainThread, parentPort } from "node:worker_threads";

export const FAULTY_SIGN_WORKER = new URL(import.meta.url);

// Mocha loads every file under test/ on its main thread: only a worker sets up the fault.
if (!isMainThread) {
  parentPort!.on("message", ({ messages }: { messages: Uint8Array[] }) => {
    if (messages.some((m) => new TextDecoder().decode(m) === "exit")) process.exit(3);
  });
  await import("../../service/anchoring/sign-worker.ts");
}
