/**
 * The isomorphic core: hashing, canonical JSON, RFC 6962 Merkle trees, records,
 * certificates and their verification. It runs unchanged in the service, the CLI and
 * the browser, so it imports nothing from node.
 */
export { EVIDENCE_ANCHOR_ABI } from "./abi.ts";
export {
  CERTIFICATE_TYPE,
  MAX_CERTIFICATE_BYTES,
  certificateFileName,
  parseCertificate,
  personalMessageDigest,
  signCertificate,
  signingBytes,
  type AnchorJson,
  type Certificate,
  type InclusionProofJson,
  type MessageSigner,
  type UnsignedCertificate,
} from "./certificate.ts";
export {
  CachingAnchorReader,
  JsonRpcAnchorReader,
  VERIFIER_RPC_METHODS,
  type AnchorOnChain,
  type AnchorReader,
  type BlockOnChain,
} from "./chain.ts";
export { sha256Stream } from "./digest.ts";
export { EvidenceError, isEvidenceError, type EvidenceErrorCode } from "./errors.ts";
export { bytesToHex, fromHex32, hexToBytes, isHex32, toHex32, type Hex32 } from "./hex.ts";
export { canonicalBytes, canonicalize, type JsonValue } from "./jcs.ts";
export { MerkleTree, hashChildren, hashLeaf, merkleRoot, rootFromInclusionProof, verifyInclusion } from "./merkle.ts";
export {
  buildRecord,
  CONTENT_HASH_PATTERN,
  EVIDENCE_ID,
  contentHashOf,
  newEvidenceId,
  parseRecord,
  recordLeaf,
  recordLeafHash,
  TEXT_LIMITS,
  type EvidenceRecord,
  type NewRecord,
  type RecordDetails,
} from "./record.ts";
export {
  CERTIFICATE_SUFFIX,
  certificateFromPdf,
  extractEmbeddedFiles,
  isPdf,
  PDF_LIMITS,
  type EmbeddedFile,
} from "./pdf-attachment.ts";
export { CHECK_IDS, verifyCertificate, type Check, type CheckId, type VerificationResult } from "./verify.ts";
