import { keccak_256 } from "@noble/hashes/sha3.js";
import { concatBytes, utf8ToBytes } from "@noble/hashes/utils.js";
import { EvidenceError } from "./errors.ts";
import { toHex32, type Hex32 } from "./hex.ts";
import { isCertificateSignature } from "./issuer-signature.ts";
import { TextKeyedCache } from "./text-cache.ts";
import { canonicalBytes } from "./jcs.ts";
import { parseJsonText } from "./json.ts";
import { MAX_CERTIFICATE_BYTES } from "./limits.ts";
import type { MerkleTree } from "./merkle.ts";
import {
  BATCH_TYPE,
  BatchStatementSchema,
  CERTIFICATE_TYPE,
  CertificateSchema,
  CertificateV2KnownBatchSchema,
  parseWith,
  type AnchorJson,
  type BatchStatement,
  type Certificate,
  type CertificateV1,
  type CertificateV2,
  type EvidenceRecord,
  type Issuer,
  type TimestampToken,
} from "./schema.ts";

export type {
  AnchorJson,
  BatchStatement,
  Certificate,
  CertificateV1,
  CertificateV2,
  Issuer,
  TimestampToken,
} from "./schema.ts";
export { BATCH_TYPE, CERTIFICATE_TYPE };

/**
 * Signs messages with EIP-191 `personal_sign` under one key. The service has two: one in
 * process and one in a worker thread (service/anchoring/signers.ts).
 */
export interface CertificateSigner {
  readonly address: string;
  /** One signature per message, in order: 0x + 130 lowercase hex characters. */
  signMessages(messages: readonly Uint8Array[]): Promise<string[]>;
}

/**
 * What every check of a certificate reads, the same for both versions (docs/protocol.md §5.3): where
 * version 1 has `proof.root`, `anchor`, `issuer`, version 2 has `batch.root`, `batch.anchor`,
 * `batch.issuer`.
 */
export interface CertificateClaims {
  version: 1 | 2;
  record: EvidenceRecord;
  leafHash: Hex32;
  leafIndex: number;
  treeSize: number;
  path: Hex32[];
  root: Hex32;
  anchor: AnchorJson;
  issuer: Issuer;
  issuedAt: string;
  timestamps: TimestampToken[];
  signature: string;
}

export function claimsOf(c: Certificate): CertificateClaims {
  if (c.version === 1) {
    return {
      version: 1,
      record: c.record,
      leafHash: c.leafHash as Hex32,
      leafIndex: c.proof.leafIndex,
      treeSize: c.proof.treeSize,
      path: c.proof.path as Hex32[],
      root: c.proof.root as Hex32,
      anchor: c.anchor,
      issuer: c.issuer,
      issuedAt: c.issuedAt,
      timestamps: c.timestamps ?? [],
      signature: c.signature,
    };
  }
  return {
    version: 2,
    record: c.record,
    leafHash: c.leafHash as Hex32,
    leafIndex: c.proof.leafIndex,
    treeSize: c.batch.treeSize,
    path: c.proof.path as Hex32[],
    root: c.batch.root as Hex32,
    anchor: c.batch.anchor,
    issuer: c.batch.issuer,
    issuedAt: c.batch.issuedAt,
    timestamps: c.batch.timestamps ?? [],
    signature: c.signature,
  };
}

/**
 * The bytes the issuer signs: version 1, JCS of the certificate without `signature`;
 * version 2, JCS of the batch statement (its `type` keeps the two kinds of signed bytes apart).
 */
export function signedBytes(c: Certificate | Omit<CertificateV1, "signature">): Uint8Array {
  if (c.version === 2) return canonicalBytes((c as CertificateV2).batch);
  const { signature: _omitted, ...unsigned } = c as CertificateV1;
  return canonicalBytes(unsigned);
}

/**
 * The EIP-191 (personal_sign) digest of a message: keccak-256 of
 * "\x19Ethereum Signed Message:\n" + its length in bytes + the message.
 */
export function personalMessageDigest(message: Uint8Array): Uint8Array {
  return keccak_256(concatBytes(utf8ToBytes(`\x19Ethereum Signed Message:\n${message.length}`), message));
}

/** One item of a batch as stored: its record and leaf hash, in tree order. */
export interface BatchLeaf {
  record: EvidenceRecord;
  leafHash: Hex32;
}

export interface BatchToCertify {
  /** The version the service issues; verifiers accept both. */
  version: 1 | 2;
  leaves: readonly BatchLeaf[];
  tree: MerkleTree;
  anchor: AnchorJson;
  issuerName: string;
  issuedAt: string;
  timestamps?: TimestampToken[];
}

/** A batch statement (certificate version 2) with its one signature: every certificate of the batch carries both. */
export interface SignedBatchStatement {
  statement: BatchStatement;
  signature: string;
}

/**
 * Builds and signs the statement of one anchored batch (certificate version 2, DESIGN §3.2):
 * one signature for the whole batch. The statement is checked against its schema once,
 * here; the certificates built from it need no further check of it.
 */
export async function signBatchStatement(
  batch: Omit<BatchToCertify, "version" | "leaves">,
  signer: CertificateSigner,
): Promise<SignedBatchStatement> {
  const statement = parseWith(
    BatchStatementSchema,
    {
      type: BATCH_TYPE,
      root: toHex32(batch.tree.root()),
      treeSize: batch.tree.size,
      anchor: batch.anchor,
      issuer: { address: signer.address, name: batch.issuerName },
      issuedAt: batch.issuedAt,
      timestamps: batch.timestamps ?? [],
    },
    "batch",
    "INVALID_CERTIFICATE",
  );
  const [signature] = await signer.signMessages([canonicalBytes(statement)]);
  // Certificates are assembled from the statement later without a parse: the one signature
  // is checked here.
  return { statement, signature: checkedSignature(signature) };
}

/** A signature from a signer, as a verifier will take it (v 27 or 28, low s); otherwise nothing is issued. */
function checkedSignature(signature: string | undefined): string {
  if (signature === undefined || !isCertificateSignature(signature))
    throw new EvidenceError("INVALID_CERTIFICATE", "the signer gave a malformed signature");
  return signature;
}

/**
 * The version 2 certificate of one leaf, from parts that were each checked where they were
 * made: the record at intake, the statement when it was signed, the proof from the tree.
 */
export function certificateOfLeaf(
  leaf: BatchLeaf,
  leafIndex: number,
  path: readonly Uint8Array[],
  signed: SignedBatchStatement,
): CertificateV2 {
  return {
    type: CERTIFICATE_TYPE,
    version: 2,
    record: leaf.record,
    leafHash: leaf.leafHash,
    proof: { algorithm: "rfc6962-sha256", leafIndex, path: path.map(toHex32) },
    batch: signed.statement,
    signature: signed.signature,
  };
}

/**
 * Builds and signs the certificates of one anchored batch, one per leaf, in tree order.
 * Version 2 signs the batch statement once (and checks it once); version 1 signs each
 * certificate, and checks each against the schema before it is returned.
 */
export async function buildCertificates(batch: BatchToCertify, signer: CertificateSigner): Promise<Certificate[]> {
  const { tree, leaves } = batch;
  if (tree.size !== leaves.length) throw new RangeError(`the tree has ${tree.size} leaves, the batch ${leaves.length}`);
  if (batch.version === 2) {
    const signed = await signBatchStatement(batch, signer);
    return leaves.map((leaf, index) => certificateOfLeaf(leaf, index, tree.inclusionProof(index), signed));
  }

  const root = toHex32(tree.root());
  const issuer = { address: signer.address, name: batch.issuerName };
  const timestamps = batch.timestamps ?? [];
  const unsigned = leaves.map((leaf, index) => ({
    type: CERTIFICATE_TYPE,
    version: 1 as const,
    record: leaf.record,
    leafHash: leaf.leafHash,
    proof: {
      algorithm: "rfc6962-sha256" as const,
      leafIndex: index,
      treeSize: tree.size,
      path: tree.inclusionProof(index).map(toHex32),
      root,
    },
    anchor: batch.anchor,
    issuer,
    issuedAt: batch.issuedAt,
    ...(timestamps.length > 0 ? { timestamps } : {}),
  }));
  const signatures = await signer.signMessages(unsigned.map((u) => canonicalBytes(u)));
  return unsigned.map((u, i) => parseCertificate({ ...u, signature: checkedSignature(signatures[i]) }));
}

/** The file name a certificate is saved under. */
export function certificateFileName(certificate: Pick<Certificate, "record">): string {
  return `${certificate.record.id}.evidence.json`;
}

/**
 * Parses an untrusted certificate — JSON text or an already-parsed value — into a typed
 * certificate of version 1 or 2, or throws INVALID_JSON / DUPLICATE_KEY /
 * INVALID_CERTIFICATE / INVALID_RECORD with the reason. Everything in it is
 * attacker-controlled, so every field is checked for type, hex length and range before
 * any of it is used.
 */
export function parseCertificate(input: unknown): Certificate {
  if (typeof input !== "string")
    return parseWith(CertificateSchema, input, "certificate", "INVALID_CERTIFICATE") as Certificate;
  if (input.length > MAX_CERTIFICATE_BYTES) {
    throw new EvidenceError("INVALID_CERTIFICATE", `certificate is larger than ${MAX_CERTIFICATE_BYTES} bytes`);
  }
  const value = parseJsonText(input, "certificate");
  // A batch's certificates carry equal statements: one checked in full need not be checked
  // again. Only for text parsed here, whose values are plain JSON data: the key is the
  // statement as JSON.stringify writes it, which for plain data is its content.
  const batch = statementOf(value);
  if (batch === undefined)
    return parseWith(CertificateSchema, value, "certificate", "INVALID_CERTIFICATE") as Certificate;
  const key = JSON.stringify(batch);
  const known = knownStatements.has(key);
  const certificate = parseWith(
    known ? CertificateV2KnownBatchSchema : CertificateSchema,
    value,
    "certificate",
    "INVALID_CERTIFICATE",
  ) as Certificate;
  if (!known) knownStatements.set(key, true);
  statementTexts.set(certificate, key);
  return certificate;
}

/**
 * The batch statement of a version 2 certificate as JSON text: equal texts mean equal
 * statements. Made once when the certificate was parsed from text here, so the verifier's
 * caches do not write the statement out again.
 */
export function statementText(certificate: CertificateV2): string {
  return statementTexts.get(certificate) ?? JSON.stringify(certificate.batch);
}

const statementTexts = new WeakMap<Certificate, string>();

/** Batch statements (as JSON text) found well formed in a certificate of version 2. */
const knownStatements = new TextKeyedCache<true>(1024, 16 * 1024 * 1024);

/** The `batch` of what claims to be a version 2 certificate, if it is an object. */
function statementOf(value: unknown): object | undefined {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return undefined;
  const { version, batch } = value as { version?: unknown; batch?: unknown };
  return version === 2 && typeof batch === "object" && batch !== null && !Array.isArray(batch) ? batch : undefined;
}
