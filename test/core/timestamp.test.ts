import { expect } from "chai";
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import * as asn1js from "asn1js";
import * as pkijs from "pkijs";
import { fromHex32, isEvidenceError } from "../../service/core/index.ts";
import {
  DEVELOPMENT_TSA_MARKER,
  parseTimestampToken,
  parseTrustBundle,
  sameName,
  timestampCheckStatus,
  timestampTokenFromBase64,
  timestampTokenToBase64,
  verifyTimestampToken,
  type TimestampVerification,
} from "../../service/core/timestamp.ts";
import { loadVector } from "../helpers/vectors.ts";

const execFileAsync = promisify(execFile);

interface TokenCase {
  desc: string;
  source: string;
  token: string;
  data?: string;
  trust: string[];
  want: { status: string; code: string; development?: boolean; genTime?: string };
  openssl: boolean;
}

const vectors = loadVector<{ data: string; cases: TokenCase[] }>("timestamp/tokens.json");
const pem = (name: string) => readFileSync(new URL(`../vectors/timestamp/${name}`, import.meta.url), "utf8");
const token = (desc: string) => timestampTokenFromBase64(vectors.cases.find((c) => c.desc === desc)!.token);
const root = fromHex32(vectors.data);
const opensslRoot = () => parseTrustBundle(pem("openssl-root.pem"));
const developmentRoot = () => parseTrustBundle(pem("development-root.pem"));

/** Where the parts a signature covers sit in a token: [start, end) byte offsets. */
function signedRegions(der: Uint8Array): Record<string, [number, number]> {
  const signedData = new pkijs.SignedData({ schema: pkijs.ContentInfo.fromBER(new Uint8Array(der)).content });
  const signerInfo = signedData.signerInfos[0]!;
  const signer = signedData.certificates!.find(
    (c): c is pkijs.Certificate =>
      c instanceof pkijs.Certificate &&
      c.serialNumber.isEqual((signerInfo.sid as pkijs.IssuerAndSerialNumber).serialNumber),
  )!;
  // The signed attributes are stored [0]-tagged; their SET encoding differs in the first byte only.
  const parts = {
    tstInfo: new Uint8Array(signedData.encapContentInfo.eContent!.getValue()),
    signedAttributes: new Uint8Array(signerInfo.signedAttrs!.encodedValue).subarray(1),
    signature: signerInfo.signature.valueBlock.valueHexView,
    tsaCertificate: new Uint8Array(signer.toSchema().toBER()),
  };
  return Object.fromEntries(
    Object.entries(parts).map(([name, bytes]) => {
      const at = indexOf(der, bytes);
      expect(at, name).to.be.greaterThan(0);
      return [name, [at, at + bytes.length]];
    }),
  );
}

function indexOf(haystack: Uint8Array, needle: Uint8Array): number {
  outer: for (let i = 0; i + needle.length <= haystack.length; i++) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

function expectInvalidTimestamp(f: () => unknown): void {
  try {
    f();
  } catch (e) {
    expect(isEvidenceError(e, "INVALID_TIMESTAMP"), String(e)).to.equal(true);
    return;
  }
  expect.fail("expected an INVALID_TIMESTAMP error");
}

describe("service/core/timestamp", () => {
  describe("parseTimestampToken", () => {
    it("reads the TSTInfo and the signer of an openssl token", () => {
      const info = parseTimestampToken(token("openssl-rsa-ess-v2"));
      expect(info.genTime.toISOString()).to.equal(vectors.cases[0]!.want.genTime);
      expect(info.policy).to.equal("1.2.3.4.1");
      expect(info.accuracy).to.deep.equal({ seconds: 1, millis: 500, micros: 100 });
      expect(info.ordering).to.equal(true);
      expect(info.nonce).to.match(/^[0-9a-f]+$/);
      expect(info.serialNumber).to.match(/^[0-9a-f]+$/);
      expect(info.messageImprint).to.deep.equal({
        hashAlgorithm: "2.16.840.1.101.3.4.2.1",
        // echo 99d40b5f…f1ca | xxd -r -p | sha256sum
        hashedMessage: "c1ffe2dbcc6daeedf24d286e6914198834d815a15a95531291a4325d742d74c8",
      });
      expect(info.tsa).to.match(/^CN=Evidence Anchor test TSA [0-9.]+ \(critical EKU\),O=Evidence Anchor tests,C=CN$/);
      expect(info.signer!.subject).to.equal(info.tsa);
      expect(info.signer!.issuer).to.match(/^CN=Evidence Anchor test TSA root \d+,O=Evidence Anchor tests,C=CN$/);
    });

    it("reads a UUID-based policy OID in decimal and a token without nonce", () => {
      const info = parseTimestampToken(token("development-ecdsa"));
      expect(info.policy).to.equal("2.25.59109948202211778658700237445516357028");
      expect(info.nonce).to.equal(null);
      expect(info.accuracy).to.deep.equal({ seconds: 1, millis: 0, micros: 0 });
      expect(info.ordering).to.equal(false);
      expect(info.tsa).to.contain(`OU=${DEVELOPMENT_TSA_MARKER}`);
    });

    it("reports no signer when the token leaves the certificate out", () => {
      const info = parseTimestampToken(token("development-without-certificate"));
      expect(info.signer).to.equal(null);
      // The TSTInfo's own tsa field still names the TSA.
      expect(info.tsa).to.contain("Development TSA");
    });

    it("rejects bytes that are not a time-stamp token with INVALID_TIMESTAMP", () => {
      const good = token("openssl-rsa-ess-v2");
      for (const bad of [
        new Uint8Array(),
        new Uint8Array([0x30, 0x00]),
        good.subarray(0, 100),
        new Uint8Array([...good, 0]),
        new TextEncoder().encode("-----BEGIN PKCS7-----"),
      ]) {
        expectInvalidTimestamp(() => parseTimestampToken(bad));
      }
    });

    it("rejects a token whose outer length is one byte shorter than its contents", () => {
      const bad = token("openssl-rsa-ess-v2").slice();
      // 30 82 LL LL: a SEQUENCE with a two-byte length
      expect([bad[0], bad[1]]).to.deep.equal([0x30, 0x82]);
      bad[3] = bad[3]! - 1;
      expectInvalidTimestamp(() => parseTimestampToken(bad));
    });

    it("rejects a CMS SignedData that is not a TSTInfo", async () => {
      const dir = mkdtempSync(path.join(tmpdir(), "evidence-cms-"));
      try {
        writeFileSync(path.join(dir, "data"), "not a TSTInfo");
        // A plain id-data SignedData, made and signed by openssl with a throwaway key.
        await execFileAsync("openssl", [
          "req", "-x509", "-new", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=x",
          "-keyout", path.join(dir, "k.pem"), "-out", path.join(dir, "c.pem"),
        ]); // prettier-ignore
        await execFileAsync("openssl", [
          "cms", "-sign", "-binary", "-nodetach", "-in", path.join(dir, "data"), "-signer", path.join(dir, "c.pem"),
          "-inkey", path.join(dir, "k.pem"), "-outform", "DER", "-out", path.join(dir, "cms.der"),
        ]); // prettier-ignore
        const cms = new Uint8Array(readFileSync(path.join(dir, "cms.der")));
        expectInvalidTimestamp(() => parseTimestampToken(cms));
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });

  describe("parseTrustBundle", () => {
    it("labels each root by its CN and flags the development root by its OU marker", () => {
      const [openssl] = opensslRoot();
      expect(openssl!.label).to.match(/^Evidence Anchor test TSA root \d+$/);
      expect(openssl!.development).to.equal(false);
      expect(openssl!.fingerprint).to.match(/^[0-9a-f]{64}$/);
      const [development] = developmentRoot();
      expect(development!.label).to.equal("Development TSA root - not trusted by courts");
      expect(development!.development).to.equal(true);
      expect(development!.subject).to.contain("法院不予采信");
    });

    it("reads a bundle with text between the blocks and keeps a repeated root once", () => {
      const bundle = `# TSA roots\n${pem("openssl-root.pem")}\nsome label\n${pem("development-root.pem")}${pem("openssl-root.pem")}`;
      expect(parseTrustBundle(bundle).map((a) => a.development)).to.deep.equal([false, true]);
    });

    it("rejects a bundle without certificates, with a key, or with a damaged certificate", () => {
      const broken = pem("openssl-root.pem").replace(/\n[A-Za-z0-9+/]{8}/, "\n!!!!!!!!");
      for (const bad of [
        "",
        "no certificates here",
        "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
        broken,
        "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
      ]) {
        expect(() => parseTrustBundle(bad), JSON.stringify(bad.slice(0, 40))).to.throw(/TSA trust bundle/);
      }
    });
  });

  describe("verifyTimestampToken", () => {
    describe("test vectors (test/vectors/timestamp/tokens.json)", () => {
      for (const c of vectors.cases) {
        it(`${c.want.status === "passed" ? "accepts" : "reports"} ${c.desc}: ${c.want.status} ${c.want.code}`, async () => {
          const trust = c.trust.flatMap((name) => parseTrustBundle(pem(name)));
          const data = fromHex32(c.data ?? vectors.data);
          const result = await verifyTimestampToken(timestampTokenFromBase64(c.token), data, trust);
          expect({ status: result.status, code: result.detail.code }).to.deep.equal({
            status: c.want.status,
            code: c.want.code,
          });
          if (c.want.genTime !== undefined) {
            expect(result.detail).to.include({ genTime: c.want.genTime });
            expect(result.info!.genTime.toISOString()).to.equal(c.want.genTime);
          }
          expect(result.development).to.equal(c.want.development ?? false);
        });
      }
    });

    it("calls a token that breaks the canonical encoding and is also no token malformed, whichever it meets first (protocol §6.2, steps 1 and 11)", async () => {
      const trust = parseTrustBundle(pem("der-root.pem"));
      const data = fromHex32(vectors.data);
      // Bytes after the token (step 11) are met first; its SignedData version is an ENUMERATED (step 1).
      const both = new Uint8Array([...token("der-signeddata-version-enumerated"), 0, 0]);
      const result = await verifyTimestampToken(both, data, trust);
      expect({ status: result.status, code: result.detail.code }).to.deep.equal({
        status: "failed",
        code: "malformed",
      });
      // Each alone, for comparison.
      const alone = await verifyTimestampToken(new Uint8Array([...token("der-genuine"), 0, 0]), data, trust);
      expect({ status: alone.status, code: alone.detail.code }).to.deep.equal({
        status: "error",
        code: "not-canonical",
      });
    });

    it("checks a token not in its canonical encoding as its bytes are, so one for other data, forged or altered fails as it would in DER (steps 2–10 before step 11)", async () => {
      const trustOf = (desc: string) =>
        vectors.cases.find((v) => v.desc === desc)!.trust.flatMap((n) => parseTrustBundle(pem(n)));
      const other = new Uint8Array(32).fill(0xab);
      for (const desc of ["der-tstinfo-non-minimal-length", "der-signed-attributes-unsorted", "trailing-garbage"]) {
        const result = await verifyTimestampToken(token(desc), other, trustOf(desc));
        expect({ status: result.status, code: result.detail.code }, desc).to.deep.equal({
          status: "failed",
          code: "imprint-mismatch",
        });
      }
      // Forged or altered tokens with one byte after them: as without it.
      const data = fromHex32(vectors.data);
      for (const [desc, code] of [
        ["signature-byte-flipped", "bad-signature"],
        ["tstinfo-gentime-backdated", "content-digest-mismatch"],
        ["signer-certificate-swapped", "signing-certificate-mismatch"],
        ["development-ecdsa-signature-byte-flipped", "bad-signature"],
        ["none-timestamping-eku", "no-timestamping-eku"],
      ] as const) {
        const result = await verifyTimestampToken(new Uint8Array([...token(desc), 0]), data, trustOf(desc));
        expect({ status: result.status, code: result.detail.code }, desc).to.deep.equal({ status: "failed", code });
      }
    });

    it("agrees with openssl ts -verify on every vector except where the vector says why not", async () => {
      const dir = mkdtempSync(path.join(tmpdir(), "evidence-ts-verify-"));
      try {
        const disagreements: string[] = [];
        for (const c of vectors.cases) {
          const data = path.join(dir, "root.bin");
          const tokenFile = path.join(dir, "token.der");
          const caFile = path.join(dir, "ca.pem");
          writeFileSync(data, fromHex32(c.data ?? vectors.data));
          writeFileSync(tokenFile, timestampTokenFromBase64(c.token));
          writeFileSync(caFile, c.trust.map(pem).join(""));
          const ok = await execFileAsync("openssl", [
            "ts", "-verify", "-data", data, "-in", tokenFile, "-token_in", "-CAfile", caFile,
          ]).then(() => true, () => false); // prettier-ignore
          if (ok !== c.openssl) disagreements.push(`${c.desc}: openssl says ${ok}, the vector ${c.openssl}`);
        }
        expect(disagreements).to.deep.equal([]);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it("reports a token as untrusted, never as failed, when the trust list is empty", async () => {
      const result = await verifyTimestampToken(token("openssl-rsa-ess-v2"), root, []);
      expect(result.status).to.equal("error");
      expect(result.detail).to.deep.include({ code: "untrusted-tsa" });
      expect((result.detail as { subject: string }).subject).to.match(/^CN=Evidence Anchor test TSA/);
    });

    it("does not take trust from the root a token carries", async () => {
      // The untrusted vector's token includes its own root certificate.
      const untrusted = token("untrusted-root");
      const carried = new TextDecoder("latin1").decode(untrusted);
      expect(carried).to.contain("Untrusted test TSA root");
      const result = await verifyTimestampToken(untrusted, root, developmentRoot());
      expect(result.status).to.equal("error");
    });

    it("returns what the token says beside a failure", async () => {
      const result = await verifyTimestampToken(token("openssl-rsa-ess-v2"), new Uint8Array(32), opensslRoot());
      expect(result.status).to.equal("failed");
      expect(result.info!.policy).to.equal("1.2.3.4.1");
    });

    it("is a pure function: the same inputs give the same result, concurrently too", async () => {
      const trust = [...opensslRoot(), ...developmentRoot()];
      const runs = await Promise.all(
        ["openssl-rsa-ess-v2", "development-ecdsa", "openssl-rsa-ess-v2", "signature-byte-flipped"].map((d) =>
          verifyTimestampToken(token(d), root, trust),
        ),
      );
      const strip = (r: TimestampVerification) => ({ status: r.status, detail: r.detail, development: r.development });
      expect(strip(runs[0]!)).to.deep.equal(strip(runs[2]!));
      expect(runs.map((r) => r.status)).to.deep.equal(["passed", "passed", "passed", "failed"]);
    });

    it("fails a token with any bit flipped in the TSTInfo, signed attributes, signature or TSA certificate", async () => {
      const good = token("openssl-rsa-ess-v2");
      const trust = opensslRoot();
      const regions = signedRegions(good);
      const passedAt: string[] = [];
      for (const [name, [start, end]] of Object.entries(regions)) {
        for (let i = start; i < end; i++) {
          const bad = good.slice();
          bad[i] = bad[i]! ^ 0x01;
          const result = await verifyTimestampToken(bad, root, trust);
          if (result.status === "passed") passedAt.push(`${name}@${i}`);
        }
      }
      expect(passedAt).to.deep.equal([]);
    });

    it("never throws, whatever byte is damaged", async () => {
      const good = token("development-ecdsa");
      for (let i = 0; i < good.length; i += 3) {
        const bad = good.slice();
        bad[i] = bad[i]! ^ 0x80;
        const result = await verifyTimestampToken(bad, root, developmentRoot());
        expect(result.status, `byte ${i}`).to.be.oneOf(["passed", "failed", "error"]);
        expect(result.detail.code).to.be.a("string");
      }
    });
  });

  describe("timestampTokenFromBase64 / timestampTokenToBase64", () => {
    it("round-trips a token", () => {
      const c = vectors.cases[0]!;
      expect(timestampTokenToBase64(timestampTokenFromBase64(c.token))).to.equal(c.token);
    });

    it("rejects text that is not padded standard base64", () => {
      for (const bad of ["abc", "ab=c", "YWJj\n", "YW-j", "YWI", "YQ"]) {
        expect(() => timestampTokenFromBase64(bad), bad).to.throw(/base64/);
      }
    });
  });

  describe("timestampCheckStatus", () => {
    const r = (status: TimestampVerification["status"]): TimestampVerification => ({
      status,
      detail: { code: "bad-signature" },
      development: false,
    });
    it("is skipped without tokens, failed if any failed, else error if any errored, else passed", () => {
      expect(timestampCheckStatus([])).to.equal("skipped");
      expect(timestampCheckStatus([r("passed"), r("error"), r("failed")])).to.equal("failed");
      expect(timestampCheckStatus([r("passed"), r("error")])).to.equal("error");
      expect(timestampCheckStatus([r("passed"), r("passed")])).to.equal("passed");
    });
  });
});

describe("sameName (how a token's sid and ESS issuerSerial name a certificate's issuer, §6.2)", function () {
  /** A Name of (attribute type, value) pairs, read back from its DER as a token's are. */
  const name = (...values: [string, asn1js.AsnType][]) => {
    const typesAndValues = values.map(
      ([type, value]) => new pkijs.AttributeTypeAndValue({ type, value: value as pkijs.AttributeValueType }),
    );
    const der = new pkijs.RelativeDistinguishedNames({ typesAndValues }).toSchema().toBER();
    return new pkijs.RelativeDistinguishedNames({ schema: asn1js.fromBER(der).result });
  };
  const cn = (text: string, Type: typeof asn1js.Utf8String | typeof asn1js.PrintableString = asn1js.Utf8String) =>
    ["2.5.4.3", new Type({ value: text })] as [string, asn1js.AsnType];
  const org = (text: string) => ["2.5.4.10", new asn1js.Utf8String({ value: text })] as [string, asn1js.AsnType];
  const cases: [string, pkijs.RelativeDistinguishedNames, pkijs.RelativeDistinguishedNames, boolean][] = [
    ["trimmed, spaces made one and lower-cased", name(cn("Example TSA")), name(cn(" example   tsa ")), true],
    ["canonically equivalent (é and e + U+0301)", name(cn("\u00e9")), name(cn("e\u0301")), true],
    ["the same text in another string type", name(cn("TSA")), name(cn("TSA", asn1js.PrintableString)), true],
    ["differing by a zero-width space", name(cn("Example TSA")), name(cn("Example\u200b TSA")), false],
    ["differing by a NUL", name(cn("TSA")), name(cn("TSA\u0000")), false],
    ["the same attributes in another order", name(cn("TSA"), org("O")), name(org("O"), cn("TSA")), false],
    ["a string and an OCTET STRING", name(cn("TSA")), name(["2.5.4.3", new asn1js.OctetString()]), false],
  ];
  for (const [what, a, b, same] of cases) {
    it(`${same ? "takes" : "does not take"} names ${what} for the same, whatever the machine's locale`, () => {
      expect([sameName(a, b), sameName(b, a)]).to.deep.equal([same, same]);
    });
  }
});
