import * as v from "valibot";
import type { Certificate } from "./schema.ts";
import { CONTENT_HASH_INPUT, type EvidenceRecord } from "./schema.ts";
import { MAX_DIGESTS_PER_REQUEST, TEXT_LIMITS } from "./limits.ts";
import type { Lang } from "./verify/wording.ts";

/**
 * The HTTP API's bodies and answers (the README's HTTP API), shared by the service, the CLI and the
 * pages: one type per concept, and the request schemas the service checks bodies with.
 */

// --- error codes --------------------------------------------------------------------------

/** Every `code` a problem+json answer can carry (RFC 9457); clients branch on these. */
export const ERROR_CODES = [
  // 400
  "BAD_REQUEST",
  "INVALID_BODY",
  "INVALID_JSON",
  "INVALID_ITEM",
  "INVALID_FIELD",
  "INVALID_CONTENT_HASH",
  "INVALID_CURSOR",
  "INVALID_URL",
  "URL_REFUSED",
  "ADDRESS_REFUSED",
  "UNKNOWN_FIELD",
  "DUPLICATE_FIELD",
  "FILE_AS_TEXT_FIELD",
  "NO_FILE",
  "EMPTY_FILE",
  "NO_ITEMS",
  "NO_CERTIFICATE",
  "MALFORMED_MULTIPART",
  "UNEXPECTED_FILE_FIELD",
  "INVALID_RPC_BATCH",
  // 401, 404, 409
  "UNAUTHENTICATED",
  "INVALID_API_KEY",
  "NOT_FOUND",
  "NOT_ANCHORED",
  "CAPTURE_FAILED",
  "CAPTURE_NOT_FAILED",
  // 405, 417
  "METHOD_NOT_ALLOWED",
  "EXPECTATION_FAILED",
  // 413, 415, 431
  "BODY_TOO_LARGE",
  "FILE_TOO_LARGE",
  "FIELD_TOO_LARGE",
  "FIELD_NAME_TOO_LONG",
  "TOO_MANY_FILES",
  "TOO_MANY_PARTS",
  "TOO_MANY_FIELDS",
  "TOO_MANY_ITEMS",
  "CERTIFICATE_TOO_LARGE",
  "UNSUPPORTED_MEDIA_TYPE",
  "UNSUPPORTED_ENCODING",
  "HEADERS_TOO_LARGE",
  // 408, 429, 5xx
  "REQUEST_TIMEOUT",
  "RATE_LIMITED",
  "CAPTURE_BUSY",
  "SERVER_BUSY",
  "CAPTURE_UNAVAILABLE",
  "DOCUMENT_UNAVAILABLE",
  "CHAIN_UNREACHABLE",
  "STORAGE_FAILURE",
  "INSUFFICIENT_STORAGE",
  "STARTING",
  "SHUTTING_DOWN",
  "INTERNAL",
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

/** An RFC 9457 problem as the service sends it. */
export interface Problem {
  type: string;
  title: string;
  status: number;
  code: ErrorCode;
  detail: string;
  [extra: string]: unknown;
}

/** What each problem means to a user, in both languages (the pages show these, not the English detail). */
export const PROBLEM_TEXT: Partial<Record<ErrorCode, Record<Lang, string>>> = {
  UNAUTHENTICATED: { en: "Enter your API key first.", "zh-CN": "请先输入 API 密钥。" },
  INVALID_API_KEY: { en: "The API key is not valid.", "zh-CN": "API 密钥无效。" },
  RATE_LIMITED: { en: "Too many requests; try again shortly.", "zh-CN": "请求过于频繁，请稍后再试。" },
  FILE_TOO_LARGE: { en: "The file is larger than the service accepts.", "zh-CN": "文件超过了服务允许的大小。" },
  EMPTY_FILE: {
    en: "The file is empty (0 bytes): every empty file has the same hash, and a certificate for it would prove nothing.",
    "zh-CN": "文件为空（0 字节）：所有空文件的哈希值都相同，对其存证不能证明任何内容。",
  },
  TOO_MANY_FILES: { en: "Too many files in one upload.", "zh-CN": "单次上传的文件过多。" },
  INSUFFICIENT_STORAGE: {
    en: "The service has no room to store the file; nothing was recorded.",
    "zh-CN": "服务存储空间不足，未记录任何内容。",
  },
  STORAGE_FAILURE: {
    en: "The service could not store the file; nothing was recorded.",
    "zh-CN": "服务无法保存文件，未记录任何内容。",
  },
  NOT_FOUND: { en: "No evidence with that id.", "zh-CN": "没有该编号的存证。" },
  NOT_ANCHORED: { en: "The evidence is not anchored yet.", "zh-CN": "该存证尚未上链。" },
  CAPTURE_FAILED: {
    en: "This web capture failed: it recorded nothing, so it has no certificate.",
    "zh-CN": "该网页取证失败，未记录任何内容，因此没有证书。",
  },
  CAPTURE_NOT_FAILED: {
    en: "Only a failed capture can be removed from the list.",
    "zh-CN": "只有失败的取证可以从列表中移除。",
  },
  INVALID_URL: { en: "Enter an http or https address.", "zh-CN": "请输入 http 或 https 网址。" },
  URL_REFUSED: { en: "Only http and https pages can be captured.", "zh-CN": "只能对 http 或 https 网页取证。" },
  ADDRESS_REFUSED: {
    en: "That address cannot be captured (private, local or unknown).",
    "zh-CN": "该地址不能取证（内网、本机或无法解析的地址）。",
  },
  CAPTURE_BUSY: { en: "The capture service is busy; try again shortly.", "zh-CN": "取证服务繁忙，请稍后再试。" },
  SERVER_BUSY: { en: "The service is busy; try again in a few seconds.", "zh-CN": "服务繁忙，请几秒后再试。" },
  CAPTURE_UNAVAILABLE: {
    en: "Web capture is not available on this service.",
    "zh-CN": "本服务暂不提供网页取证。",
  },
  DOCUMENT_UNAVAILABLE: {
    en: "The certificate document could not be made just now; try again later, or download the certificate (JSON).",
    "zh-CN": "暂时无法生成证书文档，请稍后再试，或下载证书（JSON）。",
  },
  FIELD_TOO_LARGE: { en: "A field is too long.", "zh-CN": "某个字段过长。" },
  INVALID_FIELD: { en: "A field is not valid.", "zh-CN": "某个字段无效。" },
  STARTING: { en: "The service is starting; try again in a moment.", "zh-CN": "服务正在启动，请稍后再试。" },
  SHUTTING_DOWN: { en: "The service is restarting; try again shortly.", "zh-CN": "服务正在重启，请稍后再试。" },
  INTERNAL: { en: "An internal error occurred; nothing was recorded.", "zh-CN": "发生内部错误，未记录任何内容。" },
  REQUEST_TIMEOUT: { en: "The upload was too slow and was stopped.", "zh-CN": "上传过慢，已被中止。" },
};

/** Why a web capture failed, by its error code (docs/capture.md), in both languages. */
const CAPTURE_FAILURE_TEXT: Record<string, Record<Lang, string>> = {
  ADDRESS_REFUSED: {
    en: "the page, or a page it led to, is at an address that cannot be captured (private, local or unknown)",
    "zh-CN": "该网页或其跳转到的网页位于不能取证的地址（内网、本机或无法解析的地址）",
  },
  URL_REFUSED: { en: "only http and https pages can be captured", "zh-CN": "只能对 http 或 https 网页取证" },
  HOST_NOT_FOUND: { en: "the site's name does not resolve", "zh-CN": "网站域名无法解析" },
  TIMEOUT: { en: "the page took longer than the capture allows", "zh-CN": "网页加载超过了取证时限" },
  PAGE_TOO_LARGE: { en: "the page is larger than the capture allows", "zh-CN": "网页超过了取证允许的大小" },
  ARTIFACTS_TOO_LARGE: {
    en: "the recorded files are larger than the capture allows",
    "zh-CN": "记录的文件超过了取证允许的大小",
  },
  NAVIGATION_FAILED: { en: "the browser could not open the page", "zh-CN": "浏览器无法打开该网页" },
  BROWSER_UNAVAILABLE: { en: "no browser is available for capturing", "zh-CN": "没有可用于取证的浏览器" },
  CANCELLED: { en: "the capture was cancelled", "zh-CN": "取证已被取消" },
  INTERRUPTED: {
    en: "the service restarted during the capture, more than once; request it again",
    "zh-CN": "取证过程中服务多次重启，请重新提交取证",
  },
  BUSY: { en: "the capture service was busy; request it again", "zh-CN": "取证服务繁忙，请重新提交取证" },
  CAPTURE_FAILED: { en: "the capture could not be completed", "zh-CN": "取证未能完成" },
};

/**
 * A failed capture's reason for a user: a sentence in their language by the error code, with
 * the service's own message kept as the technical detail.
 */
export function captureFailureText(error: { code: string; message: string } | undefined, lang: Lang): string {
  if (!error) return "";
  const known = Object.hasOwn(CAPTURE_FAILURE_TEXT, error.code) ? CAPTURE_FAILURE_TEXT[error.code]![lang] : undefined;
  if (!known) return error.message;
  return lang === "zh-CN" ? `${known}（技术细节：${error.message}）` : `${known} (${error.message})`;
}

/** A problem's text for a user: the localized sentence when there is one, else the service's detail. */
export function problemText(problem: Partial<Problem> | undefined, lang: Lang, fallback: string): string {
  const known = problem?.code ? PROBLEM_TEXT[problem.code]?.[lang] : undefined;
  return known ?? problem?.detail ?? fallback;
}

// --- evidence ----------------------------------------------------------------------------------

/** `capturing` and `failed` happen only to web captures. */
export type EvidenceStatus = "capturing" | "pending" | "anchoring" | "anchored" | "failed";

export const MEDIA_TYPE_CAPTURE = "application/vnd.evidence-anchor.capture+json";

/**
 * Where the service serves the verifier as one JavaScript file (with its SHA-256 at the same
 * path + ".sha256"): `node evidence-verify.mjs verify …` on any Node.js from 20, nothing to install.
 */
export const STANDALONE_VERIFIER_PATH = "/verifier/evidence-verify.mjs";

export interface IntakeItem {
  id: string;
  contentHash: string;
  size?: number;
  status: "pending";
  record: EvidenceRecord;
}

/** `201` of `POST /api/v1/evidence` and `/digests`. */
export interface IntakeResponse {
  items: IntakeItem[];
}

/** Why a certificate was issued: the first anchoring, anchoring again after the chain lost it, or a time-stamp added. */
export type IssueReason = "anchored" | "re-anchored" | "time-stamped";

export interface CertificateHistoryEntry {
  issuedAt: string;
  reason: IssueReason;
  /** The certificate served now; earlier ones stay retrievable. */
  current: boolean;
  /** The block the certificate names. */
  blockNumber: number;
}

/** The status view's notice while a chain rollback's lost anchor is being replaced. */
export const NOTICE_REANCHORING =
  "the chain no longer holds this evidence's anchor (a rollback); it is being anchored again, and a new certificate will be issued. The earlier certificate stays in the history but no longer verifies.";

/** The status view's notice once the evidence was anchored again after a rollback. */
export const NOTICE_REANCHORED =
  "this evidence was anchored again after the chain lost its first anchor; the current certificate names the new block. The earlier certificate stays in the history but no longer verifies.";

/** `GET /api/v1/evidence/:id`. */
export interface EvidenceView {
  id: string;
  status: EvidenceStatus;
  /** Absent while a capture is running: its record exists once the page is recorded. */
  record?: EvidenceRecord;
  certificate?: Certificate;
  /** Every certificate issued for this evidence, oldest first (`?history` has them whole). */
  history?: CertificateHistoryEntry[];
  /** What happened, in words, when it was not the ordinary path (e.g. re-anchored after a chain rollback). */
  notice?: string;
  capture?: CaptureView;
}

export interface CaptureView {
  url: string;
  status: "queued" | "capturing" | "recorded" | "failed";
  requestedAt: string;
  error?: { code: string; message: string };
}

/** `GET /api/v1/captures`: the account's captures that are not (yet) evidence, newest first. */
export interface CaptureList {
  items: ({ id: string } & CaptureView & { status: "queued" | "capturing" | "failed" })[];
}

/** `GET /api/v1/evidence`. */
export interface EvidenceList {
  items: { id: string; status: EvidenceStatus; record: EvidenceRecord }[];
  next: number | null;
}

// --- health -----------------------------------------------------------------------------------

export type HealthStatus = "ok" | "degraded";

/** The public `/healthz`: liveness and chain reachability only. */
export interface PublicHealth {
  status: HealthStatus;
  chain: { chainId: number; contract: string; reachable: boolean };
}

/** `/healthz` for operators (with `Authorization: Bearer <HEALTH_TOKEN>`, or on loopback). */
export interface OperatorHealth extends PublicHealth {
  /** Every reason the status is degraded, in words. */
  problems: string[];
  chain: PublicHealth["chain"] & {
    /** The embedded chain's process, when the service runs one. */
    node?: { state: string; restarts: number; lastExit: string | null; lastSnapshotBlock: number | null };
  };
  anchoring: { lastError: string | null; lastAnchoredAt: string | null; role: "anchoring" | "standby" };
  reconciliation: { checkedAt: string | null; mismatches: number; batches: number[] };
  timestamps: { configured: number; batchesWithout: number; lastError: string | null };
  evidence: Record<"pending" | "anchoring" | "anchored", number>;
}

// --- request bodies ----------------------------------------------------------------------------

const text = (max: number) =>
  v.pipe(
    v.string("must be a string"),
    v.maxLength(max, `is longer than ${max} characters`),
    v.check((s) => s.isWellFormed(), "is not valid Unicode"),
  );

const webUrl = v.pipe(text(TEXT_LIMITS.sourceUrl), v.check(isWebUrl, "must be an http or https URL"));

/**
 * A media type as RFC 6838 §4.2 names them (`type/subtype`, restricted names), with optional
 * RFC 9110 §8.3.1 parameters (`; charset=utf-8`, quoted values allowed).
 */
const RESTRICTED_NAME = "[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}";
const TOKEN = "[!#$%&'*+.^_`|~0-9A-Za-z-]+";
const QUOTED = '"(?:[\\t !#-\\[\\]-~\\u0080-\\u00ff]|\\\\[\\t -~\\u0080-\\u00ff])*"';
export const MEDIA_TYPE = new RegExp(
  `^${RESTRICTED_NAME}/${RESTRICTED_NAME}(?:[ \\t]*;[ \\t]*${TOKEN}=(?:${TOKEN}|${QUOTED}))*$`,
);
const mediaType = v.pipe(
  text(TEXT_LIMITS.mediaType),
  v.regex(MEDIA_TYPE, "must be a media type such as image/png (RFC 6838)"),
  // A record of this type is shown as a capture the service made (its package, its document):
  // only the capture pipeline records it.
  v.check(
    (type) => type.split(";")[0]!.trim().toLowerCase() !== MEDIA_TYPE_CAPTURE,
    `must not be ${MEDIA_TYPE_CAPTURE}: that type is the service's own, for its web captures`,
  ),
);

/** The optional descriptive fields of a submission. Empty strings count as absent. */
export const SubmissionDetailsSchema = v.strictObject({
  title: v.optional(text(TEXT_LIMITS.title)),
  sourceUrl: v.optional(webUrl),
  note: v.optional(text(TEXT_LIMITS.note)),
});

export type SubmissionDetails = v.InferOutput<typeof SubmissionDetailsSchema>;

export const DigestItemSchema = v.strictObject({
  contentHash: v.pipe(
    v.string("must be a SHA-256 as 64 hex characters"),
    v.regex(CONTENT_HASH_INPUT, "must be a SHA-256 as 64 hex characters"),
  ),
  fileName: v.optional(text(TEXT_LIMITS.fileName)),
  size: v.optional(
    v.pipe(
      v.number("must be a non-negative integer"),
      v.safeInteger("must be a non-negative integer"),
      v.minValue(0, "must be a non-negative integer"),
    ),
  ),
  mediaType: v.optional(mediaType),
  title: v.optional(text(TEXT_LIMITS.title)),
  sourceUrl: v.optional(webUrl),
  note: v.optional(text(TEXT_LIMITS.note)),
});

export type DigestItem = v.InferOutput<typeof DigestItemSchema>;

/**
 * The SHA-256 of no bytes. Every empty file has it, so a certificate for it would prove nothing
 * of anyone's: the service refuses it (`EMPTY_FILE`), uploaded or given as a digest.
 */
export const EMPTY_CONTENT_HASH = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

export const DigestSubmissionSchema = v.strictObject({
  items: v.pipe(
    v.array(v.unknown(), "must be an array"),
    v.minLength(1, "must not be empty"),
    v.maxLength(MAX_DIGESTS_PER_REQUEST, `has more than ${MAX_DIGESTS_PER_REQUEST} items`),
  ),
});

/** A whole number from `min` to `max`; every way to miss says so in the same words. */
function wholeNumber(min: number, max: number) {
  const range = `must be a whole number from ${min} to ${max}`;
  return v.pipe(v.number(range), v.safeInteger(range), v.minValue(min, range), v.maxValue(max, range));
}

export const CaptureRequestSchema = v.strictObject({
  url: v.pipe(text(TEXT_LIMITS.sourceUrl), v.check(isWebUrl, "must be an http or https URL")),
  title: v.optional(text(TEXT_LIMITS.title)),
  note: v.optional(text(TEXT_LIMITS.note)),
  viewport: v.optional(v.strictObject({ width: wholeNumber(200, 3840), height: wholeNumber(200, 2160) })),
  fullPage: v.optional(v.boolean("must be true or false")),
  waitMs: v.optional(wholeNumber(0, 10_000)),
  video: v.optional(v.boolean("must be true or false")),
});

export type CaptureRequest = v.InferOutput<typeof CaptureRequestSchema>;

export function isWebUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return url.protocol === "http:" || url.protocol === "https:";
  } catch {
    return false;
  }
}
