/**
 * The isomorphic core: hashing, canonical JSON, RFC 6962 Merkle trees, records,
 * certificates, their verification and its wording. It runs unchanged in the service, the
 * CLI and the browser, so it imports nothing from node. The formats are specified in
 * docs/protocol.md.
 */
export * from "./limits.ts";
export {
  BATCH_TYPE,
  CERTIFICATE_TYPE,
  buildCertificates,
  certificateFileName,
  certificateOfLeaf,
  signBatchStatement,
  claimsOf,
  parseCertificate,
  personalMessageDigest,
  signedBytes,
  type AnchorJson,
  type BatchLeaf,
  type BatchStatement,
  type BatchToCertify,
  type Certificate,
  type CertificateClaims,
  type CertificateSigner,
  type CertificateV1,
  type CertificateV2,
  type Issuer,
  type SignedBatchStatement,
  type TimestampToken,
} from "./certificate.ts";
export {
  CachingChainReader,
  ChainUnavailableError,
  JsonRpcChainReader,
  OutageReader,
  SERVICE_NODE_LABEL,
  type ChainFailure,
  VERIFIER_RPC_METHODS,
  type AnchoredEvent,
  type AnchorOnChain,
  type BlockOnChain,
  type ChainReader,
  type ReceiptOnChain,
  type VerifierRpcMethod,
} from "./chain-reader.ts";
export { ANCHORED_TOPIC, EVIDENCE_ANCHOR_ABI, evidenceAnchorInterface } from "./contract.ts";
export { sha256Stream } from "./digest.ts";
export { EvidenceError, firstLineOf, isEvidenceError, type EvidenceErrorCode } from "./errors.ts";
export { bytesToHex, fromHex32, hexToBytes, isHex32, toHex32, type Hex32 } from "./hex.ts";
export { sizeBaseTableForFewSignatures } from "./issuer-signature.ts";
export { canonicalBytes, canonicalize, type JsonValue } from "./jcs.ts";
export { codePointLabel, INVISIBLE_CHARACTER, visibleText } from "./visible-text.ts";
export {
  duplicateKeys,
  firstDuplicateKey,
  JsonTooDeepError,
  nestsDeeperThan,
  parseJson,
  parseJsonText,
} from "./json.ts";
export {
  MerkleTree,
  hashChildren,
  hashLeaf,
  merkleRoot,
  rootFromInclusionProof,
  chainProof,
  upperProof,
  verifyInclusion,
} from "./merkle.ts";
export {
  buildRecord,
  contentHashOf,
  newEvidenceId,
  parseRecord,
  recordLeaf,
  recordLeafHash,
  rfc3339,
  type NewRecord,
  type RecordDetails,
} from "./record.ts";
export {
  CONTENT_HASH,
  CONTENT_HASH_INPUT,
  EVIDENCE_ID,
  HEX32,
  RFC3339_UTC_MS,
  parseWith,
  typedDigest,
  type EvidenceRecord,
} from "./schema.ts";
export * from "./verify/checks.ts";
export {
  DEVELOPMENT_CHAIN_IDS,
  malformedResult,
  verifyCertificate,
  type TimestampCheck,
  type TimestampVerifier,
  type VerifyOptions,
} from "./verify/verify-certificate.ts";
export * from "./verify/wording.ts";
export * from "./api.ts";
export { blobSource, type ByteSource } from "./capture-package.ts";
export {
  beginsAsJson,
  certificateOfDocument,
  isZip,
  notACertificate,
  verifyEvidence,
  type DocumentOutcome,
  type EvidenceInput,
  type EvidenceOptions,
  type NotACertificate,
  type ReadDocument,
} from "./verify/verify-evidence.ts";
export {
  CERTIFICATE_SUFFIX,
  certificateFromPdf,
  extractEmbeddedFiles,
  isPdf,
  PDF_LIMITS,
  type EmbeddedFile,
} from "./pdf-attachment.ts";
export { lazyTimestampVerifier } from "./verify/lazy-timestamps.ts";
