import { bytesToHex, hexToBytes } from "@noble/hashes/utils.js";
import { EvidenceError } from "./errors.ts";

/** `0x`-prefixed lowercase hex of exactly 32 bytes: roots, leaf hashes, proof nodes, tx hashes. */
export type Hex32 = `0x${string}`;

const HEX32 = /^0x[0-9a-f]{64}$/;

export function isHex32(value: unknown): value is Hex32 {
  return typeof value === "string" && HEX32.test(value);
}

export function toHex32(bytes: Uint8Array): Hex32 {
  if (bytes.length !== 32) {
    throw new RangeError(`expected Uint8Array of length 32, got length=${bytes.length}`);
  }
  return `0x${bytesToHex(bytes)}`;
}

/** Parses `0x` + 64 lowercase hex chars; anything else is an INVALID_HEX error. */
export function fromHex32(value: string, what = "value"): Uint8Array {
  if (!isHex32(value)) {
    throw new EvidenceError("INVALID_HEX", `${what} must be 0x followed by 64 lowercase hex characters`);
  }
  return hexToBytes(value.slice(2));
}

export { bytesToHex, hexToBytes };
