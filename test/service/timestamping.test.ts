import { expect } from "chai";
import { execFile } from "node:child_process";
import { once } from "node:events";
import { readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createServer, type IncomingMessage, type RequestListener, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { promisify } from "node:util";
import * as asn1js from "asn1js";
import * as pkijs from "pkijs";
import {
  DEVELOPMENT_TSA_MARKER,
  parseTimestampToken,
  parseTrustBundle,
  trustBundleText,
  verifyTimestampToken,
} from "../../service/core/timestamp.ts";
import { DevelopmentTsa, timestampHttpHandler } from "../../service/timestamping/development-tsa.ts";
import { requestTimestamp, TsaError, type TsaErrorCode } from "../../service/timestamping/tsa-client.ts";
import { createTestPki, startOpensslTsa, tokenOf, type OpensslTsa } from "../helpers/openssl-tsa.ts";
import { tempDir } from "../helpers/processes.ts";

const execFileAsync = promisify(execFile);

/** A Merkle root: the 32 bytes a certificate's time-stamps cover. */
const ROOT = Uint8Array.from({ length: 32 }, (_, i) => i * 7);

async function listen(handler: RequestListener): Promise<{ url: string; close(): Promise<void> }> {
  const server = createServer(handler);
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/tsa`,
    async close() {
      server.close();
      server.closeAllConnections();
      await once(server, "close");
    },
  };
}

async function body(req: IncomingMessage): Promise<Uint8Array> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return new Uint8Array(Buffer.concat(chunks));
}

function reply(res: ServerResponse, der: Uint8Array): void {
  res.writeHead(200, { "content-type": "application/timestamp-reply" }).end(der);
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (e) {
    return e;
  }
  return expect.fail("expected a rejection");
}

async function expectTsaError(promise: Promise<unknown>, code: TsaErrorCode): Promise<TsaError> {
  const e = await rejection(promise);
  expect(e).to.be.instanceOf(TsaError);
  expect((e as TsaError).code, (e as Error).message).to.equal(code);
  return e as TsaError;
}

/** `openssl ts -verify` of a token over `data`; resolves to true when openssl says OK. */
async function opensslVerifies(dir: string, token: Uint8Array, data: Uint8Array, caFile: string): Promise<boolean> {
  writeFileSync(path.join(dir, "root.bin"), data);
  writeFileSync(path.join(dir, "token.der"), token);
  const args = ["ts", "-verify", "-data", path.join(dir, "root.bin"), "-in", path.join(dir, "token.der")];
  return execFileAsync("openssl", [...args, "-token_in", "-CAfile", caFile]).then(
    () => true,
    () => false,
  );
}

describe("service/timestamping", function () {
  this.timeout(60_000);

  describe("DevelopmentTsa", () => {
    let dir: string;
    let tsa: DevelopmentTsa;

    before(async () => {
      dir = path.join(tempDir("development-tsa"), "tsa");
      tsa = await DevelopmentTsa.open(dir);
    });

    after(() => rmSync(path.dirname(dir), { recursive: true, force: true }));

    describe("open", () => {
      it("creates the root and the TSA key under a 0700 directory, in 0600 files", () => {
        expect(statSync(dir).mode & 0o777).to.equal(0o700);
        for (const file of ["root.pem", "tsa.pem", "tsa.key"]) {
          expect(statSync(path.join(dir, file)).mode & 0o777, file).to.equal(0o600);
        }
        expect(readFileSync(path.join(dir, "root.pem"), "utf8")).to.equal(tsa.rootPem);
      });

      it("keeps no root private key: nothing can issue another certificate under the root", () => {
        const files = readFileSync(path.join(dir, "tsa.key"), "utf8").match(/BEGIN PRIVATE KEY/g);
        expect(files).to.have.length(1);
        expect(() => readFileSync(path.join(dir, "root.key"))).to.throw(/ENOENT/);
      });

      it("reuses the same root and key when opened again", async () => {
        const again = await DevelopmentTsa.open(dir);
        expect(again.rootPem).to.equal(tsa.rootPem);
        expect(again.certificatePem).to.equal(tsa.certificatePem);
        const result = await verifyTimestampToken(await again.stamp(ROOT), ROOT, tsa.trustAnchors());
        expect(result.status).to.equal("passed");
      });

      it("names itself a development TSA that courts do not trust, and marks it for verifiers", async () => {
        const { stdout } = await execFileAsync("openssl", [
          "x509", "-in", path.join(dir, "root.pem"), "-noout", "-subject", "-nameopt", "utf8,sep_comma_plus",
        ]); // prettier-ignore
        expect(stdout).to.contain("not trusted by courts");
        expect(stdout).to.contain("法院不予采信");
        expect(stdout).to.contain(`OU=${DEVELOPMENT_TSA_MARKER}`);
        expect(tsa.trustAnchors()[0]!.development).to.equal(true);
      });

      it("issues the TSA a certificate with only the critical timeStamping key purpose (RFC 3161 §2.3)", async () => {
        const { stdout } = await execFileAsync("openssl", [
          "x509", "-in", path.join(dir, "tsa.pem"), "-noout", "-ext", "extendedKeyUsage,basicConstraints",
        ]); // prettier-ignore
        expect(stdout).to.match(/X509v3 Extended Key Usage: critical\n\s+Time Stamping\n/);
        expect(stdout).to.match(/X509v3 Basic Constraints: critical\n\s+CA:FALSE/);
        const { stdout: purpose } = await execFileAsync("openssl", [
          "verify", "-CAfile", path.join(dir, "root.pem"), "-purpose", "timestampsign", path.join(dir, "tsa.pem"),
        ]); // prettier-ignore
        expect(purpose).to.contain(": OK");
      });
    });

    describe("stamp", () => {
      it("makes tokens that openssl ts -verify accepts with -CAfile root.pem", async () => {
        const token = await tsa.stamp(ROOT);
        expect(await opensslVerifies(path.dirname(dir), token, ROOT, path.join(dir, "root.pem"))).to.equal(true);
        // and openssl refuses the same token for other data
        const other = new Uint8Array(32).fill(1);
        expect(await opensslVerifies(path.dirname(dir), token, other, path.join(dir, "root.pem"))).to.equal(false);
      });

      it("makes tokens our verifier passes as development time-stamps", async () => {
        const result = await verifyTimestampToken(await tsa.stamp(ROOT), ROOT, tsa.trustAnchors());
        expect(result).to.deep.include({ status: "passed", development: true });
        expect(result.detail.code).to.equal("ok");
      });

      it("stamps with its clock and gives every token its own serial number", async () => {
        const fixed = new Date("2026-11-25T16:39:07.250Z");
        const clocked = await DevelopmentTsa.open(dir, { clock: () => fixed });
        const [a, b] = await Promise.all([clocked.stamp(ROOT), clocked.stamp(ROOT)]);
        expect(parseTimestampToken(a!).genTime.toISOString()).to.equal(fixed.toISOString());
        expect(parseTimestampToken(a!).serialNumber).not.to.equal(parseTimestampToken(b!).serialNumber);
      });

      it("rejects data that is not 32 bytes", async () => {
        expect(await rejection(tsa.stamp(new Uint8Array(31)))).to.be.instanceOf(RangeError);
      });
    });

    describe("handle", () => {
      let work: string;
      before(() => (work = tempDir("tsa-queries")));
      after(() => rmSync(work, { recursive: true, force: true }));

      /** `openssl ts -query` with `args`, answered by `tsa.handle`; returns the response file. */
      async function ask(args: string[]): Promise<{ query: string; response: string; text: string }> {
        const data = path.join(work, "root.bin");
        const query = path.join(work, "q.tsq");
        const response = path.join(work, "r.tsr");
        writeFileSync(data, ROOT);
        await execFileAsync("openssl", ["ts", "-query", "-data", data, ...args, "-out", query]);
        writeFileSync(response, await tsa.handle(new Uint8Array(readFileSync(query))));
        const { stdout } = await execFileAsync("openssl", ["ts", "-reply", "-in", response, "-text"]);
        return { query, response, text: stdout };
      }

      it("answers an openssl query so that openssl ts -verify -queryfile accepts it (nonce and imprint)", async () => {
        const { query, response, text } = await ask(["-sha256", "-cert"]);
        expect(text).to.contain("Status: Granted.");
        await execFileAsync("openssl", [
          "ts", "-verify", "-queryfile", query, "-in", response, "-CAfile", path.join(dir, "root.pem"),
        ]); // prettier-ignore
      });

      it("accepts SHA-384 and SHA-512 imprints", async () => {
        for (const algorithm of ["-sha384", "-sha512"]) {
          const { text } = await ask([algorithm, "-cert"]);
          expect(text, algorithm).to.contain("Status: Granted.");
        }
      });

      it("leaves the certificate out when the query does not ask for it (certReq false)", async () => {
        const { response } = await ask(["-sha256"]);
        const token = tokenOf(new Uint8Array(readFileSync(response)));
        expect(parseTimestampToken(token).signer).to.equal(null);
      });

      it("rejects a SHA-1 imprint with badAlg", async () => {
        const { text } = await ask(["-sha1", "-cert"]);
        expect(text).to.contain("Status: Rejected.");
        expect(text).to.contain("Failure info: unrecognized or unsupported algorithm identifier");
      });

      it("rejects a query for another policy with unacceptedPolicy", async () => {
        const { text } = await ask(["-sha256", "-tspolicy", "1.2.3.4.5"]);
        expect(text).to.contain("Failure info: the requested TSA policy is not supported by the TSA");
      });

      it("grants a query for its own policy", async () => {
        const { text } = await ask(["-sha256", "-tspolicy", tsa.policy]);
        expect(text).to.contain("Status: Granted.");
        expect(text).to.contain(`Policy OID: ${tsa.policy}`);
      });

      it("rejects bytes that are not a query with badDataFormat", async () => {
        for (const bad of [new Uint8Array(), new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x01]), ROOT]) {
          const response = path.join(work, "bad.tsr");
          writeFileSync(response, await tsa.handle(bad));
          const { stdout } = await execFileAsync("openssl", ["ts", "-reply", "-in", response, "-text"]);
          expect(stdout).to.contain("Status: Rejected.");
          expect(stdout).to.contain("Failure info: the data submitted has the wrong format");
        }
      });
    });

    describe("timestampHttpHandler", () => {
      let server: { url: string; close(): Promise<void> };
      before(async () => (server = await listen(timestampHttpHandler(tsa))));
      after(() => server.close());

      it("serves time-stamps to the client over HTTP", async () => {
        const token = await requestTimestamp(server.url, ROOT, { retries: 0 });
        const result = await verifyTimestampToken(token, ROOT, tsa.trustAnchors());
        expect(result).to.deep.include({ status: "passed", development: true });
      });

      it("refuses other methods, other media types and oversized bodies", async () => {
        expect((await fetch(server.url)).status).to.equal(405);
        const post = (type: string, payload: Uint8Array<ArrayBuffer>) =>
          fetch(server.url, { method: "POST", headers: { "content-type": type }, body: payload });
        expect((await post("application/octet-stream", ROOT)).status).to.equal(415);
        expect((await post("application/timestamp-query", new Uint8Array(65 * 1024))).status).to.equal(413);
        const garbage = await post("application/timestamp-query", ROOT);
        expect(garbage.status).to.equal(200);
        expect(garbage.headers.get("content-type")).to.equal("application/timestamp-reply");
        const status = pkijs.TimeStampResp.fromBER(new Uint8Array(await garbage.arrayBuffer())).status.status;
        expect(status).to.equal(2); // rejection
      });
    });
  });

  describe("requestTimestamp", () => {
    let tsa: OpensslTsa;
    let development: DevelopmentTsa;
    let developmentDir: string;

    before(async () => {
      tsa = await startOpensslTsa();
      developmentDir = tempDir("client-development-tsa");
      development = await DevelopmentTsa.open(developmentDir);
    });

    after(async () => {
      await tsa.stop();
      rmSync(developmentDir, { recursive: true, force: true });
    });

    it("reads a root published in DER as the same trust anchor as its PEM", () => {
      const der = Buffer.from(tsa.rootPem.replace(/-----[A-Z ]+-----|\s+/g, ""), "base64");
      expect(parseTrustBundle(trustBundleText(der))).to.deep.equal(parseTrustBundle(tsa.rootPem));
      expect(trustBundleText(Buffer.from(tsa.rootPem)), "PEM as it is").to.equal(tsa.rootPem);
    });

    it("gets a token from the openssl TSA that verifies as passed against the test CA", async () => {
      const token = await requestTimestamp(tsa.url, ROOT);
      const result = await verifyTimestampToken(token, ROOT, parseTrustBundle(tsa.rootPem));
      expect(result.status).to.equal("passed");
      expect(result.detail).to.deep.include({ code: "ok", anchor: parseTrustBundle(tsa.rootPem)[0]!.label });
      expect(result.development).to.equal(false);
      expect(parseTimestampToken(token).policy).to.equal("1.2.3.4.1");
    });

    it("asks for a policy when told to", async () => {
      const token = await requestTimestamp(tsa.url, ROOT, { policy: "1.2.3.4.2" });
      expect(parseTimestampToken(token).policy).to.equal("1.2.3.4.2");
    });

    describe("when the TSA is down", () => {
      it("retries with backoff and succeeds once the TSA is back", async () => {
        await tsa.down();
        const retries: { attempt: number; delayMs: number; code: string }[] = [];
        const answeredBefore = tsa.requestsAnswered;
        const token = await requestTimestamp(tsa.url, ROOT, {
          retries: 3,
          backoffMs: 20,
          onRetry: async ({ attempt, delayMs, error }) => {
            retries.push({ attempt, delayMs, code: error.code });
            if (attempt === 2) await tsa.up();
          },
        });
        expect(retries).to.deep.equal([
          { attempt: 1, delayMs: 20, code: "unreachable" },
          { attempt: 2, delayMs: 40, code: "unreachable" },
        ]);
        expect(tsa.requestsAnswered).to.equal(answeredBefore + 1);
        expect((await verifyTimestampToken(token, ROOT, parseTrustBundle(tsa.rootPem))).status).to.equal("passed");
      });

      it("gives up as unreachable after the retries, doubling the wait each time", async () => {
        await tsa.down();
        const delays: number[] = [];
        try {
          await expectTsaError(
            requestTimestamp(tsa.url, ROOT, { retries: 3, backoffMs: 5, onRetry: (r) => void delays.push(r.delayMs) }),
            "unreachable",
          );
          expect(delays).to.deep.equal([5, 10, 20]);
        } finally {
          await tsa.up();
        }
      });

      it("stops waiting when the caller aborts, with the caller's reason", async () => {
        await tsa.down();
        const controller = new AbortController();
        const reason = new Error("shutting down");
        try {
          const e = await rejection(
            requestTimestamp(tsa.url, ROOT, {
              retries: 5,
              backoffMs: 60_000,
              signal: controller.signal,
              onRetry: () => controller.abort(reason),
            }),
          );
          expect(e).to.equal(reason);
        } finally {
          await tsa.up();
        }
      });
    });

    it("retries a 5xx answer and takes the token that follows", async () => {
      let calls = 0;
      const server = await listen(async (req, res) => {
        const query = await body(req);
        if (++calls === 1) res.writeHead(503).end("busy");
        else reply(res, await development.handle(query));
      });
      try {
        const codes: (number | undefined)[] = [];
        const token = await requestTimestamp(server.url, ROOT, {
          backoffMs: 1,
          onRetry: ({ error }) => void codes.push(error.httpStatus),
        });
        expect(codes).to.deep.equal([503]);
        expect((await verifyTimestampToken(token, ROOT, development.trustAnchors())).status).to.equal("passed");
      } finally {
        await server.close();
      }
    });

    describe("when the TSA answers wrongly", () => {
      const cases: { name: string; code: TsaErrorCode; answer: (query: Uint8Array, res: ServerResponse) => unknown }[] =
        [
          { name: "HTTP 400", code: "rejected", answer: (_q, res) => res.writeHead(400).end() },
          { name: "garbage", code: "malformed", answer: (_q, res) => reply(res, new TextEncoder().encode("<html>")) },
          {
            name: "a PKIStatus rejection",
            code: "rejected",
            answer: async (_q, res) => reply(res, await development.handle(new Uint8Array([0x30, 0x00]))),
          },
          {
            name: "a granted status without a token",
            code: "malformed",
            answer: (_q, res) => reply(res, new Uint8Array([0x30, 0x05, 0x30, 0x03, 0x02, 0x01, 0x00])),
          },
          {
            name: "a token for other data with the request's nonce",
            code: "malformed",
            answer: async (query, res) => {
              const request = pkijs.TimeStampReq.fromBER(new Uint8Array(query));
              request.messageImprint.hashedMessage = new asn1js.OctetString({ valueHex: new Uint8Array(32) });
              reply(res, await development.handle(new Uint8Array(request.toSchema().toBER())));
            },
          },
          {
            name: "a replayed answer to an earlier request (another nonce)",
            code: "malformed",
            answer: async (query, res) => {
              const request = pkijs.TimeStampReq.fromBER(new Uint8Array(query));
              request.nonce = new asn1js.Integer({ value: 42 });
              reply(res, await development.handle(new Uint8Array(request.toSchema().toBER())));
            },
          },
        ];
      for (const c of cases) {
        it(`reports ${c.name} as ${c.code}, without retrying`, async () => {
          const server = await listen(async (req, res) => c.answer(await body(req), res));
          try {
            let retried = false;
            await expectTsaError(
              requestTimestamp(server.url, ROOT, { retries: 3, backoffMs: 1, onRetry: () => void (retried = true) }),
              c.code,
            );
            expect(retried).to.equal(false);
          } finally {
            await server.close();
          }
        });
      }

      it("names the failure bits of a rejection", async () => {
        const server = await listen(async (_req, res) => reply(res, await development.handle(new Uint8Array([1]))));
        try {
          const e = await expectTsaError(requestTimestamp(server.url, ROOT), "rejected");
          expect(e.failures).to.deep.equal(["badDataFormat"]);
        } finally {
          await server.close();
        }
      });
    });

    it("times out on a TSA that never answers", async () => {
      const held: ServerResponse[] = [];
      const server = await listen((_req, res) => void held.push(res));
      try {
        await expectTsaError(requestTimestamp(server.url, ROOT, { timeoutMs: 200, retries: 0 }), "timeout");
      } finally {
        await server.close();
      }
    });

    it("rejects data that is not 32 bytes", async () => {
      expect(await rejection(requestTimestamp(tsa.url, new Uint8Array(33)))).to.be.instanceOf(RangeError);
    });
  });

  describe("verifyTimestampToken with real TSAs", () => {
    it("fails a token signed with a certificate that lacks the timeStamping key purpose", async () => {
      const noEku = await startOpensslTsa({ eku: "none" });
      try {
        const token = await requestTimestamp(noEku.url, ROOT);
        const result = await verifyTimestampToken(token, ROOT, parseTrustBundle(noEku.rootPem));
        expect(result.status).to.equal("failed");
        expect(result.detail).to.deep.equal({ code: "no-timestamping-eku" });
      } finally {
        await noEku.stop();
      }
    });

    it("reports a TSA under a root that is not on the list as an error (untrusted-tsa), never a failure", async () => {
      const trusted = await createTestPki("Trusted root");
      const untrusted = await startOpensslTsa();
      try {
        const token = await requestTimestamp(untrusted.url, ROOT);
        const result = await verifyTimestampToken(token, ROOT, parseTrustBundle(trusted.rootPem));
        expect(result.status).to.equal("error");
        expect(result.detail.code).to.equal("untrusted-tsa");
        // the same token passes for whoever trusts its root
        expect((await verifyTimestampToken(token, ROOT, parseTrustBundle(untrusted.rootPem))).status).to.equal(
          "passed",
        );
      } finally {
        trusted.remove();
        await untrusted.stop();
      }
    });

    it("builds the path through an intermediate CA that the TSA publishes apart from its tokens", async () => {
      const pki = await createTestPki("Root with intermediate", { intermediate: true });
      const issuing = await startOpensslTsa({ pki });
      try {
        const token = await requestTimestamp(issuing.url, ROOT);
        const trust = parseTrustBundle(pki.rootPem);
        expect((await verifyTimestampToken(token, ROOT, trust)).detail.code).to.equal("untrusted-tsa");
        const intermediate = parseTrustBundle(pki.intermediatePem!)[0]!.der;
        const result = await verifyTimestampToken(token, ROOT, trust, { intermediates: [intermediate] });
        expect(result.status).to.equal("passed");
      } finally {
        await issuing.stop();
        pki.remove();
      }
    });
  });
});
