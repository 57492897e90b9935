import { invert } from "@noble/curves/abstract/modular";
import { secp256k1 } from "@noble/curves/secp256k1";
import { keccak_256 } from "@noble/hashes/sha3.js";
import { bytesToHex, hexToBytes, utf8ToBytes } from "@noble/hashes/utils.js";
import { recall, remember } from "./recently-used.ts";

/**
 * The issuer's EIP-191 signature, recovered without ethers: the verifier needs only this,
 * and ethers is most of a cold start of `evidence verify`. The rules are ethers 6's
 * (`recoverAddress`), so both accept and refuse the same signatures:
 * - 65 bytes r ‖ s ‖ v; v is 27 or 28 (0 or 1 too; 35 and up as EIP-155, odd meaning 27);
 * - s with its top bit set is refused (EIP-2 low-s keeps it clear; ethers refuses it);
 * - r and s in [1, n - 1], and the point R must exist (SEC 1 §4.1.6, public key recovery).
 * test/core/issuer-signature.test.ts holds the two to agreement.
 */

/** A certificate's signature as the format allows it: 65 bytes in lowercase hex, v 27 or 28 (DESIGN §3). */
export const CERTIFICATE_SIGNATURE = /^0x[0-9a-f]{128}(1b|1c)$/;

/** Half the order of secp256k1: a signature's s above it is the malleable twin of one below (EIP-2). */
const HALF_ORDER = 0x7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0n;

/** Whether s (bytes 32–63) is in the lower half of the curve order: one signature per signed content. */
export function hasLowS(signature: string): boolean {
  return BigInt(`0x${signature.slice(66, 130)}`) <= HALF_ORDER;
}

/** The only signature a certificate may carry: its format, and s in the lower half. */
export function isCertificateSignature(signature: string): boolean {
  return CERTIFICATE_SIGNATURE.test(signature) && hasLowS(signature);
}

/**
 * For a process that checks one signature or a few (a single `evidence verify`, the
 * verification page): the base point's multiplication table with 4-bit windows instead of
 * 8. The default table is built at the first multiplication and took 50 ms of a single
 * `evidence verify`, more than the rest of the signature check; the small one takes about
 * 10 ms, and a recovery with it costs the same (its other multiplication, by the signature's
 * own point, has no table). Processes that check or make many signatures keep the default.
 */
export function sizeBaseTableForFewSignatures(): void {
  secp256k1.ProjectivePoint.BASE.precompute(4);
}

/** The address (EIP-55 checksummed) whose key made `signature` over the 32-byte `digest`; throws if none did. */
export function recoverSignerAddress(digest: Uint8Array, signature: string): string {
  return recoverSigner(digest, signature).address;
}

export type Point = InstanceType<typeof secp256k1.ProjectivePoint>;

/** 65 bytes of hex, in either case: every form recovery reads (it judges v and s itself). */
const SIGNATURE_HEX = /^0x[0-9a-fA-F]{130}$/;

function recoverSigner(digest: Uint8Array, signature: string): { address: string; key: Point } {
  if (!SIGNATURE_HEX.test(signature)) throw new Error("a signature is 65 bytes of hex");
  const bytes = hexToBytes(signature.slice(2));
  if ((bytes[32]! & 0x80) !== 0) throw new Error("non-canonical s");
  const recovery = recoveryBit(bytes[64]!);
  const key = secp256k1.Signature.fromCompact(bytes.subarray(0, 64)).addRecoveryBit(recovery).recoverPublicKey(digest);
  // The address is the last 20 bytes of keccak-256 of the uncompressed key without its 0x04 prefix.
  const address = keccak_256(key.toRawBytes(false).subarray(1)).subarray(12);
  return { address: checksumAddress(`0x${bytesToHex(address)}`), key };
}

/**
 * Issuers' public keys, by lower-case address, once a second signature of theirs was
 * recovered: each key gets a precomputed multiplication table (about 0.2 MB, and as long to
 * build as ten checks), which pays when many signatures of an issuer are checked, and not
 * for one. A verifier meets few issuers: at most `KNOWN_KEYS` are kept, the least recently
 * used forgotten first (and learned again at its next two recoveries).
 */
const knownKeys = new Map<string, { address: string; key: Point }>();
const recoveredOnce = new Set<string>();
const KNOWN_KEYS = 16;
const N = secp256k1.CURVE.n;

/**
 * The address whose key made `signature` over `digest`, as `recoverSignerAddress` answers,
 * answered faster when `expected` is an issuer whose key earlier recoveries learned.
 *
 * With the key Q known, the signature is checked by computing R = u1·G + u2·Q
 * (u1 = e/s, u2 = r/s), two multiplications by fixed points with precomputed tables, about
 * three times the speed of recovering Q. This accepts exactly when recovery would give Q:
 * recovery takes the point R' with x = r and the y parity of v, and gives
 * Q' = (s·R' − e·G)/r; Q' = Q exactly when R' = R, that is when R has x = r and that parity.
 * Anything else (another signer, a malformed signature) is answered by recovery itself.
 */
export function signerAddress(digest: Uint8Array, signature: string, expected: string): string {
  const issuer = expected.toLowerCase();
  const known = knownKeys.get(issuer);
  if (known && madeBy(known.key, digest, signature)) {
    recall(knownKeys, issuer); // used now: the issuer used longest ago is forgotten first
    return known.address;
  }
  const signer = recoverSigner(digest, signature);
  if (signer.address.toLowerCase() === issuer && !known) {
    if (recoveredOnce.delete(issuer)) learn(signer.address, signer.key);
    else {
      if (recoveredOnce.size >= 1024) recoveredOnce.clear();
      recoveredOnce.add(issuer);
    }
  }
  return signer.address;
}

function learn(address: string, key: Point): void {
  const table = secp256k1.ProjectivePoint.fromAffine(key.toAffine());
  table.precompute(8, false);
  remember(knownKeys, address.toLowerCase(), { address, key: table }, KNOWN_KEYS);
}

/**
 * Whether `signature` (in any form recovery accepts) over `digest` is one of `key`'s: true only
 * when recovery would give `key`; false when not, or when unsure. Exported for its tests.
 */
export function madeBy(key: Point, digest: Uint8Array, signature: string): boolean {
  if (!SIGNATURE_HEX.test(signature) || digest.length !== 32) return false;
  const r = BigInt(`0x${signature.slice(2, 66)}`);
  const s = BigInt(`0x${signature.slice(66, 130)}`);
  const v = Number.parseInt(signature.slice(130), 16);
  if (r < 1n || r >= N || s < 1n || s > HALF_ORDER) return false;
  let parity: 0 | 1;
  try {
    parity = recoveryBit(v);
  } catch {
    return false;
  }
  const e = BigInt(`0x${bytesToHex(digest)}`) % N;
  const w = invert(s, N);
  const u1 = (e * w) % N;
  const u2 = (r * w) % N;
  const G = secp256k1.ProjectivePoint.BASE;
  const R = (u1 === 0n ? secp256k1.ProjectivePoint.ZERO : G.multiply(u1)).add(key.multiply(u2));
  if (R.is0()) return false;
  const { x, y } = R.toAffine();
  return x === r && Number(y & 1n) === parity;
}

function recoveryBit(v: number): 0 | 1 {
  if (v === 0 || v === 27) return 0;
  if (v === 1 || v === 28) return 1;
  if (v < 35) throw new Error(`invalid v ${v}`);
  return v % 2 === 1 ? 0 : 1;
}

/** EIP-55: a hex letter is upper case where the nibble of keccak-256(lowercase address) at its place is 8 or more. */
export function checksumAddress(address: string): string {
  const lower = address.slice(2).toLowerCase();
  const hash = keccak_256(utf8ToBytes(lower));
  let out = "0x";
  for (let i = 0; i < 40; i++) {
    const nibble = i % 2 === 0 ? hash[i >> 1]! >> 4 : hash[i >> 1]! & 0x0f;
    out += nibble >= 8 ? lower[i]!.toUpperCase() : lower[i]!;
  }
  return out;
}

/**
 * Whether a 0x-prefixed 20-byte hex address is acceptable as ethers' `getAddress` accepts it:
 * all lower case, all upper case, or mixed case with a correct EIP-55 checksum.
 */
export function isChecksumValid(address: string): boolean {
  const hex = address.slice(2);
  if (!/[a-f].*[A-F]|[A-F].*[a-f]/.test(hex)) return true;
  return checksumAddress(address) === address;
}
