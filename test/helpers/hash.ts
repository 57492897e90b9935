import { createHash } from "node:crypto";

/** SHA-256 as 64 lowercase hex characters (what `sha256sum` prints), computed by node:crypto independently of the core. */
export function sha256Hex(data: string | Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}
