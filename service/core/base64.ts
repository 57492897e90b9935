import { EvidenceError, type EvidenceErrorCode } from "./errors.ts";

/** Standard base64 with padding (RFC 4648 §4): whole quanta, the last one padded with `=`. */
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Bytes as standard base64 with padding (RFC 4648 §4). */
export function bytesToBase64(bytes: Uint8Array): string {
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary);
}

/**
 * Standard base64 with padding (RFC 4648 §4), decoded, only in its one canonical form: the
 * bits the last character carries beyond the data are zero (RFC 4648 §3.5), so that two texts
 * never decode to the same bytes. Anything else is an EvidenceError of `code`.
 */
export function base64ToBytes(text: string, what: string, code: EvidenceErrorCode = "INVALID_ARGUMENT"): Uint8Array {
  if (typeof text !== "string" || !BASE64.test(text)) {
    throw new EvidenceError(code, `${what} is not standard base64 with padding`);
  }
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  if (bytesToBase64(bytes) !== text) {
    throw new EvidenceError(code, `${what} is not canonical base64: its last character carries bits beyond the data`);
  }
  return bytes;
}

/** Decodes the `token` field of a certificate's `timestamps` entry (docs/protocol.md §6.1). */
export function timestampTokenFromBase64(base64: string): Uint8Array {
  return base64ToBytes(base64, "timestamp token", "INVALID_TIMESTAMP");
}

/** Encodes a DER token for the `token` field of a `timestamps` entry. */
export function timestampTokenToBase64(der: Uint8Array): string {
  return bytesToBase64(der);
}
