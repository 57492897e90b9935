/** Byte comparisons and searches the readers of untrusted files share. Isomorphic. */

/** Whether two byte arrays are equal; every byte is looked at, whatever the first difference. */
export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}

/** Where `needle` first occurs in `bytes`, or -1. */
export function indexOfBytes(bytes: Uint8Array, needle: Uint8Array): number {
  for (let at = bytes.indexOf(needle[0]!); at !== -1; at = bytes.indexOf(needle[0]!, at + 1)) {
    if (startsAt(bytes, needle, at)) return at;
  }
  return -1;
}

/** Where `needle` last occurs in `bytes`, or -1. */
export function lastIndexOfBytes(bytes: Uint8Array, needle: Uint8Array): number {
  const last = bytes.length - needle.length;
  if (last < 0) return -1;
  for (
    let at = bytes.lastIndexOf(needle[0]!, last);
    at !== -1;
    at = at === 0 ? -1 : bytes.lastIndexOf(needle[0]!, at - 1)
  ) {
    if (startsAt(bytes, needle, at)) return at;
  }
  return -1;
}

function startsAt(bytes: Uint8Array, needle: Uint8Array, at: number): boolean {
  if (at + needle.length > bytes.length) return false;
  for (let i = 1; i < needle.length; i++) if (bytes[at + i] !== needle[i]) return false;
  return true;
}
