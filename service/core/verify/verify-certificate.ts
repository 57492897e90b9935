import {
  claimsOf,
  parseCertificate,
  personalMessageDigest,
  signedBytes,
  statementText,
  type CertificateClaims,
} from "../certificate.ts";
import { timestampTokenFromBase64 } from "../base64.ts";
import { ChainUnavailableError, type ChainReader } from "../chain-reader.ts";
import { isEvidenceError } from "../errors.ts";
import { TextKeyedCache } from "../text-cache.ts";
import { hasLowS, signerAddress } from "../issuer-signature.ts";
import { fromHex32, toHex32, type Hex32 } from "../hex.ts";
import { chainProof, hashChildren } from "../merkle.ts";
import { recordLeafHash } from "../record.ts";
import { CONTENT_HASH_INPUT, type Certificate } from "../schema.ts";
import {
  CHECK_IDS,
  verdictOf,
  type Check,
  type CheckId,
  type Reason,
  type TimestampSummary,
  type VerificationResult,
  type Warning,
} from "./checks.ts";

/** Checks one RFC 3161 token against the root it stamps (service/core/timestamp.ts is the usual one). */
export interface TimestampVerifier {
  verify(token: Uint8Array, root: Uint8Array): Promise<TimestampCheck>;
}

export interface TimestampCheck {
  status: "passed" | "failed" | "error";
  /** A short, stable description of what was wrong, e.g. "imprint-mismatch", "untrusted-tsa". */
  problem?: string;
  tsa?: string;
  genTime?: Date;
  development?: boolean;
}

export interface VerifyOptions {
  /**
   * SHA-256 of the file the certificate is about (64 hex chars), or a lookup by the
   * certified content hash, and by the record's file name and media type where a record is
   * at hand (bulk verification against a folder of files); `content` is skipped without one.
   */
  fileDigest?:
    | string
    | ((
        certifiedContentHash: string,
        record?: { fileName?: string | undefined; mediaType?: string | undefined },
      ) => string | undefined | Promise<string | undefined>);
  /**
   * `fileDigest` is a SHA-256 the reader gave (typed, pasted from a printed page), not one of a
   * file this verifier read: the result says a hash, not a file, was compared.
   */
  digestGiven?: boolean;
  /** Where the anchor is read; the verdict rests on it. */
  chain: ChainReader;
  /** Checks time-stamp tokens; without it, tokens are reported as not checked (an error). */
  timestamps?: TimestampVerifier;
  /**
   * The anchor registries the reader trusts (the consortium's published deployment), for every
   * chain or by the certificate's chain id: a certificate naming another contract fails
   * `anchor`. Without any, every EvidenceAnchor on the chain counts, and the reader must compare
   * `anchor.contract` themselves.
   */
  trustedContracts?: readonly string[] | ((chainId: number) => readonly string[] | undefined);
  /** Chain ids whose operator can rewrite them (the embedded development chain). */
  developmentChainIds?: readonly number[];
  /** A TSA's time further than this from the block's (seconds) is flagged. */
  timestampToleranceSeconds?: number;
}

/** Chain ids of development chains (Anvil, Hardhat, Ganache defaults). */
export const DEVELOPMENT_CHAIN_IDS: readonly number[] = [31337, 1337];

/**
 * Verifies an untrusted certificate (JSON text or parsed value), version 1 or 2, by the
 * checks of docs/protocol.md §8, and gives the verdict. Never throws for bad input: a malformed
 * certificate is a failed `format` check with the reason; a chain that cannot be read is
 * an `error`, never a failure.
 */
export async function verifyCertificate(input: unknown, options: VerifyOptions): Promise<VerificationResult> {
  let certificate: Certificate;
  try {
    certificate = parseCertificate(input);
  } catch (e) {
    return malformedResult(isEvidenceError(e) ? e.message : "the certificate could not be read");
  }
  const claims = claimsOf(certificate);
  const [anchor, timestamp, fileDigest] = await Promise.all([
    checkAnchor(claims, options.chain, trustedFor(options.trustedContracts, claims.anchor.chainId)),
    checkTimestamps(claims, options),
    typeof options.fileDigest === "function"
      ? options.fileDigest(claims.record.contentHash, claims.record)
      : options.fileDigest,
  ]);
  const checks: Check[] = [
    { id: "format", status: "passed", reason: { code: "format.ok", version: claims.version } },
    checkContent(claims.record.contentHash, fileDigest, options.digestGiven),
    checkLeaf(claims),
    checkInclusion(claims),
    anchor,
    checkSignature(certificate, claims),
    timestamp.check,
  ];
  const verdict = verdictOf(checks);
  const developmentChain = (options.developmentChainIds ?? DEVELOPMENT_CHAIN_IDS).includes(claims.anchor.chainId);
  const warnings: Warning[] = [...timestamp.warnings];
  if (developmentChain) warnings.unshift({ code: "warning.development-chain", chainId: claims.anchor.chainId });
  // Without a registry to trust, any EvidenceAnchor counts, one anybody deployed included: the
  // reader is told to compare the contract with the consortium's published one.
  if (anchor.status === "passed" && !trustedFor(options.trustedContracts, claims.anchor.chainId)) {
    warnings.push({
      code: "warning.registry-unchecked",
      contract: claims.anchor.contract,
      chainId: claims.anchor.chainId,
    });
  }
  if (anchor.status === "passed") warnings.push(...statedTimesContradicted(claims));
  return {
    verdict,
    valid: verdict === "valid",
    fileCompared: checks[1]!.status === "passed" || checks[1]!.status === "failed",
    anchoredAt: anchor.status === "passed" ? new Date(claims.anchor.timestamp * 1000).toISOString() : null,
    checks,
    certificate,
    claims,
    developmentChain,
    timestamps: timestamp.summaries,
    warnings,
  };
}

/** The verdict on something that is not a readable certificate: a failed format check, nothing else checked. */
export function malformedResult(message: string): VerificationResult {
  return nothingCheckedResult({ id: "format", status: "failed", reason: { code: "format.malformed", message } });
}

/**
 * The verdict on a certificate's file that could not be read at all (no permission, gone,
 * a directory): nothing could be checked, so it could not be verified, which is not invalid.
 */
export function unreadableResult(message: string): VerificationResult {
  return nothingCheckedResult({ id: "format", status: "error", reason: { code: "format.unreadable", message } });
}

/**
 * The verdict on a PDF in a form the verifier does not read (encrypted, other stream
 * filters): most often a PDF tool's rewrite of a genuine document, so it could not be
 * verified, which is not invalid.
 */
export function unsupportedDocumentResult(message: string): VerificationResult {
  return nothingCheckedResult({
    id: "format",
    status: "error",
    reason: { code: "format.unsupported-document", message },
  });
}

/**
 * The verdict on a capture package downloaded before its capture was anchored: it holds no
 * certificate yet, so nothing could be verified, which is not invalid.
 */
export function notYetCertifiedResult(): VerificationResult {
  return nothingCheckedResult({ id: "format", status: "error", reason: { code: "format.no-certificate-yet" } });
}

function nothingCheckedResult(format: Check): VerificationResult {
  const notChecked =
    format.reason.code === "format.no-certificate-yet"
      ? "not-checked.no-certificate-yet"
      : format.status === "error"
        ? "not-checked.unreadable"
        : "not-checked.malformed";
  const checks: Check[] = [
    format,
    ...CHECK_IDS.slice(1).map((id): Check => ({ id, status: "skipped", reason: { code: notChecked } })),
  ];
  return {
    verdict: verdictOf(checks),
    valid: false,
    fileCompared: false,
    anchoredAt: null,
    checks,
    certificate: null,
    claims: null,
    developmentChain: false,
    timestamps: [],
    warnings: [],
  };
}

function check(id: CheckId, status: Check["status"], reason: Reason): Check {
  return { id, status, reason };
}

/** The `content` check: a file's SHA-256 (as given) against the certified one; `given` when no file was read. */
export function checkContent(certified: string, fileDigest: string | undefined, given?: boolean): Check {
  if (fileDigest === undefined) return check("content", "skipped", { code: "content.no-file" });
  if (!CONTENT_HASH_INPUT.test(fileDigest)) return check("content", "error", { code: "content.bad-digest" });
  const digest = fileDigest.toLowerCase();
  return digest === certified
    ? check("content", "passed", { code: "content.match", digest, ...(given ? { given: true as const } : {}) })
    : check("content", "failed", {
        code: "content.mismatch",
        digest,
        certified,
        ...(given ? { given: true as const } : {}),
      });
}

function checkLeaf(c: CertificateClaims): Check {
  const computed = toHex32(recordLeafHash(c.record));
  return computed === c.leafHash
    ? check("leaf", "passed", { code: "leaf.match" })
    : check("leaf", "failed", { code: "leaf.mismatch", computed, stated: c.leafHash });
}

function checkInclusion(c: CertificateClaims): Check {
  const { leafIndex, treeSize, root } = c;
  try {
    const computed = chainProof(leafIndex, treeSize, c.leafHash, c.path, interiorNode);
    return computed === root
      ? check("inclusion", "passed", { code: "inclusion.ok", leafIndex, treeSize, root })
      : check("inclusion", "failed", { code: "inclusion.wrong-root", leafIndex, treeSize });
  } catch (e) {
    const message = isEvidenceError(e) ? e.message : "the proof could not be checked";
    return check("inclusion", "failed", { code: "inclusion.malformed", message });
  }
}

/**
 * Interior nodes already hashed, by their children (left, then right), as hex. The
 * certificates of one batch share the upper part of their paths, so a pile of them costs
 * about one hash per certificate rather than one per level of the tree. A remembered node is
 * the hash of exactly those two children: the verdict is the one hashing would give. At most
 * {@link INTERIOR_NODES} are kept; past that the memory starts again empty.
 */
const interiorNodes = new Map<string, Map<string, Hex32>>();
const INTERIOR_NODES = 65_536;
let interiorNodeCount = 0;

/** SHA-256(0x01 || left || right) of two nodes written as hex, remembered. */
function interiorNode(left: Hex32, right: Hex32): Hex32 {
  let byRight = interiorNodes.get(left);
  let node = byRight?.get(right);
  if (node === undefined) {
    node = toHex32(hashChildren(fromHex32(left), fromHex32(right)));
    if (++interiorNodeCount > INTERIOR_NODES) {
      interiorNodes.clear();
      interiorNodeCount = 1;
      byRight = undefined;
    }
    if (!byRight) interiorNodes.set(left, (byRight = new Map()));
    byRight.set(right, node);
  }
  return node;
}

/**
 * The anchor check of docs/protocol.md §8: the contract records the root with the certificate's
 * time, block and tree size; the block at that height has the stated hash and time; the
 * stated transaction succeeded in that block and emitted, from the contract,
 * Anchored(root, issuer, treeSize, timestamp) — so the issuer is the member that anchored.
 *
 * What the node cannot answer is an error: unreachable, another chain, or not yet at the
 * anchored height (a node still syncing would otherwise read as a forgery).
 */
async function checkAnchor(
  c: CertificateClaims,
  chain: ChainReader,
  trustedContracts?: readonly string[],
): Promise<Check> {
  const { chainId, contract, blockNumber, blockHash, timestamp, txHash } = c.anchor;
  const fail = (reason: Reason) => check("anchor", "failed", reason);
  // Anyone may deploy a contract of their own: the consortium's registry is the one that counts.
  if (trustedContracts && !trustedContracts.some((t) => t.toLowerCase() === contract.toLowerCase())) {
    return fail({ code: "anchor.unknown-contract", contract, trusted: trustedContracts.join(", ") });
  }
  try {
    // Every read is asked for at once: one round trip to a distant node instead of six. The
    // answers are judged in this order, so the verdict and its reason are those of reading
    // them one after another; a read whose answer is never needed is left unjudged. An answer
    // that would fail the check on the contract's state is read again at a pinned block first.
    const reads = {
      chainId: asked(chain.chainId()),
      latest: asked(chain.blockNumberAtLeast ? chain.blockNumberAtLeast(blockNumber) : chain.blockNumber()),
      code: asked(chain.hasCode(contract)),
      onChain: asked(chain.anchorOf(contract, c.root)),
      block: asked(chain.block(blockNumber)),
      receipt: asked(chain.receipt(txHash as `0x${string}`)),
    };
    const actualChainId = await reads.chainId;
    if (actualChainId !== chainId) {
      return check("anchor", "error", { code: "anchor.other-chain", actual: actualChainId, stated: chainId });
    }
    const latest = await reads.latest;
    if (latest < blockNumber) {
      return check("anchor", "error", { code: "anchor.behind", latest, blockNumber });
    }
    // The contract's record of the root; undefined where there is no contract to ask.
    let onChain = (await reads.code) ? await reads.onChain : undefined;
    if (onChain === undefined || onChain.timestamp === 0) {
      // The contract's state, read at "latest" with the other reads, may be older than the
      // newest block reported: a node still importing the anchoring block, or a pool of nodes
      // at different heights behind one address. Before saying the contract or the anchor is
      // not there, both are read again from the state after one block at or past the anchored
      // one: a node that has that block answers from it, one that has not answers an error.
      const head = await chain.blockNumber();
      if (head < blockNumber) return check("anchor", "error", { code: "anchor.behind", latest: head, blockNumber });
      onChain = (await chain.hasCode(contract, head)) ? await chain.anchorOf(contract, c.root, head) : undefined;
    }
    // The registry the reader trusts exists on the consortium's chain: a node without it is of
    // another chain that shares the id (two development chains are both 31337), or one not
    // synced, and proves nothing.
    if (onChain === undefined && trustedContracts) {
      return check("anchor", "error", { code: "anchor.registry-missing", contract, chainId });
    }
    if (onChain === undefined || onChain.timestamp === 0) {
      // With no registry trusted, a node that has neither the contract (or the root's anchor in
      // it) nor the certificate's block may be of another chain that shares the id, which a
      // genuine certificate must not be called altered for; a node that has the certificate's
      // block is of its chain, and then the certificate's claim fails. (A forger naming a block
      // that never existed is told apart from another chain only by a trusted registry.)
      // A node that has the stated transaction is of the chain where it was sent.
      if (!trustedContracts) {
        const [block, receipt] = await Promise.all([reads.block, reads.receipt]);
        if (block?.hash !== blockHash && receipt === null) {
          return check("anchor", "error", {
            code: "anchor.chain-unconfirmed",
            missing: onChain === undefined ? "contract" : "anchor",
            contract,
            chainId,
            blockNumber,
            onChain: block?.hash ?? null,
            stated: blockHash,
          });
        }
      }
      return onChain === undefined
        ? fail({ code: "anchor.no-contract", contract, chainId })
        : fail({ code: "anchor.never-anchored", root: c.root, contract, chainId });
    }
    if (onChain.timestamp !== timestamp) {
      return fail({ code: "anchor.time-differs", onChain: onChain.timestamp, stated: timestamp });
    }
    if (onChain.blockNumber !== blockNumber) {
      return fail({ code: "anchor.block-differs", onChain: onChain.blockNumber, stated: blockNumber });
    }
    if (onChain.treeSize !== c.treeSize) {
      return fail({ code: "anchor.size-differs", onChain: onChain.treeSize, stated: c.treeSize });
    }
    const block = await reads.block;
    if (block === null) return check("anchor", "error", { code: "anchor.behind", latest, blockNumber });
    if (block.hash !== blockHash) {
      return fail({ code: "anchor.block-hash-differs", blockNumber, onChain: block.hash, stated: blockHash });
    }
    if (block.timestamp !== timestamp) {
      return fail({ code: "anchor.block-time-differs", blockNumber, onChain: block.timestamp, stated: timestamp });
    }
    const receipt = await reads.receipt;
    if (receipt === null) {
      // A node may keep blocks but not an index of old receipts: the block says whether the
      // transaction is there at all.
      return block.transactions.includes(txHash as `0x${string}`)
        ? check("anchor", "error", { code: "anchor.receipt-unavailable", txHash, blockNumber })
        : fail({ code: "anchor.no-transaction", txHash });
    }
    if (receipt.blockNumber !== blockNumber || receipt.blockHash !== blockHash) {
      return fail({ code: "anchor.transaction-elsewhere", txHash, blockNumber: receipt.blockNumber });
    }
    if (receipt.status !== 1) return fail({ code: "anchor.transaction-failed", txHash });
    const event = receipt.anchored.find(
      (e) =>
        e.contract.toLowerCase() === contract.toLowerCase() &&
        e.root === c.root &&
        e.treeSize === c.treeSize &&
        e.timestamp === timestamp,
    );
    if (!event) return fail({ code: "anchor.no-event", txHash });
    if (event.anchorer.toLowerCase() !== c.issuer.address.toLowerCase()) {
      return fail({ code: "anchor.not-anchorer", issuer: c.issuer.address, anchorer: event.anchorer });
    }
    return check("anchor", "passed", { code: "anchor.ok", chainId, blockNumber, timestamp });
  } catch (e) {
    const message = isEvidenceError(e) ? e.message : `the chain could not be read: ${String(e)}`;
    const failure = e instanceof ChainUnavailableError ? e.failure : "bad-answer";
    const node = e instanceof ChainUnavailableError ? e.node : "";
    return check("anchor", "error", { code: "anchor.unreachable", failure, node, message });
  }
}

function trustedFor(trusted: VerifyOptions["trustedContracts"], chainId: number): readonly string[] | undefined {
  return typeof trusted === "function" ? trusted(chainId) : trusted;
}

/** A read asked for ahead of its turn: its failure is judged when awaited, or never if it is not needed. */
function asked<T>(read: Promise<T>): Promise<T> {
  read.catch(() => undefined);
  return read;
}

/**
 * Signatures found to be their certificate's issuer's, by (signed content, signature). In
 * version 2 the certificates of a batch share both, so a batch costs one signature check,
 * however many certificates of it are checked. The key is the statement as JSON.stringify
 * writes the parsed value: equal keys mean equal content, hence equal signed bytes (a
 * different key order only misses), and the content names the issuer. Only signatures of
 * the issuer are kept: random signatures recover random addresses, and need not fill the cache.
 */
const issuerSignatures = new TextKeyedCache<true>(4096, 16 * 1024 * 1024);

function checkSignature(certificate: Certificate, c: CertificateClaims): Check {
  // One certificate has one signature: v is 27 or 28 (the schema), s is in the lower half.
  if (!hasLowS(c.signature)) return check("signature", "failed", { code: "signature.malformed" });
  const passed = () =>
    check("signature", "passed", { code: "signature.ok", issuer: c.issuer.address, name: c.issuer.name });
  try {
    const key = certificate.version === 2 ? `${statementText(certificate)}/${c.signature}` : undefined;
    if (key !== undefined && issuerSignatures.has(key)) return passed();
    const signer = signerAddress(personalMessageDigest(signedBytes(certificate)), c.signature, c.issuer.address);
    if (signer.toLowerCase() !== c.issuer.address.toLowerCase()) {
      return check("signature", "failed", { code: "signature.other-signer", signer, issuer: c.issuer.address });
    }
    if (key !== undefined) issuerSignatures.set(key, true);
    return passed();
  } catch {
    return check("signature", "failed", { code: "signature.malformed" });
  }
}

/**
 * How far the issuer's clock may be from the block's before the times it states contradict the
 * anchor: as for a time-stamp authority's.
 */
const STATED_TIME_TOLERANCE_SECONDS = 600;

/**
 * The times the issuer states that the anchor's block time contradicts (docs/protocol.md §8.6):
 * a record is made before the root that commits to it is anchored, and a certificate naming the
 * anchor is issued after it. Only the anchoring time is proven; the issuer states the others,
 * and one who writes any time it likes (its key is all it takes) is told apart here.
 */
function statedTimesContradicted(c: CertificateClaims): Warning[] {
  const anchoredAt = new Date(c.anchor.timestamp * 1000).toISOString();
  const warnings: Warning[] = [];
  const seconds = (time: string) => Date.parse(time) / 1000;
  if (seconds(c.record.submittedAt) > c.anchor.timestamp + STATED_TIME_TOLERANCE_SECONDS) {
    warnings.push({
      code: "warning.stated-time-contradicts-anchor",
      stated: "submittedAt",
      at: c.record.submittedAt,
      anchoredAt,
    });
  }
  if (seconds(c.issuedAt) < c.anchor.timestamp - STATED_TIME_TOLERANCE_SECONDS) {
    warnings.push({ code: "warning.stated-time-contradicts-anchor", stated: "issuedAt", at: c.issuedAt, anchoredAt });
  }
  return warnings;
}

/** Default tolerance between a TSA's time and the block's: the stamp is asked for when the batch is sealed. */
const TIMESTAMP_TOLERANCE_SECONDS = 600;

async function checkTimestamps(
  c: CertificateClaims,
  options: VerifyOptions,
): Promise<{ check: Check; summaries: TimestampSummary[]; warnings: Warning[] }> {
  const tokens = c.timestamps;
  if (tokens.length === 0) {
    return { check: check("timestamp", "skipped", { code: "timestamp.none" }), summaries: [], warnings: [] };
  }
  if (!options.timestamps) {
    return {
      check: check("timestamp", "error", { code: "timestamp.not-checked", count: tokens.length }),
      summaries: [],
      warnings: [{ code: "warning.timestamp-unchecked" }],
    };
  }
  const root = fromHex32(c.root);
  const results = await Promise.all(tokens.map((t) => checkToken(options.timestamps!, t.token, c.root, root)));
  const tolerance = options.timestampToleranceSeconds ?? TIMESTAMP_TOLERANCE_SECONDS;
  const summaries: TimestampSummary[] = [];
  const warnings: Warning[] = [];
  for (const r of results) {
    if (!r.genTime) continue;
    const offsetSeconds = Math.round(Math.abs(r.genTime.getTime() / 1000 - c.anchor.timestamp));
    const tsa = r.tsa ?? "";
    summaries.push({
      tsa,
      time: r.genTime.toISOString(),
      status: r.status,
      development: r.development === true,
      offsetSeconds,
    });
    if (r.status === "passed" && offsetSeconds > tolerance) {
      warnings.push({ code: "warning.timestamp-offset", tsa, offsetSeconds });
    }
    if (r.development) warnings.push({ code: "warning.development-tsa", tsa });
  }
  const failed = results.findIndex((r) => r.status === "failed");
  if (failed >= 0) {
    const problem = results[failed]!.problem ?? "invalid";
    return {
      check: check("timestamp", "failed", { code: "timestamp.invalid", index: failed, problem }),
      summaries,
      warnings,
    };
  }
  const unchecked = results.findIndex((r) => r.status === "error");
  if (unchecked >= 0) {
    const { tsa = "", problem = "untrusted-tsa" } = results[unchecked]!;
    const reason: Reason =
      problem === "untrusted-tsa"
        ? { code: "timestamp.untrusted", index: unchecked, tsa }
        : { code: "timestamp.unverifiable", index: unchecked, tsa, problem };
    return { check: check("timestamp", "error", reason), summaries, warnings };
  }
  return { check: check("timestamp", "passed", { code: "timestamp.ok", count: tokens.length }), summaries, warnings };
}

/**
 * Token checks by (root, token), for each verifier: the certificates of a batch carry the
 * same tokens on the same root, and checking one (CMS signature, chain to a trusted TSA)
 * costs more than the rest of a certificate. Kept a minute, since a check may depend on
 * the time it is made (a certificate's validity).
 */
const tokenChecks = new WeakMap<TimestampVerifier, TextKeyedCache<{ at: number; check: Promise<TimestampCheck> }>>();

function checkToken(
  verifier: TimestampVerifier,
  token: string,
  rootHex: string,
  root: Uint8Array,
): Promise<TimestampCheck> {
  let cache = tokenChecks.get(verifier);
  if (!cache) tokenChecks.set(verifier, (cache = new TextKeyedCache(1024, 16 * 1024 * 1024)));
  const key = `${rootHex}/${token}`;
  const now = Date.now();
  const cached = cache.get(key);
  if (cached && now - cached.at < 60_000) return cached.check;
  // A token is attacker-controlled: one that cannot even be decoded is a failed token, never a crash.
  const check = Promise.resolve()
    .then(() => verifier.verify(timestampTokenFromBase64(token), root))
    .catch((): TimestampCheck => ({ status: "failed", problem: "unreadable" }));
  cache.set(key, { at: now, check });
  return check;
}
