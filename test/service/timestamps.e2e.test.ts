import { expect } from "chai";
import { execFile } from "node:child_process";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import {
  claimsOf,
  fromHex32,
  JsonRpcChainReader,
  lazyTimestampVerifier,
  verifyCertificate,
} from "../../service/core/index.ts";
import { trustList, trustListVerifier } from "../../service/core/verify/timestamp-verifier.ts";
import { startOpensslTsa, type OpensslTsa } from "../helpers/openssl-tsa.ts";
import {
  api,
  cleanUpDataDir,
  freePort,
  runCli,
  startServiceProcess,
  tempDir,
  until,
  type ServiceProcess,
} from "../helpers/processes.ts";
import { sha256Hex } from "../helpers/hash.ts";

const run = promisify(execFile);

/**
 * RFC 3161 time-stamps on every anchored root, from two TSAs the test runs itself (openssl
 * ts behind a small HTTP handler), through a real service and chain.
 */
describe("time-stamp authorities through the service (two openssl TSAs, real service and chain)", function () {
  this.timeout(180_000);
  let first: OpensslTsa;
  let second: OpensslTsa;
  let service: ServiceProcess;
  let dataDir: string;
  let work: string;
  let chainUrl: string;
  let trustFile: string;

  before(async () => {
    first = await startOpensslTsa();
    second = await startOpensslTsa();
    dataDir = tempDir("timestamps");
    work = tempDir("timestamps-work");
    trustFile = path.join(work, "tsa-roots.pem");
    writeFileSync(trustFile, `${first.rootPem}\n${second.rootPem}`);
    const chainPort = await freePort();
    chainUrl = `http://127.0.0.1:${chainPort}`;
    service = await startServiceProcess(dataDir, {
      LOCAL_CHAIN_PORT: String(chainPort),
      TSA_URLS: `${first.url},${second.url}`,
      TSA_TRUST_CERTS: trustFile,
      TSA_TIMEOUT_MS: "2000",
      CHECKPOINT_INTERVAL: "1",
    });
  });

  after(async () => {
    await service?.stop();
    await first?.stop();
    await second?.stop();
    await cleanUpDataDir(dataDir);
    await cleanUpDataDir(work);
  });

  async function submit(label: string): Promise<string> {
    const { body } = await api(service.url, service.apiKey).postJson("/api/v1/evidence/digests", {
      items: [{ contentHash: sha256Hex(label) }],
    });
    return body.items[0].id;
  }

  it("stamps every root by both TSAs; the tokens pass openssl ts -verify and the service's verifier", async () => {
    const certificate = await api(service.url).anchored(await submit("stamped twice"));
    const claims = claimsOf(certificate);
    expect(claims.timestamps).to.have.length(2);
    const rootFile = path.join(work, "root.bin");
    writeFileSync(rootFile, fromHex32(claims.root));
    for (const [i, token] of claims.timestamps.entries()) {
      const tokenFile = path.join(work, `token-${i}.der`);
      writeFileSync(tokenFile, Buffer.from(token.token, "base64"));
      const { stdout } = await run("openssl", [
        "ts",
        "-verify",
        "-data",
        rootFile,
        "-in",
        tokenFile,
        "-token_in",
        "-CAfile",
        trustFile,
      ]);
      expect(stdout).to.match(/Verification: OK/);
    }
    const verified = await api(service.url).postJson("/api/v1/verify", { certificate });
    expect(verified.body.checks.find((c: any) => c.id === "timestamp")).to.include({ status: "passed" });
    expect(verified.body.timestamps.map((t: any) => t.status)).to.deep.equal(["passed", "passed"]);
    // The CLI with the same roots, and without them (then a warning, still valid).
    const file = path.join(work, "stamped.evidence.json");
    writeFileSync(file, JSON.stringify(certificate));
    const trusted = await runCli(["verify", file, "--rpc", chainUrl, "--tsa-trust", trustFile, "--json"]);
    expect(JSON.parse(trusted.stdout).checks.find((c: any) => c.id === "timestamp").status).to.equal("passed");
    const untrusted = await runCli(["verify", file, "--rpc", chainUrl, "--json"]);
    expect([
      untrusted.code,
      JSON.parse(untrusted.stdout).checks.find((c: any) => c.id === "timestamp").status,
    ]).to.deep.equal([0, "error"]);
    // A trust file that is not PEM is the reader's mistake: a usage error for the CLI, and for
    // any verifier tokens that could not be checked, never tokens that fail.
    const garbage = path.join(work, "garbage.pem");
    writeFileSync(garbage, "garbage\n");
    const refused = await runCli(["verify", file, "--rpc", chainUrl, "--tsa-trust", garbage]);
    expect(refused.code).to.equal(2);
    expect(refused.stderr).to.include("not a PEM bundle");
    const judged = await verifyCertificate(certificate, {
      chain: new JsonRpcChainReader(chainUrl),
      timestamps: lazyTimestampVerifier(() => "garbage"),
    });
    expect(judged.verdict).to.equal("valid");
    expect(judged.checks.find((c) => c.id === "timestamp")).to.deep.include({
      status: "error",
      reason: { code: "timestamp.unverifiable", index: 0, tsa: "", problem: "unreadable-trust-list" },
    });
  });

  it("anchors without waiting while a TSA is down, says so in health, and certifies again with its token once it is back", async () => {
    await first.down();
    const id = await submit("while one TSA is down");
    const issued = await api(service.url).anchored(id);
    expect(claimsOf(issued).timestamps, "issued with the token of the TSA that answered").to.have.length(1);
    const degraded = await api(service.url).get("/healthz");
    expect(degraded.body.timestamps.batchesWithout).to.be.at.least(1);
    expect(degraded.body.status).to.equal("degraded");
    await first.up();
    const view = await until(
      async () => {
        const { body } = await api(service.url).get(`/api/v1/evidence/${id}`);
        return body.history?.length === 2 ? body : undefined;
      },
      "the certificate to be issued again with both tokens",
      60_000,
    );
    expect(view.history.map((h: any) => [h.reason, h.current])).to.deep.equal([
      ["anchored", false],
      ["time-stamped", true],
    ]);
    expect(claimsOf(view.certificate).timestamps).to.have.length(2);
    const chain = new JsonRpcChainReader(chainUrl);
    const timestamps = trustListVerifier(trustList(`${first.rootPem}\n${second.rootPem}`));
    for (const c of [issued, view.certificate]) {
      expect((await verifyCertificate(c, { chain, timestamps })).verdict, "both certificates stay valid").to.equal(
        "valid",
      );
    }
  });

  it("keeps time-stamped checkpoints of the chain's newest block hash", async () => {
    const { body } = await until(
      async () => {
        const res = await api(service.url).get("/api/v1/checkpoints");
        return res.body.items.length > 0 ? res : undefined;
      },
      "a checkpoint",
      30_000,
    );
    const checkpoint = body.items[0];
    const block = await new JsonRpcChainReader(chainUrl).block(checkpoint.blockNumber);
    expect(checkpoint.blockHash).to.equal(block!.hash);
    const tokenFile = path.join(work, "checkpoint.der");
    const hashFile = path.join(work, "checkpoint-block.bin");
    writeFileSync(tokenFile, Buffer.from(checkpoint.timestamps[0].token, "base64"));
    writeFileSync(hashFile, fromHex32(checkpoint.blockHash));
    const { stdout } = await run("openssl", [
      "ts",
      "-verify",
      "-data",
      hashFile,
      "-in",
      tokenFile,
      "-token_in",
      "-CAfile",
      trustFile,
    ]);
    expect(stdout).to.match(/Verification: OK/);
  });
});
