import { rename, writeFile } from "node:fs/promises";
import path from "node:path";
import { certificateFileName, type Certificate } from "../core/certificate.ts";
import { makeDirectory } from "../make-directory.ts";

/**
 * Saves a certificate as `<dir>/<id>.evidence.json`, the one name every command uses,
 * written whole or not at all (a temporary file renamed into place). Returns the path.
 */
export async function saveCertificate(dir: string, certificate: Certificate): Promise<string> {
  return saveFile(dir, certificateFileName(certificate), `${JSON.stringify(certificate, null, 2)}\n`);
}

export async function saveFile(dir: string, name: string, contents: string | Uint8Array): Promise<string> {
  makeDirectory(dir, 0o777);
  const target = path.join(dir, name);
  const temporary = `${target}.${process.pid}.tmp`;
  await writeFile(temporary, contents);
  await rename(temporary, target);
  return target;
}
