/**
 * The embedded development TSA: a real RFC 3161 time-stamping authority that `npm start`
 * runs, so the second clock of docs/protocol.md §6 works out of the box. Its tokens verify with
 * `openssl ts -verify -CAfile <dir>/root.pem`, but its clock is the host's and its root is
 * made on first use: its subjects say so, and verifiers flag tokens under it as development
 * ({@link DEVELOPMENT_TSA_MARKER}).
 *
 * Keys are ECDSA P-256: generated in milliseconds on first start, small tokens, and fast
 * signing; RFC 3161 and openssl accept any CMS signature algorithm. (Real TSAs mostly sign
 * with RSA; the verifier is tested against both.)
 */
import { existsSync, chmodSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import path from "node:path";
import { sha1 } from "@noble/hashes/legacy.js";
import { sha256 } from "@noble/hashes/sha2.js";
import * as asn1js from "asn1js";
import * as pkijs from "pkijs";
import {
  DEVELOPMENT_TSA_MARKER,
  OID,
  objectIdentifierText,
  parseTrustBundle,
  type TsaTrustAnchor,
} from "../core/timestamp.ts";
import {
  failureInfoBits,
  PKI_STATUS,
  randomPositiveInteger,
  TIMESTAMP_QUERY,
  TIMESTAMP_REPLY,
  type PkiFailure,
} from "./protocol.ts";
import { makeDirectory } from "../make-directory.ts";

/**
 * The policy the development TSA stamps under: a UUID-based OID (ITU-T X.667, arc 2.25),
 * which needs no registration and names nothing but this TSA.
 */
export const DEVELOPMENT_TSA_POLICY = "2.25.59109948202211778658700237445516357028";

/** Requests larger than this are not time-stamp queries (a SHA-512 query is ~100 bytes). */
const MAX_QUERY_BYTES = 64 * 1024;

const EC_KEY = { name: "ECDSA", namedCurve: "P-256" } as const;

/** Imprint algorithms the TSA accepts, with their digest lengths. SHA-1 is refused as too weak. */
const IMPRINT_LENGTHS: Record<string, number> = { [OID.sha256]: 32, [OID.sha384]: 48, [OID.sha512]: 64 };

const VALIDITY_YEARS = 100;

const ROOT_SUBJECT = [
  ["2.5.4.10", "Evidence Anchor"],
  [OID.organizationalUnitName, DEVELOPMENT_TSA_MARKER],
  [OID.organizationalUnitName, "开发测试用时间戳服务，法院不予采信"],
  ["2.5.4.3", "Development TSA root - not trusted by courts"],
] as const;

const TSA_SUBJECT = [
  ["2.5.4.10", "Evidence Anchor"],
  [OID.organizationalUnitName, DEVELOPMENT_TSA_MARKER],
  [OID.organizationalUnitName, "开发测试用时间戳服务，法院不予采信"],
  ["2.5.4.3", "Development TSA - not trusted by courts"],
] as const;

export interface DevelopmentTsaOptions {
  /** The TSA's clock; the host's by default. */
  clock?: () => Date;
}

export class DevelopmentTsa {
  /** The self-signed root, PEM: what a verifier puts in its trust bundle. */
  readonly rootPem: string;
  /** The TSA's own certificate, PEM. */
  readonly certificatePem: string;
  readonly policy = DEVELOPMENT_TSA_POLICY;
  readonly #certificate: pkijs.Certificate;
  readonly #certificateDer: Uint8Array<ArrayBuffer>;
  readonly #key: CryptoKey;
  readonly #clock: () => Date;

  private constructor(rootPem: string, certificatePem: string, key: CryptoKey, clock: () => Date) {
    this.rootPem = rootPem;
    this.certificatePem = certificatePem;
    this.#certificateDer = pemToDer(certificatePem);
    this.#certificate = pkijs.Certificate.fromBER(this.#certificateDer);
    this.#key = key;
    this.#clock = clock;
  }

  /**
   * Opens the TSA kept under `dir` (`root.pem`, `tsa.pem`, `tsa.key`), creating it on first
   * use. The root's private key is discarded once it has signed the TSA certificate, so
   * nothing can issue another certificate under this root. Files are 0600, `dir` is 0700.
   */
  static async open(dir: string, options: DevelopmentTsaOptions = {}): Promise<DevelopmentTsa> {
    const clock = options.clock ?? (() => new Date());
    makeDirectory(dir);
    chmodSync(dir, 0o700);
    const files = { root: path.join(dir, "root.pem"), cert: path.join(dir, "tsa.pem"), key: path.join(dir, "tsa.key") };
    // root.pem is written last: its presence means the other two are complete.
    if (!existsSync(files.root)) await create(files, clock());
    const key = await globalThis.crypto.subtle.importKey(
      "pkcs8",
      pemToDer(readFileSync(files.key, "utf8"), "PRIVATE KEY"),
      EC_KEY,
      false,
      ["sign"],
    );
    return new DevelopmentTsa(readFileSync(files.root, "utf8"), readFileSync(files.cert, "utf8"), key, clock);
  }

  /** The root as a verifier's trust list. */
  trustAnchors(): TsaTrustAnchor[] {
    return parseTrustBundle(this.rootPem);
  }

  /** Time-stamps `data32` (a root or block hash): a DER TimeStampToken over SHA-256(data32). */
  async stamp(data32: Uint8Array): Promise<Uint8Array> {
    if (!(data32 instanceof Uint8Array)) throw new TypeError("expected Uint8Array");
    if (data32.length !== 32) throw new RangeError(`expected Uint8Array of length 32, got length=${data32.length}`);
    const imprint = new pkijs.MessageImprint({
      hashAlgorithm: new pkijs.AlgorithmIdentifier({ algorithmId: OID.sha256 }),
      hashedMessage: new asn1js.OctetString({ valueHex: sha256(data32) }),
    });
    const token = await this.#token(imprint, undefined, true);
    return new Uint8Array(token.toSchema().toBER());
  }

  /**
   * Answers a DER TimeStampReq with a DER TimeStampResp (RFC 3161 §2.4): a token, or a
   * rejection whose PKIFailureInfo says why. Never throws for a bad request.
   */
  async handle(requestDer: Uint8Array): Promise<Uint8Array> {
    const parsed = asn1js.fromBER(requestDer);
    if (parsed.offset === -1 || parsed.offset !== requestDer.byteLength) return reject("badDataFormat");
    let request: pkijs.TimeStampReq;
    try {
      request = new pkijs.TimeStampReq({ schema: parsed.result });
    } catch {
      return reject("badDataFormat");
    }
    if (request.version !== 1) return reject("badRequest", "version must be 1");
    const algorithm = request.messageImprint.hashAlgorithm.algorithmId;
    const length = IMPRINT_LENGTHS[algorithm];
    if (length === undefined) return reject("badAlg", "the imprint must be SHA-256, SHA-384 or SHA-512");
    if (request.messageImprint.hashedMessage.valueBlock.valueHexView.length !== length) {
      return reject("badDataFormat", "the imprint's length does not match its algorithm");
    }
    // TimeStampReq ::= SEQUENCE { version, messageImprint, reqPolicy OPTIONAL, … }: read the
    // policy from the DER, as asn1js prints long arcs in hex.
    const reqPolicy = (parsed.result as asn1js.Sequence).valueBlock.value.find(
      (b) => b instanceof asn1js.ObjectIdentifier,
    );
    if (reqPolicy && objectIdentifierText(reqPolicy) !== this.policy) return reject("unacceptedPolicy");
    if (request.extensions?.length) return reject("unacceptedExtension");
    const imprint = new pkijs.MessageImprint({
      hashAlgorithm: new pkijs.AlgorithmIdentifier({ algorithmId: algorithm }),
      hashedMessage: request.messageImprint.hashedMessage,
    });
    const token = await this.#token(imprint, request.nonce, request.certReq ?? false);
    return new Uint8Array(
      new pkijs.TimeStampResp({
        status: new pkijs.PKIStatusInfo({ status: PKI_STATUS.granted }),
        timeStampToken: token,
      })
        .toSchema()
        .toBER(),
    );
  }

  /** Builds and signs the TimeStampToken (RFC 3161 §2.4.2) as a CMS SignedData. */
  async #token(
    messageImprint: pkijs.MessageImprint,
    nonce: asn1js.Integer | undefined,
    includeCertificate: boolean,
  ): Promise<pkijs.ContentInfo> {
    const tstInfo = new pkijs.TSTInfo({
      version: 1,
      policy: this.policy,
      messageImprint,
      // Unique without state: 128 random bits (RFC 3161 allows up to 160).
      serialNumber: randomPositiveInteger(16),
      genTime: this.#clock(),
      // The host clock, not a disciplined time source: claim no better than a second.
      accuracy: new pkijs.Accuracy({ seconds: 1 }),
      ...(nonce ? { nonce } : {}),
      tsa: new pkijs.GeneralName({ type: 4, value: this.#certificate.subject }),
    });
    const tstInfoDer = new Uint8Array(tstInfo.toSchema().toBER());

    // Signed attributes (RFC 5652 §5.3, RFC 3161 §2.4.1, RFC 5035 §3): the content type, the
    // digest of the TSTInfo, and an ESS signingCertificateV2 binding this certificate.
    const attributes = [
      new pkijs.Attribute({ type: OID.contentType, values: [new asn1js.ObjectIdentifier({ value: OID.tstInfo })] }),
      new pkijs.Attribute({
        type: OID.messageDigest,
        values: [new asn1js.OctetString({ valueHex: sha256(tstInfoDer) })],
      }),
      new pkijs.Attribute({ type: OID.signingCertificateV2, values: [this.#signingCertificateV2()] }),
    ];
    const signedData = new pkijs.SignedData({
      // RFC 5652 §5.1: version 3 because the eContentType is not id-data.
      version: 3,
      encapContentInfo: new pkijs.EncapsulatedContentInfo({
        eContentType: OID.tstInfo,
        eContent: new asn1js.OctetString({ valueHex: tstInfoDer }),
      }),
      signerInfos: [
        new pkijs.SignerInfo({
          version: 1,
          sid: new pkijs.IssuerAndSerialNumber({
            issuer: this.#certificate.issuer,
            serialNumber: this.#certificate.serialNumber,
          }),
          signedAttrs: new pkijs.SignedAndUnsignedAttributes({ type: 0, attributes: derSetOrder(attributes) }),
        }),
      ],
      ...(includeCertificate ? { certificates: [this.#certificate] } : {}),
    });
    await signedData.sign(this.#key, 0, "SHA-256");
    return new pkijs.ContentInfo({ contentType: OID.signedData, content: signedData.toSchema(true) });
  }

  /** SigningCertificateV2 { certs: [ESSCertIDv2 { certHash: SHA-256(cert), issuerSerial }] } (RFC 5035 §3). */
  #signingCertificateV2(): asn1js.Sequence {
    const issuerSerial = new asn1js.Sequence({
      value: [
        new asn1js.Sequence({
          value: [new pkijs.GeneralName({ type: 4, value: this.#certificate.issuer }).toSchema()],
        }),
        this.#certificate.serialNumber,
      ],
    });
    // hashAlgorithm is omitted: its DEFAULT is SHA-256, and DER leaves defaults out.
    const essCertId = new asn1js.Sequence({
      value: [new asn1js.OctetString({ valueHex: sha256(this.#certificateDer) }), issuerSerial],
    });
    return new asn1js.Sequence({ value: [new asn1js.Sequence({ value: [essCertId] })] });
  }
}

/**
 * Orders attributes as DER orders a SET OF: by their encodings (X.690 §11.6). Verifiers
 * such as OpenSSL re-encode the signed attributes in DER before checking the signature.
 */
function derSetOrder(attributes: pkijs.Attribute[]): pkijs.Attribute[] {
  const encoded = attributes.map((a) => ({ a, der: new Uint8Array(a.toSchema().toBER()) }));
  encoded.sort((x, y) => {
    const n = Math.max(x.der.length, y.der.length);
    for (let i = 0; i < n; i++) {
      const d = (x.der[i] ?? 0) - (y.der[i] ?? 0);
      if (d !== 0) return d;
    }
    return 0;
  });
  return encoded.map((e) => e.a);
}

function reject(failure: PkiFailure, text?: string): Uint8Array {
  return new Uint8Array(
    new pkijs.TimeStampResp({
      status: new pkijs.PKIStatusInfo({
        status: PKI_STATUS.rejection,
        ...(text ? { statusStrings: [new asn1js.Utf8String({ value: text })] } : {}),
        failInfo: failureInfoBits(failure),
      }),
    })
      .toSchema()
      .toBER(),
  );
}

/** Creates the root and the TSA certificate and key, and writes them; root.pem last. */
async function create(files: { root: string; cert: string; key: string }, now: Date): Promise<void> {
  const subtle = globalThis.crypto.subtle;
  const rootKeys = await subtle.generateKey(EC_KEY, false, ["sign", "verify"]);
  const tsaKeys = await subtle.generateKey(EC_KEY, true, ["sign", "verify"]);
  const notAfter = new Date(now);
  notAfter.setUTCFullYear(now.getUTCFullYear() + VALIDITY_YEARS);

  const root = await certificate({
    subject: ROOT_SUBJECT,
    issuer: ROOT_SUBJECT,
    publicKey: rootKeys.publicKey,
    signingKey: rootKeys.privateKey,
    notBefore: now,
    notAfter,
    extensions: (ski) => [
      extension("2.5.29.19", true, new pkijs.BasicConstraints({ cA: true }).toSchema()),
      // keyCertSign (5) and cRLSign (6)
      extension("2.5.29.15", true, new asn1js.BitString({ valueHex: new Uint8Array([0x06]), unusedBits: 1 })),
      extension("2.5.29.14", false, new asn1js.OctetString({ valueHex: ski })),
    ],
  });
  const rootSki = subjectKeyIdentifier(root);
  const tsa = await certificate({
    subject: TSA_SUBJECT,
    issuer: ROOT_SUBJECT,
    publicKey: tsaKeys.publicKey,
    signingKey: rootKeys.privateKey,
    notBefore: now,
    notAfter,
    extensions: (ski) => [
      extension("2.5.29.19", true, new pkijs.BasicConstraints({}).toSchema()),
      // digitalSignature (0) and nonRepudiation (1)
      extension("2.5.29.15", true, new asn1js.BitString({ valueHex: new Uint8Array([0xc0]), unusedBits: 6 })),
      // RFC 3161 §2.3: exactly one key purpose, id-kp-timeStamping, and critical.
      extension(OID.extKeyUsage, true, new pkijs.ExtKeyUsage({ keyPurposes: [OID.timeStamping] }).toSchema()),
      extension("2.5.29.14", false, new asn1js.OctetString({ valueHex: ski })),
      extension("2.5.29.35", false, new pkijs.AuthorityKeyIdentifier({ keyIdentifier: rootSki }).toSchema()),
    ],
  });
  const tsaKey = new Uint8Array(await subtle.exportKey("pkcs8", tsaKeys.privateKey));

  writeAtomically(files.key, derToPem(tsaKey, "PRIVATE KEY"));
  writeAtomically(files.cert, derToPem(new Uint8Array(tsa.toSchema().toBER()), "CERTIFICATE"));
  writeAtomically(files.root, derToPem(new Uint8Array(root.toSchema().toBER()), "CERTIFICATE"));
}

async function certificate(spec: {
  subject: readonly (readonly [string, string])[];
  issuer: readonly (readonly [string, string])[];
  publicKey: CryptoKey;
  signingKey: CryptoKey;
  notBefore: Date;
  notAfter: Date;
  extensions: (subjectKeyIdentifier: Uint8Array) => pkijs.Extension[];
}): Promise<pkijs.Certificate> {
  const cert = new pkijs.Certificate();
  cert.version = 2;
  cert.serialNumber = randomPositiveInteger(16);
  cert.subject = name(spec.subject);
  cert.issuer = name(spec.issuer);
  cert.notBefore = x509Time(spec.notBefore);
  cert.notAfter = x509Time(spec.notAfter);
  await cert.subjectPublicKeyInfo.importKey(spec.publicKey);
  const ski = sha1(cert.subjectPublicKeyInfo.subjectPublicKey.valueBlock.valueHexView);
  cert.extensions = spec.extensions(ski);
  await cert.sign(spec.signingKey, "SHA-256");
  return cert;
}

/** RFC 5280 §4.2.1.2 method (1): SHA-1 of the subjectPublicKey bits. */
function subjectKeyIdentifier(cert: pkijs.Certificate): asn1js.OctetString {
  return new asn1js.OctetString({ valueHex: sha1(cert.subjectPublicKeyInfo.subjectPublicKey.valueBlock.valueHexView) });
}

function extension(extnID: string, critical: boolean, value: asn1js.AsnType): pkijs.Extension {
  return new pkijs.Extension({ extnID, critical, extnValue: value.toBER() });
}

function name(attributes: readonly (readonly [string, string])[]): pkijs.RelativeDistinguishedNames {
  return new pkijs.RelativeDistinguishedNames({
    typesAndValues: attributes.map(
      ([type, value]) => new pkijs.AttributeTypeAndValue({ type, value: new asn1js.Utf8String({ value }) }),
    ),
  });
}

/** RFC 5280 §4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050, in whole seconds (no fraction). */
function x509Time(date: Date): pkijs.Time {
  const value = new Date(Math.floor(date.getTime() / 1000) * 1000);
  return new pkijs.Time({ type: value.getUTCFullYear() < 2050 ? 0 : 1, value });
}

function writeAtomically(file: string, text: string): void {
  const temporary = `${file}.${process.pid}.tmp`;
  writeFileSync(temporary, text, { mode: 0o600 });
  renameSync(temporary, file);
}

function derToPem(der: Uint8Array, label: string): string {
  const base64 = Buffer.from(der).toString("base64");
  return `-----BEGIN ${label}-----\n${base64.replace(/.{64}/g, "$&\n").replace(/\n$/, "")}\n-----END ${label}-----\n`;
}

function pemToDer(pem: string, label = "CERTIFICATE"): Uint8Array<ArrayBuffer> {
  const match = new RegExp(`-----BEGIN ${label}-----([\\s\\S]*?)-----END ${label}-----`).exec(pem);
  if (!match) throw new Error(`no ${label} in PEM`);
  return new Uint8Array(Buffer.from(match[1]!.replace(/\s+/g, ""), "base64"));
}

/**
 * A `node:http` request handler that serves the TSA over HTTP (RFC 3161 §3.4): POST a
 * `application/timestamp-query`, get a `application/timestamp-reply`. Mount it on any path.
 */
export function timestampHttpHandler(tsa: DevelopmentTsa): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    if (req.method !== "POST") {
      res.writeHead(405, { allow: "POST" }).end();
      req.resume();
      return;
    }
    if (req.headers["content-type"]?.split(";")[0]?.trim().toLowerCase() !== TIMESTAMP_QUERY) {
      res.writeHead(415).end();
      req.resume();
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_QUERY_BYTES) tooLarge = true;
      else chunks.push(chunk);
    });
    req.on("end", () => {
      if (tooLarge) {
        res.writeHead(413).end();
        return;
      }
      tsa.handle(new Uint8Array(Buffer.concat(chunks))).then(
        (reply) => res.writeHead(200, { "content-type": TIMESTAMP_REPLY, "content-length": reply.length }).end(reply),
        () => res.writeHead(500).end(),
      );
    });
    req.on("error", () => res.destroy());
  };
}
