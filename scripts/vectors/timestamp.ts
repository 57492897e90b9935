/**
 * Writes test/vectors/timestamp/: RFC 3161 tokens on the example certificate's root, from
 * real TSAs — `openssl ts -reply` under an openssl test CA (RSA) and the development TSA
 * (ECDSA P-256) — and mutations of them, each case with the verdict our verifier must give
 * and whether `openssl ts -verify` accepts it. Certificates are valid for 100 years and the
 * verifier checks validity at genTime, so the vectors keep verifying.
 *
 *     node scripts/vectors/timestamp.ts
 *
 * Running it again makes new keys and tokens (time-stamps are not deterministic).
 */
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import * as asn1js from "asn1js";
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
  rmSync(work, { recursive: true, force: true });
}

writeFileSync(
  new URL("tokens.json", OUT),
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
console.log(`wrote ${cases.length} cases to ${OUT.pathname}`);

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
