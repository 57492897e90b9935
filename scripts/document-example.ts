/**
 * Writes the certificate document of the example certificate (test/vectors/certificate/)
 * and renders its first page at 80 dpi as docs/certificate-example.png (needs poppler-utils):
 *
 *     node scripts/document-example.ts [--development] [out.pdf]
 *
 * Without out.pdf the PDF is written to a temporary directory and removed; --development
 * renders the development-chain warning.
 */
import { execFileSync } from "node:child_process";
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { renderCertificatePdf } from "../service/document/certificate-pdf.ts";
import { exampleDocumentInput } from "../test/helpers/certificate-document.ts";

const development = process.argv.includes("--development");
const out = process.argv.slice(2).find((a) => !a.startsWith("--"));
const dir = mkdtempSync(path.join(tmpdir(), "certificate-document-"));
try {
  const pdf = out ?? path.join(dir, "certificate-example.pdf");
  writeFileSync(pdf, await renderCertificatePdf(exampleDocumentInput({ development })));
  execFileSync("pdftoppm", ["-png", "-r", "80", "-f", "1", "-l", "1", "-singlefile", pdf, path.join(dir, "page")]);
  const png = new URL("../docs/certificate-example.png", import.meta.url).pathname;
  copyFileSync(path.join(dir, "page.png"), png);
  console.log(out === undefined ? png : `${out}\n${png}`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
