/**
 * An RFC 3161 client over HTTP (RFC 3161 §3.4): asks a TSA to time-stamp 32 bytes (a Merkle
 * root or a block hash) and returns the DER TimeStampToken that goes into a certificate's
 * `timestamps` (docs/protocol.md §6). The token is checked to answer this request (imprint, nonce);
 * whether its TSA is trusted is for {@link verifyTimestampToken} to say.
 */
import { setTimeout as delay } from "node:timers/promises";
import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex } from "@noble/hashes/utils.js";
import * as asn1js from "asn1js";
import * as pkijs from "pkijs";
import { isEvidenceError } from "../core/errors.ts";
import { OID, parseTimestampToken, type TimestampTokenInfo } from "../core/timestamp.ts";
import {
  failureNames,
  PKI_STATUS,
  randomPositiveInteger,
  TIMESTAMP_QUERY,
  TIMESTAMP_REPLY,
  type PkiFailure,
} from "./protocol.ts";
import { readLimited } from "../read-limited.ts";

/**
 * `unreachable`: no connection, or the TSA answered 5xx. `timeout`: no complete answer in
 * time. `rejected`: the TSA refused (4xx, or a PKIStatus other than granted). `malformed`:
 * the answer is not a time-stamp response for this request.
 */
export type TsaErrorCode = "unreachable" | "timeout" | "rejected" | "malformed";

export class TsaError extends Error {
  readonly code: TsaErrorCode;
  readonly url: string;
  /** The HTTP status, when the TSA answered. */
  readonly httpStatus: number | undefined;
  /** PKIFailureInfo bits of a rejection (RFC 3161 §2.4.2). */
  readonly failures: PkiFailure[];

  constructor(
    code: TsaErrorCode,
    url: string,
    message: string,
    options: { httpStatus?: number; failures?: PkiFailure[]; cause?: unknown } = {},
  ) {
    super(`${url}: ${message}`, { cause: options.cause });
    this.name = "TsaError";
    this.code = code;
    this.url = url;
    this.httpStatus = options.httpStatus;
    this.failures = options.failures ?? [];
  }

  /** Worth asking again: the TSA may be back, or less busy. */
  get retryable(): boolean {
    return this.code === "unreachable" || this.code === "timeout";
  }
}

export interface RequestTimestampOptions {
  /** Per attempt, until the whole response has arrived. Default 10 s. */
  timeoutMs?: number;
  /** Attempts after the first, on `unreachable` (including 5xx) and `timeout` only. Default 2. */
  retries?: number;
  /** The wait before the first retry; it doubles before each next one. Default 500 ms. */
  backoffMs?: number;
  /** Aborts the request and any wait; the promise then rejects with the signal's reason. */
  signal?: AbortSignal;
  /** A TSA policy OID to ask for (reqPolicy); the TSA's default when absent. */
  policy?: string;
  /** Called before each retry's wait; awaited, so a caller may log or count. */
  onRetry?: (retry: { attempt: number; delayMs: number; error: TsaError }) => void | Promise<void>;
}

/** A time-stamp response is a few kilobytes; anything far larger is not one. */
const MAX_RESPONSE_BYTES = 1024 * 1024;

/**
 * Requests an RFC 3161 time-stamp on `data32` from the TSA at `url`: SHA-256 imprint, a
 * random 64-bit nonce, certReq true (so the token carries the TSA certificate a verifier
 * needs). Returns the TimeStampToken's DER bytes exactly as the TSA sent them.
 * Rejects with a {@link TsaError} after the retries are spent.
 */
export async function requestTimestamp(
  url: string,
  data32: Uint8Array,
  options: RequestTimestampOptions = {},
): Promise<Uint8Array> {
  if (!(data32 instanceof Uint8Array)) throw new TypeError("expected Uint8Array");
  if (data32.length !== 32) throw new RangeError(`expected Uint8Array of length 32, got length=${data32.length}`);
  const retries = options.retries ?? 2;
  const backoffMs = options.backoffMs ?? 500;
  const imprint = sha256(data32);
  for (let attempt = 0; ; attempt++) {
    options.signal?.throwIfAborted();
    // A fresh nonce per attempt: a late answer to an earlier attempt cannot pass for this one.
    const nonce = randomPositiveInteger(8);
    try {
      return await attemptOnce(url, imprint, nonce, options);
    } catch (e) {
      if (!(e instanceof TsaError) || !e.retryable || attempt >= retries) throw e;
      const delayMs = backoffMs * 2 ** attempt;
      await options.onRetry?.({ attempt: attempt + 1, delayMs, error: e });
      await delay(delayMs, undefined, options.signal ? { signal: options.signal } : {}).catch(() => {
        options.signal!.throwIfAborted();
      });
    }
  }
}

async function attemptOnce(
  url: string,
  imprint: Uint8Array,
  nonce: asn1js.Integer,
  options: RequestTimestampOptions,
): Promise<Uint8Array> {
  const request = new pkijs.TimeStampReq({
    version: 1,
    messageImprint: new pkijs.MessageImprint({
      hashAlgorithm: new pkijs.AlgorithmIdentifier({ algorithmId: OID.sha256 }),
      hashedMessage: new asn1js.OctetString({ valueHex: imprint }),
    }),
    ...(options.policy ? { reqPolicy: options.policy } : {}),
    nonce,
    certReq: true,
  });
  const body = new Uint8Array(request.toSchema().toBER());
  const timeout = AbortSignal.timeout(options.timeoutMs ?? 10_000);
  const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;

  let bytes: Uint8Array;
  let status: number;
  try {
    const response = await fetch(url, {
      method: "POST",
      headers: { "content-type": TIMESTAMP_QUERY, accept: TIMESTAMP_REPLY },
      body,
      signal,
    });
    status = response.status;
    if (status >= 500) {
      await response.body?.cancel();
      throw new TsaError("unreachable", url, `the TSA answered HTTP ${status}`, { httpStatus: status });
    }
    if (status < 200 || status > 299) {
      await response.body?.cancel();
      throw new TsaError("rejected", url, `the TSA answered HTTP ${status}`, { httpStatus: status });
    }
    bytes = await readAnswer(response, url);
  } catch (e) {
    if (e instanceof TsaError) throw e;
    options.signal?.throwIfAborted();
    if (timeout.aborted) throw new TsaError("timeout", url, "no complete answer in time", { cause: e });
    throw new TsaError("unreachable", url, "the TSA could not be reached", { cause: e });
  }
  return tokenFromResponse(bytes, url, status, imprint, nonce);
}

async function readAnswer(response: Response, url: string): Promise<Uint8Array> {
  const bytes = await readLimited(response, MAX_RESPONSE_BYTES);
  if (!bytes) {
    throw new TsaError("malformed", url, `the answer exceeds ${MAX_RESPONSE_BYTES} bytes`, {
      httpStatus: response.status,
    });
  }
  return bytes;
}

/**
 * Reads a TimeStampResp (RFC 3161 §2.4.2) and checks that it grants this request: status
 * granted or grantedWithMods, a token whose imprint and nonce are the ones sent (§2.4.2:
 * the requester MUST check both).
 */
function tokenFromResponse(
  bytes: Uint8Array,
  url: string,
  httpStatus: number,
  imprint: Uint8Array,
  nonce: asn1js.Integer,
): Uint8Array {
  const malformed = (message: string, cause?: unknown) =>
    new TsaError("malformed", url, message, { httpStatus, ...(cause ? { cause } : {}) });
  const parsed = asn1js.fromBER(bytes);
  if (parsed.offset === -1 || parsed.offset !== bytes.byteLength) throw malformed("the answer is not DER");
  let response: pkijs.TimeStampResp;
  try {
    response = new pkijs.TimeStampResp({ schema: parsed.result });
  } catch (e) {
    throw malformed("the answer is not a TimeStampResp", e);
  }
  const status = response.status.status;
  if (status !== PKI_STATUS.granted && status !== PKI_STATUS.grantedWithMods) {
    const failures = failureNames(response.status.failInfo);
    const text = response.status.statusStrings?.map((s) => s.valueBlock.value).join("; ");
    throw new TsaError(
      "rejected",
      url,
      `the TSA refused: status ${status}${failures.length ? ` (${failures.join(", ")})` : ""}${text ? `: ${text}` : ""}`,
      { httpStatus, failures },
    );
  }
  // TimeStampResp ::= SEQUENCE { status, timeStampToken OPTIONAL }: keep the token's own bytes.
  const tokenBlock = (parsed.result as asn1js.Sequence).valueBlock.value[1];
  if (!tokenBlock) throw malformed("the TSA granted the request but sent no token");
  const token = tokenBlock.valueBeforeDecodeView.slice();
  let info: TimestampTokenInfo;
  try {
    info = parseTimestampToken(token);
  } catch (e) {
    throw malformed(isEvidenceError(e) ? e.message : "the token does not parse", e);
  }
  if (info.messageImprint.hashAlgorithm !== OID.sha256 || info.messageImprint.hashedMessage !== bytesToHex(imprint)) {
    throw malformed("the token stamps other data than requested");
  }
  if (info.nonce !== bytesToHex(nonce.valueBlock.valueHexView)) {
    throw malformed("the token's nonce is not the request's");
  }
  return token;
}
