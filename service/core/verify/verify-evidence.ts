import { certificateFromPdf, isPdf } from "../pdf-attachment.ts";
import { malformedResult, verifyCertificate, type VerifyOptions } from "./verify-certificate.ts";
import type { VerificationResult } from "./checks.ts";

/**
 * What a verifier is handed: a certificate (JSON text or a parsed value), or the bytes of
 * a file that holds one — the JSON certificate itself, its PDF document (DESIGN §10) or a
 * web capture package (DESIGN §9).
 */
export type EvidenceInput = { kind: "certificate"; certificate: unknown } | { kind: "bytes"; bytes: Uint8Array };

/** Verifies whatever was handed over, by what it is. */
export async function verifyEvidence(input: EvidenceInput, options: VerifyOptions): Promise<VerificationResult> {
  if (input.kind === "certificate") return verifyCertificate(input.certificate, options);
  if (isPdf(input.bytes)) {
    // The certificate document carries the JSON certificate as an attachment (DESIGN §10);
    // the printed page itself proves nothing and is not read.
    let text: string;
    try {
      text = certificateFromPdf(input.bytes).text;
    } catch (e) {
      return malformedResult(`the PDF document holds no readable certificate: ${(e as Error).message}`);
    }
    return verifyCertificate(text, options);
  }
  return verifyCertificate(decodeText(input.bytes), options);
}

/** UTF-8 text of a certificate file; invalid UTF-8 is left for the format check to refuse. */
function decodeText(bytes: Uint8Array): string {
  return new TextDecoder("utf-8", { fatal: false }).decode(bytes);
}

