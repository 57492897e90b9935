/**
 * RFC 3161 time-stamp tokens: the independent second clock on a certificate's root
 * (docs/protocol.md §6). Parsing and verification of untrusted tokens against the verifier's own
 * list of trusted TSA roots, with structured results the pages can localize.
 *
 * Isomorphic: pkijs and asn1js do the ASN.1 and call WebCrypto through `globalThis.crypto`,
 * so the same code runs in the service, the CLI and the browser.
 */
import { sha256, sha384, sha512 } from "@noble/hashes/sha2.js";
import { sha1 } from "@noble/hashes/legacy.js";
import { bytesToHex } from "@noble/hashes/utils.js";
import * as asn1js from "asn1js";
import * as pkijs from "pkijs";
import { base64ToBytes, bytesToBase64 } from "./base64.ts";
import { equalBytes } from "./bytes.ts";
import { encodingProblem, isMinimalInteger } from "./der.ts";
import { EvidenceError } from "./errors.ts";

export const OID = {
  signedData: "1.2.840.113549.1.7.2",
  tstInfo: "1.2.840.113549.1.9.16.1.4",
  contentType: "1.2.840.113549.1.9.3",
  messageDigest: "1.2.840.113549.1.9.4",
  signingCertificate: "1.2.840.113549.1.9.16.2.12",
  signingCertificateV2: "1.2.840.113549.1.9.16.2.47",
  extKeyUsage: "2.5.29.37",
  keyUsage: "2.5.29.15",
  timeStamping: "1.3.6.1.5.5.7.3.8",
  sha1: "1.3.14.3.2.26",
  sha256: "2.16.840.1.101.3.4.2.1",
  sha384: "2.16.840.1.101.3.4.2.2",
  sha512: "2.16.840.1.101.3.4.2.3",
  organizationalUnitName: "2.5.4.11",
  rsaEncryption: "1.2.840.113549.1.1.1",
} as const;

/**
 * The marker of the development TSA's certificates: an organizationalUnitName (OU) with
 * exactly this value in the subject. A token that chains to a trust anchor carrying it is
 * reported with `development: true`, so the pages can warn that no court relies on it.
 * Anyone can put this OU in a certificate; it only ever makes a result weaker.
 */
export const DEVELOPMENT_TSA_MARKER = "Evidence Anchor development TSA";

/** Digests a verifier accepts for CMS signatures and certificate identifiers. */
const DIGESTS: Record<string, { name: string; hash: (data: Uint8Array) => Uint8Array }> = {
  [OID.sha256]: { name: "SHA-256", hash: sha256 },
  [OID.sha384]: { name: "SHA-384", hash: sha384 },
  [OID.sha512]: { name: "SHA-512", hash: sha512 },
};

export interface TimestampTokenInfo {
  /** TSTInfo genTime: when the TSA says the data existed. */
  genTime: Date;
  /** TSTInfo accuracy (RFC 3161 §2.4.2); null when the TSA does not state one. */
  accuracy: { seconds: number; millis: number; micros: number } | null;
  /** TSTInfo serialNumber, lowercase hex. */
  serialNumber: string;
  /** The TSA's policy under which the token was issued (an OID). */
  policy: string;
  ordering: boolean;
  /** The TSA's name: the TSTInfo `tsa` field, else the signer certificate's subject; null when neither is present. */
  tsa: string | null;
  messageImprint: {
    /** OID of the hash algorithm. */
    hashAlgorithm: string;
    /** Lowercase hex. */
    hashedMessage: string;
  };
  /** The requester's nonce, lowercase hex; null when the request had none. */
  nonce: string | null;
  /** The certificate that signed the token, when the token carries it. */
  signer: { subject: string; issuer: string; serialNumber: string } | null;
}

/** A root (or TSA) certificate the verifier trusts for time-stamps. */
export interface TsaTrustAnchor {
  /** A display name: the subject's CN, else O, else the whole subject. */
  label: string;
  /** The subject, RFC 4514 string. */
  subject: string;
  /** True when the subject carries {@link DEVELOPMENT_TSA_MARKER}. */
  development: boolean;
  /** SHA-256 of the DER certificate, lowercase hex: what an operator compares with the TSA's published fingerprint. */
  fingerprint: string;
  der: Uint8Array;
  certificate: pkijs.Certificate;
}

/**
 * Why a token passed, failed or could not be checked: a code and plain parameters, so
 * that each page words it in its own language.
 */
export type TimestampDetail =
  // passed
  | { code: "ok"; genTime: string; tsa: string; anchor: string }
  // failed: the token contradicts the data or is not a valid RFC 3161 token
  | { code: "malformed"; reason: string }
  | { code: "unsupported-imprint-algorithm"; algorithm: string }
  | { code: "imprint-mismatch"; expected: string; actual: string }
  | { code: "bad-signed-attributes"; reason: string }
  | { code: "content-digest-mismatch" }
  | { code: "bad-signature" }
  | { code: "no-signing-certificate-attribute" }
  | { code: "signing-certificate-mismatch" }
  | { code: "no-timestamping-eku" }
  | { code: "timestamping-eku-not-critical" }
  | { code: "timestamping-eku-not-exclusive" }
  | { code: "key-usage-forbids-signing" }
  // error: the check could not be carried out
  | { code: "not-canonical"; reason: string }
  | { code: "signer-certificate-missing" }
  | { code: "unsupported-algorithm"; algorithm: string }
  | { code: "untrusted-tsa"; subject: string }
  | { code: "certificate-not-valid-at-gentime"; subject: string; genTime: string };

export type TimestampDetailCode = TimestampDetail["code"];

export interface TimestampVerification {
  /**
   * `passed`: the token stamps this data and a trusted TSA signed it. `failed`: the token
   * is forged, altered or for other data. `error`: it could not be vouched for (docs/protocol.md §8:
   * a TSA not on the trust list is an error, never a failure).
   */
  status: "passed" | "failed" | "error";
  detail: TimestampDetail;
  /** What the token says, whenever it could be parsed. */
  info?: TimestampTokenInfo;
  /** True when the token chains to a development TSA root. */
  development: boolean;
}

export interface VerifyTimestampOptions {
  /**
   * Intermediate certificates (DER) that the TSA publishes but leaves out of its tokens.
   * They only help build a path; trust still comes from `trust` alone.
   */
  intermediates?: readonly Uint8Array[];
}

/** The decoded token, with the raw bytes the checks need. */
interface DecodedToken {
  info: TimestampTokenInfo;
  tstInfo: pkijs.TSTInfo;
  eContent: Uint8Array;
  signerInfo: pkijs.SignerInfo;
  certificates: { certificate: pkijs.Certificate; der: Uint8Array }[];
  signer: { certificate: pkijs.Certificate; der: Uint8Array } | null;
  /** The token's first departure from its canonical encoding, when it has one. */
  notCanonical?: string;
}

/**
 * Reads what an RFC 3161 TimeStampToken (DER CMS ContentInfo) says, without checking it.
 * Throws INVALID_TIMESTAMP when the bytes are not a time-stamp token.
 */
export function parseTimestampToken(der: Uint8Array): TimestampTokenInfo {
  const decoded = decodeToken(der);
  // The service takes from its TSAs only tokens every verifier reads alike.
  if (decoded.notCanonical !== undefined) throw new EvidenceError("INVALID_TIMESTAMP", decoded.notCanonical);
  return decoded.info;
}

/**
 * Verifies that `token` time-stamps `data`: imprint, CMS signature, ESS signing-certificate
 * binding, the timeStamping key purpose, and a path to one of `trust` valid at genTime — in
 * that order, stopping at the first that does not hold. Never throws for a bad token. A pure
 * function of its arguments, so a caller may cache results per (token, data, trust).
 */
export async function verifyTimestampToken(
  token: Uint8Array,
  data: Uint8Array,
  trust: readonly TsaTrustAnchor[],
  options: VerifyTimestampOptions = {},
): Promise<TimestampVerification> {
  // The token is attacker-controlled: every parse error becomes a `malformed` failure.
  let decoded: DecodedToken;
  try {
    decoded = decodeToken(token);
  } catch (e) {
    return failed({ code: "malformed", reason: e instanceof Error ? e.message : String(e) });
  }
  const { info } = decoded;
  let result: TimestampVerification;
  try {
    result = await check(decoded, data, trust, options);
  } catch (e) {
    // A part pkijs cannot read deep inside an attribute or certificate of the token.
    result = failed({ code: "malformed", reason: e instanceof Error ? e.message : String(e) });
  }
  // A token not in its canonical encoding is checked like any other, as its bytes are (as
  // OpenSSL checks it): whatever fails or cannot be checked so is said as such. Only a pass is
  // withheld, since a verifier that re-encodes the token could read it otherwise (§6.2 step 11).
  if (decoded.notCanonical !== undefined && result.status === "passed") {
    result = error({ code: "not-canonical", reason: decoded.notCanonical });
  }
  return { ...result, info };
}

async function check(
  decoded: DecodedToken,
  data: Uint8Array,
  trust: readonly TsaTrustAnchor[],
  options: VerifyTimestampOptions,
): Promise<TimestampVerification> {
  const { info, tstInfo, signerInfo } = decoded;

  const imprint = imprintProblem(info, data);
  if (imprint) return imprint;

  const signer = decoded.signer ?? findSignerAmong(signerInfo, trust);
  if (!signer) return error({ code: "signer-certificate-missing" });

  // The CMS signature over the signed attributes (RFC 5652 §5.4), which bind the TSTInfo
  // through the message-digest attribute.
  const digest = DIGESTS[signerInfo.digestAlgorithm.algorithmId];
  if (!digest) return error({ code: "unsupported-algorithm", algorithm: signerInfo.digestAlgorithm.algorithmId });
  const attributes = signedAttributes(signerInfo);
  if (typeof attributes === "string") return failed({ code: "bad-signed-attributes", reason: attributes });
  const contentType = attributes.get(OID.contentType);
  if (!(contentType instanceof asn1js.ObjectIdentifier) || contentType.valueBlock.toString() !== OID.tstInfo) {
    return failed({ code: "bad-signed-attributes", reason: "the content-type attribute is not id-ct-TSTInfo" });
  }
  const messageDigest = attributes.get(OID.messageDigest);
  if (!(messageDigest instanceof asn1js.OctetString)) {
    return failed({ code: "bad-signed-attributes", reason: "the message-digest attribute is missing" });
  }
  if (!equalBytes(new Uint8Array(messageDigest.getValue()), digest.hash(decoded.eContent))) {
    return failed({ code: "content-digest-mismatch" });
  }
  const signatureOk = await verifySignature(signerInfo, signer.certificate, digest.name);
  if (signatureOk === "unsupported") {
    return error({ code: "unsupported-algorithm", algorithm: signerInfo.signatureAlgorithm.algorithmId });
  }
  if (!signatureOk) return failed({ code: "bad-signature" });

  // The ESS signing-certificate attribute (RFC 3161 §2.4.1; RFC 2634 §5.4, RFC 5035 §3)
  // binds the signer certificate, so a certificate with the same key cannot be swapped in.
  const binding = checkSigningCertificate(attributes, signer);
  if (binding) return failed(binding);

  // RFC 3161 §2.3: the TSA certificate has exactly one extendedKeyUsage, critical, with
  // only id-kp-timeStamping.
  const purpose = checkTimestampingPurpose(signer.certificate);
  if (purpose) return failed(purpose);

  // Trust comes from the verifier's own list, never from certificates inside the token.
  return chainToTrust(signer, decoded, trust, options, tstInfo.genTime);
}

/** The imprint (RFC 3161 §2.4.2): docs/protocol.md §6 stamps SHA-256(root); null when it does. */
function imprintProblem(info: TimestampTokenInfo, data: Uint8Array): TimestampVerification | null {
  if (info.messageImprint.hashAlgorithm !== OID.sha256) {
    return failed({ code: "unsupported-imprint-algorithm", algorithm: info.messageImprint.hashAlgorithm });
  }
  const expected = bytesToHex(sha256(data));
  if (info.messageImprint.hashedMessage !== expected) {
    return failed({ code: "imprint-mismatch", expected, actual: info.messageImprint.hashedMessage });
  }
  return null;
}

function failed(detail: TimestampDetail): TimestampVerification {
  return { status: "failed", detail, development: false };
}

function error(detail: TimestampDetail): TimestampVerification {
  return { status: "error", detail, development: false };
}

/** Thrown for anything that is not a well-formed time-stamp token. */
function malformed(reason: string): never {
  throw new EvidenceError("INVALID_TIMESTAMP", `not an RFC 3161 time-stamp token: ${reason}`);
}

/**
 * The first departure from the canonical encoding found while a token is read (DER where
 * RFC 3161 and RFC 5652 require it, algorithm parameters of the form their RFC gives, no bytes
 * after it). The token is read to its end all the same, so that one that is also no token at
 * all is `malformed` whichever a verifier happens to find first (docs/protocol.md §6.2, steps
 * 1 and 11). Verifiers that re-encode such a token and verifiers that take its bytes as they
 * are may disagree on it, so it is not vouched for (an error), but nothing shows it false
 * either: OpenSSL, for one, accepts most such tokens. Decoding is synchronous, so one slot
 * serves every decode.
 */
let notCanonicalFound: string | undefined;

function notCanonical(reason: string): void {
  notCanonicalFound ??= `the token is not in its canonical encoding: ${reason}`;
}

/** Parses a whole DER/BER value; trailing bytes are an error, so one token has one reading. */
function parseAsn1(der: Uint8Array, what: string): asn1js.AsnType {
  const parsed = asn1js.fromBER(der);
  if (parsed.offset === -1) malformed(`${what} is not valid ASN.1 (${parsed.result.error})`);
  if (parsed.offset !== der.byteLength) {
    const trailing = `${what} has ${der.byteLength - parsed.offset} trailing bytes`;
    // After a whole token they are no part of it; inside it, its parts have none.
    if (what === "the token") notCanonical(trailing);
    else malformed(trailing);
  }
  if (!lengthsAgree(parsed.result)) malformed(`${what} has a length that does not match its contents`);
  return parsed.result;
}

/**
 * Whether every definite length equals the length of what it encloses. asn1js lets a child
 * run past its parent's length; such a token has no single reading, and OpenSSL refuses it.
 */
function lengthsAgree(block: asn1js.AsnType): boolean {
  if (!block.lenBlock.isIndefiniteForm && block.valueBlock.blockLength !== block.lenBlock.length) return false;
  if (!block.idBlock.isConstructed) return true;
  const value = (block.valueBlock as { value?: unknown }).value;
  return !Array.isArray(value) || value.every((child: asn1js.AsnType) => lengthsAgree(child));
}

function decodeToken(der: Uint8Array): DecodedToken {
  if (!(der instanceof Uint8Array)) throw new TypeError("expected Uint8Array");
  try {
    return decodeTokenUnchecked(der);
  } catch (e) {
    if (e instanceof EvidenceError) throw e;
    malformed(e instanceof Error ? e.message : String(e));
  }
}

/**
 * Walks ContentInfo and SignedData (RFC 5652 §3, §5.1) by hand and hands the parts to pkijs:
 * its SignedData schema is several times slower than the rest of the parse together.
 */
function decodeTokenUnchecked(der: Uint8Array): DecodedToken {
  notCanonicalFound = undefined;
  const decoded = readToken(der);
  const problem = notCanonicalFound;
  notCanonicalFound = undefined;
  return problem === undefined ? decoded : { ...decoded, notCanonical: problem };
}

function readToken(der: Uint8Array): DecodedToken {
  // RFC 5652 lets the token around the TSTInfo and the signed attributes be BER, but BER
  // all the same: asn1js reads some encodings X.690 forbids in any form (a primitive SET,
  // a constructed INTEGER, a non-minimal INTEGER), on which verifiers part ways.
  const berProblem = encodingProblem(der, "BER");
  // Bytes after a whole token are no part of it: OpenSSL, for one, reads the token before them.
  if (berProblem?.endsWith("bytes follow the value")) {
    notCanonical(`${berProblem.split(" ")[0]} bytes follow the token`);
  } else if (berProblem) malformed(`the token is not valid BER (X.690 §8), ${berProblem}`);
  // ContentInfo ::= SEQUENCE { contentType, content [0] EXPLICIT ANY }
  const contentInfo = parseAsn1(der, "the token");
  const [contentType, content, ...extra] = children(contentInfo, "the ContentInfo");
  if (
    !(contentInfo instanceof asn1js.Sequence) ||
    !(contentType instanceof asn1js.ObjectIdentifier) ||
    !isContext(content, 0) ||
    extra.length > 0
  ) {
    malformed("the ContentInfo is not SEQUENCE { OID, [0] content }");
  }
  if (contentType.valueBlock.toString() !== OID.signedData) malformed("the ContentInfo is not SignedData");
  const [signedDataBlock, ...more] = children(content, "the content");
  if (!(signedDataBlock instanceof asn1js.Sequence) || more.length > 0) malformed("the SignedData is not a SEQUENCE");

  // SignedData ::= SEQUENCE { version, digestAlgorithms SET, encapContentInfo,
  //   certificates [0] IMPLICIT OPTIONAL, crls [1] IMPLICIT OPTIONAL, signerInfos SET }
  const fields = children(signedDataBlock, "the SignedData");
  const [version, digestAlgorithms, encap] = fields;
  const signerInfos = fields.at(-1);
  const optional = fields.slice(3, -1);
  const certificateSet = optional.find((b) => isContext(b, 0));
  if (
    // asn1js's Enumerated is an Integer too: CMSVersion ::= INTEGER is tag 2 and no other.
    !isUniversal(version, 2) ||
    !(digestAlgorithms instanceof asn1js.Set) ||
    !(encap instanceof asn1js.Sequence) ||
    !(signerInfos instanceof asn1js.Set) ||
    optional.some((b) => !isContext(b, 0) && !isContext(b, 1)) ||
    new Set(optional.map((b) => b.idBlock.tagNumber)).size !== optional.length
  ) {
    malformed("the SignedData does not have the fields of RFC 5652 §5.1");
  }
  // DigestAlgorithmIdentifiers ::= SET OF AlgorithmIdentifier; nothing else reads them, so
  // nothing else would notice an element that is not one.
  for (const algorithm of children(digestAlgorithms, "the digestAlgorithms")) {
    checkCmsAlgorithm(algorithm, "a digestAlgorithms element");
  }
  const encapContentInfo = new pkijs.EncapsulatedContentInfo({ schema: encap });
  if (encapContentInfo.eContentType !== OID.tstInfo) malformed("the content type is not id-ct-TSTInfo");
  const eContentBlock = encapContentInfo.eContent;
  if (!eContentBlock) malformed("the TSTInfo is missing");
  // RFC 3161 §2.4.2: no signature other than the TSA's.
  const signers = children(signerInfos, "the signerInfos");
  if (signers.length !== 1) malformed(`${signers.length} signers instead of one`);
  const signerInfo = new pkijs.SignerInfo({ schema: signers[0] });
  checkSignerInfo(signerInfo, children(signers[0], "the SignerInfo"));

  const eContent = new Uint8Array(eContentBlock.getValue());
  // RFC 3161 §2.4.2: the eContent is the DER encoding of the TSTInfo. The only SETs in a
  // TSTInfo are the RDNs of the tsa name; their order is not checked (see SET_ORDER).
  const tstInfoProblem = encodingProblem(eContent, "DER", SET_ORDER);
  if (tstInfoProblem) notCanonical(`the TSTInfo is not DER (RFC 3161 §2.4.2), ${tstInfoProblem}`);
  const tstInfoBlock = parseAsn1(eContent, "the TSTInfo");
  checkTstInfoFields(tstInfoBlock);
  const tstInfo = new pkijs.TSTInfo({ schema: tstInfoBlock });
  if (tstInfo.version !== 1) malformed(`TSTInfo version ${tstInfo.version}`);
  if (Number.isNaN(tstInfo.genTime.getTime())) malformed("the genTime is not a valid time");

  const certificates = certificateSet ? embeddedCertificates(certificateSet) : [];
  const signer = certificates.find((c) => identifies(signerInfo.sid, c.certificate)) ?? null;

  const accuracy = tstInfo.accuracy
    ? {
        seconds: tstInfo.accuracy.seconds ?? 0,
        millis: tstInfo.accuracy.millis ?? 0,
        micros: tstInfo.accuracy.micros ?? 0,
      }
    : null;
  const tsaName = tstInfo.tsa ? generalName(tstInfo.tsa) : null;
  const info: TimestampTokenInfo = {
    genTime: tstInfo.genTime,
    accuracy,
    serialNumber: integerHex(tstInfo.serialNumber),
    // TSTInfo ::= SEQUENCE { version, policy, … }
    policy: objectIdentifierText((tstInfoBlock as asn1js.Sequence).valueBlock.value[1] as asn1js.ObjectIdentifier),
    ordering: tstInfo.ordering ?? false,
    tsa: tsaName ?? (signer ? distinguishedName(signer.certificate.subject) : null),
    messageImprint: {
      hashAlgorithm: tstInfo.messageImprint.hashAlgorithm.algorithmId,
      hashedMessage: bytesToHex(tstInfo.messageImprint.hashedMessage.valueBlock.valueHexView),
    },
    nonce: tstInfo.nonce ? integerHex(tstInfo.nonce) : null,
    signer: signer
      ? {
          subject: distinguishedName(signer.certificate.subject),
          issuer: distinguishedName(signer.certificate.issuer),
          serialNumber: integerHex(signer.certificate.serialNumber),
        }
      : null,
  };
  return { info, tstInfo, eContent, signerInfo, certificates, signer };
}

/**
 * The X.509 certificates of SignedData's `certificates [0] IMPLICIT CertificateSet`, each
 * with its exact DER bytes (the ESS certificate hash is over those bytes, not a re-encoding).
 */
function embeddedCertificates(set: asn1js.AsnType): { certificate: pkijs.Certificate; der: Uint8Array }[] {
  const certificates: { certificate: pkijs.Certificate; der: Uint8Array }[] = [];
  for (const choice of children(set, "the certificates")) {
    if (isUniversal(choice, 16)) {
      certificates.push({
        certificate: new pkijs.Certificate({ schema: choice }),
        der: choice.valueBeforeDecodeView.slice(),
      });
    } else {
      checkOtherCertificateChoice(choice);
    }
  }
  return certificates;
}

/**
 * The other CertificateChoices (RFC 5652 §10.2.2) are [0]–[3] IMPLICIT; nothing here uses
 * them, but each must be what its tag says. Without this, a certificate whose SEQUENCE tag
 * was changed to any other was silently skipped, and the token still verified through the
 * trust list, where OpenSSL (whose time-stamp tokens allow X.509 certificates only) refuses it.
 */
function checkOtherCertificateChoice(choice: asn1js.AsnType): void {
  const content =
    choice.idBlock.tagClass === 3 && choice.idBlock.isConstructed ? children(choice, "a certificate") : null;
  const asSequence = () => new asn1js.Sequence({ value: content! });
  switch (content ? choice.idBlock.tagNumber : -1) {
    case 0: {
      // ExtendedCertificate (PKCS #6, obsolete) ::= SEQUENCE { SEQUENCE { version INTEGER,
      //   certificate Certificate, attributes SET }, signatureAlgorithm, signature BIT STRING }
      const [info, algorithm, signature, ...rest] = content!;
      const [version, certificate, attributes, ...more] = info instanceof asn1js.Sequence ? children(info, "") : [];
      if (
        isUniversal(version, 2) &&
        isUniversal(certificate, 16) &&
        isUniversal(attributes, 17) &&
        more.length === 0 &&
        !algorithmIdentifierProblem(algorithm) &&
        isUniversal(signature, 3) &&
        rest.length === 0
      ) {
        new pkijs.Certificate({ schema: certificate });
        return;
      }
      break;
    }
    case 1:
      new pkijs.AttributeCertificateV1({ schema: asSequence() });
      return;
    case 2:
      new pkijs.AttributeCertificateV2({ schema: asSequence() });
      return;
    case 3: {
      // OtherCertificateFormat ::= SEQUENCE { otherCertFormat OBJECT IDENTIFIER, otherCert ANY }
      if (content!.length === 2 && isUniversal(content![0], 6)) return;
      break;
    }
  }
  malformed("the certificates hold a value that is not one of the CertificateChoices of RFC 5652 §10.2.2");
}

/** Whether `block` has the universal tag `tagNumber`. */
function isUniversal(block: asn1js.AsnType | undefined, tagNumber: number): block is asn1js.AsnType {
  return block !== undefined && block.idBlock.tagClass === 1 && block.idBlock.tagNumber === tagNumber;
}

/** Algorithms whose parameters are absent or NULL (RFC 5754 §2, RFC 4055 §5, RFC 3279 §2.2.1). */
const NULL_PARAMETERS = new Set<string>([
  OID.sha1,
  OID.sha256,
  OID.sha384,
  OID.sha512,
  OID.rsaEncryption,
  "1.2.840.113549.1.1.5", // sha1WithRSAEncryption
  "1.2.840.113549.1.1.11", // sha256WithRSAEncryption
  "1.2.840.113549.1.1.12", // sha384WithRSAEncryption
  "1.2.840.113549.1.1.13", // sha512WithRSAEncryption
]);

/** Algorithms whose parameters are absent (RFC 5758 §3.2: ECDSA with SHA-2). */
const NO_PARAMETERS = new Set<string>([
  "1.2.840.10045.4.3.2", // ecdsa-with-SHA256
  "1.2.840.10045.4.3.3", // ecdsa-with-SHA384
  "1.2.840.10045.4.3.4", // ecdsa-with-SHA512
]);

/**
 * AlgorithmIdentifier ::= SEQUENCE { algorithm OBJECT IDENTIFIER, parameters ANY OPTIONAL }
 * (RFC 5280 §4.1.1.2), with the parameters the algorithm's own RFC allows for the algorithms
 * a verifier here knows: pkijs reads past parameters of any type, so a NULL re-tagged as
 * anything else went unnoticed.
 */
function algorithmIdentifierProblem(
  block: asn1js.AsnType | undefined,
): { reason: string; of: "structure" | "parameters" } | null {
  const structure = (reason: string) => ({ reason, of: "structure" as const });
  const parametersProblem = (reason: string) => ({ reason, of: "parameters" as const });
  if (!isUniversal(block, 16)) return structure("is not an AlgorithmIdentifier SEQUENCE");
  const [algorithm, parameters, ...rest] = children(block, "an AlgorithmIdentifier");
  if (!isUniversal(algorithm, 6) || rest.length > 0) return structure("is not SEQUENCE { OID, parameters OPTIONAL }");
  const oid = objectIdentifierText(algorithm as asn1js.ObjectIdentifier);
  if (parameters === undefined) return null;
  if (NO_PARAMETERS.has(oid)) return parametersProblem(`has parameters, which ${oid} must not have`);
  if (NULL_PARAMETERS.has(oid) && !isUniversal(parameters, 5)) {
    return parametersProblem(`has parameters other than NULL for ${oid}`);
  }
  return null;
}

/**
 * An AlgorithmIdentifier of the SignedData or its SignerInfo: none at all is no token;
 * parameters of another form than the algorithm's RFC gives are an encoding
 * (docs/protocol.md §6.2 step 11).
 */
function checkCmsAlgorithm(block: asn1js.AsnType | undefined, what: string): void {
  const problem = algorithmIdentifierProblem(block);
  if (problem?.of === "parameters") notCanonical(`${what} ${problem.reason}`);
  else if (problem) malformed(`${what} ${problem.reason}`);
}

/**
 * Which SET OFs must be in DER order (X.690 §11.6): the signed attributes' own SET, not the
 * SETs inside names.
 *
 * The signed attributes' SET decides the signature: BouncyCastle re-encodes it in DER
 * (sorted) before checking the signature, OpenSSL checks the attributes in the order
 * received (PKCS7_ATTR_VERIFY / CMS_Attributes_Verify). A token signed over another order
 * passes one and fails the other, so it is refused here: openssl ts and the development TSA
 * both write the attributes sorted, and such a token is not DER.
 *
 * The relative distinguished names (the SETs in the TSTInfo's tsa name and in the ESS
 * issuerSerial) are left as they are: the development TSA's names are a single multi-valued
 * RDN in the order pkijs writes them, not sorted — in its certificates, so in the tsa field
 * and the issuerSerial that copy them — and its genuine tokens must keep verifying. OpenSSL
 * keeps those bytes as received, as this verifier does; one that re-sorts them before
 * checking the signature would fail the development TSA's tokens.
 */
const SET_ORDER = { setOrder: "outermost" } as const;

/**
 * The parts of the SignerInfo (RFC 5652 §5.3) nothing else looks at closely: its algorithm
 * identifiers, the names in its sid, and the signed attributes, which must be DER (§5.4).
 */
function checkSignerInfo(signerInfo: pkijs.SignerInfo, fields: asn1js.AsnType[]): void {
  // SignerInfo ::= SEQUENCE { version, sid, digestAlgorithm, signedAttrs [0] IMPLICIT OPTIONAL,
  //   signatureAlgorithm, signature, unsignedAttrs [1] IMPLICIT OPTIONAL }
  const signatureAlgorithm = fields[isContext(fields[3], 0) ? 4 : 3];
  for (const [what, algorithm] of [
    ["digestAlgorithm", fields[2]],
    ["signatureAlgorithm", signatureAlgorithm],
  ] as const) {
    checkCmsAlgorithm(algorithm, `the SignerInfo's ${what}`);
  }
  if (signerInfo.sid instanceof pkijs.IssuerAndSerialNumber) {
    const problem = nameProblem(signerInfo.sid.issuer);
    if (problem) malformed(`the SignerInfo's sid names an issuer with ${problem}`);
  }
  // RFC 5652 §5.4: the signature is over the DER encoding of the SignedAttributes, and the
  // signature here is checked over their bytes as they are in the token, so those bytes must be
  // that DER encoding. A verifier that re-encodes them instead (OpenSSL) would check another
  // reading than one that takes them as they are.
  //
  // DER includes the order of a SET OF (X.690 §11.6); see SET_ORDER for which are checked.
  const attributes = signerInfo.signedAttrs;
  if (attributes) {
    const problem = encodingProblem(new Uint8Array(attributes.encodedValue), "DER", SET_ORDER);
    if (problem) notCanonical(`the signed attributes are not DER (RFC 5652 §5.4), ${problem}`);
    // X.690 §11.5: ESSCertIDv2's hashAlgorithm DEFAULT {algorithm id-sha256} (RFC 5035 §3)
    // is left out when it is SHA-256 without parameters.
    for (const attribute of attributes.attributes) {
      if (attribute.type !== OID.signingCertificateV2) continue;
      for (const value of attribute.values) {
        const certs = value instanceof asn1js.Sequence ? value.valueBlock.value[0] : undefined;
        for (const id of certs instanceof asn1js.Sequence ? certs.valueBlock.value : []) {
          const algorithm = id instanceof asn1js.Sequence ? id.valueBlock.value[0] : undefined;
          if (!(algorithm instanceof asn1js.Sequence)) continue;
          const [oid, ...parameters] = algorithm.valueBlock.value;
          if (
            oid instanceof asn1js.ObjectIdentifier &&
            oid.valueBlock.toString() === OID.sha256 &&
            !parameters.length
          ) {
            notCanonical(
              "the signed attributes are not DER: an ESSCertIDv2 states its DEFAULT hash algorithm (X.690 §11.5)",
            );
          }
        }
      }
    }
  }
}

/** The syntax of the values of the attribute types a TSA's name carries (RFC 5280 Appendix A). */
const DIRECTORY_STRING = [12, 19, 20, 28, 30]; // UTF8, Printable, Teletex, Universal, BMP
const NAME_VALUE_TAGS: Record<string, number[]> = {
  "2.5.4.3": DIRECTORY_STRING, // commonName
  "2.5.4.4": DIRECTORY_STRING, // surname
  "2.5.4.5": [19], // serialNumber
  "2.5.4.6": [19], // countryName
  "2.5.4.7": DIRECTORY_STRING, // localityName
  "2.5.4.8": DIRECTORY_STRING, // stateOrProvinceName
  "2.5.4.10": DIRECTORY_STRING, // organizationName
  "2.5.4.11": DIRECTORY_STRING, // organizationalUnitName
  "2.5.4.12": DIRECTORY_STRING, // title
  "2.5.4.42": DIRECTORY_STRING, // givenName
  "2.5.4.46": [19], // dnQualifier
  "2.5.4.97": DIRECTORY_STRING, // organizationIdentifier
  "1.2.840.113549.1.9.1": [22], // emailAddress
  "0.9.2342.19200300.100.1.25": [22], // domainComponent
};

/**
 * Whether a Name's attribute values are of the types their attribute types define. pkijs
 * compares names by their text whatever the string type, OpenSSL by type as well for the
 * types outside its canonical set: a sid whose issuer's CN was re-tagged as, say, a
 * NumericString named the signer for one and no one for the other.
 */
function nameProblem(name: pkijs.RelativeDistinguishedNames): string | null {
  for (const { type, value } of name.typesAndValues) {
    const allowed = NAME_VALUE_TAGS[type];
    if (allowed && !(value.idBlock.tagClass === 1 && allowed.includes(value.idBlock.tagNumber))) {
      return `a ${type} value of a type RFC 5280 does not give it`;
    }
  }
  return null;
}

/** X.690 §8.3.2, for INTEGERs under an IMPLICIT tag, which the generic walker cannot recognise. */
function isDerInteger(block: asn1js.AsnType): boolean {
  return !block.idBlock.isConstructed && isMinimalInteger((block as asn1js.Primitive).valueBlock.valueHexView);
}

/**
 * TSTInfo (RFC 3161 §2.4.2) field by field, with what the DER check cannot see without the
 * schema: the order of the fields and nothing after them, the DEFAULT `ordering` FALSE left
 * out (X.690 §11.5), and the IMPLICIT-tagged INTEGERs, strings and OIDs in DER form.
 *
 *   TSTInfo ::= SEQUENCE { version INTEGER, policy OBJECT IDENTIFIER, messageImprint,
 *     serialNumber INTEGER, genTime GeneralizedTime, accuracy Accuracy OPTIONAL,
 *     ordering BOOLEAN DEFAULT FALSE, nonce INTEGER OPTIONAL, tsa [0] GeneralName OPTIONAL,
 *     extensions [1] IMPLICIT Extensions OPTIONAL }
 */
function checkTstInfoFields(tstInfo: asn1js.AsnType): void {
  const fields = children(tstInfo, "the TSTInfo");
  const bad = (what: string): never => malformed(`the TSTInfo ${what}`);
  let i = 0;
  const next = (test: (b: asn1js.AsnType) => boolean): asn1js.AsnType | undefined =>
    fields[i] !== undefined && test(fields[i]!) ? fields[i++] : undefined;
  const universal = (n: number) => (b: asn1js.AsnType) => isUniversal(b, n);
  for (const [tag, name] of [
    [2, "version"],
    [6, "policy"],
    [16, "messageImprint"],
    [2, "serialNumber"],
    [24, "genTime"],
  ] as const) {
    if (!next(universal(tag))) bad(`has no ${name} where RFC 3161 §2.4.2 puts it`);
  }
  // MessageImprint ::= SEQUENCE { hashAlgorithm AlgorithmIdentifier, hashedMessage OCTET STRING }
  const [hashAlgorithm, hashedMessage, ...extra] = children(fields[2], "the messageImprint");
  const problem = algorithmIdentifierProblem(hashAlgorithm);
  if (problem) bad(`messageImprint's hashAlgorithm ${problem.reason}`);
  if (!isUniversal(hashedMessage, 4) || extra.length > 0)
    bad("messageImprint is not { AlgorithmIdentifier, OCTET STRING }");

  const accuracy = next(universal(16));
  if (accuracy) {
    // Accuracy ::= SEQUENCE { seconds INTEGER OPTIONAL, millis [0] INTEGER OPTIONAL, micros [1] INTEGER OPTIONAL }
    const parts = children(accuracy, "the accuracy");
    let j = 0;
    if (isUniversal(parts[j], 2)) j++;
    for (const tag of [0, 1]) {
      const part = parts[j];
      if (part?.idBlock.tagClass === 3 && part.idBlock.tagNumber === tag) {
        if (!isDerInteger(part)) notCanonical(`the TSTInfo accuracy's [${tag}] is not a DER INTEGER`);
        j++;
      }
    }
    if (j !== parts.length) bad("accuracy is not { seconds, [0] millis, [1] micros }, each optional");
  }
  const ordering = next(universal(1));
  if (ordering && (ordering as asn1js.Boolean).valueBlock.valueHexView[0] === 0) {
    notCanonical("the TSTInfo encodes ordering FALSE, its DEFAULT, which DER leaves out (X.690 §11.5)");
  }
  next(universal(2)); // nonce
  const tsa = next((b) => isContext(b, 0));
  if (tsa) {
    const [name, ...more] = children(tsa, "the tsa");
    if (!name || more.length > 0 || !isGeneralName(name)) bad("tsa is not a GeneralName");
  }
  const extensions = next((b) => isContext(b, 1));
  if (extensions) {
    // Extension ::= SEQUENCE { extnID OID, critical BOOLEAN DEFAULT FALSE, extnValue OCTET STRING }
    for (const extension of children(extensions, "the extensions")) {
      const parts = isUniversal(extension, 16) ? children(extension, "an extension") : [];
      const critical = parts.length === 3 ? parts[1] : undefined;
      if (
        !isUniversal(parts[0], 6) ||
        !isUniversal(parts.at(-1), 4) ||
        parts.length < 2 ||
        parts.length > 3 ||
        (critical !== undefined && !isUniversal(critical, 1))
      ) {
        bad("has an extension that is not { OID, BOOLEAN DEFAULT FALSE, OCTET STRING }");
      }
      if (critical && (critical as asn1js.Boolean).valueBlock.valueHexView[0] === 0) {
        notCanonical(
          "the TSTInfo has an extension that encodes critical FALSE, its DEFAULT, which DER leaves out (X.690 §11.5)",
        );
      }
    }
  }
  if (i !== fields.length) bad(`has a field RFC 3161 §2.4.2 does not define at position ${i + 1}`);
}

/**
 * GeneralName (RFC 5280 §4.2.1.6), IMPLICIT TAGS: the strings and the OID under their
 * context tags are primitive in DER (X.690 §10.2), the rest constructed.
 */
function isGeneralName(name: asn1js.AsnType): boolean {
  if (name.idBlock.tagClass !== 3) return false;
  switch (name.idBlock.tagNumber) {
    case 0: // otherName [0] IMPLICIT SEQUENCE { type-id OID, value [0] EXPLICIT ANY }
    case 3: // x400Address [3] IMPLICIT ORAddress (a SEQUENCE)
    case 4: // directoryName [4] Name (a CHOICE: EXPLICIT)
    case 5: // ediPartyName [5] IMPLICIT SEQUENCE
      return name.idBlock.isConstructed;
    case 1: // rfc822Name IA5String
    case 2: // dNSName IA5String
    case 6: // uniformResourceIdentifier IA5String
    case 7: // iPAddress OCTET STRING
      return !name.idBlock.isConstructed;
    case 8: {
      // registeredID OBJECT IDENTIFIER
      if (name.idBlock.isConstructed) return false;
      const v = (name as asn1js.Primitive).valueBlock.valueHexView;
      return v.length > 0 && !(v.at(-1)! & 0x80) && v.every((byte, k) => byte !== 0x80 || (k > 0 && v[k - 1]! & 0x80));
    }
    default:
      return false;
  }
}

/** The elements of a constructed value; `malformed` for a primitive one. */
function children(block: asn1js.AsnType | undefined, what: string): asn1js.AsnType[] {
  const value = (block as asn1js.Constructed | undefined)?.valueBlock?.value;
  if (!block || !block.idBlock.isConstructed || !Array.isArray(value)) malformed(`${what} is not constructed`);
  return value;
}

/** A context-specific constructed [n] (EXPLICIT tags and IMPLICIT SETs). */
function isContext(block: asn1js.AsnType | undefined, tagNumber: number): block is asn1js.Constructed {
  return (
    block !== undefined &&
    block.idBlock.tagClass === 3 &&
    block.idBlock.tagNumber === tagNumber &&
    block.idBlock.isConstructed
  );
}

/** Whether a SignerIdentifier (RFC 5652 §5.3) names `certificate`. */
function identifies(sid: pkijs.SchemaType, certificate: pkijs.Certificate): boolean {
  if (sid instanceof pkijs.IssuerAndSerialNumber) {
    return sameName(sid.issuer, certificate.issuer) && sid.serialNumber.isEqual(certificate.serialNumber);
  }
  // subjectKeyIdentifier [0] SubjectKeyIdentifier
  const keyId = (sid as asn1js.Primitive | undefined)?.valueBlock?.valueHexView;
  if (!keyId) return false;
  const ski = certificate.extensions?.find((e) => e.extnID === "2.5.29.14")?.parsedValue as
    asn1js.OctetString | undefined;
  return ski !== undefined && equalBytes(ski.valueBlock.valueHexView, keyId);
}

/** ASN.1's universal string types: UTF8, Numeric, Printable, Teletex, Videotex, IA5, Graphic, Visible, General, Universal, Character, BMP. */
const STRING_TAGS = new Set([12, 18, 19, 20, 21, 22, 25, 26, 27, 28, 29, 30]);

/**
 * Whether two Names are the same name (docs/protocol.md §6.2, "Names and the trust list"): the
 * same attribute types in the same order, two string values equal once trimmed, runs of
 * spaces made one, lower-cased and in Unicode's NFC, any others the same DER bytes. pkijs's
 * own comparison uses `localeCompare`, whose answer depends on the machine's locale and takes
 * text differing by an ignorable character (a zero-width space, a NUL) for the same: two
 * verifiers could then name different signer certificates for one token.
 */
export function sameName(a: pkijs.RelativeDistinguishedNames, b: pkijs.RelativeDistinguishedNames): boolean {
  const [x, y] = [a.typesAndValues, b.typesAndValues];
  return x.length === y.length && x.every((value, i) => sameAttributeValue(value, y[i]!));
}

function sameAttributeValue(a: pkijs.AttributeTypeAndValue, b: pkijs.AttributeTypeAndValue): boolean {
  if (a.type !== b.type) return false;
  const [textA, textB] = [nameText(a.value), nameText(b.value)];
  if (textA !== undefined || textB !== undefined) return textA === textB;
  return equalBytes(a.value.valueBeforeDecodeView, b.value.valueBeforeDecodeView);
}

/** A Name's string value as names are compared, or undefined for a value of another type. */
function nameText(value: asn1js.AsnType): string | undefined {
  if (value.idBlock.tagClass !== 1 || !STRING_TAGS.has(value.idBlock.tagNumber)) return undefined;
  const text = (value as unknown as { valueBlock: { value?: unknown } }).valueBlock.value;
  if (typeof text !== "string") return undefined;
  return text.trim().replace(/ {2,}/g, " ").toLowerCase().normalize("NFC");
}

/** A token may leave its certificate out (certReq false); the trust list may hold it. */
function findSignerAmong(
  signerInfo: pkijs.SignerInfo,
  trust: readonly TsaTrustAnchor[],
): { certificate: pkijs.Certificate; der: Uint8Array } | null {
  const anchor = trust.find((a) => identifies(signerInfo.sid, a.certificate));
  return anchor ? { certificate: anchor.certificate, der: anchor.der } : null;
}

/**
 * The signed attributes by type, each required to appear once with one value (RFC 5652
 * §11.1, §11.2 forbid repeats of content-type and message-digest); a reason string otherwise.
 */
function signedAttributes(signerInfo: pkijs.SignerInfo): Map<string, asn1js.AsnType> | string {
  const attrs = signerInfo.signedAttrs?.attributes;
  if (!attrs || attrs.length === 0) return "the signer has no signed attributes";
  const byType = new Map<string, asn1js.AsnType>();
  for (const attr of attrs) {
    if (byType.has(attr.type)) return `the attribute ${attr.type} appears twice`;
    if (attr.values.length !== 1) return `the attribute ${attr.type} has ${attr.values.length} values`;
    byType.set(attr.type, attr.values[0]);
  }
  return byType;
}

/** Verifies the SignerInfo signature over the DER SET of signed attributes (RFC 5652 §5.4). */
async function verifySignature(
  signerInfo: pkijs.SignerInfo,
  certificate: pkijs.Certificate,
  hashName: string,
): Promise<boolean | "unsupported"> {
  const engine = pkijs.getCrypto(true);
  let signedBytes: ArrayBuffer;
  try {
    // pkijs keeps the attributes' original bytes with the [0] tag already changed to SET.
    signedBytes = signerInfo.signedAttrs!.encodedValue;
    const key = certificate.subjectPublicKeyInfo;
    return await engine.verifyWithPublicKey(
      signedBytes,
      signerInfo.signature,
      key,
      signerInfo.signatureAlgorithm,
      hashName,
    );
  } catch (e) {
    // A signature value that is not even an ECDSA-Sig-Value cannot verify.
    if (e instanceof Error && /signature value/i.test(e.message)) return false;
    return "unsupported";
  }
}

/**
 * Checks the ESS signing-certificate attribute(s): the first ESSCertID(v2) must hash the
 * signer certificate's DER and, when it names an issuer and serial, name this certificate.
 */
function checkSigningCertificate(
  attributes: Map<string, asn1js.AsnType>,
  signer: { certificate: pkijs.Certificate; der: Uint8Array },
): TimestampDetail | null {
  const v1 = attributes.get(OID.signingCertificate);
  const v2 = attributes.get(OID.signingCertificateV2);
  if (!v1 && !v2) return { code: "no-signing-certificate-attribute" };
  for (const [value, version] of [
    [v1, 1],
    [v2, 2],
  ] as const) {
    if (!value) continue;
    let binds: boolean;
    try {
      binds = essBindsCertificate(value, version, signer);
    } catch {
      binds = false;
    }
    if (!binds) return { code: "signing-certificate-mismatch" };
  }
  return null;
}

function essBindsCertificate(
  value: asn1js.AsnType,
  version: 1 | 2,
  signer: { certificate: pkijs.Certificate; der: Uint8Array },
): boolean {
  // SigningCertificate(V2) ::= SEQUENCE { certs SEQUENCE OF ESSCertID(v2), policies OPTIONAL }
  const certs = value instanceof asn1js.Sequence ? value.valueBlock.value[0] : undefined;
  const first = certs instanceof asn1js.Sequence ? certs.valueBlock.value[0] : undefined;
  if (!(first instanceof asn1js.Sequence)) return false;
  const fields = [...first.valueBlock.value];
  // ESSCertIDv2 ::= SEQUENCE { hashAlgorithm DEFAULT sha256, certHash, issuerSerial OPTIONAL }
  // ESSCertID   ::= SEQUENCE { certHash (SHA-1), issuerSerial OPTIONAL }
  let hash: (data: Uint8Array) => Uint8Array = sha1;
  if (version === 2) {
    hash = sha256;
    if (fields[0] instanceof asn1js.Sequence) {
      const algorithm = new pkijs.AlgorithmIdentifier({ schema: fields.shift() });
      const digest = DIGESTS[algorithm.algorithmId];
      if (!digest) return false;
      hash = digest.hash;
    }
  }
  const certHash = fields[0];
  if (!(certHash instanceof asn1js.OctetString)) return false;
  if (!equalBytes(certHash.valueBlock.valueHexView, hash(signer.der))) return false;
  const issuerSerial = fields[1];
  if (issuerSerial === undefined) return true;
  // IssuerSerial ::= SEQUENCE { issuer GeneralNames, serialNumber CertificateSerialNumber }
  if (!(issuerSerial instanceof asn1js.Sequence)) return false;
  const [names, serial] = issuerSerial.valueBlock.value;
  if (!(serial instanceof asn1js.Integer) || !serial.isEqual(signer.certificate.serialNumber)) return false;
  const generalNames = new pkijs.GeneralNames({ schema: names });
  return generalNames.names.some(
    (n) => n.type === 4 && sameName(n.value as pkijs.RelativeDistinguishedNames, signer.certificate.issuer),
  );
}

function checkTimestampingPurpose(certificate: pkijs.Certificate): TimestampDetail | null {
  const extensions = certificate.extensions ?? [];
  const eku = extensions.filter((e) => e.extnID === OID.extKeyUsage);
  if (eku.length !== 1) return { code: "no-timestamping-eku" };
  const purposes = (eku[0]!.parsedValue as pkijs.ExtKeyUsage | undefined)?.keyPurposes ?? [];
  if (!purposes.includes(OID.timeStamping)) return { code: "no-timestamping-eku" };
  if (purposes.length !== 1) return { code: "timestamping-eku-not-exclusive" };
  if (!eku[0]!.critical) return { code: "timestamping-eku-not-critical" };
  // A key usage, when present, must allow signatures (digitalSignature or nonRepudiation).
  const keyUsage = extensions.find((e) => e.extnID === OID.keyUsage)?.parsedValue as asn1js.BitString | undefined;
  if (keyUsage) {
    const firstByte = keyUsage.valueBlock.valueHexView[0] ?? 0;
    if ((firstByte & 0xc0) === 0) return { code: "key-usage-forbids-signing" };
  }
  return null;
}

async function chainToTrust(
  signer: { certificate: pkijs.Certificate; der: Uint8Array },
  decoded: DecodedToken,
  trust: readonly TsaTrustAnchor[],
  options: VerifyTimestampOptions,
  genTime: Date,
): Promise<TimestampVerification> {
  const subject = distinguishedName(signer.certificate.subject);
  const at = genTime.toISOString();
  const tsa = decoded.info.tsa ?? subject;
  const passed = (anchor: TsaTrustAnchor): TimestampVerification => ({
    status: "passed",
    detail: { code: "ok", genTime: at, tsa, anchor: anchor.label },
    development: anchor.development,
  });

  // The TSA certificate itself may be on the list (some TSAs publish only their own).
  const direct = trust.find((a) => equalBytes(a.der, signer.der));
  if (direct) {
    return validAt(signer.certificate, genTime)
      ? passed(direct)
      : error({ code: "certificate-not-valid-at-gentime", subject, genTime: at });
  }

  const isAnchor = (der: Uint8Array) => trust.some((a) => equalBytes(a.der, der));
  const intermediates = [
    ...decoded.certificates,
    ...(options.intermediates ?? []).map((der) => ({ der, certificate: parseCertificate(der) })),
  ].filter((c) => c.certificate && !equalBytes(c.der, signer.der) && !isAnchor(c.der));
  const engine = new pkijs.CertificateChainValidationEngine({
    trustedCerts: trust.map((a) => a.certificate),
    // The engine takes the last certificate as the one to validate.
    certs: [...intermediates.map((c) => c.certificate as pkijs.Certificate), signer.certificate],
    checkDate: genTime,
  });
  const result = await engine.verify();
  if (!result.result) {
    // pkijs reports "not yet valid or expired" with code 8, after it found a trusted path.
    return result.resultCode === 8
      ? error({ code: "certificate-not-valid-at-gentime", subject, genTime: at })
      : error({ code: "untrusted-tsa", subject });
  }
  const root = result.certificatePath?.at(-1);
  const anchor = root && trust.find((a) => equalBytes(a.certificate.tbsView, root.tbsView));
  return anchor ? passed(anchor) : error({ code: "untrusted-tsa", subject });
}

function validAt(certificate: pkijs.Certificate, when: Date): boolean {
  return certificate.notBefore.value <= when && when <= certificate.notAfter.value;
}

function parseCertificate(der: Uint8Array): pkijs.Certificate | null {
  try {
    return new pkijs.Certificate({ schema: parseAsn1(der, "the certificate") });
  } catch {
    return null;
  }
}

/**
 * Reads a PEM bundle of trusted TSA certificates (usually roots). Text between blocks is
 * ignored, as in the system CA bundles; duplicates are kept once. Throws INVALID_ARGUMENT
 * for a block that is not an X.509 certificate or a bundle without one.
 */
/**
 * A trust file's text: PEM as it is, or one certificate in DER (as some TSAs publish their
 * root, `.cer`/`.crt`) written as PEM. What is neither is left to parseTrustBundle to refuse.
 */
export function trustBundleText(file: Uint8Array): string {
  const text = new TextDecoder().decode(file);
  if (text.includes("-----BEGIN") || file[0] !== 0x30) return text;
  const lines = bytesToBase64(file).match(/.{1,64}/g) ?? [];
  return `-----BEGIN CERTIFICATE-----\n${lines.join("\n")}\n-----END CERTIFICATE-----\n`;
}

export function parseTrustBundle(pem: string): TsaTrustAnchor[] {
  const anchors: TsaTrustAnchor[] = [];
  const blocks = pem.matchAll(/-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/g);
  for (const [, label, body] of blocks) {
    if (label !== "CERTIFICATE") {
      throw new EvidenceError(
        "INVALID_ARGUMENT",
        `TSA trust bundle: a ${label} block where a CERTIFICATE was expected`,
      );
    }
    const der = base64ToBytes(body!.replace(/\s+/g, ""), "TSA trust bundle certificate");
    const certificate = parseCertificate(der);
    if (!certificate) throw new EvidenceError("INVALID_ARGUMENT", "TSA trust bundle: a certificate does not parse");
    if (anchors.some((a) => equalBytes(a.der, der))) continue;
    anchors.push(trustAnchor(certificate, der));
  }
  if (anchors.length === 0) throw new EvidenceError("INVALID_ARGUMENT", "TSA trust bundle: no certificate found");
  return anchors;
}

function trustAnchor(certificate: pkijs.Certificate, der: Uint8Array): TsaTrustAnchor {
  const attribute = (type: string) =>
    certificate.subject.typesAndValues.find((tv) => tv.type === type)?.value.valueBlock.value as string | undefined;
  const subject = distinguishedName(certificate.subject);
  const development = certificate.subject.typesAndValues.some(
    (tv) => tv.type === OID.organizationalUnitName && tv.value.valueBlock.value === DEVELOPMENT_TSA_MARKER,
  );
  return {
    label: attribute("2.5.4.3") ?? attribute("2.5.4.10") ?? subject,
    subject,
    development,
    fingerprint: bytesToHex(sha256(der)),
    der,
    certificate,
  };
}

const ATTRIBUTE_NAMES: Record<string, string> = {
  "2.5.4.3": "CN",
  "2.5.4.6": "C",
  "2.5.4.7": "L",
  "2.5.4.8": "ST",
  "2.5.4.9": "STREET",
  "2.5.4.10": "O",
  "2.5.4.11": "OU",
  "2.5.4.5": "serialNumber",
  "2.5.4.97": "organizationIdentifier",
  "0.9.2342.19200300.100.1.25": "DC",
  "0.9.2342.19200300.100.1.1": "UID",
  "1.2.840.113549.1.9.1": "emailAddress",
};

/**
 * A distinguished name as an RFC 4514 string: most specific attribute first, special
 * characters escaped; non-string values as `#` and their hex BER (RFC 4514 §2.4).
 */
export function distinguishedName(name: pkijs.RelativeDistinguishedNames): string {
  return name.typesAndValues
    .map((tv) => {
      const type = ATTRIBUTE_NAMES[tv.type] ?? tv.type;
      const text = tv.value.valueBlock.value;
      const value =
        typeof text === "string"
          ? text
              .replace(/[\\,+"<>;=]/g, "\\$&")
              .replace(/^[ #]/, "\\$&")
              .replace(/ $/, "\\ ")
          : `#${bytesToHex(new Uint8Array(tv.value.toBER()))}`;
      return `${type}=${value}`;
    })
    .reverse()
    .join(",");
}

/** A GeneralName (RFC 5280 §4.2.1.6) as text. */
function generalName(name: pkijs.GeneralName): string {
  if (name.type === 4) return distinguishedName(name.value as pkijs.RelativeDistinguishedNames);
  return typeof name.value === "string" ? name.value : `[GeneralName ${name.type}]`;
}

/**
 * An OBJECT IDENTIFIER in dotted decimal, decoded from its DER content (X.690 §8.19) with
 * BigInt, so that the long arcs of UUID-based OIDs (2.25.…) come out in decimal.
 */
export function objectIdentifierText(oid: asn1js.ObjectIdentifier): string {
  const content = oid.valueBeforeDecodeView.subarray(oid.idBlock.blockLength + oid.lenBlock.blockLength);
  const arcs: bigint[] = [];
  let arc = 0n;
  for (const byte of content) {
    arc = (arc << 7n) | BigInt(byte & 0x7f);
    if ((byte & 0x80) === 0) {
      arcs.push(arc);
      arc = 0n;
    }
  }
  const [first = 0n, ...rest] = arcs;
  const head = first < 80n ? [first / 40n, first % 40n] : [2n, first - 80n];
  return [...head, ...rest].join(".");
}

/** An INTEGER's value as lowercase hex, without the sign padding byte. */
function integerHex(value: asn1js.Integer): string {
  const bytes = value.valueBlock.valueHexView;
  const start = bytes.length > 1 && bytes[0] === 0 ? 1 : 0;
  return bytesToHex(bytes.subarray(start));
}

// The token field's encoding lives with base64 itself, which verifying a certificate needs without this module.
export { timestampTokenFromBase64, timestampTokenToBase64 } from "./base64.ts";

/**
 * The docs/protocol.md §8 `timestamp` check over all of a certificate's tokens: failed if any token
 * failed, else error if any could not be checked, else passed; skipped when there are none.
 */
export function timestampCheckStatus(
  results: readonly TimestampVerification[],
): "passed" | "failed" | "error" | "skipped" {
  if (results.length === 0) return "skipped";
  if (results.some((r) => r.status === "failed")) return "failed";
  if (results.some((r) => r.status === "error")) return "error";
  return "passed";
}
