/**
 * Writes the certificate document of the example certificate (test/vectors/certificate/)
 * and renders its first page as docs/certificate-example.png (needs poppler-utils):
 *
 *     node scripts/document-example.ts [out.pdf]          # default: certificate-example.pdf in a temporary directory
 *     node scripts/document-example.ts --development      # with the development-chain warning
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseCertificate } from "../service/core/index.ts";
import { renderCertificatePdf, type CertificateDocumentInput } from "../service/document/certificate-pdf.ts";

/** The document input for the example certificate, as the service would fill it in. */
export function exampleDocumentInput(development = false): CertificateDocumentInput {
  const certificateJson = readFileSync(
    new URL("../test/vectors/certificate/certificate.json", import.meta.url),
    "utf8",
  );
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

if (import.meta.url === `file://${process.argv[1]}`) {
  const development = process.argv.includes("--development");
  const out = process.argv.slice(2).find((a) => !a.startsWith("--"));
  const dir = mkdtempSync(join(tmpdir(), "certificate-document-"));
  const pdf = out ?? join(dir, "certificate-example.pdf");
  writeFileSync(pdf, await renderCertificatePdf(exampleDocumentInput(development)));
  execFileSync("pdftoppm", ["-png", "-r", "80", "-f", "1", "-l", "1", "-singlefile", pdf, join(dir, "page")]);
  const png = new URL("../docs/certificate-example.png", import.meta.url).pathname;
  renameSync(join(dir, "page.png"), png);
  if (out === undefined) rmSync(dir, { recursive: true });
  else rmSync(dir, { recursive: true });
  console.log(`${pdf}\n${png}`);
}
