import { bytesToHex, randomBytes, utf8ToBytes } from "@noble/hashes/utils.js";
import { canonicalize } from "./jcs.ts";
import { TEXT_LIMITS } from "./limits.ts";
import { hashLeaf } from "./merkle.ts";
import { sha256 } from "./stream-hash.ts";
import { parseWith, RecordSchema, type EvidenceRecord } from "./schema.ts";

export type { EvidenceRecord } from "./schema.ts";

/** The optional, descriptive fields of a record, as a submitter supplies them. */
export type RecordDetails = Pick<EvidenceRecord, "size" | "fileName" | "mediaType" | "title" | "sourceUrl" | "note">;

const OPTIONAL = ["size", ...(Object.keys(TEXT_LIMITS) as (keyof typeof TEXT_LIMITS)[])] as const;

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

/**
 * A new evidence id: 16 random bytes (128 bits) in base64url, 22 characters, drawn again when
 * it would begin with "-" (1 in 64): a command line would read such an id, and the files
 * named after it, as an option.
 */
export function newEvidenceId(): string {
  for (;;) {
    const id = base64url(randomPool.take(16));
    if (!id.startsWith("-")) return id;
  }
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
  return parseWith(RecordSchema, value, "record", "INVALID_RECORD");
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

function base64url(bytes: Uint8Array): string {
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}
