/**
 * A dedicated worker that hashes one File with SHA-256, slice by slice, and posts its
 * progress: the page's thread stays free, and memory stays at two slices however large the
 * file. The hash is hash-wasm's WebAssembly SHA-256 (about 4× @noble/hashes in V8); if
 * WebAssembly cannot be compiled here (a policy without 'wasm-unsafe-eval', an old browser),
 * @noble/hashes does the same work in JavaScript. WebCrypto's digest() cannot stream: it
 * takes the whole file as one buffer.
 */
import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex } from "@noble/hashes/utils.js";
import { createSHA256 } from "hash-wasm";

/** What the page posts: the file, and how many bytes to read at a time. */
export interface HashRequest {
  file: File;
  sliceBytes: number;
}

/** What the worker posts back: progress after each slice, then the digest, or why it failed. */
export type HashMessage =
  | { kind: "progress"; bytes: number }
  | { kind: "done"; digest: string; engine: "wasm" | "js" }
  | { kind: "failed"; message: string };

interface Hasher {
  update(data: Uint8Array): unknown;
  digest(): string;
}

async function hasher(): Promise<{ hash: Hasher; engine: "wasm" | "js" }> {
  try {
    const wasm = await createSHA256();
    wasm.init();
    return { hash: { update: (d) => wasm.update(d), digest: () => wasm.digest("hex") }, engine: "wasm" };
  } catch {
    const js = sha256.create();
    return { hash: { update: (d) => js.update(d), digest: () => bytesToHex(js.digest()) }, engine: "js" };
  }
}

/** The worker's global scope, as far as it is used here (the DOM library has no worker types). */
const scope = self as unknown as {
  onmessage: ((event: MessageEvent<HashRequest>) => void) | null;
  postMessage(message: HashMessage): void;
};

scope.onmessage = async (event) => {
  const { file, sliceBytes } = event.data;
  const post = (message: HashMessage) => scope.postMessage(message);
  try {
    const { hash, engine } = await hasher();
    const read = (offset: number) => file.slice(offset, Math.min(file.size, offset + sliceBytes)).arrayBuffer();
    // The next slice is read while this one is hashed.
    let next = file.size > 0 ? read(0) : undefined;
    for (let offset = 0; next;) {
      const slice = new Uint8Array(await next);
      offset += slice.length;
      next = offset < file.size ? read(offset) : undefined;
      hash.update(slice);
      post({ kind: "progress", bytes: offset });
    }
    post({ kind: "done", digest: hash.digest(), engine });
  } catch (e) {
    post({ kind: "failed", message: e instanceof Error ? e.message : String(e) });
  }
};
