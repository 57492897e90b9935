import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex } from "@noble/hashes/utils.js";

/**
 * SHA-256 of a stream as 64 lowercase hex characters (the form of `contentHash`),
 * chunk by chunk: a 2 GB video is hashed without ever being held in memory. In the
 * browser, `file.stream()` is the source; `onProgress` gets the bytes hashed so far.
 */
export async function sha256Stream(
  stream: ReadableStream<Uint8Array>,
  onProgress?: (bytesHashed: number) => void,
): Promise<string> {
  const hash = sha256.create();
  const reader = stream.getReader();
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    hash.update(value);
    total += value.length;
    onProgress?.(total);
  }
  return bytesToHex(hash.digest());
}
