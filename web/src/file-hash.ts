import type { HashMessage, HashRequest } from "./hash-worker.ts";

/** Progress is reported every 8 MiB: often enough for a bar, rarely enough to cost nothing. */
const SLICE_BYTES = 8 * 1024 * 1024;

/** Where the service serves the worker (service/http/routes/web.ts bundles it as its own entry). */
const WORKER_URL = "/assets/hash-worker.js";

/**
 * SHA-256 of a file as 64 lowercase hex characters (the form of `contentHash`), computed in a
 * dedicated worker so that a 2 GB video neither freezes the page nor is held in memory.
 * `onProgress` gets the bytes hashed so far, after each slice.
 */
export async function hashFile(
  file: File,
  onProgress: (bytes: number) => void = () => {},
  signal?: AbortSignal,
): Promise<string> {
  return (await hashFileWithEngine(file, onProgress, signal)).digest;
}

/** The same, and which SHA-256 did the work: WebAssembly, or JavaScript where WebAssembly is not allowed. */
export function hashFileWithEngine(
  file: File,
  onProgress: (bytes: number) => void = () => {},
  signal?: AbortSignal,
): Promise<{ digest: string; engine: "wasm" | "js" }> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const worker = new Worker(WORKER_URL, { type: "module", name: "sha-256" });
    // Aborted (another file chosen): the worker stops reading at once and nothing is reported.
    const abort = () => {
      worker.terminate();
      reject(signal!.reason);
    };
    signal?.addEventListener("abort", abort, { once: true });
    const finish = () => {
      signal?.removeEventListener("abort", abort);
      worker.terminate();
    };
    worker.onmessage = (event: MessageEvent<HashMessage>) => {
      const message = event.data;
      if (message.kind === "progress") onProgress(message.bytes);
      else if (message.kind === "done") {
        finish();
        resolve({ digest: message.digest, engine: message.engine });
      } else {
        finish();
        reject(new Error(`the file could not be hashed: ${message.message}`));
      }
    };
    worker.onerror = (event) => {
      finish();
      reject(new Error(`the hashing worker failed: ${event.message || "it could not be loaded"}`));
    };
    worker.postMessage({ file, sliceBytes: SLICE_BYTES } satisfies HashRequest);
  });
}
