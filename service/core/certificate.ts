import { keccak_256 } from "@noble/hashes/sha3.js";
import { concatBytes, utf8ToBytes } from "@noble/hashes/utils.js";
import { getAddress } from "ethers";
import { EvidenceError } from "./errors.ts";
import { isHex32, type Hex32 } from "./hex.ts";
import { canonicalBytes } from "./jcs.ts";
import { parseRecord, RFC3339_UTC_MS, type EvidenceRecord } from "./record.ts";

/** Certificate version 1: one record, its proof, the anchor, the issuer's signature. */
export interface Certificate {
  type: "evidence-anchor-certificate";
  version: 1;
  record: EvidenceRecord;
  leafHash: Hex32;
  proof: InclusionProofJson;
  anchor: AnchorJson;
  issuer: { address: string; name: string };
  issuedAt: string;
  signature: string;
}

export interface InclusionProofJson {
  algorithm: "rfc6962-sha256";
  leafIndex: number;
  treeSize: number;
  path: Hex32[];
  root: Hex32;
}

export interface AnchorJson {
  chainId: number;
  contract: string;
  txHash: Hex32;
  blockNumber: number;
  blockHash: Hex32;
  timestamp: number;
}

export type UnsignedCertificate = Omit<Certificate, "signature">;

/** Signs bytes with EIP-191 `personal_sign`; an ethers `Wallet` is one. */
export interface MessageSigner {
  signMessage(message: Uint8Array): Promise<string>;
}

export const CERTIFICATE_TYPE = "evidence-anchor-certificate";
/** A tree of 2^64 leaves needs at most 64 proof elements. */
export const MAX_PROOF_LENGTH = 64;
/** Certificates are a few kilobytes; anything much larger is not one. */
export const MAX_CERTIFICATE_BYTES = 256 * 1024;

const SIGNATURE = /^0x[0-9a-f]{130}$/;
const ADDRESS = /^0x[0-9a-fA-F]{40}$/;

/** The bytes the issuer signs: JCS of the certificate without `signature`. */
export function signingBytes(certificate: UnsignedCertificate | Certificate): Uint8Array {
  const { signature: _omitted, ...unsigned } = certificate as Certificate;
  return canonicalBytes(unsigned);
}

/**
 * The EIP-191 (personal_sign) digest of a message: keccak-256 of
 * "\x19Ethereum Signed Message:\n" + its length in bytes + the message. This is what the
 * issuer's key signs over {@link signingBytes}.
 */
export function personalMessageDigest(message: Uint8Array): Uint8Array {
  return keccak_256(concatBytes(utf8ToBytes(`\x19Ethereum Signed Message:\n${message.length}`), message));
}

/** Signs a certificate: EIP-191 over {@link signingBytes}. */
export async function signCertificate(unsigned: UnsignedCertificate, signer: MessageSigner): Promise<Certificate> {
  const signature = (await signer.signMessage(signingBytes(unsigned))).toLowerCase();
  return parseCertificate({ ...unsigned, signature });
}

/** The file name a certificate is saved under. */
export function certificateFileName(certificate: Pick<Certificate, "record">): string {
  return `${certificate.record.id}.evidence.json`;
}

/**
 * Parses an untrusted certificate — a JSON string or an already-parsed value — into a
 * typed certificate, or throws INVALID_JSON / INVALID_CERTIFICATE / INVALID_RECORD with
 * the reason. Everything in it is attacker-controlled, so every field is checked for
 * type, hex length and range before any of it is used; nothing else escapes.
 */
export function parseCertificate(input: unknown): Certificate {
  let value = input;
  if (typeof input === "string") {
    if (input.length > MAX_CERTIFICATE_BYTES)
      throw invalid(`certificate is larger than ${MAX_CERTIFICATE_BYTES} bytes`);
    try {
      value = JSON.parse(input);
    } catch (e) {
      throw new EvidenceError("INVALID_JSON", "certificate is not valid JSON", { cause: e });
    }
  }
  const c = object(value, "certificate");
  onlyKeys(c, "certificate", [
    "type",
    "version",
    "record",
    "leafHash",
    "proof",
    "anchor",
    "issuer",
    "issuedAt",
    "signature",
  ]);
  if (c.type !== CERTIFICATE_TYPE) throw invalid(`certificate.type must be "${CERTIFICATE_TYPE}"`);
  if (c.version !== 1) throw invalid("certificate.version must be 1");
  parseRecord(c.record);
  hex32(c.leafHash, "leafHash");

  const p = object(c.proof, "proof");
  onlyKeys(p, "proof", ["algorithm", "leafIndex", "treeSize", "path", "root"]);
  if (p.algorithm !== "rfc6962-sha256") throw invalid('proof.algorithm must be "rfc6962-sha256"');
  const treeSize = integer(p.treeSize, "proof.treeSize", 1);
  const leafIndex = integer(p.leafIndex, "proof.leafIndex", 0);
  if (leafIndex >= treeSize) throw invalid("proof.leafIndex must be less than proof.treeSize");
  if (!Array.isArray(p.path)) throw invalid("proof.path must be an array");
  if (p.path.length > MAX_PROOF_LENGTH) throw invalid(`proof.path has more than ${MAX_PROOF_LENGTH} elements`);
  p.path.forEach((h, i) => hex32(h, `proof.path[${i}]`));
  hex32(p.root, "proof.root");

  const a = object(c.anchor, "anchor");
  onlyKeys(a, "anchor", ["chainId", "contract", "txHash", "blockNumber", "blockHash", "timestamp"]);
  integer(a.chainId, "anchor.chainId", 1);
  address(a.contract, "anchor.contract");
  hex32(a.txHash, "anchor.txHash");
  integer(a.blockNumber, "anchor.blockNumber", 0);
  hex32(a.blockHash, "anchor.blockHash");
  integer(a.timestamp, "anchor.timestamp", 1);

  const issuer = object(c.issuer, "issuer");
  onlyKeys(issuer, "issuer", ["address", "name"]);
  address(issuer.address, "issuer.address");
  if (typeof issuer.name !== "string" || issuer.name.length > 256 || !issuer.name.isWellFormed()) {
    throw invalid("issuer.name must be a string of at most 256 characters");
  }
  if (typeof c.issuedAt !== "string" || !RFC3339_UTC_MS.test(c.issuedAt) || Number.isNaN(Date.parse(c.issuedAt))) {
    throw invalid("issuedAt must be RFC 3339 UTC with milliseconds");
  }
  if (typeof c.signature !== "string" || !SIGNATURE.test(c.signature)) {
    throw invalid("signature must be 0x followed by 130 lowercase hex characters");
  }
  return c as unknown as Certificate;
}

function object(value: unknown, what: string): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value))
    throw invalid(`${what} must be a JSON object`);
  return value as Record<string, unknown>;
}

function onlyKeys(o: Record<string, unknown>, what: string, keys: readonly string[]): void {
  for (const key of Object.keys(o)) {
    if (!keys.includes(key)) throw invalid(`${what} has an unknown field "${key}"`);
  }
}

function integer(value: unknown, what: string, min: number): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < min) {
    throw invalid(`${what} must be an integer >= ${min}`);
  }
  return value;
}

function hex32(value: unknown, what: string): void {
  if (!isHex32(value)) throw invalid(`${what} must be 0x followed by 64 lowercase hex characters`);
}

/** The last addresses found well formed: a batch's certificates all name the same two. */
const checkedAddresses = new Set<string>();

function address(value: unknown, what: string): void {
  if (typeof value !== "string" || !ADDRESS.test(value)) throw invalid(`${what} must be a 20-byte hex address`);
  if (checkedAddresses.has(value)) return;
  try {
    // Mixed case must be a correct EIP-55 checksum.
    getAddress(value);
  } catch (e) {
    throw new EvidenceError("INVALID_CERTIFICATE", `${what} has a wrong EIP-55 checksum`, { cause: e });
  }
  if (checkedAddresses.size >= 64) checkedAddresses.clear();
  checkedAddresses.add(value);
}

function invalid(message: string): EvidenceError {
  return new EvidenceError("INVALID_CERTIFICATE", message);
}
