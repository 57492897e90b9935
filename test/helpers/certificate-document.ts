import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { parseCertificate } from "../../service/core/index.ts";
import type { CertificateDocumentInput } from "../../service/document/certificate-pdf.ts";

/**
 * The document input for the example certificate (test/vectors/certificate/), filled in as
 * the service would: an applicant, a chain name, two time-stamps of which one is from a
 * development TSA.
 */
export function exampleDocumentInput(options: { development?: boolean } = {}): CertificateDocumentInput {
  const development = options.development ?? false;
  const certificateJson = readFileSync(new URL("../vectors/certificate/certificate.json", import.meta.url), "utf8");
  const certificate = parseCertificate(certificateJson);
  return {
    certificateJson,
    certificate,
    applicant: "示例知识产权代理有限公司 Example IP Agency Ltd.",
    chainName: development ? "本地开发链 Local development chain" : "示例联盟链 Example consortium chain",
    developmentChain: development,
    verifyUrl: `https://evidence.example.com/verify?id=${certificate.record.id}`,
    serviceUrl: "https://evidence.example.com",
    timestamps: [
      {
        tsa: "Example Time-Stamping Authority (CN=Example TSA, O=Example Trust Services)",
        time: "2026-11-25T16:39:06Z",
        development: false,
      },
      { tsa: "Evidence Anchor development TSA", time: "2026-11-25T16:39:06.250Z", development: true },
    ],
    generatedAt: new Date("2026-11-25T16:40:00.000Z"),
  };
}

/** Runs a poppler tool (pdftotext, pdfinfo, pdfdetach, pdftoppm) on a PDF in a scratch directory. */
export class Poppler {
  readonly dir = mkdtempSync(path.join(tmpdir(), "evidence-pdf-"));
  #count = 0;

  /** Writes the PDF to the scratch directory and returns its path. */
  save(pdf: Uint8Array, name = `document-${++this.#count}.pdf`): string {
    const file = path.join(this.dir, name);
    writeFileSync(file, pdf);
    return file;
  }

  /** The text of every page, in the order it was drawn (pdftotext -raw). */
  text(pdf: Uint8Array): string {
    return execFileSync("pdftotext", ["-raw", "-enc", "UTF-8", this.save(pdf), "-"], { encoding: "utf8" });
  }

  /** pdfinfo's fields, e.g. Pages, Title, CreationDate. */
  info(pdf: Uint8Array): Record<string, string> {
    const out = execFileSync("pdfinfo", ["-isodates", this.save(pdf)], { encoding: "utf8" });
    return Object.fromEntries(
      out.split("\n").flatMap((line) => {
        const m = /^([^:]+):\s*(.*)$/.exec(line);
        return m === null ? [] : [[m[1]!, m[2]!]];
      }),
    );
  }

  /** Every embedded file, as pdfdetach -saveall writes it: name and bytes. */
  attachments(pdf: Uint8Array): { name: string; bytes: Buffer }[] {
    const file = this.save(pdf);
    const out = mkdtempSync(path.join(this.dir, "detach-"));
    execFileSync("pdfdetach", ["-saveall", "-enc", "UTF-8", "-o", out, file], { stdio: "pipe" });
    return readdirSync(out)
      .sort()
      .map((name) => ({ name, bytes: readFileSync(path.join(out, name)) }));
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}
