import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex, randomBytes, utf8ToBytes } from "@noble/hashes/utils.js";
import { canonicalize } from "./jcs.ts";
import { TEXT_LIMITS } from "./limits.ts";
import { hashLeaf } from "./merkle.ts";
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
 * A new evidence id, 27 base64url characters of 20 bytes: the time in seconds since
 * 2020-01-01 (4 bytes, big-endian), then 16 random bytes (128 bits: holding the id is what
 * lets one read the certificate). The time comes first so that the ids of one second begin
 * alike (their first five characters) and the store's index of ids takes a burst of them in
 * one place, where 128 random bits alone scattered every insert across the whole index and
 * made intake slower the more the store held (`npm run bench`, "intake into a growing SQLite
 * store": the last 100,000 of 500,000 went in at about 0.4 of the first's rate; with the
 * time first, at 0.9–0.95 of it).
 * The time it shows is when the id was made, to the second (a record's id is made with its
 * submittedAt; a capture's when it is requested), which the record states anyway.
 *
 * An id never begins with "-", which a command line would read, with the files named after
 * it, as an option: the first character is the time's top six bits, and the time is held
 * below the value that would make it "-" (reached in 2151).
 */
export function newEvidenceId(now: number = Date.now()): string {
  const bytes = new Uint8Array(ID_BYTES);
  const seconds = Math.min(Math.max(0, Math.floor(now / 1000) - ID_EPOCH_SECONDS), ID_TIME_MAX);
  new DataView(bytes.buffer).setUint32(0, seconds);
  bytes.set(randomPool.take(16), 4);
  return base64url(bytes);
}

const ID_BYTES = 20;
/** 2020-01-01T00:00:00Z, in seconds since 1970. */
const ID_EPOCH_SECONDS = 1_577_836_800;
/** The last time whose top six bits are below 62 ("-" in base64url). */
const ID_TIME_MAX = 62 * 2 ** 26 - 1;

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
  const submittedAt = input.submittedAt ?? new Date();
  const record: Record<string, unknown> = {
    v: 1,
    id: input.id ?? newEvidenceId(submittedAt.getTime()),
    contentHash: input.contentHash,
    submitter: input.submitter,
    submittedAt: rfc3339(submittedAt),
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
