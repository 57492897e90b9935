import { readFile } from "node:fs/promises";
import { verifyCertificate, type AnchorReader, type CheckId, type VerificationResult } from "../core/index.ts";
import { sha256File } from "../intake/file-digest.ts";

/** What each check establishes, in words for a mediator or a court's technician. */
export const CHECK_EXPLANATIONS: Record<CheckId, string> = {
  format: "The certificate is a complete, well-formed version 1 certificate.",
  content: "The file you supplied is exactly the file that was certified (same SHA-256).",
  leaf: "The certified record (hash, submitter, time, names) is what the proof commits to.",
  inclusion: "The record is one of the leaves of the Merkle tree whose root was anchored.",
  anchor: "That root is recorded on the chain, in the block and at the time the certificate states.",
  signature: "The certificate was issued, unaltered, by the issuer it names.",
};

export async function verifyFile(options: {
  certificatePath: string;
  filePath: string | undefined;
  sha256: string | undefined;
  chain: AnchorReader;
}): Promise<VerificationResult> {
  const text = await readFile(options.certificatePath, "utf8");
  const fileDigest =
    options.filePath !== undefined ? await sha256File(options.filePath) : options.sha256?.toLowerCase();
  return verifyCertificate(text, { chain: options.chain, ...(fileDigest !== undefined ? { fileDigest } : {}) });
}

export function printVerification(result: VerificationResult, options: { json: boolean; rpc: string }): void {
  if (options.json) {
    console.log(JSON.stringify({ valid: result.valid, anchoredAt: result.anchoredAt, checks: result.checks }, null, 2));
    return;
  }
  const mark = { passed: "PASS", failed: "FAIL", skipped: "SKIP" } as const;
  for (const check of result.checks) {
    console.log(`${mark[check.status]}  ${check.id.padEnd(9)} ${CHECK_EXPLANATIONS[check.id]}`);
    console.log(`      ${" ".repeat(9)} ${check.detail}`);
  }
  console.log("");
  const c = result.certificate;
  if (result.valid && c && result.anchoredAt) {
    const local = new Date(result.anchoredAt).toString();
    console.log("VALID: the certified file existed no later than");
    console.log(`  ${result.anchoredAt} (UTC)`);
    console.log(`  ${local} (local time)`);
    console.log(`  content SHA-256  ${c.record.contentHash}`);
    console.log(
      `  chain ${c.anchor.chainId}, contract ${c.anchor.contract}, block ${c.anchor.blockNumber}, tx ${c.anchor.txHash}`,
    );
    console.log(`  read from ${options.rpc}`);
  } else {
    const failed = result.checks.filter((x) => x.status === "failed").map((x) => x.id);
    console.log(`INVALID: failed ${failed.join(", ")}.`);
  }
}
