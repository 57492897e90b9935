import { indexOfBytes } from "../bytes.ts";
import { isEvidenceError } from "../errors.ts";
import { duplicateKeys, JsonTooDeepError, parseJson } from "../json.ts";
import {
  bytesSource,
  captureFactsOf,
  chunksOf,
  guarded,
  MANIFEST_FILE,
  readCapturePackage,
  sha256OfSource,
  type ByteSource,
  type CapturePackage,
} from "../capture-package.ts";
import {
  CERTIFICATE_SUFFIX,
  readCertificateDocument,
  extractEmbeddedFiles,
  isPdf,
  PdfReadLimitError,
  PdfUnsupportedError,
} from "../pdf-attachment.ts";
import { CERTIFICATE_TYPE, isRealTime } from "../schema.ts";
import { MEDIA_TYPE_CAPTURE, NOTICE_REANCHORED, type CertificateHistoryEntry, type IssueReason } from "../api.ts";
import { claimsOf, parseCertificate, type CertificateClaims } from "../certificate.ts";
import { canonicalize } from "../jcs.ts";
import {
  CERTIFICATE_WITH_STATEMENTS,
  certificateFailed,
  NOT_A_CAPTURE_PACKAGE,
  NOT_A_CERTIFICATE,
  NOT_A_CERTIFICATE_DOCUMENT,
  UNREADABLE_DOCUMENT,
  verdictOf,
  type CaptureSummary,
  type Check,
  type VerificationResult as Result,
} from "./checks.ts";
import {
  checkContent,
  malformedResult,
  notYetCertifiedResult,
  unreadableResult,
  unsupportedDocumentResult,
  verifyCertificate,
  type VerifyOptions,
} from "./verify-certificate.ts";
import type { VerificationResult } from "./checks.ts";

/**
 * What a verifier is handed: a certificate (JSON text or a parsed value), or the bytes of
 * a file that holds one — the JSON certificate itself, its PDF document (docs/protocol.md §10) or a
 * web capture package (docs/protocol.md §9); a package too large to hold in memory is read by ranges.
 */
export type EvidenceInput =
  | { kind: "certificate"; certificate: unknown }
  | { kind: "bytes"; bytes: Uint8Array }
  | { kind: "package"; package: ByteSource };

/**
 * How a verifier is asked: as for a certificate, and, when the file handed over beside it is a
 * web capture package (a ZIP), that package's bytes. A capture's certified file is the package's
 * manifest, so the package is compared as a package (its manifest against the certificate, its
 * files against its manifest), never by the SHA-256 of the ZIP, which no certificate names.
 */
export type EvidenceOptions = VerifyOptions & {
  /** The file handed over, when it is a ZIP, of any size; `fileDigest` beside it, if given, is its SHA-256. */
  packageFile?: Uint8Array | ByteSource;
  /**
   * The file handed over (its SHA-256 the `fileDigest`) is a ZIP of `size` bytes the caller
   * could not hold, as a verifier bounded in memory (the HTTP API) cannot: a capture's
   * certificate is compared with a package's files, not with the ZIP's hash, so for one whose
   * content hash is not the ZIP's the content check could not be made (`content.package-unread`).
   */
  unreadPackage?: { size: number };
  /**
   * How a certificate document (PDF) is read; by default here, at once ({@link certificateOfDocument}).
   * A service reads it in a worker thread, so that no document holds up its other requests.
   */
  readDocument?: ReadDocument;
};

/** Reads a certificate document: what {@link certificateOfDocument} answers for its bytes. */
export type ReadDocument = (pdf: Uint8Array) => Promise<DocumentOutcome>;

/**
 * What a PDF given as a certificate holds, as plain data (it crosses threads): the certificate
 * attached; or `malformed`, why it holds none (the document is no certificate, INVALID); or
 * `unsupported`, why it could not be read (a form or a size the reader does not read, which
 * may be a genuine document's: could not verify).
 */
export type DocumentOutcome = { certificate: string } | { malformed: string } | { unsupported: string };

/** Verification options as they are passed on, with the document reader. */
type HeldOptions = Omit<EvidenceOptions, "packageFile" | "unreadPackage">;

/** Verifies whatever was handed over, by what it is. */
export async function verifyEvidence(given: EvidenceInput, options: EvidenceOptions): Promise<VerificationResult> {
  const { packageFile, unreadPackage, ...verifyOptions } = options;
  const input = packageOrNot(given);
  let result: VerificationResult;
  try {
    result =
      packageFile !== undefined
        ? await verifyAgainstPackage(input, asSource(packageFile), verifyOptions)
        : await verifyHeld(input, verifyOptions);
  } catch (e) {
    // A file read by ranges that could no longer be read (changed or removed meanwhile): could not verify.
    if (isEvidenceError(e, "UNREADABLE")) return unreadableResult(e.message);
    throw e;
  }
  if (unreadPackage && packageFile === undefined) result = packageNotRead(result, unreadPackage.size);
  // A certificate document's page is a reading aid anyone can edit: the verdict is on its
  // attachment alone, and says so, so that nobody takes the paper's figures as verified.
  if (!(input.kind === "bytes" && isPdf(input.bytes)) || result.checks[0]?.status !== "passed") return result;
  return { ...result, warnings: [...result.warnings, { code: "warning.printed-page-unchecked" }] };
}

/**
 * A capture's certificate beside a ZIP that was not read: a hash that is not the certified
 * one may be of its package, which is compared by its files, so the content check could not
 * be made. Any other certificate is judged by the hash as ever.
 */
function packageNotRead(result: VerificationResult, size: number): VerificationResult {
  const at = result.checks.findIndex((c) => c.id === "content");
  // The ZIP's hash differs from the certified manifest's (content.mismatch), or, with a package in
  // the certificate's place, from every file it lists (content.not-in-package): either way the
  // ZIP may be a package of the capture, which only its files can show.
  const code = result.checks[at]?.reason.code;
  const unjudged = code === "content.mismatch" || code === "content.not-in-package";
  if (result.claims?.record.mediaType !== MEDIA_TYPE_CAPTURE || !unjudged) return result;
  const checks = result.checks.map((c, i): Check =>
    i === at ? { id: "content", status: "error", reason: { code: "content.package-unread", size } } : c,
  );
  const verdict = verdictOf(checks);
  return { ...result, checks, verdict, valid: verdict === "valid", fileCompared: false };
}

/**
 * The input as the rest reads it: a ZIP's bytes as a package, and any package read through a
 * guard that makes a failed read UNREADABLE (could not verify), whatever its source threw.
 */
function packageOrNot(input: EvidenceInput): EvidenceInput {
  if (input.kind === "package") return { kind: "package", package: guarded(input.package) };
  if (input.kind === "bytes" && isZip(input.bytes)) return { kind: "package", package: bytesSource(input.bytes) };
  return input;
}

/** The certificate an input holds, verified with the file of `options`, if any. */
async function verifyHeld(input: EvidenceInput, options: HeldOptions): Promise<VerificationResult> {
  if (input.kind === "package") return verifyPackage(input.package, options);
  const held = await certificateIn(input, options.readDocument);
  if ("result" in held) return held.result;
  const result = await verifyCertificate(held.certificate, options);
  // JSON that carries the certificate under "certificate" (a saved answer of the service's
  // status route) is verified as the API verifies it, when nothing beside it says more.
  const wrapped = result.checks[0]!.status === "failed" ? certificateWrappedIn(held.certificate) : undefined;
  if (wrapped === undefined) return result;
  if ("beside" in wrapped) return malformedResult(`${CERTIFICATE_WITH_STATEMENTS}: ${wrapped.beside}`);
  return verifyCertificate(wrapped.certificate, options);
}

/**
 * The certificate an object holds under `certificate`, when it is none itself (no `type`) and
 * its text has no key twice anywhere (readers that keep the first or the last duplicate would
 * see different certificates); undefined when it is no such object.
 *
 * What stands beside the certificate is no part of it, yet a reader of the file takes it for
 * fact: the members of the service's status answer are taken only as they restate the
 * certificate (docs/protocol.md §8.1). `id` and `record` must be the certificate's, `status`
 * "anchored", `notice` the service's own words for an item anchored again, and `history`
 * well formed, its last entry the certificate itself (its issue time and block), the earlier
 * ones issued between the record's submission and it (in any block: a chain that rolled back
 * may anchor again lower). Anything else is `beside`: what
 * differs, and the file proves nothing as it is.
 */
function certificateWrappedIn(certificate: unknown): { certificate: unknown } | { beside: string } | undefined {
  if (typeof certificate !== "string") return undefined;
  let value: unknown;
  try {
    value = parseJson(certificate);
  } catch {
    return undefined;
  }
  if (typeof value !== "object" || value === null || Array.isArray(value) || Object.hasOwn(value, "type")) return;
  const inner = (value as { certificate?: unknown }).certificate;
  if (typeof inner !== "object" || inner === null || (inner as { type?: unknown }).type !== CERTIFICATE_TYPE) return;
  for (const _ of duplicateKeys(certificate)) return undefined;
  let claims: CertificateClaims;
  try {
    claims = claimsOf(parseCertificate(inner));
  } catch {
    // A damaged certificate fails on its own, with its own reason.
    return { certificate: inner };
  }
  const beside = statementBeside(value as Record<string, unknown>, claims);
  return beside === undefined ? { certificate: inner } : { beside };
}

/** What a status answer says beside its certificate that the certificate does not, if anything. */
function statementBeside(view: Record<string, unknown>, claims: CertificateClaims): string | undefined {
  for (const [key, value] of Object.entries(view)) {
    switch (key) {
      case "certificate":
        break;
      case "id":
        if (value !== claims.record.id) return `"id" is not the certificate's evidence id`;
        break;
      case "status":
        if (value !== "anchored") return `"status" is not "anchored"`;
        break;
      case "record":
        if (!sameJson(value, claims.record)) return `"record" is not the certificate's record`;
        break;
      case "notice":
        // The service says it only of evidence anchored again, which its history shows.
        if (value !== NOTICE_REANCHORED || !reanchoredIn(view.history)) return `"notice" is not the service's`;
        break;
      case "history": {
        const wrong = historyBeside(value, claims);
        if (wrong) return `"history" ${wrong}`;
        break;
      }
      default:
        return `"${key}" is no member of the service's status answer`;
    }
  }
  return undefined;
}

const ISSUE_REASONS: readonly unknown[] = ["anchored", "re-anchored", "time-stamped"] satisfies IssueReason[];
const HISTORY_KEYS = ["blockNumber", "current", "issuedAt", "reason"].join();

/** Why a status answer's history says more than its certificate, or undefined. */
function historyBeside(history: unknown, claims: CertificateClaims): string | undefined {
  if (!Array.isArray(history) || history.length === 0) return "is not a list of the certificates issued";
  const issued = Date.parse(claims.issuedAt);
  const submitted = Date.parse(claims.record.submittedAt);
  for (const [i, e] of (history as unknown[]).entries()) {
    const last = i === history.length - 1;
    if (!isHistoryEntry(e, last)) return "has an entry of another form";
    if (last) {
      if (e.issuedAt !== claims.issuedAt || e.blockNumber !== claims.anchor.blockNumber) {
        return "does not end with this certificate";
      }
    } else {
      const at = Date.parse(e.issuedAt);
      // Its block is not bounded: a chain that rolled back may anchor again in a lower block.
      if (at < submitted || at > issued) {
        return "names a certificate issued outside the record's submission and this certificate";
      }
    }
  }
  return undefined;
}

/** Whether `e` is a status answer's history entry as the service writes it, current only when `last`. */
function isHistoryEntry(e: unknown, last: boolean): e is CertificateHistoryEntry {
  const h = e as Partial<Record<keyof CertificateHistoryEntry, unknown>> | null;
  return (
    typeof h === "object" &&
    h !== null &&
    Object.keys(h).sort().join() === HISTORY_KEYS &&
    ISSUE_REASONS.includes(h.reason) &&
    typeof h.issuedAt === "string" &&
    isRealTime(h.issuedAt) &&
    typeof h.blockNumber === "number" &&
    Number.isSafeInteger(h.blockNumber) &&
    h.blockNumber >= 0 &&
    h.current === last
  );
}

/** Whether a status answer's history holds a certificate issued on anchoring again. */
function reanchoredIn(history: unknown): boolean {
  return Array.isArray(history) && history.some((e) => (e as { reason?: unknown } | null)?.reason === "re-anchored");
}

/** Whether two JSON values are the same (their canonical forms are). */
function sameJson(a: unknown, b: unknown): boolean {
  try {
    return canonicalize(a) === canonicalize(b);
  } catch {
    return false;
  }
}

function asSource(zip: Uint8Array | ByteSource): ByteSource {
  return zip instanceof Uint8Array ? bytesSource(zip) : guarded(zip);
}

/** The certificate an input holds (a package's, for a package), or the verdict on holding none. */
async function certificateIn(
  input: EvidenceInput,
  readDocument: ReadDocument = async (pdf) => certificateOfDocument(pdf),
): Promise<{ certificate: unknown } | { result: VerificationResult }> {
  if (input.kind === "certificate") return { certificate: input.certificate };
  if (input.kind === "package") {
    const pkg = await readPackage(input.package);
    if ("malformed" in pkg) return { result: malformedResult(pkg.malformed) };
    if (pkg.certificateText === undefined) return { result: uncertifiedPackageResult(pkg) };
    return { certificate: pkg.certificateText };
  }
  if (isPdf(input.bytes)) {
    const outcome = await readDocument(input.bytes);
    if ("certificate" in outcome) return { certificate: outcome.certificate };
    return {
      result:
        "unsupported" in outcome ? unsupportedDocumentResult(outcome.unsupported) : malformedResult(outcome.malformed),
    };
  }
  if (!beginsAsJson(input.bytes)) return { result: malformedResult(NOT_A_CERTIFICATE) };
  try {
    return { certificate: decodeText(input.bytes) };
  } catch {
    // Not read with U+FFFD in place of the bad bytes: a record that held U+FFFD would then
    // verify with other bytes in its place.
    return { result: malformedResult("the certificate file is not UTF-8 text") };
  }
}

/**
 * What a certificate document (PDF) holds: the JSON certificate it carries as an attachment
 * (docs/protocol.md §10); the printed page itself proves nothing and is not read.
 */
export function certificateOfDocument(pdf: Uint8Array): DocumentOutcome {
  let reading;
  try {
    reading = readCertificateDocument(pdf);
  } catch (e) {
    // A form this reader does not take (encryption, another filter) is most often a PDF
    // tool's rewrite of a genuine document, and one larger than it reads (a report with the
    // certificate attached) may be genuine too: it could not be verified, which is not invalid.
    if (e instanceof PdfUnsupportedError || e instanceof PdfReadLimitError)
      return { unsupported: (e as Error).message };
    return { malformed: `${UNREADABLE_DOCUMENT}: ${(e as Error).message}` };
  }
  if (!("refused" in reading)) return { certificate: reading.text };
  // Read, with no certificate to take: what notACertificate says of a readable document.
  const notOne = !reading.attached && !includesText(pdf, "Evidence Anchor");
  return { malformed: notOne ? NOT_A_CERTIFICATE_DOCUMENT : `${UNREADABLE_DOCUMENT}: ${reading.refused.message}` };
}

/**
 * A certificate with a capture package handed over as its file: the package is the evidence
 * compared. A ZIP certified as it is (uploaded as a file), a ZIP that is no capture package,
 * and any file beside a package in the certificate's place (whose own files are then the ones
 * checked) are compared by their SHA-256, as any file.
 */
async function verifyAgainstPackage(
  input: EvidenceInput,
  zip: ByteSource,
  options: HeldOptions,
): Promise<VerificationResult> {
  const digest = typeof options.fileDigest === "string" ? options.fileDigest : await sha256OfSource(zip);
  const asAFile = () => verifyHeld(input, { ...options, fileDigest: digest });
  if (input.kind === "package") {
    // A package in both places (the same capture's): its manifest is the file compared.
    const filePackage = await readPackage(zip);
    if ("malformed" in filePackage || !filePackage.ok) return asAFile();
    return verifyHeld(input, { ...options, fileDigest: filePackage.manifestSha256 });
  }
  const held = await certificateIn(input, options.readDocument);
  if ("result" in held) return held.result;
  const wrapped = certificateWrappedIn(held.certificate);
  // Statements beside a wrapped certificate: verifyHeld says so, whatever the file.
  if (wrapped && "beside" in wrapped) return asAFile();
  const certificate = wrapped ? wrapped.certificate : held.certificate;
  if (certifiedContentHash(certificate) === digest.toLowerCase()) return asAFile();
  const pkg = await readPackage(zip);
  if ("malformed" in pkg) return asAFile();
  return verifyPackage(zip, options, { certificate, pkg });
}

/**
 * The content hash the certificate an input holds states (a wrapped one's too), unverified:
 * for telling which files a set of certificates speaks of, never for judging one.
 */
export async function statedContentHash(input: EvidenceInput): Promise<string | undefined> {
  const held = await certificateIn(packageOrNot(input));
  if (!("certificate" in held)) return undefined;
  const wrapped = certificateWrappedIn(held.certificate);
  return certifiedContentHash(wrapped && "certificate" in wrapped ? wrapped.certificate : held.certificate);
}

/** The content hash a certificate (parsed or its text) states, if it can be read at all; for choosing how to compare, never for judging. */
function certifiedContentHash(certificate: unknown): string | undefined {
  try {
    const value = typeof certificate === "string" ? parseJson(certificate) : certificate;
    const hash = (value as { record?: { contentHash?: unknown } } | null)?.record?.contentHash;
    return typeof hash === "string" ? hash.toLowerCase() : undefined;
  } catch {
    return undefined;
  }
}

/** Whether JSON text names a certificate's type or any of its keys, read or not. */
function claimsInText(text: string): boolean {
  return (
    text.includes(CERTIFICATE_TYPE) || [...CERTIFICATE_KEYS, "certificate"].some((key) => text.includes(`"${key}"`))
  );
}

/**
 * Why a file found in a folder is no certificate at all (see notACertificate); "too-large" is
 * judged by its reader from the size alone: no ZIP, and larger than any certificate document.
 */
export type NotACertificate =
  "empty" | "pdf-without-certificate" | "pdf-unreadable" | "zip-not-a-package" | "json-not-a-certificate" | "too-large";

/**
 * {@link notACertificate} for a file judged by its size alone — no ZIP, and larger than any
 * certificate document, so never read — passed over unless its name claims a certificate.
 */
export function tooLargeForACertificate(name: string): NotACertificate | undefined {
  return namedAsCertificate(name) ? undefined : "too-large";
}

function namedAsCertificate(name: string): boolean {
  return name.toLowerCase().endsWith(CERTIFICATE_SUFFIX);
}

/**
 * Why a file found in a folder holds no certificate and claims none — a contract that is a
 * PDF, an archive of photos, a JSON file of other data — or undefined when it holds or claims
 * one, or might. A folder of evidence mixes certificates with originals: a bulk verifier
 * passes these over, listing them, instead of calling them invalid certificates. Anything that
 * looks like a certificate in any way is verified, so that a damaged or altered one is INVALID:
 * a *.evidence.json; JSON that is not an object's text, or an object with any certificate key
 * (a `certificate` member only when it could be one: see claimsACertificate);
 * a PDF that carries a certificate, or names Evidence Anchor or a *.evidence.json anywhere in
 * its bytes (one of the service's documents, damaged, or its attachment taken out); a ZIP
 * naming a manifest or a certificate; an encrypted PDF, or one with other stream filters
 * (what it names is hidden); and a file of none of these kinds. A PDF this reader cannot read
 * otherwise that names neither (a truncated download, a hand-made invoice) is an original,
 * passed over and listed, never an INVALID certificate.
 */
export async function notACertificate(
  name: string,
  file: Uint8Array | ByteSource,
): Promise<NotACertificate | undefined> {
  if (namedAsCertificate(name)) return undefined;
  // A file too large to hold is read by ranges only when it is a ZIP: a capture package.
  if (!(file instanceof Uint8Array)) return notAPackage(guarded(file));
  const bytes = file;
  if (bytes.length === 0) return "empty";
  if (isPdf(bytes)) {
    let attached;
    try {
      attached = extractEmbeddedFiles(bytes);
    } catch (e) {
      // An encrypted PDF, or one with other stream filters, hides what it names (its strings
      // are encrypted or encoded): verified, and could not be verified, never passed over.
      if (e instanceof PdfUnsupportedError) return undefined;
      if (includesText(bytes, "Evidence Anchor") || includesText(bytes, CERTIFICATE_SUFFIX)) return undefined;
      // Too many values or objects to read: a large document whose names may be compressed,
      // so nothing is said of what it carries, only that it could not be read.
      return "pdf-unreadable";
    }
    if (attached.some((f) => f.name.toLowerCase().endsWith(CERTIFICATE_SUFFIX))) return undefined;
    return includesText(bytes, "Evidence Anchor") ? undefined : "pdf-without-certificate";
  }
  if (isZip(bytes)) return notAPackage(bytesSource(bytes));
  if (beginsAsJson(bytes)) {
    let value: unknown;
    let text: string;
    try {
      text = decodeText(bytes);
      value = parseJson(text);
    } catch (e) {
      // Nested too deep to parse is no certificate (they nest four levels) unless its text
      // names a certificate's type or keys.
      return e instanceof JsonTooDeepError && !claimsInText(text!) ? "json-not-a-certificate" : undefined;
    }
    if (typeof value !== "object" || value === null || Array.isArray(value)) return undefined;
    return claimsACertificate(value) ? undefined : "json-not-a-certificate";
  }
  return undefined;
}

/**
 * Whether a JSON object claims to be a certificate: its type, or any key of one. A
 * `certificate` member claims one when it could be one (the status route's answer carries the
 * certificate there): anything but an object that claims nothing itself, such as a product
 * listing's `"certificate": {"type": "CCC", "number": …}`.
 */
function claimsACertificate(value: object): boolean {
  if ((value as { type?: unknown }).type === CERTIFICATE_TYPE) return true;
  if (CERTIFICATE_KEYS.some((key) => Object.hasOwn(value, key))) return true;
  if (!Object.hasOwn(value, "certificate")) return false;
  const inner = (value as { certificate: unknown }).certificate;
  return typeof inner !== "object" || inner === null || Array.isArray(inner) || claimsACertificate(inner);
}

/**
 * Whether a ZIP is an archive of other things. A package carries its certificate under a name
 * its directory lists uncompressed; one without holds none (an archive of other things, or a
 * package of a capture not anchored yet). A capture package, certified or not, is verified.
 */
async function notAPackage(zip: ByteSource): Promise<"zip-not-a-package" | undefined> {
  try {
    await readCapturePackage(zip);
    return undefined;
  } catch (e) {
    try {
      return (await otherArchive(zip, e)) ? "zip-not-a-package" : undefined;
    } catch (unread) {
      // One that can no longer be read is verified, and found unreadable.
      if (isEvidenceError(unread, "UNREADABLE")) return undefined;
      throw unread;
    }
  }
}

/**
 * Whether a ZIP the package reader refused (`error`) is an archive of other things: it names no
 * certificate, and has no manifest.json (in its directory, or anywhere in its bytes, whatever the
 * reader refused it for: a compression method, ZIP64, too many entries) or one that is no capture
 * manifest. A damaged package is not one.
 */
async function otherArchive(zip: ByteSource, error: unknown): Promise<boolean> {
  const why = isEvidenceError(error) ? error.message : "";
  const named = await textsIn(zip, [CERTIFICATE_SUFFIX, MANIFEST_FILE]);
  if (named.has(CERTIFICATE_SUFFIX)) return false;
  return (
    /has no manifest\.json|^manifest\.json: type|^manifest\.json is not UTF-8 JSON/.test(why) ||
    (isEvidenceError(error) && error.cause instanceof JsonTooDeepError) ||
    !named.has(MANIFEST_FILE)
  );
}

/** Keys of a certificate of either version, any one of which makes JSON claim to be one (and see claimsACertificate). */
const CERTIFICATE_KEYS = ["record", "leafHash", "proof", "batch", "anchor", "signature", "issuer"];

/** Whether the bytes hold `text` (ASCII) anywhere. */
function includesText(bytes: Uint8Array, text: string): boolean {
  return indexOfBytes(bytes, new TextEncoder().encode(text)) !== -1;
}

/** Which of `texts` (ASCII) a source holds anywhere, read once, a chunk at a time. */
async function textsIn(source: ByteSource, texts: readonly string[]): Promise<Set<string>> {
  const found = new Set<string>();
  const overlap = Math.max(...texts.map((t) => t.length)) - 1;
  for await (const chunk of chunksOf(source, overlap)) {
    for (const text of texts) if (!found.has(text) && includesText(chunk, text)) found.add(text);
    if (found.size === texts.length) break;
  }
  return found;
}

/** Whether the bytes begin as a JSON object does, after any byte-order mark and white space. */
export function beginsAsJson(bytes: Uint8Array): boolean {
  let i = bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? 3 : 0;
  while (i < bytes.length && (bytes[i] === 0x20 || bytes[i] === 0x09 || bytes[i] === 0x0a || bytes[i] === 0x0d)) i++;
  return bytes[i] === 0x7b;
}

/** A ZIP file: a web capture package (docs/protocol.md §9). */
export function isZip(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && bytes[0] === 0x50 && bytes[1] === 0x4b && bytes[2] === 0x03 && bytes[3] === 0x04;
}

/**
 * A capture package: each artifact against the manifest (the `package` check), the
 * manifest against the certificate (`content`: the manifest is the certified file), and
 * the certificate it carries as any other (docs/protocol.md §8).
 */
async function verifyPackage(
  zip: ByteSource,
  options: VerifyOptions,
  /** The certificate handed over beside the package, which then stands for the package's file. */
  outside?: { certificate: unknown; pkg: CapturePackage },
): Promise<Result> {
  const pkg = outside?.pkg ?? (await readPackage(zip));
  if ("malformed" in pkg) return malformedResult(pkg.malformed);
  const certificate = outside ? outside.certificate : pkg.certificateText;
  if (certificate === undefined) return uncertifiedPackageResult(pkg);
  // The manifest is the certified file; a file the user hands over beside the package is
  // compared with the capture: the manifest itself, or one of the files it lists. A package
  // handed over as the file is itself the file compared.
  const supplied = outside
    ? undefined
    : typeof options.fileDigest === "function"
      ? await options.fileDigest(pkg.manifestSha256)
      : options.fileDigest;
  const result = await verifyCertificate(certificate, { ...options, fileDigest: pkg.manifestSha256 });
  const contentCheck = packageContent(result.checks[1]!, pkg, supplied);
  // A manifest anyone wrote and submitted as an ordinary file is certified as that file, not
  // as a capture the service made: only a record of the capture media type, which the service
  // gives its own captures and refuses from clients, makes a package a certified capture.
  const mediaType = result.claims?.record.mediaType;
  // (A certificate too damaged to read has no claims: it is not judged a capture or not.)
  const notACapture = result.claims != null && mediaType !== MEDIA_TYPE_CAPTURE;
  const packageCheck: Check = !pkg.ok
    ? { id: "package", status: "failed", reason: { code: "package.altered", problems: pkg.problems } }
    : notACapture
      ? {
          id: "package",
          status: "failed",
          reason: { code: "package.not-a-capture", ...(mediaType ? { mediaType } : {}) },
        }
      : { id: "package", status: "passed", reason: { code: "package.ok", artifacts: pkg.artifacts.length } };
  const checks = [result.checks[0]!, packageCheck, contentCheck, ...result.checks.slice(2)];
  const failed = packageCheck.status === "failed" || contentCheck.status === "failed";
  // What the package says of its capture counts only when its manifest is the certified one,
  // certified as a capture, by a certificate that did not fail: another capture's facts,
  // altered ones, a manifest certified as an uploaded file, or a forged certificate's, are
  // never shown beside this certificate.
  const certified = result.checks[1]!.reason.code === "content.match" && !notACapture && !certificateFailed(result);
  return {
    ...result,
    checks,
    verdict: failed ? "invalid" : result.verdict,
    valid: !failed && result.valid,
    fileCompared: outside !== undefined || supplied !== undefined,
    ...(certified ? { capture: captureSummary(pkg) } : {}),
  };
}

/** The capture as its (certified) manifest states it, and its screenshot when unaltered. */
function captureSummary(pkg: CapturePackage): CaptureSummary {
  return {
    ...captureFactsOf(pkg.manifest),
    artifacts: pkg.artifacts.map((a) => ({ name: a.name, ok: a.ok })),
    ...(pkg.screenshot ? { screenshot: pkg.screenshot } : {}),
  };
}

/**
 * The `content` check of a package. Without a file of the user's: the package's manifest
 * against the certificate. With one: once the manifest is the certified one, the file must
 * be that manifest or a file the manifest lists (a screenshot, the document, page.html).
 */
function packageContent(manifestCheck: Check, pkg: CapturePackage, supplied: string | undefined): Check {
  const manifest = manifestCheck.reason;
  if (manifest.code === "content.mismatch") {
    return { id: "content", status: "failed", reason: { ...manifest, code: "content.package-mismatch" } };
  }
  if (manifest.code !== "content.match") return manifestCheck;
  if (supplied === undefined) {
    return { id: "content", status: "passed", reason: { code: "content.package", digest: manifest.digest } };
  }
  // The manifest itself, or a digest that is no SHA-256, is judged as for any certified file.
  const own = checkContent(pkg.manifestSha256, supplied);
  if (own.reason.code !== "content.mismatch") return own;
  const { digest } = own.reason;
  const listed = pkg.artifacts.find((a) => a.expectedSha256 === digest);
  return listed
    ? { id: "content", status: "passed", reason: { code: "content.package-file", digest, name: listed.name } }
    : { id: "content", status: "failed", reason: { code: "content.not-in-package", digest } };
}

/**
 * A package that holds no certificate: not certified yet (could not verify), or with its
 * certificate taken out; whether its files were altered is said all the same (invalid).
 */
function uncertifiedPackageResult(pkg: CapturePackage): VerificationResult {
  if (pkg.ok) return notYetCertifiedResult();
  return malformedResult(
    `the capture package holds no certificate, and its files were altered: ${pkg.problems.join("; ")}`,
  );
}

async function readPackage(zip: ByteSource): Promise<CapturePackage | { malformed: string }> {
  try {
    return await readCapturePackage(zip);
  } catch (e) {
    if (isEvidenceError(e, "UNREADABLE")) throw e;
    if (await otherArchive(zip, e)) return { malformed: NOT_A_CAPTURE_PACKAGE };
    return { malformed: `the capture package cannot be read: ${isEvidenceError(e) ? e.message : String(e)}` };
  }
}

/** UTF-8 text of a certificate file, a leading byte order mark dropped; throws on bytes that are not UTF-8. */
function decodeText(bytes: Uint8Array): string {
  return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
}
