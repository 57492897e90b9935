/**
 * Every size and count limit of the formats and the API, defined once. The schemas, the
 * service, the CLI and the pages all read them from here.
 */

/**
 * Maximum lengths of a record's optional text fields: in code points for verifiers (as JSON
 * Schema's maxLength counts), and in UTF-16 code units for what the service issues (stricter).
 */
export const TEXT_LIMITS = {
  fileName: 1024,
  mediaType: 255,
  title: 1024,
  sourceUrl: 4096,
  note: 8192,
} as const;

export type TextField = keyof typeof TEXT_LIMITS;

/**
 * How deep untrusted JSON may nest arrays and objects (a certificate nests four levels, an API
 * body six): deeper text is refused before it is parsed.
 */
export const MAX_JSON_DEPTH = 64;

/** Certificates are a few kilobytes; anything much larger is not one (time-stamp tokens included). */
export const MAX_CERTIFICATE_BYTES = 256 * 1024;

/** The largest file taken for a certificate: its PDF document or a capture package may be this large. */
export const MAX_DOCUMENT_BYTES = 64 * 1024 * 1024;

/** A tree of 2^64 leaves needs at most 64 proof elements. */
export const MAX_PROOF_LENGTH = 64;

/** The longest issuer name a certificate may carry. */
export const MAX_ISSUER_NAME = 256;

/** Time-stamp tokens per certificate, and the size of one (base64 characters). */
export const MAX_TIMESTAMP_TOKENS = 8;
export const MAX_TIMESTAMP_TOKEN_CHARS = 32 * 1024;

/** Items in one digest submission. */
export const MAX_DIGESTS_PER_REQUEST = 10_000;

/** Certificates in one bulk verification request. */
export const MAX_CERTIFICATES_PER_VERIFY = 1_000;

/** Calls in one JSON-RPC batch through the public proxy. */
export const MAX_RPC_BATCH = 20;

/** Evidence items listed in one page of `GET /api/v1/evidence`. */
export const EVIDENCE_PAGE = { default: 50, max: 500 } as const;

/** An account's display name. */
export const MAX_ACCOUNT_NAME = 200;
