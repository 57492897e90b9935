import { recoverAddress } from "ethers";
import { parseCertificate, personalMessageDigest, signingBytes, type Certificate } from "./certificate.ts";
import type { AnchorReader } from "./chain.ts";
import { isEvidenceError } from "./errors.ts";
import { fromHex32, toHex32 } from "./hex.ts";
import { verifyInclusion } from "./merkle.ts";
import { CONTENT_HASH, recordLeafHash } from "./record.ts";

/** The checks of a verification, in the order they run (DESIGN section 4). */
export const CHECK_IDS = ["format", "content", "leaf", "inclusion", "anchor", "signature"] as const;
export type CheckId = (typeof CHECK_IDS)[number];

export interface Check {
  id: CheckId;
  /** true only when the check ran and passed. */
  ok: boolean;
  status: "passed" | "failed" | "skipped";
  /** Why, in plain words: what was compared, or what went wrong. */
  detail: string;
}

export interface VerificationResult {
  /** true only when every check that ran passed and the anchor was checked. */
  valid: boolean;
  /** The anchoring block's time (RFC 3339) when the anchor check passed, else null. */
  anchoredAt: string | null;
  checks: Check[];
  /** The parsed certificate, when it was well-formed. */
  certificate: Certificate | null;
}

export interface VerifyOptions {
  /** SHA-256 of the file the certificate is about (64 hex chars); `content` is skipped without it. */
  fileDigest?: string;
  /** Where the anchor is read; the verdict rests on it. */
  chain: AnchorReader;
}

/**
 * Verifies an untrusted certificate (JSON text or parsed value). Never throws for bad
 * input: a malformed certificate is a failed `format` check with the reason.
 */
export async function verifyCertificate(input: unknown, options: VerifyOptions): Promise<VerificationResult> {
  const checks: Check[] = [];
  let certificate: Certificate;
  try {
    certificate = parseCertificate(input);
    checks.push(pass("format", "the certificate is a well-formed version 1 certificate"));
  } catch (e) {
    checks.push(fail("format", isEvidenceError(e) ? e.message : "the certificate could not be read"));
    for (const id of CHECK_IDS.slice(1)) checks.push(skip(id, "not checked: the certificate is malformed"));
    return { valid: false, anchoredAt: null, checks, certificate: null };
  }

  checks.push(checkContent(certificate, options.fileDigest));
  checks.push(checkLeaf(certificate));
  checks.push(checkInclusion(certificate));
  const anchor = await checkAnchor(certificate, options.chain);
  checks.push(anchor);
  checks.push(checkSignature(certificate));

  const valid = checks.every((c) => c.status !== "failed") && anchor.ok;
  const anchoredAt = anchor.ok ? new Date(certificate.anchor.timestamp * 1000).toISOString() : null;
  return { valid, anchoredAt, checks, certificate };
}

function checkContent(c: Certificate, fileDigest: string | undefined): Check {
  if (fileDigest === undefined) return skip("content", "no file was supplied, so its contents were not compared");
  const digest = fileDigest.toLowerCase();
  if (!CONTENT_HASH.test(digest)) return fail("content", "the supplied SHA-256 is not 64 hex characters");
  return digest === c.record.contentHash
    ? pass("content", `the file's SHA-256 ${digest} equals the certified content hash`)
    : fail("content", `the file's SHA-256 ${digest} differs from the certified ${c.record.contentHash}`);
}

function checkLeaf(c: Certificate): Check {
  const computed = toHex32(recordLeafHash(c.record));
  return computed === c.leafHash
    ? pass("leaf", "the leaf hash is the hash of the record")
    : fail("leaf", `the record hashes to ${computed}, not to the certificate's leafHash ${c.leafHash}`);
}

function checkInclusion(c: Certificate): Check {
  const { leafIndex, treeSize, path, root } = c.proof;
  try {
    verifyInclusion(
      leafIndex,
      treeSize,
      fromHex32(c.leafHash),
      path.map((h) => fromHex32(h)),
      fromHex32(root),
    );
    return pass("inclusion", `leaf ${leafIndex} of ${treeSize} leads to root ${root}`);
  } catch (e) {
    return fail("inclusion", isEvidenceError(e) ? e.message : "the proof could not be checked");
  }
}

async function checkAnchor(c: Certificate, chain: AnchorReader): Promise<Check> {
  const { chainId, contract, blockNumber, blockHash, timestamp } = c.anchor;
  try {
    const actualChainId = await chain.chainId();
    if (actualChainId !== chainId) {
      return fail("anchor", `the chain read has id ${actualChainId}, the certificate names chain ${chainId}`);
    }
    const onChain = await chain.anchorOf(contract, c.proof.root);
    if (onChain.timestamp === 0) {
      return fail("anchor", `root ${c.proof.root} was never anchored in contract ${contract} on chain ${chainId}`);
    }
    const mismatches = [
      onChain.timestamp !== timestamp && `timestamp ${onChain.timestamp} (certificate: ${timestamp})`,
      onChain.blockNumber !== blockNumber && `block ${onChain.blockNumber} (certificate: ${blockNumber})`,
      onChain.treeSize !== c.proof.treeSize && `tree size ${onChain.treeSize} (certificate: ${c.proof.treeSize})`,
    ].filter(Boolean);
    if (mismatches.length > 0) return fail("anchor", `the chain records ${mismatches.join(", ")}`);
    const block = await chain.block(blockNumber);
    if (block === null || block.hash !== blockHash) {
      return fail("anchor", `block ${blockNumber} on chain ${chainId} is not the certificate's block ${blockHash}`);
    }
    return pass(
      "anchor",
      `root anchored on chain ${chainId} in block ${blockNumber} at ${new Date(timestamp * 1000).toISOString()}`,
    );
  } catch (e) {
    return fail("anchor", isEvidenceError(e) ? e.message : `the chain could not be read: ${String(e)}`);
  }
}

function checkSignature(c: Certificate): Check {
  try {
    const signer = recoverAddress(personalMessageDigest(signingBytes(c)), c.signature);
    return signer.toLowerCase() === c.issuer.address.toLowerCase()
      ? pass("signature", `signed by the issuer ${c.issuer.address} (${c.issuer.name})`)
      : fail("signature", `the signature is by ${signer}, not by the issuer ${c.issuer.address}`);
  } catch {
    return fail("signature", "the signature is not a valid secp256k1 signature");
  }
}

function pass(id: CheckId, detail: string): Check {
  return { id, ok: true, status: "passed", detail };
}

function fail(id: CheckId, detail: string): Check {
  return { id, ok: false, status: "failed", detail };
}

function skip(id: CheckId, detail: string): Check {
  return { id, ok: false, status: "skipped", detail };
}
