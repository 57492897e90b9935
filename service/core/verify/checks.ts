import type { CaptureFacts } from "../capture-package.ts";
import type { CertificateClaims } from "../certificate.ts";
import type { ChainFailure } from "../chain-reader.ts";
import type { Certificate } from "../schema.ts";
import { MAX_DOCUMENT_BYTES } from "../limits.ts";

/** The checks of a verification, in the order they run (docs/protocol.md §8). */
export const CHECK_IDS = ["format", "content", "leaf", "inclusion", "anchor", "signature", "timestamp"] as const;
/**
 * `package` is checked only for a web capture package (docs/protocol.md §9), right after `format`:
 * every artifact against the manifest. The manifest is then the file `content` compares.
 */
export type CheckId = (typeof CHECK_IDS)[number] | "package";

/**
 * `failed`: the evidence contradicts the certificate. `error`: the check could not be
 * carried out (a node unreachable, of another chain, behind; a TSA not trusted) — never
 * reported as a failure. `skipped`: nothing to check (no file, no token).
 */
export type CheckStatus = "passed" | "failed" | "skipped" | "error";

export type Verdict = "valid" | "invalid" | "indeterminate";

/**
 * Why a check ended as it did: a stable code and the values it speaks of. The words, in
 * Chinese and English, come from `wording.ts`; machines read the code.
 */
export type Reason =
  | { code: "format.ok"; version: number }
  | { code: "format.malformed"; message: string }
  /** The certificate's file could not be read at all (permissions, gone, a directory): nothing was judged. */
  | { code: "format.unreadable"; message: string }
  /** A PDF in a form the verifier does not read (encrypted, other stream filters): most often a PDF tool's rewrite. */
  | { code: "format.unsupported-document"; message: string }
  /** A capture package downloaded before its capture was anchored: nothing to verify yet. */
  | { code: "format.no-certificate-yet" }
  | { code: "format.not-checked" }
  /** `given`: the SHA-256 was given (typed, pasted), not computed from a file the verifier read. */
  | { code: "content.match"; digest: string; given?: true }
  | { code: "content.mismatch"; digest: string; certified: string; given?: true }
  | { code: "content.bad-digest" }
  | { code: "content.no-file" }
  /** A capture package: its manifest.json is the certified content (no file of the user's). */
  | { code: "content.package"; digest: string }
  /** A capture package whose manifest.json is not the certified content. */
  | { code: "content.package-mismatch"; digest: string; certified: string }
  /** The user's file is one the package's certified manifest lists. */
  | { code: "content.package-file"; digest: string; name: string }
  /** The user's file is neither the package's manifest nor any file it lists. */
  | { code: "content.not-in-package"; digest: string }
  /** A ZIP handed over beside a capture's certificate, too large for this verifier to read as a package. */
  | { code: "content.package-unread"; size: number }
  | { code: "leaf.match" }
  | { code: "leaf.mismatch"; computed: string; stated: string }
  | { code: "inclusion.ok"; leafIndex: number; treeSize: number; root: string }
  | { code: "inclusion.wrong-root"; leafIndex: number; treeSize: number }
  | { code: "inclusion.malformed"; message: string }
  | { code: "anchor.ok"; chainId: number; blockNumber: number; timestamp: number }
  | { code: "anchor.no-contract"; contract: string; chainId: number }
  /**
   * With no registry trusted, the node has no contract at the certificate's address, or no
   * anchor of its root there, and not the certificate's block either: a node of another chain
   * that shares the id, or a certificate naming a block that chain never had. Not told apart.
   */
  | {
      code: "anchor.chain-unconfirmed";
      missing: "contract" | "anchor";
      contract: string;
      chainId: number;
      blockNumber: number;
      onChain: string | null;
      stated: string;
    }
  /** The node has no code at the registry the reader trusts: it is not that registry's chain. */
  | { code: "anchor.registry-missing"; contract: string; chainId: number }
  | { code: "anchor.never-anchored"; root: string; contract: string; chainId: number }
  | { code: "anchor.time-differs"; onChain: number; stated: number }
  | { code: "anchor.block-differs"; onChain: number; stated: number }
  | { code: "anchor.size-differs"; onChain: number; stated: number }
  | { code: "anchor.block-hash-differs"; blockNumber: number; onChain: string; stated: string }
  | { code: "anchor.block-time-differs"; blockNumber: number; onChain: number; stated: number }
  | { code: "anchor.no-transaction"; txHash: string }
  | { code: "anchor.receipt-unavailable"; txHash: string; blockNumber: number }
  | { code: "anchor.unknown-contract"; contract: string; trusted: string }
  | { code: "anchor.transaction-failed"; txHash: string }
  | { code: "anchor.transaction-elsewhere"; txHash: string; blockNumber: number }
  | { code: "anchor.no-event"; txHash: string }
  | { code: "anchor.not-anchorer"; issuer: string; anchorer: string }
  | { code: "anchor.unreachable"; failure: ChainFailure; node: string; message: string }
  | { code: "anchor.other-chain"; actual: number; stated: number }
  | { code: "anchor.behind"; latest: number; blockNumber: number }
  | { code: "signature.ok"; issuer: string; name: string }
  | { code: "signature.other-signer"; signer: string; issuer: string }
  | { code: "signature.malformed" }
  | { code: "timestamp.none" }
  | { code: "timestamp.ok"; count: number }
  | { code: "timestamp.invalid"; index: number; problem: string }
  | { code: "timestamp.untrusted"; index: number; tsa: string }
  | { code: "timestamp.unverifiable"; index: number; tsa: string; problem: string }
  | { code: "timestamp.not-checked"; count: number }
  | { code: "not-checked.malformed" }
  | { code: "not-checked.no-certificate-yet" }
  | { code: "not-checked.unreadable" }
  | { code: "package.ok"; artifacts: number }
  | { code: "package.altered"; problems: string[] }
  | { code: "package.not-a-capture"; mediaType?: string };

export type ReasonCode = Reason["code"];

export interface Check {
  id: CheckId;
  status: CheckStatus;
  reason: Reason;
}

/** What an RFC 3161 token said, for display beside the chain's time. */
export interface TimestampSummary {
  tsa: string;
  /** The TSA's time (genTime), RFC 3339. */
  time: string;
  status: "passed" | "failed" | "error";
  /** A development TSA: not trusted by courts. */
  development: boolean;
  /** |TSA time − anchoring time| in seconds. */
  offsetSeconds: number;
}

export interface VerificationResult {
  verdict: Verdict;
  /** verdict === "valid". */
  valid: boolean;
  /** Whether a file (or its SHA-256) was compared with the certified content hash. */
  fileCompared: boolean;
  /** The anchoring block's time (RFC 3339) when the anchor check passed, else null. */
  anchoredAt: string | null;
  checks: Check[];
  /** The certificate, when it was well-formed. */
  certificate: Certificate | null;
  claims: CertificateClaims | null;
  /** The certificate names a development chain: its operator can rewrite it. */
  developmentChain: boolean;
  timestamps: TimestampSummary[];
  /** Warnings beside the verdict, e.g. a TSA's time far from the chain's. */
  warnings: Warning[];
  /** For a web capture package: what was captured, and its screenshot for display. */
  capture?: CaptureSummary;
}

export interface CaptureSummary extends CaptureFacts {
  artifacts: { name: string; ok: boolean }[];
  /** The full-page screenshot's bytes (PNG), when the package holds it unaltered. */
  screenshot?: Uint8Array;
}

export type Warning =
  | { code: "warning.development-chain"; chainId: number }
  | { code: "warning.timestamp-offset"; tsa: string; offsetSeconds: number }
  | { code: "warning.timestamp-unchecked" }
  | { code: "warning.development-tsa"; tsa: string }
  /** A certificate document was verified: its attachment, never its printed page. */
  | { code: "warning.printed-page-unchecked" }
  /** No registry was trusted for the chain: the certificate's contract was taken as it says. */
  | { code: "warning.registry-unchecked"; contract: string; chainId: number }
  /**
   * A time the issuer states that the anchor contradicts: the record submitted after the root
   * was anchored, or the certificate issued before it (more than 600 s either way).
   */
  | {
      code: "warning.stated-time-contradicts-anchor";
      stated: "submittedAt" | "issuedAt";
      at: string;
      anchoredAt: string;
    };

/**
 * The verdict of docs/protocol.md §8: invalid if any check failed; else indeterminate if any of
 * format, leaf, inclusion, anchor, signature (or content, when a file was given) is an
 * error; else valid. A `timestamp` error is a warning beside the verdict.
 */
export function verdictOf(checks: readonly Check[]): Verdict {
  if (checks.some((c) => c.status === "failed")) return "invalid";
  if (checks.some((c) => c.status === "error" && c.id !== "timestamp")) return "indeterminate";
  return "valid";
}

/**
 * Whether a check of the certificate itself failed (format, leaf, inclusion, anchor,
 * signature, timestamp): what it states is then its own claim, unproven. A file or a
 * package that does not match a genuine certificate leaves the certificate's facts proven.
 */
export function certificateFailed(result: Pick<VerificationResult, "checks">): boolean {
  return result.checks.some((c) => c.status === "failed" && isOfTheCertificate(c));
}

/** Whether a check is of the certificate itself, not of a file or package compared with it. */
export function isOfTheCertificate(check: Pick<Check, "id">): boolean {
  return check.id !== "content" && check.id !== "package";
}

/** A file of none of the three kinds: a screenshot or the evidence itself chosen by mistake, say. */
export const NOT_A_CERTIFICATE =
  "the file is not a certificate: a certificate is a JSON file (.evidence.json), its PDF document or a capture package (.zip)";

/**
 * A file larger than any certificate or certificate document (MAX_DOCUMENT_BYTES) that is no
 * ZIP: only a capture package may be that large.
 */
export const TOO_LARGE_FOR_A_CERTIFICATE = `the file is not a certificate: it is larger than ${MAX_DOCUMENT_BYTES / 1024 / 1024} MB, as only a capture package (.zip) may be`;

/** A PDF the document reader refuses (docs/protocol.md §10), followed by ": " and the reader's reason. */
export const UNREADABLE_DOCUMENT = "the PDF document holds no readable certificate";

/** A PDF chosen as the certificate that is no certificate document: the reader's wrong choice. */
export const NOT_A_CERTIFICATE_DOCUMENT =
  "the PDF is not a certificate document: it carries no *.evidence.json certificate";

/** A ZIP chosen as the certificate that is no capture package: the reader's wrong choice. */
export const NOT_A_CAPTURE_PACKAGE = "the ZIP is not a capture package: it holds no capture manifest";

/**
 * JSON holding a certificate under "certificate" with members beside it that say more than
 * the certificate (docs/protocol.md §5.4), followed by ": " and what differs.
 */
export const CERTIFICATE_WITH_STATEMENTS =
  "the JSON holds a certificate and, beside it, statements the certificate does not cover";

/** The format failures that are a file of another kind chosen, not a damaged certificate. */
export const WRONG_FILE_MESSAGES: readonly string[] = [
  NOT_A_CERTIFICATE,
  TOO_LARGE_FOR_A_CERTIFICATE,
  NOT_A_CERTIFICATE_DOCUMENT,
  NOT_A_CAPTURE_PACKAGE,
];
