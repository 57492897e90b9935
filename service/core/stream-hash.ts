import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex } from "@noble/hashes/utils.js";

/**
 * SHA-256 and CRC-32 of bytes that arrive a chunk at a time, for files of any size: a capture
 * package's artifacts, a package given as a file. Where the runtime has Node's built-ins
 * (the service, the CLI) they are Node's own, about ten times faster than JavaScript for
 * SHA-256 (OpenSSL, with the CPU's SHA instructions) and for CRC-32 (zlib); elsewhere (the
 * web page) @noble/hashes and a table. Both give the same values, which the tests check
 * against each other.
 */
export interface StreamHash {
  update(bytes: Uint8Array): void;
  /** Lowercase hex; the hash cannot be updated after. */
  digestHex(): string;
}

interface NodeBuiltins {
  crypto?: { createHash(algorithm: "sha256"): { update(bytes: Uint8Array): unknown; digest(encoding: "hex"): string } };
  zlib?: { crc32?(bytes: Uint8Array, value?: number): number };
}

/** Node's modules, asked for at run time so that a browser bundle imports none. */
function nodeBuiltins(): NodeBuiltins {
  const load = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process?.getBuiltinModule;
  if (typeof load !== "function") return {};
  return { crypto: load("node:crypto") as NodeBuiltins["crypto"], zlib: load("node:zlib") as NodeBuiltins["zlib"] };
}

const builtins = nodeBuiltins();

/** Which implementations {@link createSha256} and {@link crc32} use here. */
export const STREAM_HASH_ENGINE: { sha256: "node" | "javascript"; crc32: "node" | "javascript" } = {
  sha256: builtins.crypto ? "node" : "javascript",
  crc32: builtins.zlib?.crc32 ? "node" : "javascript",
};

export function createSha256(engine: "node" | "javascript" = STREAM_HASH_ENGINE.sha256): StreamHash {
  if (engine === "node" && builtins.crypto) {
    const hash = builtins.crypto.createHash("sha256");
    return { update: (bytes) => void hash.update(bytes), digestHex: () => hash.digest("hex") };
  }
  const hash = sha256.create();
  return { update: (bytes) => void hash.update(bytes), digestHex: () => bytesToHex(hash.digest()) };
}

/**
 * CRC-32 as ZIP uses it (ISO 3309, reflected polynomial 0xEDB88320) of `bytes` following data
 * whose CRC-32 was `previous` (0 for none), as zlib's crc32 carries it over chunks.
 */
export function crc32(
  bytes: Uint8Array,
  previous = 0,
  engine: "node" | "javascript" = STREAM_HASH_ENGINE.crc32,
): number {
  if (engine === "node" && builtins.zlib?.crc32) return builtins.zlib.crc32(bytes, previous) >>> 0;
  const table = (CRC_TABLE ??= crcTable());
  let crc = (previous ^ 0xffffffff) >>> 0;
  for (let i = 0; i < bytes.length; i++) crc = table[(crc ^ bytes[i]!) & 0xff]! ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

let CRC_TABLE: Uint32Array | undefined;

function crcTable(): Uint32Array {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
}
