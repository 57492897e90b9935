/**
 * Why a capture did not happen, as a stable code the HTTP layer and the CLI can branch on:
 *
 * - `URL_REFUSED`: not an http(s) URL, or one the service will not visit (credentials, length).
 * - `INVALID_REQUEST`: a title, note, viewport or option outside its bounds.
 * - `ADDRESS_REFUSED`: the host resolves to, or is, an address or port the policy refuses.
 * - `HOST_NOT_FOUND`: the host name does not resolve.
 * - `TIMEOUT`: the capture took longer than its time limit.
 * - `PAGE_TOO_LARGE`: more bytes passed through the guard proxy than the page limit allows.
 * - `ARTIFACTS_TOO_LARGE`: the recorded files together exceed the artifact limit.
 * - `NAVIGATION_FAILED`: the browser could not load the page (connection refused, TLS error, …).
 * - `BROWSER_UNAVAILABLE`: Chromium is missing or does not start.
 * - `BUSY`: the runner's queue is full; `retryAfterSeconds` estimates when to try again.
 * - `CANCELLED`: the caller aborted the capture.
 * - `CAPTURE_FAILED`: anything else; the message says what.
 */
export type CaptureErrorCode =
  | "URL_REFUSED"
  | "INVALID_REQUEST"
  | "ADDRESS_REFUSED"
  | "HOST_NOT_FOUND"
  | "TIMEOUT"
  | "PAGE_TOO_LARGE"
  | "ARTIFACTS_TOO_LARGE"
  | "NAVIGATION_FAILED"
  | "BROWSER_UNAVAILABLE"
  | "BUSY"
  | "CANCELLED"
  | "CAPTURE_FAILED";

export class CaptureError extends Error {
  readonly code: CaptureErrorCode;
  /** For `BUSY`: seconds after which a new submission is likely to be accepted (the HTTP Retry-After). */
  readonly retryAfterSeconds: number | undefined;
  /**
   * For `ADDRESS_REFUSED`: the names refused for their addresses, with the addresses and why.
   * For the operator's log only: never in an answer, the capture's error or its manifest.
   */
  readonly withheld: readonly { host: string; addresses: string[]; reason: string }[];

  constructor(
    code: CaptureErrorCode,
    message: string,
    options?: {
      cause?: unknown;
      retryAfterSeconds?: number;
      withheld?: readonly { host: string; addresses: string[]; reason: string }[];
    },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.name = "CaptureError";
    this.retryAfterSeconds = options?.retryAfterSeconds;
    this.withheld = options?.withheld ?? [];
  }
}

/** True when `e` is a {@link CaptureError}, optionally with the given code. */
export function isCaptureError(e: unknown, code?: CaptureErrorCode): e is CaptureError {
  return e instanceof CaptureError && (code === undefined || e.code === code);
}
