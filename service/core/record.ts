import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex, randomBytes, utf8ToBytes } from "@noble/hashes/utils.js";
import { EvidenceError } from "./errors.ts";
import { canonicalize } from "./jcs.ts";
import { hashLeaf } from "./merkle.ts";

/**
 * The record committed in the tree for one piece of evidence (hash construction version 1).
 * Values are strings or safe integers only; optional fields are omitted, never null.
 */
export interface EvidenceRecord {
  v: 1;
  /** URL-safe, unique, unguessable: holding it is what lets one read the certificate. */
  id: string;
  /** SHA-256 of the file's bytes, 64 lowercase hex chars, as `sha256sum` prints it. */
  contentHash: string;
  /** Account id of the submitter. */
  submitter: string;
  /** Service receipt time, RFC 3339 UTC with milliseconds. */
  submittedAt: string;
  /** 128 random bits: hides the record from anyone who only holds a sibling hash. */
  salt: string;
  size?: number;
  fileName?: string;
  mediaType?: string;
  title?: string;
  sourceUrl?: string;
  note?: string;
}

/** The optional, descriptive fields of a record, as a submitter supplies them. */
export type RecordDetails = Pick<EvidenceRecord, "size" | "fileName" | "mediaType" | "title" | "sourceUrl" | "note">;

/** Maximum lengths (UTF-16 code units) of the optional text fields. */
export const TEXT_LIMITS = {
  fileName: 1024,
  mediaType: 255,
  title: 1024,
  sourceUrl: 4096,
  note: 8192,
} as const;

export const CONTENT_HASH = /^[0-9a-f]{64}$/;
/** A content hash as people type or paste it: either case. */
export const CONTENT_HASH_PATTERN = /^[0-9a-fA-F]{64}$/;
/** base64url of at least 12 bytes (96 bits) and at most 64 bytes. */
export const EVIDENCE_ID = /^[A-Za-z0-9_-]{16,86}$/;
const SALT = /^[0-9a-f]{32}$/;
const SUBMITTER = /^[A-Za-z0-9_.:@-]{1,128}$/;
/** RFC 3339 in UTC with milliseconds, the form of `submittedAt` and `issuedAt`. */
export const RFC3339_UTC_MS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

const REQUIRED = ["v", "id", "contentHash", "submitter", "submittedAt", "salt"] as const;
const OPTIONAL = ["size", ...(Object.keys(TEXT_LIMITS) as (keyof typeof TEXT_LIMITS)[])] as const;
const KNOWN = new Set<string>([...REQUIRED, ...OPTIONAL]);

/**
 * CSPRNG bytes drawn 4 KiB at a time: each draw from the platform costs microseconds, and
 * intake needs two per record. Every byte is handed out once.
 */
const randomPool = {
  bytes: new Uint8Array(0),
  offset: 0,
  take(n: number): Uint8Array {
    if (this.offset + n > this.bytes.length) {
      this.bytes = randomBytes(4096);
      this.offset = 0;
    }
    const out = this.bytes.slice(this.offset, this.offset + n);
    this.bytes.fill(0, this.offset, this.offset + n);
    this.offset += n;
    return out;
  },
};

/** A new evidence id: 16 random bytes (128 bits) in base64url, 22 characters. */
export function newEvidenceId(): string {
  return base64url(randomPool.take(16));
}

/** A new record salt: 16 random bytes as 32 lowercase hex characters. */
export function newSalt(): string {
  return bytesToHex(randomPool.take(16));
}

/** Formats a time as RFC 3339 UTC with milliseconds, e.g. `2026-11-25T16:39:00.123Z`. */
export function rfc3339(date: Date): string {
  return date.toISOString();
}

export interface NewRecord extends RecordDetails {
  contentHash: string;
  submitter: string;
  submittedAt?: Date;
  id?: string;
  salt?: string;
}

/** Builds and validates a record; id, salt and time are fresh unless given. */
export function buildRecord(input: NewRecord): EvidenceRecord {
  const record: Record<string, unknown> = {
    v: 1,
    id: input.id ?? newEvidenceId(),
    contentHash: input.contentHash,
    submitter: input.submitter,
    submittedAt: rfc3339(input.submittedAt ?? new Date()),
    salt: input.salt ?? newSalt(),
  };
  for (const key of OPTIONAL) {
    if (input[key] !== undefined) record[key] = input[key];
  }
  return parseRecord(record);
}

/**
 * Checks an untrusted value against record version 1 and returns it typed.
 * Throws INVALID_RECORD naming the first field that is wrong.
 */
export function parseRecord(value: unknown): EvidenceRecord {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw invalidRecord("record must be a JSON object");
  }
  const r = value as Record<string, unknown>;
  for (const key of Object.keys(r)) {
    if (!KNOWN.has(key)) throw invalidRecord(`record has an unknown field "${key}"`);
  }
  if (r.v !== 1) throw invalidRecord("record.v must be the integer 1");
  expectString(r, "id", EVIDENCE_ID, "16 to 86 base64url characters");
  expectString(r, "contentHash", CONTENT_HASH, "64 lowercase hex characters");
  expectString(r, "submitter", SUBMITTER, "1 to 128 characters of A-Z a-z 0-9 _ . : @ -");
  expectString(r, "submittedAt", RFC3339_UTC_MS, "RFC 3339 UTC with milliseconds");
  if (
    Number.isNaN(Date.parse(r.submittedAt as string)) ||
    rfc3339(new Date(r.submittedAt as string)) !== r.submittedAt
  ) {
    throw invalidRecord("record.submittedAt is not a real date and time");
  }
  expectString(r, "salt", SALT, "32 lowercase hex characters");
  if (r.size !== undefined && !(Number.isSafeInteger(r.size) && (r.size as number) >= 0)) {
    throw invalidRecord("record.size must be a non-negative safe integer");
  }
  for (const [key, max] of Object.entries(TEXT_LIMITS)) {
    const field = r[key];
    if (field === undefined) continue;
    if (typeof field !== "string") throw invalidRecord(`record.${key} must be a string`);
    if (field.length > max) throw invalidRecord(`record.${key} is longer than ${max} characters`);
    if (!field.isWellFormed()) throw invalidRecord(`record.${key} is not valid Unicode`);
  }
  return r as unknown as EvidenceRecord;
}

/** SHA-256(0x00 || JCS(record)): the record's leaf in its batch's tree. */
export function recordLeafHash(record: EvidenceRecord): Uint8Array {
  return recordLeaf(record).leafHash;
}

/** The record's canonical JSON (the committed bytes, as text) and its leaf hash, canonicalized once. */
export function recordLeaf(record: EvidenceRecord): { canonical: string; leafHash: Uint8Array } {
  const canonical = canonicalize(record);
  return { canonical, leafHash: hashLeaf(utf8ToBytes(canonical)) };
}

/** SHA-256 of bytes as 64 lowercase hex characters, the form of `contentHash`. */
export function contentHashOf(bytes: Uint8Array): string {
  return bytesToHex(sha256(bytes));
}

function expectString(r: Record<string, unknown>, key: string, pattern: RegExp, want: string): void {
  const value = r[key];
  if (typeof value !== "string" || !pattern.test(value)) throw invalidRecord(`record.${key} must be ${want}`);
}

function invalidRecord(message: string): EvidenceError {
  return new EvidenceError("INVALID_RECORD", message);
}

function base64url(bytes: Uint8Array): string {
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}
