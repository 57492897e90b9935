/**
 * One error class for the whole core, with a stable string `code`, so callers (the HTTP
 * layer, the CLI, the web page) can branch on the code and tests can assert it.
 */
export type EvidenceErrorCode =
  | "INVALID_JSON"
  | "DUPLICATE_KEY"
  | "NOT_CANONICALIZABLE"
  | "INVALID_HEX"
  | "INVALID_RECORD"
  | "INVALID_CERTIFICATE"
  | "INVALID_PROOF"
  | "INVALID_ARGUMENT"
  | "CHAIN_UNAVAILABLE"
  | "CHAIN_MISMATCH"
  | "INVALID_TIMESTAMP"
  | "INVALID_DOCUMENT"
  | "INVALID_PACKAGE"
  | "UNREADABLE";

export class EvidenceError extends Error {
  readonly code: EvidenceErrorCode;

  constructor(code: EvidenceErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = "EvidenceError";
  }
}

/** True when `e` is an {@link EvidenceError}, optionally with the given code. */
export function isEvidenceError(e: unknown, code?: EvidenceErrorCode): e is EvidenceError {
  return e instanceof EvidenceError && (code === undefined || e.code === code);
}

/**
 * The first line of what was thrown (an Error's message, or anything else as text), cut to
 * `maxChars`: what a log line, a health report or a one-line failure shows.
 */
export function firstLineOf(e: unknown, maxChars = Infinity): string {
  const message = e instanceof Error ? e.message : String(e);
  return message.split("\n", 1)[0]!.slice(0, maxChars);
}
