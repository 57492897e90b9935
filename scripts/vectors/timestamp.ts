/**
 * Writes test/vectors/timestamp/: RFC 3161 tokens on the example certificate's root, from
 * real TSAs — `openssl ts -reply` under an openssl test CA (RSA) and the development TSA
 * (ECDSA P-256) — and mutations of them, each case with the verdict our verifier must give
 * and whether `openssl ts -verify` accepts it. Certificates are valid for 100 years and the
 * verifier checks validity at genTime, so the vectors keep verifying.
 *
 *     node scripts/vectors/timestamp.ts [--renew]
 *
 * Time-stamps are not deterministic and the TSAs' keys are thrown away, so a run keeps the
 * cases tokens.json already has, byte for byte, and makes only the groups of cases it lacks:
 * the cases from real TSAs, and the encoding cases (`der-…`), which are made together under
 * their own root. `--renew` makes every case anew, with new keys.
 */
import { createHash, createPrivateKey, sign } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import * as asn1js from "asn1js";
import { concatBytes } from "@noble/hashes/utils.js";
import * as pkijs from "pkijs";
import { fromHex32 } from "../../service/core/hex.ts";
import { OID, parseTimestampToken, timestampTokenToBase64 } from "../../service/core/timestamp.ts";
import { DevelopmentTsa } from "../../service/timestamping/development-tsa.ts";
import { createTestPki, startOpensslTsa, tokenOf, type TestPki } from "../../test/helpers/openssl-tsa.ts";

const OUT = new URL("../../test/vectors/timestamp/", import.meta.url);
const certificate = JSON.parse(
  readFileSync(new URL("../../test/vectors/certificate/certificate.json", import.meta.url), "utf8"),
);
/** The example certificate's Merkle root: what docs/protocol.md §6 stamps. */
const ROOT: string = certificate.proof.root;
/** Another root, for a token that stamps other data. */
const OTHER_ROOT = "0x" + "ab".repeat(32);

interface Case {
  desc: string;
  source: string;
  token: string;
  data?: string;
  trust: string[];
  want: { status: "passed" | "failed" | "error"; code: string; development?: boolean; genTime?: string };
  /** What `openssl ts -verify -data <root> -CAfile <trust>` says (it checks validity now, not at genTime). */
  openssl: boolean;
}

const cases: Case[] = [];
const root = fromHex32(ROOT);
const work = path.join(tmpdir(), `evidence-timestamp-vectors-${process.pid}`);
mkdirSync(work, { recursive: true });
mkdirSync(OUT, { recursive: true });

const tokensFile = new URL("tokens.json", OUT);
const previous: Case[] =
  existsSync(tokensFile) && !process.argv.includes("--renew")
    ? (JSON.parse(readFileSync(tokensFile, "utf8")) as { cases: Case[] }).cases
    : [];
const isDerCase = (c: { desc: string }) => c.desc.startsWith("der-");
const keptTsaCases = previous.filter((c) => !isDerCase(c));
const keptDerCases = previous.filter(isDerCase);

if (keptTsaCases.length > 0) cases.push(...keptTsaCases);
else await realTsaCases();
if (keptDerCases.length > 0) cases.push(...keptDerCases);
else await derCases();
rmSync(work, { recursive: true, force: true });

writeFileSync(
  tokensFile,
  `${JSON.stringify(
    {
      source: "scripts/vectors/timestamp.ts: real tokens from openssl ts -reply and the development TSA, and mutations",
      data: ROOT,
      cases,
    },
    null,
    2,
  )}\n`,
);
console.log(`wrote ${cases.length} cases to ${OUT.pathname} (${previous.length} kept)`);

async function realTsaCases(): Promise<void> {
  const pki = await createTestPki("Evidence Anchor test TSA root");
  const other = await createTestPki("Untrusted test TSA root");
  try {
    writeFileSync(new URL("openssl-root.pem", OUT), pki.rootPem);

    // openssl, ESS signingCertificateV2 (ess_cert_id_alg = sha256)
    const v2 = await startOpensslTsa({ pki, essCertIdAlg: "sha256" });
    writeFileSync(new URL("openssl-tsa.pem", OUT), v2.signer.certPem);
    const opensslToken = await v2.stamp(root);
    add({
      desc: "openssl-rsa-ess-v2",
      source: "openssl ts -reply, RSA 2048, ess_cert_id_alg = sha256",
      token: opensslToken,
      trust: ["openssl-root.pem"],
      want: { status: "passed", code: "ok", development: false, genTime: genTime(opensslToken) },
      openssl: true,
    });
    add({
      desc: "openssl-rsa-trusting-the-tsa-certificate-itself",
      source: "the same token; the trust list holds the TSA certificate instead of its root",
      token: opensslToken,
      trust: ["openssl-tsa.pem"],
      want: { status: "passed", code: "ok", development: false, genTime: genTime(opensslToken) },
      // openssl builds a chain to a self-signed root unless told -partial_chain
      openssl: false,
    });
    add({
      desc: "wrong-imprint",
      source: "the same token, checked against another root",
      token: opensslToken,
      data: OTHER_ROOT,
      trust: ["openssl-root.pem"],
      want: { status: "failed", code: "imprint-mismatch" },
      openssl: false,
    });
    add({
      desc: "signature-byte-flipped",
      source: "the same token with the last byte of the SignerInfo signature inverted",
      token: flipSignatureByte(opensslToken),
      trust: ["openssl-root.pem"],
      want: { status: "failed", code: "bad-signature" },
      openssl: false,
    });
    add({
      desc: "tstinfo-gentime-backdated",
      source: "the same token with the year of genTime inside the TSTInfo lowered by one",
      token: backdate(opensslToken),
      trust: ["openssl-root.pem"],
      want: { status: "failed", code: "content-digest-mismatch" },
      openssl: false,
    });
    add({
      desc: "truncated",
      source: "the same token without its last byte",
      token: opensslToken.subarray(0, -1),
      trust: ["openssl-root.pem"],
      want: { status: "failed", code: "malformed" },
      openssl: false,
    });
    add({
      desc: "trailing-garbage",
      source: "the same token followed by one zero byte",
      token: new Uint8Array([...opensslToken, 0]),
      trust: ["openssl-root.pem"],
      want: { status: "failed", code: "malformed" },
      // openssl reads the first DER value and ignores what follows
      openssl: true,
    });
    add({
      desc: "signer-certificate-swapped",
      source:
        "the same token with its TSA certificate replaced by another certificate for the same key (the signature still verifies; the ESS signingCertificateV2 names the original)",
      token: await swapSignerCertificate(opensslToken, pki, v2.signer),
      trust: ["openssl-root.pem"],
      want: { status: "failed", code: "signing-certificate-mismatch" },
      openssl: false,
    });
    await v2.stop();

    // openssl, ESS signingCertificate (v1, SHA-1)
    const v1 = await startOpensslTsa({ pki, essCertIdAlg: "sha1" });
    const v1Token = await v1.stamp(root);
    add({
      desc: "openssl-rsa-ess-v1",
      source: "openssl ts -reply, RSA 2048, ess_cert_id_alg = sha1",
      token: v1Token,
      trust: ["openssl-root.pem"],
      want: { status: "passed", code: "ok", development: false, genTime: genTime(v1Token) },
      openssl: true,
    });
    await v1.stop();

    for (const [eku, code] of [
      ["none", "no-timestamping-eku"],
      ["non-critical", "timestamping-eku-not-critical"],
    ] as const) {
      const tsa = await startOpensslTsa({ pki, eku });
      add({
        desc: `${eku}-timestamping-eku`,
        source: `openssl ts -reply's TSTInfo signed again (openssl cms -sign -cades) with a certificate whose EKU is ${eku === "none" ? "absent" : "not critical"}`,
        token: await tsa.stamp(root),
        trust: ["openssl-root.pem"],
        want: { status: "failed", code },
        openssl: false,
      });
      await tsa.stop();
    }

    const untrusted = await startOpensslTsa({ pki: other });
    add({
      desc: "untrusted-root",
      source: "openssl ts -reply under another root (the token carries that root; it is not on the list)",
      token: await untrusted.stamp(root),
      trust: ["openssl-root.pem"],
      want: { status: "error", code: "untrusted-tsa" },
      openssl: false,
    });
    await untrusted.stop();

    // The development TSA
    const development = await DevelopmentTsa.open(path.join(work, "development"));
    writeFileSync(new URL("development-root.pem", OUT), development.rootPem);
    const developmentToken = await development.stamp(root);
    add({
      desc: "development-ecdsa",
      source: "DevelopmentTsa.stamp, ECDSA P-256, ESS signingCertificateV2",
      token: developmentToken,
      trust: ["development-root.pem"],
      want: { status: "passed", code: "ok", development: true, genTime: genTime(developmentToken) },
      openssl: true,
    });
    add({
      desc: "development-ecdsa-signature-byte-flipped",
      source: "the same token with the last byte of the ECDSA signature inverted",
      token: flipSignatureByte(developmentToken),
      trust: ["development-root.pem"],
      want: { status: "failed", code: "bad-signature" },
      openssl: false,
    });
    add({
      desc: "development-without-certificate",
      source: "DevelopmentTsa.handle of a request with certReq false: the token does not carry the TSA certificate",
      token: tokenOf(await development.handle(request(root, false))),
      trust: ["development-root.pem"],
      want: { status: "error", code: "signer-certificate-missing" },
      openssl: false,
    });
    add({
      desc: "development-and-openssl-roots-together",
      source: "the development token, with a trust list of two roots",
      token: developmentToken,
      trust: ["openssl-root.pem", "development-root.pem"],
      want: { status: "passed", code: "ok", development: true, genTime: genTime(developmentToken) },
      openssl: true,
    });

    // A TSA whose certificates were made in 2020, asked to stamp with its clock in 2019.
    const clock = { now: new Date("2020-01-01T00:00:00Z") };
    const dir2020 = path.join(work, "development-2020");
    await DevelopmentTsa.open(dir2020, { clock: () => clock.now });
    clock.now = new Date("2019-06-01T12:00:00Z");
    const early = await DevelopmentTsa.open(dir2020, { clock: () => clock.now });
    writeFileSync(new URL("development-2020-root.pem", OUT), early.rootPem);
    add({
      desc: "genTime-before-certificate-validity",
      source: "a development TSA with certificates valid from 2020, stamping with its clock at 2019-06-01",
      token: await early.stamp(root),
      trust: ["development-2020-root.pem"],
      want: { status: "error", code: "certificate-not-valid-at-gentime" },
      // openssl checks the certificates' validity now, not at genTime
      openssl: true,
    });
  } finally {
    pki.remove();
    other.remove();
  }
}

function add(c: Omit<Case, "token"> & { token: Uint8Array }): void {
  cases.push({ ...c, token: timestampTokenToBase64(c.token) });
}

function genTime(token: Uint8Array): string {
  return parseTimestampToken(token).genTime.toISOString();
}

function indexOf(haystack: Uint8Array, needle: Uint8Array): number {
  outer: for (let i = 0; i + needle.length <= haystack.length; i++) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

function signerInfoOf(token: Uint8Array): { signedData: pkijs.SignedData; signerInfo: pkijs.SignerInfo } {
  const signedData = new pkijs.SignedData({ schema: pkijs.ContentInfo.fromBER(new Uint8Array(token)).content });
  return { signedData, signerInfo: signedData.signerInfos[0]! };
}

function flipSignatureByte(token: Uint8Array): Uint8Array {
  const signature = signerInfoOf(token).signerInfo.signature.valueBlock.valueHexView;
  const at = indexOf(token, signature) + signature.length - 1;
  const copy = token.slice();
  copy[at] = copy[at]! ^ 0xff;
  return copy;
}

function backdate(token: Uint8Array): Uint8Array {
  const time = parseTimestampToken(token).genTime;
  const year = String(time.getUTCFullYear());
  const stamp = new TextEncoder().encode(`${year}${String(time.getUTCMonth() + 1).padStart(2, "0")}`);
  const at = indexOf(token, stamp);
  if (at < 0) throw new Error("genTime not found in the token");
  const copy = token.slice();
  copy.set(new TextEncoder().encode(String(Number(year) - 1)), at);
  return copy;
}

async function swapSignerCertificate(
  token: Uint8Array,
  pki: TestPki,
  signer: Awaited<ReturnType<TestPki["issueTsa"]>>,
): Promise<Uint8Array> {
  const twin = await pki.issueTsa({ keyOf: signer, commonName: "Evidence Anchor test TSA (re-issued)" });
  const twinCert = pkijs.Certificate.fromBER(pemBytes(twin.certPem));
  const { signedData, signerInfo } = signerInfoOf(token);
  const original = pkijs.Certificate.fromBER(pemBytes(signer.certPem));
  signedData.certificates = (signedData.certificates ?? []).map((c) =>
    c instanceof pkijs.Certificate && c.serialNumber.isEqual(original.serialNumber) ? twinCert : c,
  );
  signerInfo.sid = new pkijs.IssuerAndSerialNumber({ issuer: twinCert.issuer, serialNumber: twinCert.serialNumber });
  return new Uint8Array(
    new pkijs.ContentInfo({ contentType: OID.signedData, content: signedData.toSchema(true) }).toSchema().toBER(),
  );
}

function pemBytes(pem: string): Uint8Array<ArrayBuffer> {
  return new Uint8Array(Buffer.from(pem.replace(/-----[^-]+-----|\s/g, ""), "base64"));
}

function request(data: Uint8Array, certReq: boolean): Uint8Array {
  const messageImprint = new pkijs.MessageImprint({
    hashAlgorithm: new pkijs.AlgorithmIdentifier({ algorithmId: OID.sha256 }),
    hashedMessage: new asn1js.OctetString({ valueHex: createHash("sha256").update(data).digest() }),
  });
  return new Uint8Array(new pkijs.TimeStampReq({ version: 1, messageImprint, certReq }).toSchema().toBER());
}

/**
 * The encoding cases: a token from `openssl ts -reply` under a root of their own
 * (der-root.pem), and that token with its TSTInfo or signed attributes encoded against
 * DER (X.690 §10–11) and signed again with the TSA's key — so the signature and the
 * message digest hold and only the encoding is wrong — or with a tag outside the signed
 * parts changed to one the ASN.1 of RFC 5652/5280 does not allow there, or the whole
 * token around them re-encoded in BER, which RFC 5652 allows.
 */
async function derCases(): Promise<void> {
  const pki = await createTestPki("Evidence Anchor test TSA root (encoding cases)");
  try {
    writeFileSync(new URL("der-root.pem", OUT), pki.rootPem);
    const tsa = await startOpensslTsa({ pki, essCertIdAlg: "sha256" });
    const genuine = await tsa.stamp(root);
    const key = createPrivateKey(readFileSync(tsa.signer.keyPath));
    await tsa.stop();
    const token = parseToken(genuine);
    const trust = ["der-root.pem"];
    const malformed = { status: "failed", code: "malformed" } as const;

    add({
      desc: "der-genuine",
      source: "openssl ts -reply, RSA 2048, under der-root.pem: the token the other der- cases change",
      token: genuine,
      trust,
      want: { status: "passed", code: "ok", development: false, genTime: genTime(genuine) },
      openssl: true,
    });
    add({
      desc: "der-ber-outer",
      source:
        "the same token with ContentInfo, its [0], SignedData, encapContentInfo and its [0], the certificates and the signerInfos in indefinite-length BER (RFC 5652 allows BER there); TSTInfo and signed attributes untouched",
      token: berOuter(token),
      trust,
      want: { status: "passed", code: "ok", development: false, genTime: genTime(genuine) },
      openssl: true,
    });

    // TSTInfo ::= SEQUENCE { version, policy, messageImprint, serialNumber, genTime, accuracy,
    //   ordering, nonce, tsa }: what openssl ts -reply writes with this configuration.
    const fields = split(token.tstInfo);
    const at = (tag: number, from = 0) => fields.findIndex((f, i) => i >= from && f[0] === tag);
    const replaced = (i: number, field: Uint8Array) => fields.map((f, j) => (j === i ? field : f));
    const ordering = at(0x01);
    const genTimeField = fields[at(0x18)]!;
    const time = new TextDecoder().decode(content(genTimeField));
    const tstInfoCases: [string, string, Uint8Array][] = [
      [
        "der-tstinfo-indefinite-length",
        "the TSTInfo SEQUENCE with an indefinite length (30 80 … 00 00)",
        concat([0x30, 0x80], ...fields, [0, 0]),
      ],
      [
        "der-tstinfo-non-minimal-length",
        "the TSTInfo SEQUENCE's length in one octet more than needed (82 00 LL)",
        concat([0x30, 0x82, ...lengthOctets(sum(fields), 2)], ...fields),
      ],
      [
        "der-tstinfo-non-minimal-integer",
        "the TSTInfo version INTEGER 1 as 02 02 00 01",
        seq(replaced(0, new Uint8Array([0x02, 0x02, 0x00, 0x01]))),
      ],
      [
        "der-tstinfo-boolean-01",
        "the TSTInfo ordering TRUE as 01 01 01 instead of 01 01 FF",
        seq(replaced(ordering, new Uint8Array([0x01, 0x01, 0x01]))),
      ],
      [
        "der-tstinfo-default-ordering-false",
        "the TSTInfo ordering as an encoded FALSE (01 01 00), its DEFAULT, which DER leaves out",
        seq(replaced(ordering, new Uint8Array([0x01, 0x01, 0x00]))),
      ],
      [
        "der-tstinfo-gentime-trailing-zero",
        `the TSTInfo genTime ${time} written with a trailing zero in its fraction of seconds`,
        seq(
          replaced(
            at(0x18),
            tlv(
              0x18,
              new TextEncoder().encode(time.includes(".") ? time.replace("Z", "0Z") : time.replace("Z", ".0Z")),
            ),
          ),
        ),
      ],
    ];
    for (const [desc, source, tstInfo] of tstInfoCases) {
      add({
        desc,
        source: `${source}, its message digest and signature made again with the TSA's key`,
        token: resignToken(token, key, { tstInfo }),
        trust,
        want: malformed,
        // openssl reads the TSTInfo as BER, but refuses an INTEGER with a padding octet
        openssl: desc !== "der-tstinfo-non-minimal-integer",
      });
    }

    const attributes = split(token.signedAttributes);
    const longForm = (attribute: Uint8Array) => {
      const inner = content(attribute);
      return concat([attribute[0]!, 0x81, inner.length], inner);
    };
    add({
      desc: "der-signed-attributes-non-minimal-length",
      source:
        "the content-type signed attribute's SEQUENCE length in long form (30 81 LL), signed over those bytes with the TSA's key",
      token: resignToken(token, key, { attributes: [longForm(attributes[0]!), ...attributes.slice(1)] }),
      trust,
      want: malformed,
      // openssl re-encodes the attributes in DER before it checks the signature
      openssl: false,
    });
    add({
      desc: "der-signed-attributes-unsorted",
      source:
        "the signed attributes in the reverse of DER's SET OF order (X.690 §11.6), signed over that order with the TSA's key",
      token: resignToken(token, key, { attributes: [...attributes].reverse() }),
      trust,
      want: malformed,
      // openssl checks the attributes in the order received; BouncyCastle sorts them first
      openssl: true,
    });

    // Tags changed outside the signed parts, which pkijs reads past.
    const retag = (offset: number, tag: number) => {
      const copy = genuine.slice();
      copy[offset] = tag;
      return copy;
    };
    const retagCases: [string, string, number, number, boolean][] = [
      [
        "der-signeddata-version-enumerated",
        "the SignedData version INTEGER tagged ENUMERATED (02 → 0A)",
        token.offsets.version,
        0x0a,
        false,
      ],
      [
        "der-digestalgorithms-element-not-algorithm",
        "the element of SignedData digestAlgorithms tagged OCTET STRING instead of SEQUENCE (30 → 04)",
        token.offsets.digestAlgorithm,
        0x04,
        false,
      ],
      [
        "der-signerinfo-digest-parameters-not-null",
        "the NULL parameters of the SignerInfo's SHA-256 digestAlgorithm tagged OCTET STRING (05 00 → 04 00)",
        token.offsets.digestParameters,
        0x04,
        true,
      ],
      [
        "der-signerinfo-signature-parameters-not-null",
        "the NULL parameters of the SignerInfo's rsaEncryption signatureAlgorithm tagged OCTET STRING (05 00 → 04 00)",
        token.offsets.signatureParameters,
        0x04,
        true,
      ],
      [
        "der-root-certificate-retagged",
        "the root certificate the token carries (not the signer's) tagged [1] (v1AttrCert) instead of SEQUENCE (30 → A1)",
        token.offsets.lastCertificate,
        0xa1,
        false,
      ],
      [
        "der-sid-issuer-cn-numericstring",
        "the commonName of the sid's issuer tagged NumericString instead of UTF8String (0C → 12)",
        token.offsets.sidCommonName,
        0x12,
        false,
      ],
    ];
    for (const [desc, source, offset, tag, openssl] of retagCases) {
      add({ desc, source, token: retag(offset, tag), trust, want: malformed, openssl });
    }
  } finally {
    pki.remove();
  }
}

/** A DER/BER value split into its parts, by hand, so that re-encoding changes nothing else. */
function header(b: Uint8Array, at: number): { contentStart: number; end: number } {
  let p = at + 1;
  const first = b[p++]!;
  if (first === 0x80) throw new Error("indefinite length in a genuine token");
  let length = first;
  if (first & 0x80) {
    length = 0;
    for (let i = 0; i < (first & 0x7f); i++) length = length * 256 + b[p++]!;
  }
  return { contentStart: p, end: p + length };
}

function content(value: Uint8Array): Uint8Array {
  const { contentStart, end } = header(value, 0);
  return value.subarray(contentStart, end);
}

/** The values one after another in `bytes`. */
function split(value: Uint8Array): Uint8Array[] {
  const inner = content(value);
  const parts: Uint8Array[] = [];
  for (let p = 0; p < inner.length;) {
    const { end } = header(inner, p);
    parts.push(inner.subarray(p, end));
    p = end;
  }
  return parts;
}

function concat(...parts: (Uint8Array | number[])[]): Uint8Array {
  return concatBytes(...parts.map((p) => (p instanceof Uint8Array ? p : Uint8Array.from(p))));
}

function sum(parts: Uint8Array[]): number {
  return parts.reduce((n, p) => n + p.length, 0);
}

function lengthOctets(length: number, count: number): number[] {
  return Array.from({ length: count }, (_, i) => (length >> (8 * (count - 1 - i))) & 0xff);
}

/** A DER TLV. */
function tlv(tag: number, ...parts: Uint8Array[]): Uint8Array {
  const length = sum(parts);
  const count = length < 0x80 ? 0 : length < 0x100 ? 1 : length < 0x10000 ? 2 : 3;
  return concat([tag, ...(count === 0 ? [length] : [0x80 | count, ...lengthOctets(length, count)])], ...parts);
}

function seq(parts: Uint8Array[]): Uint8Array {
  return tlv(0x30, ...parts);
}

interface TokenParts {
  /** ContentInfo's contentType; SignedData's fields; encapContentInfo's eContentType. */
  contentType: Uint8Array;
  signedData: Uint8Array[];
  eContentType: Uint8Array;
  tstInfo: Uint8Array;
  /** The SignerInfo's fields, the [0] signed attributes among them. */
  signerInfo: Uint8Array[];
  signedAttributes: Uint8Array;
  /** Where some identifier octets are in the token. */
  offsets: Record<
    "version" | "digestAlgorithm" | "digestParameters" | "signatureParameters" | "lastCertificate" | "sidCommonName",
    number
  >;
}

function parseToken(token: Uint8Array): TokenParts {
  const [contentType, explicit] = split(token);
  const [signedDataValue] = split(explicit!);
  const signedData = split(signedDataValue!);
  const [eContentType, eContentExplicit] = split(signedData[2]!);
  const tstInfo = content(split(eContentExplicit!)[0]!);
  const signerInfoValue = split(signedData.at(-1)!)[0]!;
  const signerInfo = split(signerInfoValue);
  const offsetOf = (part: Uint8Array) => part.byteOffset - token.byteOffset;
  const [, sid, digestAlgorithm, signedAttributes, signatureAlgorithm] = signerInfo;
  const certificates = split(signedData[3]!);
  // IssuerAndSerialNumber { issuer Name, serial }: the RDN whose type is id-at-commonName (55 04 03)
  const rdns = split(split(sid!)[0]!);
  const commonName = rdns.map((rdn) => split(split(rdn)[0]!)).find(([type]) => content(type!).join() === "85,4,3")!;
  return {
    contentType: contentType!,
    signedData,
    eContentType: eContentType!,
    tstInfo,
    signerInfo,
    signedAttributes: signedAttributes!,
    offsets: {
      version: offsetOf(signedData[0]!),
      digestAlgorithm: offsetOf(split(signedData[1]!)[0]!),
      digestParameters: offsetOf(split(digestAlgorithm!)[1]!),
      signatureParameters: offsetOf(split(signatureAlgorithm!)[1]!),
      lastCertificate: offsetOf(certificates.at(-1)!),
      sidCommonName: offsetOf(commonName[1]!),
    },
  };
}

/**
 * The token with another TSTInfo and/or other signed attributes (their contents, in order),
 * the message digest made again for the TSTInfo and the signature for the attributes' bytes
 * exactly as given (RSA PKCS #1 v1.5 with SHA-256, as openssl ts signs).
 */
function resignToken(
  token: TokenParts,
  key: ReturnType<typeof createPrivateKey>,
  change: { tstInfo?: Uint8Array; attributes?: Uint8Array[] },
): Uint8Array {
  const tstInfo = change.tstInfo ?? token.tstInfo;
  let attributes = change.attributes ?? split(token.signedAttributes);
  const digest = createHash("sha256").update(tstInfo).digest();
  // Attribute ::= SEQUENCE { attrType, attrValues SET }: message-digest is 1.2.840.113549.1.9.4
  const messageDigestOid = tlv(0x06, new Uint8Array([0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x04]));
  attributes = attributes.map((a) => {
    const [type] = split(a);
    if (type!.join() !== messageDigestOid.join()) return a;
    const value = tlv(0x31, tlv(0x04, digest));
    return a[1] === 0x81
      ? concat([0x30, 0x81, messageDigestOid.length + value.length], messageDigestOid, value)
      : seq([messageDigestOid, value]);
  });
  const signedBytes = tlv(0x31, ...attributes);
  const signature = sign("sha256", signedBytes, key);
  const signedAttributes = concat([0xa0], signedBytes.subarray(1));
  const [version, sid, digestAlgorithm, , signatureAlgorithm, , ...rest] = token.signerInfo;
  const signerInfo = seq([
    version!,
    sid!,
    digestAlgorithm!,
    signedAttributes,
    signatureAlgorithm!,
    tlv(0x04, signature),
    ...rest,
  ]);
  const encap = seq([token.eContentType, tlv(0xa0, tlv(0x04, tstInfo))]);
  const signedData = seq([
    ...token.signedData.slice(0, 2),
    encap,
    ...token.signedData.slice(3, -1),
    tlv(0x31, signerInfo),
  ]);
  return seq([token.contentType, tlv(0xa0, signedData)]);
}

/** The token with its constructed values outside the TSTInfo and signed attributes in indefinite-length form. */
function berOuter(token: TokenParts): Uint8Array {
  const indefinite = (tag: number, ...parts: Uint8Array[]) => concat([tag, 0x80], ...parts, [0, 0]);
  const [version, digestAlgorithms, , certificates, ...more] = token.signedData;
  const signerInfos = more.at(-1)!;
  const encap = indefinite(0x30, token.eContentType, indefinite(0xa0, tlv(0x04, token.tstInfo)));
  const signedData = indefinite(
    0x30,
    version!,
    digestAlgorithms!,
    encap,
    indefinite(0xa0, ...split(certificates!)),
    ...more.slice(0, -1),
    indefinite(0x31, ...split(signerInfos)),
  );
  return indefinite(0x30, token.contentType, indefinite(0xa0, signedData));
}
