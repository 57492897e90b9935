import * as v from "valibot";
import { EvidenceError, type EvidenceErrorCode } from "./errors.ts";
import { CERTIFICATE_SIGNATURE, isChecksumValid } from "./issuer-signature.ts";
import {
  MAX_ISSUER_NAME,
  MAX_PROOF_LENGTH,
  MAX_TIMESTAMP_TOKEN_CHARS,
  MAX_TIMESTAMP_TOKENS,
  TEXT_LIMITS,
} from "./limits.ts";

/**
 * The schemas of the formats other software depends on (docs/protocol.md): the evidence
 * record, certificates version 1 and 2, and the batch statement. Their TypeScript types
 * are inferred from them, so a field cannot be declared in one place and checked in
 * another. `docs/schema/` holds the same formats as JSON Schema for outside verifiers.
 *
 * Each schema's messages complete a sentence that starts with the field's path, e.g.
 * "proof.root must be 0x followed by 64 lowercase hex characters".
 */

// --- patterns ----------------------------------------------------------------------

/** `0x` + 32 bytes in lowercase hex: roots, leaf hashes, proof nodes, transaction and block hashes. */
export const HEX32 = /^0x[0-9a-f]{64}$/;
/** SHA-256 of a file, as `sha256sum` prints it. */
export const CONTENT_HASH = /^[0-9a-f]{64}$/;
/** A content hash as people type or paste it: either case. */
export const CONTENT_HASH_INPUT = /^[0-9a-fA-F]{64}$/;

/**
 * A SHA-256 as people paste it: the 64 hex characters alone, with 0x before them, or the line
 * `sha256sum` (or `evidence hash`) prints, whose file name is ignored. Lower-case hex, or
 * undefined when it is none of these.
 */
export function typedDigest(typed: string): string | undefined {
  // One line: several (sha256sum of many files) leave it unclear which file is meant.
  if (typed.trim().includes("\n")) return undefined;
  const first = typed.trim().replace(/^\\/, "").split(/\s+/)[0]!.replace(/^0x/i, "");
  return CONTENT_HASH_INPUT.test(first) ? first.toLowerCase() : undefined;
}
/** base64url of at least 12 bytes (96 bits) and at most 64 bytes. */
export const EVIDENCE_ID = /^[A-Za-z0-9_-]{16,86}$/;
/** RFC 3339 in UTC with milliseconds, the form of `submittedAt` and `issuedAt`. */
export const RFC3339_UTC_MS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const SALT = /^[0-9a-f]{32}$/;
const SUBMITTER = /^[A-Za-z0-9_.:@-]{1,128}$/;
const ADDRESS = /^0x[0-9a-fA-F]{40}$/;
/** r ‖ s ‖ v, with v 27 or 28 as personal_sign writes it (0x1b, 0x1c). */
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

// --- building blocks -----------------------------------------------------------------

const HEX32_TEXT = "must be 0x followed by 64 lowercase hex characters";

const hex32 = v.pipe(v.string(HEX32_TEXT), v.regex(HEX32, HEX32_TEXT));
/**
 * Text of at most `max` characters, counted as Unicode code points (what JSON Schema's
 * maxLength counts, so the published schemas agree), and well-formed Unicode.
 */
/** Text of at most `max` code points (docs/protocol.md §2): JSON Schema's maxLength, which the exported schemas state. */
const text = (max: number) =>
  v.pipe(
    v.string("must be a string"),
    v.check((s) => s.length <= max || codePoints(s) <= max, `is longer than ${max} characters`),
    v.check((s) => s.isWellFormed(), "is not valid Unicode"),
    v.metadata({ maxCodePoints: max }),
  );

function codePoints(s: string): number {
  let n = 0;
  for (const _ of s) n++;
  return n;
}
const integer = (min: number) =>
  v.pipe(
    v.number(`must be an integer >= ${min}`),
    v.safeInteger(`must be an integer >= ${min}`),
    v.minValue(min, `must be an integer >= ${min}`),
  );
const utcMillis = v.pipe(
  v.string("must be RFC 3339 UTC with milliseconds"),
  v.regex(RFC3339_UTC_MS, "must be RFC 3339 UTC with milliseconds"),
  v.check((s) => isRealTime(s), "is not a real date and time"),
);

/** The last addresses found well formed: a batch's certificates all name the same two. */
const checkedAddresses = new Set<string>();

/** A 20-byte address; mixed case must be a correct EIP-55 checksum. */
const address = v.pipe(
  v.string("must be a 20-byte hex address"),
  v.regex(ADDRESS, "must be a 20-byte hex address"),
  v.check(hasValidChecksum, "has a wrong EIP-55 checksum"),
);

function hasValidChecksum(value: string): boolean {
  if (checkedAddresses.has(value)) return true;
  if (!isChecksumValid(value)) return false;
  if (checkedAddresses.size >= 64) checkedAddresses.clear();
  checkedAddresses.add(value);
  return true;
}

/** An RFC 3339 UTC time with milliseconds that names a real instant (no 31 February). */
export function isRealTime(value: string): boolean {
  const ms = Date.parse(value);
  return !Number.isNaN(ms) && new Date(ms).toISOString() === value;
}

// --- the evidence record (hash construction version 1) ---------------------------------

/** Arrays and null are not objects, whatever `typeof` says. */
const jsonObject = v.custom<Record<string, unknown>>(
  (value) => typeof value === "object" && value !== null && !Array.isArray(value),
  "must be a JSON object",
);

export const RecordSchema = v.pipe(
  jsonObject,
  v.strictObject({
    v: v.literal(1, "must be the integer 1"),
    /** URL-safe, unique, unguessable: holding it is what lets one read the certificate. */
    id: v.pipe(
      v.string("must be 16 to 86 base64url characters"),
      v.regex(EVIDENCE_ID, "must be 16 to 86 base64url characters"),
    ),
    /** SHA-256 of the file's bytes, 64 lowercase hex chars, as `sha256sum` prints it. */
    contentHash: v.pipe(
      v.string("must be 64 lowercase hex characters"),
      v.regex(CONTENT_HASH, "must be 64 lowercase hex characters"),
    ),
    /** Account id of the submitter. */
    submitter: v.pipe(
      v.string("must be 1 to 128 characters of A-Z a-z 0-9 _ . : @ -"),
      v.regex(SUBMITTER, "must be 1 to 128 characters of A-Z a-z 0-9 _ . : @ -"),
    ),
    /** Service receipt time. */
    submittedAt: utcMillis,
    /** 128 random bits: hides the record from anyone who only holds a sibling hash. */
    salt: v.pipe(v.string("must be 32 lowercase hex characters"), v.regex(SALT, "must be 32 lowercase hex characters")),
    size: v.optional(integer(0)),
    fileName: v.optional(text(TEXT_LIMITS.fileName)),
    mediaType: v.optional(text(TEXT_LIMITS.mediaType)),
    title: v.optional(text(TEXT_LIMITS.title)),
    sourceUrl: v.optional(text(TEXT_LIMITS.sourceUrl)),
    note: v.optional(text(TEXT_LIMITS.note)),
  }),
);

/** The record committed in the tree for one piece of evidence. Optional fields are omitted, never null. */
export type EvidenceRecord = v.InferOutput<typeof RecordSchema>;

// --- certificates ---------------------------------------------------------------------

export const CERTIFICATE_TYPE = "evidence-anchor-certificate";
export const BATCH_TYPE = "evidence-anchor-batch";

export const AnchorSchema = v.strictObject({
  chainId: integer(1),
  contract: address,
  txHash: hex32,
  blockNumber: integer(0),
  blockHash: hex32,
  timestamp: integer(1),
});

/** Where and when a root was anchored, as a certificate states it. */
export type AnchorJson = v.InferOutput<typeof AnchorSchema>;

export const IssuerSchema = v.strictObject({
  address,
  name: text(MAX_ISSUER_NAME),
});

export type Issuer = v.InferOutput<typeof IssuerSchema>;

/** RFC 3161 time-stamp tokens on the root (docs/protocol.md §6). */
export const TimestampsSchema = v.pipe(
  v.array(
    v.strictObject({
      type: v.literal("rfc3161", 'must be "rfc3161"'),
      token: v.pipe(
        v.string("must be base64"),
        v.maxLength(MAX_TIMESTAMP_TOKEN_CHARS, `is longer than ${MAX_TIMESTAMP_TOKEN_CHARS} characters`),
        v.regex(BASE64, "must be base64"),
      ),
    }),
    "must be an array",
  ),
  v.maxLength(MAX_TIMESTAMP_TOKENS, `has more than ${MAX_TIMESTAMP_TOKENS} tokens`),
);

export type TimestampToken = v.InferOutput<typeof TimestampsSchema>[number];

const proofPath = v.pipe(
  v.array(hex32, "must be an array"),
  v.maxLength(MAX_PROOF_LENGTH, `has more than ${MAX_PROOF_LENGTH} elements`),
);
const algorithm = v.literal("rfc6962-sha256", 'must be "rfc6962-sha256"');
const signature = v.pipe(
  v.string("must be 0x followed by 130 lowercase hex characters"),
  v.regex(CERTIFICATE_SIGNATURE, "must be 0x followed by 130 lowercase hex characters, ending in 1b or 1c"),
);
const certificateType = v.literal(CERTIFICATE_TYPE, `must be "${CERTIFICATE_TYPE}"`);

/** Version 1: one record, its proof, the anchor, the issuer's signature over the whole certificate. */
export const CertificateV1Schema = v.pipe(
  v.strictObject({
    type: certificateType,
    version: v.literal(1, "must be 1 or 2"),
    record: RecordSchema,
    leafHash: hex32,
    proof: v.strictObject({
      algorithm,
      leafIndex: integer(0),
      treeSize: integer(1),
      path: proofPath,
      root: hex32,
    }),
    anchor: AnchorSchema,
    issuer: IssuerSchema,
    issuedAt: utcMillis,
    timestamps: v.optional(TimestampsSchema),
    signature,
  }),
  v.forward(
    v.check((c) => c.proof.leafIndex < c.proof.treeSize, "must be less than proof.treeSize"),
    ["proof", "leafIndex"],
  ),
);

export type CertificateV1 = v.InferOutput<typeof CertificateV1Schema>;

/** What the issuer signs once per batch in version 2, in the manner of a CT signed tree head. */
export const BatchStatementSchema = v.strictObject({
  type: v.literal(BATCH_TYPE, `must be "${BATCH_TYPE}"`),
  root: hex32,
  treeSize: integer(1),
  anchor: AnchorSchema,
  issuer: IssuerSchema,
  issuedAt: utcMillis,
  timestamps: v.optional(TimestampsSchema),
});

export type BatchStatement = v.InferOutput<typeof BatchStatementSchema>;

/** Version 2 with `batch` checked by the given schema. */
function certificateV2Schema(batch: v.GenericSchema<unknown, BatchStatement>) {
  return v.pipe(
    v.strictObject({
      type: certificateType,
      version: v.literal(2, "must be 1 or 2"),
      record: RecordSchema,
      leafHash: hex32,
      proof: v.strictObject({ algorithm, leafIndex: integer(0), path: proofPath }),
      batch,
      signature,
    }),
    v.forward(
      v.check((c) => c.proof.leafIndex < c.batch.treeSize, "must be less than batch.treeSize"),
      ["proof", "leafIndex"],
    ),
  );
}

/** Version 2: one record, its proof, and the batch statement with its one signature. */
export const CertificateV2Schema = certificateV2Schema(BatchStatementSchema);

export type CertificateV2 = v.InferOutput<typeof CertificateV2Schema>;

/**
 * Version 2 whose batch statement is already known to be well formed (the certificates of a
 * batch carry equal statements). Every other field is checked as CertificateV2Schema checks
 * it, in the same order, so the first problem reported is the same.
 */
export const CertificateV2KnownBatchSchema = certificateV2Schema(v.custom<BatchStatement>(() => true));

export type Certificate = CertificateV1 | CertificateV2;

/** Picks the version's schema first, so the reasons given are those of the version claimed. */
export const CertificateSchema = v.pipe(
  jsonObject,
  v.variant("version", [CertificateV1Schema, CertificateV2Schema], "must be 1 or 2"),
);

// --- parsing ----------------------------------------------------------------------------

/**
 * Checks an untrusted value against a schema and returns it typed; otherwise throws an
 * EvidenceError with `code`, naming the first field that is wrong. Issues inside a
 * record are reported as INVALID_RECORD.
 */
export function parseWith<S extends v.GenericSchema>(
  schema: S,
  value: unknown,
  root: string,
  code: EvidenceErrorCode,
): v.InferOutput<S> {
  const result = v.safeParse(schema, value, { abortEarly: true });
  if (result.success) return result.output;
  const issue = result.issues[0]!;
  const keys = (issue.path ?? []).map((p) => p.key as string | number);
  const recordCode = keys[0] === "record" && code === "INVALID_CERTIFICATE" ? "INVALID_RECORD" : code;
  throw new EvidenceError(recordCode, describeIssue(issue, root, keys));
}

function describeIssue(issue: v.BaseIssue<unknown>, root: string, keys: (string | number)[]): string {
  const at = pathText(root, keys);
  if (issue.type === "strict_object" || issue.type === "object") {
    if (keys.length === 0) return `${root} must be a JSON object`;
    const parent = pathText(root, keys.slice(0, -1));
    if (issue.expected === "never") return `${parent} has an unknown field "${String(keys.at(-1))}"`;
    if (issue.received === "undefined") return `${at} is missing`;
    return `${at} must be a JSON object`;
  }
  if (issue.received === "undefined" && issue.kind === "schema") return `${at} is missing`;
  return `${at} ${issue.message}`;
}

function pathText(root: string, keys: readonly (string | number)[]): string {
  let out = root;
  for (const key of keys) out += typeof key === "number" ? `[${key}]` : `.${key}`;
  // A record's fields are named from the record itself ("record.size"), whatever holds it.
  return out.replace(/^certificate\.record/, "record");
}
