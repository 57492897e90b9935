import { isEvidenceError } from "../errors.ts";
import { readCapturePackage } from "../capture-package.ts";
import { certificateFromPdf, isPdf } from "../pdf-attachment.ts";
import type { CaptureSummary, Check, VerificationResult as Result } from "./checks.ts";
import { checkContent, malformedResult, verifyCertificate, type VerifyOptions } from "./verify-certificate.ts";
import type { VerificationResult } from "./checks.ts";

/**
 * What a verifier is handed: a certificate (JSON text or a parsed value), or the bytes of
 * a file that holds one — the JSON certificate itself, its PDF document (docs/protocol.md §10) or a
 * web capture package (docs/protocol.md §9).
 */
export type EvidenceInput = { kind: "certificate"; certificate: unknown } | { kind: "bytes"; bytes: Uint8Array };

/** Verifies whatever was handed over, by what it is. */
export async function verifyEvidence(input: EvidenceInput, options: VerifyOptions): Promise<VerificationResult> {
  if (input.kind === "certificate") return verifyCertificate(input.certificate, options);
  if (isPdf(input.bytes)) {
    // The certificate document carries the JSON certificate as an attachment (docs/protocol.md §10);
    // the printed page itself proves nothing and is not read.
    let text: string;
    try {
      text = certificateFromPdf(input.bytes).text;
    } catch (e) {
      return malformedResult(`the PDF document holds no readable certificate: ${(e as Error).message}`);
    }
    return verifyCertificate(text, options);
  }
  if (isZip(input.bytes)) return verifyPackage(input.bytes, options);
  if (!beginsAsJson(input.bytes)) return malformedResult(NOT_A_CERTIFICATE);
  return verifyCertificate(decodeText(input.bytes), options);
}

/** A file of none of the three kinds: a screenshot or the evidence itself chosen by mistake, say. */
export const NOT_A_CERTIFICATE =
  "the file is not a certificate: a certificate is a JSON file (.evidence.json), its PDF document or a capture package (.zip)";

/** Whether the bytes begin as a JSON object does, after any byte-order mark and white space. */
export function beginsAsJson(bytes: Uint8Array): boolean {
  let i = bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? 3 : 0;
  while (i < bytes.length && (bytes[i] === 0x20 || bytes[i] === 0x09 || bytes[i] === 0x0a || bytes[i] === 0x0d)) i++;
  return bytes[i] === 0x7b;
}

/** A ZIP file: a web capture package (docs/protocol.md §9). */
function isZip(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && bytes[0] === 0x50 && bytes[1] === 0x4b && bytes[2] === 0x03 && bytes[3] === 0x04;
}

/**
 * A capture package: each artifact against the manifest (the `package` check), the
 * manifest against the certificate (`content`: the manifest is the certified file), and
 * the certificate it carries as any other (docs/protocol.md §8).
 */
async function verifyPackage(zip: Uint8Array, options: VerifyOptions): Promise<Result> {
  let pkg;
  try {
    pkg = readCapturePackage(zip);
  } catch (e) {
    return malformedResult(`the capture package cannot be read: ${isEvidenceError(e) ? e.message : String(e)}`);
  }
  if (pkg.certificateText === undefined) {
    return malformedResult("the capture package holds no certificate yet (it is issued once the capture is anchored)");
  }
  // The manifest is the certified file; a file the user hands over beside the package is
  // compared with the capture: the manifest itself, or one of the files it lists.
  const supplied =
    typeof options.fileDigest === "function" ? options.fileDigest(pkg.manifestSha256) : options.fileDigest;
  const result = await verifyCertificate(pkg.certificateText, { ...options, fileDigest: pkg.manifestSha256 });
  const contentCheck = packageContent(result.checks[1]!, pkg, supplied);
  const packageCheck: Check = pkg.ok
    ? { id: "package", status: "passed", reason: { code: "package.ok", artifacts: pkg.artifacts.length } }
    : { id: "package", status: "failed", reason: { code: "package.altered", problems: pkg.problems } };
  const checks = [result.checks[0]!, packageCheck, contentCheck, ...result.checks.slice(2)];
  const failed = packageCheck.status === "failed" || contentCheck.status === "failed";
  // What the package says of its capture counts only when its manifest is the certified one:
  // another capture's facts, or altered ones, are never shown beside this certificate.
  const certified = result.checks[1]!.reason.code === "content.match";
  return {
    ...result,
    checks,
    verdict: failed ? "invalid" : result.verdict,
    valid: !failed && result.valid,
    fileCompared: supplied !== undefined,
    ...(certified ? { capture: captureSummary(pkg) } : {}),
  };
}

/** The capture as its (certified) manifest states it, and its screenshot when unaltered. */
function captureSummary(pkg: ReturnType<typeof readCapturePackage>): CaptureSummary {
  return {
    url: pkg.manifest.url,
    finalUrl: pkg.manifest.finalUrl,
    title: typeof pkg.manifest.title === "string" ? pkg.manifest.title : "",
    startedAt: pkg.manifest.startedAt,
    finishedAt: pkg.manifest.finishedAt,
    artifacts: pkg.artifacts.map((a) => ({ name: a.name, ok: a.ok })),
    ...(pkg.screenshot ? { screenshot: pkg.screenshot } : {}),
  };
}

/**
 * The `content` check of a package. Without a file of the user's: the package's manifest
 * against the certificate. With one: once the manifest is the certified one, the file must
 * be that manifest or a file the manifest lists (a screenshot, the document, page.html).
 */
function packageContent(
  manifestCheck: Check,
  pkg: ReturnType<typeof readCapturePackage>,
  supplied: string | undefined,
): Check {
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

/** UTF-8 text of a certificate file; invalid UTF-8 is left for the format check to refuse. */
function decodeText(bytes: Uint8Array): string {
  return new TextDecoder("utf-8", { fatal: false }).decode(bytes);
}
