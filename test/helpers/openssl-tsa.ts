/**
 * A real RFC 3161 time-stamping authority for tests: `openssl ts -reply` behind a small HTTP
 * server on loopback, under a test CA that openssl generates in a temporary directory. The
 * verifier under test never sees anything but the tokens and the root certificate, exactly as
 * it would with a public TSA.
 *
 * OpenSSL refuses to sign a time-stamp with a certificate that lacks the critical
 * timeStamping extended key usage (RFC 3161 §2.3), so the helper makes the defective tokens
 * the tests need the way a misconfigured TSA would: it takes the TSTInfo openssl produced
 * with a proper certificate and signs it again with `openssl cms -sign` under the defective
 * certificate.
 */
import { execFile } from "node:child_process";
import { once } from "node:events";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { promisify } from "node:util";
import * as asn1js from "asn1js";
import * as pkijs from "pkijs";
import { tempDir } from "./processes.ts";

const execFileAsync = promisify(execFile);

/** ~100 years, so the fixed test vectors stay verifiable. */
const VALIDITY_DAYS = "36500";

const ID_CT_TST_INFO = "1.2.840.113549.1.9.16.1.4";

/** The policy the test TSA stamps under. */
export const TEST_TSA_POLICY = "1.2.3.4.1";

/** Runs openssl with `args`; rejects with its stderr when it exits non-zero. */
export async function openssl(args: string[], options: { cwd?: string } = {}): Promise<string> {
  try {
    const { stdout } = await execFileAsync("openssl", args, { cwd: options.cwd, maxBuffer: 16 * 1024 * 1024 });
    return stdout;
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    throw new Error(`openssl ${args.join(" ")} failed: ${err.stderr ?? err.message}`);
  }
}

/** How the TSA certificate carries the timeStamping extended key usage. */
export type TsaEku = "critical" | "non-critical" | "none";

export interface TsaCredentials {
  certPath: string;
  keyPath: string;
  certPem: string;
  eku: TsaEku;
}

/** A test certification authority: a self-signed root that issues TSA certificates. */
export interface TestPki {
  dir: string;
  rootPath: string;
  rootPem: string;
  /** With `intermediate: true`: the CA between the root and the TSAs, which tokens do not carry. */
  intermediatePem: string | undefined;
  /**
   * Issues a TSA certificate (RSA 2048) under this root; with `keyOf`, for the key of an
   * earlier certificate (a second certificate for the same key, as a re-issue makes).
   */
  issueTsa(options?: { eku?: TsaEku; commonName?: string; keyOf?: TsaCredentials }): Promise<TsaCredentials>;
  /** Removes the directory and every key in it. */
  remove(): void;
}

let pkiCount = 0;

/**
 * Generates a root CA with openssl in a fresh temporary directory; with `intermediate`, TSA
 * certificates are issued by an intermediate CA under the root.
 */
export async function createTestPki(
  commonName = "Evidence Anchor test TSA root",
  options: { intermediate?: boolean } = {},
): Promise<TestPki> {
  const dir = tempDir("tsa-pki");
  const rootPath = path.join(dir, "root.pem");
  const rootKey = path.join(dir, "root.key");
  await openssl([
    "req",
    "-x509",
    "-new",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-sha256",
    "-keyout",
    rootKey,
    "-out",
    rootPath,
    "-days",
    VALIDITY_DAYS,
    "-subj",
    `/C=CN/O=Evidence Anchor tests/CN=${commonName} ${++pkiCount}`,
    "-addext",
    "basicConstraints=critical,CA:TRUE",
    "-addext",
    "keyUsage=critical,keyCertSign,cRLSign",
    "-addext",
    "subjectKeyIdentifier=hash",
  ]);
  let issuerPath = rootPath;
  let issuerKey = rootKey;
  let intermediatePem: string | undefined;
  if (options.intermediate) {
    issuerPath = path.join(dir, "intermediate.pem");
    issuerKey = path.join(dir, "intermediate.key");
    const csr = path.join(dir, "intermediate.csr");
    const ext = path.join(dir, "intermediate.ext");
    writeFileSync(
      ext,
      "basicConstraints = critical,CA:TRUE,pathlen:0\nkeyUsage = critical,keyCertSign,cRLSign\n" +
        "subjectKeyIdentifier = hash\nauthorityKeyIdentifier = keyid\n",
    );
    const subject = `/C=CN/O=Evidence Anchor tests/CN=${commonName} ${pkiCount} intermediate`;
    await openssl([
      "req",
      "-new",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-keyout",
      issuerKey,
      "-out",
      csr,
      "-subj",
      subject,
    ]);
    const validity = ["-days", VALIDITY_DAYS, "-set_serial", "500", "-extfile", ext];
    await openssl([
      "x509",
      "-req",
      "-sha256",
      "-in",
      csr,
      "-CA",
      rootPath,
      "-CAkey",
      rootKey,
      ...validity,
      "-out",
      issuerPath,
    ]);
    intermediatePem = readFileSync(issuerPath, "utf8");
  }
  let issued = 0;
  return {
    dir,
    rootPath,
    rootPem: readFileSync(rootPath, "utf8"),
    intermediatePem,
    async issueTsa(options = {}) {
      const eku = options.eku ?? "critical";
      const name = `tsa-${++issued}`;
      const keyPath = options.keyOf?.keyPath ?? path.join(dir, `${name}.key`);
      const csrPath = path.join(dir, `${name}.csr`);
      const certPath = path.join(dir, `${name}.pem`);
      const extPath = path.join(dir, `${name}.ext`);
      const ekuLine = {
        critical: "extendedKeyUsage = critical,timeStamping",
        "non-critical": "extendedKeyUsage = timeStamping",
        none: "",
      }[eku];
      writeFileSync(
        extPath,
        [
          "basicConstraints = critical,CA:FALSE",
          "keyUsage = critical,digitalSignature,nonRepudiation",
          ekuLine,
          "subjectKeyIdentifier = hash",
          "authorityKeyIdentifier = keyid",
          "",
        ].join("\n"),
      );
      const cn = options.commonName ?? `Evidence Anchor test TSA ${pkiCount}.${issued} (${eku} EKU)`;
      await openssl([
        "req",
        "-new",
        ...(options.keyOf ? ["-key", keyPath] : ["-newkey", "rsa:2048", "-nodes", "-keyout", keyPath]),
        "-out",
        csrPath,
        "-subj",
        `/C=CN/O=Evidence Anchor tests/CN=${cn}`,
      ]);
      await openssl([
        "x509",
        "-req",
        "-sha256",
        "-in",
        csrPath,
        "-CA",
        issuerPath,
        "-CAkey",
        issuerKey,
        "-set_serial",
        String(1000 + issued),
        "-days",
        VALIDITY_DAYS,
        "-extfile",
        extPath,
        "-out",
        certPath,
      ]);
      return { certPath, keyPath, certPem: readFileSync(certPath, "utf8"), eku };
    },
    remove() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface OpensslTsaOptions {
  /** The CA to issue under; a fresh one (removed on stop) when absent. */
  pki?: TestPki;
  /** The timeStamping EKU of the signing certificate; `critical` is what RFC 3161 requires. */
  eku?: TsaEku;
  /** `sha1` makes an ESS signingCertificate (v1) attribute, `sha256` a signingCertificateV2. */
  essCertIdAlg?: "sha1" | "sha256";
}

export interface OpensslTsa {
  /** `http://127.0.0.1:<port>/`; stays the same across down() and up(). */
  url: string;
  pki: TestPki;
  /** The root to trust for this TSA's tokens. */
  rootPem: string;
  signer: TsaCredentials;
  /** Time-stamp requests answered over HTTP so far. */
  readonly requestsAnswered: number;
  /** Stamps `data` directly (SHA-256 imprint, certificate included): a DER TimeStampToken. */
  stamp(data: Uint8Array): Promise<Uint8Array>;
  /** Answers a DER TimeStampReq with a DER TimeStampResp, as the HTTP endpoint does. */
  reply(request: Uint8Array): Promise<Uint8Array>;
  /** Closes the listening socket: connections are refused until up(). */
  down(): Promise<void>;
  /** Listens again on the same port. */
  up(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Starts an openssl-backed TSA on loopback. Requests are answered one at a time, because
 * `openssl ts -reply` keeps its serial number in a file.
 */
export async function startOpensslTsa(options: OpensslTsaOptions = {}): Promise<OpensslTsa> {
  const ownPki = options.pki === undefined;
  const pki = options.pki ?? (await createTestPki());
  const eku = options.eku ?? "critical";
  const signer = await pki.issueTsa({ eku });
  // openssl ts -reply needs a properly marked certificate; a defective one re-signs its TSTInfo.
  const replier = eku === "critical" ? signer : await pki.issueTsa({ eku: "critical" });
  const work = path.join(pki.dir, `ts-${path.basename(signer.certPath, ".pem")}`);
  mkdirSync(work);
  const configPath = path.join(work, "tsa.cnf");
  writeFileSync(path.join(work, "serial"), "01\n");
  writeFileSync(
    configPath,
    [
      "[ tsa ]",
      "default_tsa = tsa_config1",
      "[ tsa_config1 ]",
      `serial = ${path.join(work, "serial")}`,
      "crypto_device = builtin",
      `signer_cert = ${replier.certPath}`,
      `certs = ${pki.rootPath}`,
      `signer_key = ${replier.keyPath}`,
      "signer_digest = sha256",
      `default_policy = ${TEST_TSA_POLICY}`,
      "other_policies = 1.2.3.4.2",
      "digests = sha256, sha384, sha512",
      "accuracy = secs:1, millisecs:500, microsecs:100",
      "clock_precision_digits = 3",
      "ordering = yes",
      "tsa_name = yes",
      "ess_cert_id_chain = no",
      `ess_cert_id_alg = ${options.essCertIdAlg ?? "sha256"}`,
      "",
    ].join("\n"),
  );

  let sequence = 0;
  let queue: Promise<unknown> = Promise.resolve();
  const serialized = <T>(task: () => Promise<T>): Promise<T> => {
    const next = queue.then(task, task);
    queue = next.catch(() => undefined);
    return next;
  };

  const reply = (request: Uint8Array) =>
    serialized(async () => {
      const id = ++sequence;
      const queryFile = path.join(work, `${id}.tsq`);
      const responseFile = path.join(work, `${id}.tsr`);
      writeFileSync(queryFile, request);
      await openssl(["ts", "-reply", "-config", configPath, "-queryfile", queryFile, "-out", responseFile]);
      const response = new Uint8Array(readFileSync(responseFile));
      return eku === "critical" ? response : resign(response, signer, work, id);
    });

  const stamp = async (data: Uint8Array) => {
    const id = `direct-${++sequence}`;
    const dataFile = path.join(work, `${id}.bin`);
    const queryFile = path.join(work, `${id}.tsq`);
    writeFileSync(dataFile, data);
    await openssl(["ts", "-query", "-data", dataFile, "-sha256", "-cert", "-out", queryFile]);
    return tokenOf(await reply(new Uint8Array(readFileSync(queryFile))));
  };

  let answered = 0;
  const handler = (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      if (req.method !== "POST" || req.headers["content-type"] !== "application/timestamp-query") {
        res.writeHead(415).end();
        return;
      }
      reply(new Uint8Array(Buffer.concat(chunks))).then(
        (body) => {
          answered++;
          res.writeHead(200, { "content-type": "application/timestamp-reply" }).end(body);
        },
        () => res.writeHead(500).end(),
      );
    });
  };

  let server: Server = createServer(handler);
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;

  const close = async () => {
    if (!server.listening) return;
    server.close();
    server.closeAllConnections();
    await once(server, "close");
  };

  return {
    url: `http://127.0.0.1:${port}/`,
    pki,
    rootPem: pki.rootPem,
    signer,
    get requestsAnswered() {
      return answered;
    },
    stamp,
    reply,
    down: close,
    async up() {
      if (server.listening) return;
      server = createServer(handler);
      server.listen(port, "127.0.0.1");
      await once(server, "listening");
    },
    async stop() {
      await close();
      await queue;
      if (ownPki) pki.remove();
      else rmSync(work, { recursive: true, force: true });
    },
  };
}

/** The TimeStampToken (ContentInfo) inside a granted DER TimeStampResp. */
export function tokenOf(response: Uint8Array): Uint8Array {
  const resp = pkijs.TimeStampResp.fromBER(new Uint8Array(response));
  if (!resp.timeStampToken) {
    throw new Error(`the TSA did not grant the request: status ${resp.status.status}`);
  }
  return new Uint8Array(resp.timeStampToken.toSchema().toBER());
}

/**
 * Signs the TSTInfo of a granted response again with `signer`, as a TSA with that
 * certificate would have: a CMS SignedData over the same eContent, with the
 * content-type, message-digest and ESS signingCertificateV2 (`-cades`) attributes.
 */
async function resign(response: Uint8Array, signer: TsaCredentials, work: string, id: number): Promise<Uint8Array> {
  const token = pkijs.ContentInfo.fromBER(new Uint8Array(tokenOf(response)));
  const signed = new pkijs.SignedData({ schema: token.content });
  const tstInfoFile = path.join(work, `${id}.tst`);
  const tokenFile = path.join(work, `${id}.p7`);
  writeFileSync(tstInfoFile, new Uint8Array(signed.encapContentInfo.eContent!.getValue()));
  await openssl([
    "cms",
    "-sign",
    "-binary",
    "-nodetach",
    "-cades",
    "-nosmimecap",
    "-md",
    "sha256",
    "-econtent_type",
    ID_CT_TST_INFO,
    "-in",
    tstInfoFile,
    "-signer",
    signer.certPath,
    "-inkey",
    signer.keyPath,
    "-outform",
    "DER",
    "-out",
    tokenFile,
  ]);
  const resigned = asn1js.fromBER(new Uint8Array(readFileSync(tokenFile)));
  return new Uint8Array(
    new asn1js.Sequence({
      value: [new asn1js.Sequence({ value: [new asn1js.Integer({ value: 0 })] }), resigned.result],
    }).toBER(),
  );
}
