import { expect } from "chai";
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { encryptKeystoreJsonSync, Wallet } from "ethers";
import { JsonRpcChainReader } from "../../service/core/index.ts";
import { ADMIN_KEY } from "../helpers/consortium.ts";
import {
  api,
  cleanUpDataDir,
  runCli,
  runScript,
  startChainNode,
  startServiceProcess,
  tempDir,
  type ChainNode,
  type ServiceProcess,
} from "../helpers/processes.ts";
import { sha256Hex } from "../helpers/hash.ts";

const DEPLOYER_KEY = ADMIN_KEY;

describe("evidence CLI and deployment to a zero-gas chain (real processes)", function () {
  this.timeout(180_000);
  let chain: ChainNode;
  let otherChain: ChainNode;
  let service: ServiceProcess;
  let dataDir: string;
  let work: string;
  let contract: string;
  let certificatePath: string;
  const evidencePath = () => path.join(work, "截图 evidence.png");
  /** The service on the deployed contract, with its key from an encrypted keystore, at gas price 0. */
  const serviceEnv = () => ({
    CHAIN_RPC_URL: chain.url,
    ANCHOR_CONTRACT: contract,
    ISSUER_KEYSTORE: path.join(work, "issuer.keystore.json"),
    ISSUER_KEYSTORE_PASSWORD: "correct horse battery staple",
    GAS_PRICE: "0",
  });

  before(async () => {
    // A consortium-like chain: zero gas price, no EIP-1559 base fee, Paris EVM.
    chain = await startChainNode({
      chainId: 1337,
      args: ["--gas-price", "0", "--base-fee", "0", "--hardfork", "paris"],
    });
    otherChain = await startChainNode({ chainId: 4242 });
    dataDir = tempDir("cli-service");
    work = tempDir("cli-work");
    writeFileSync(evidencePath(), "screenshot bytes of an infringing page");
  });

  after(async () => {
    await service?.stop();
    await chain?.stop();
    await otherChain?.stop();
    await cleanUpDataDir(dataDir);
    await cleanUpDataDir(work);
  });

  describe("scripts/deploy.ts", () => {
    it("deploys with legacy zero-gas-price transactions, grants the member's role, and records the deployment", async () => {
      const issuer = Wallet.createRandom();
      // A cheap scrypt setting keeps the test fast; production keystores use the default.
      const keystore = encryptKeystoreJsonSync(
        { address: issuer.address, privateKey: issuer.privateKey },
        "correct horse battery staple",
        { scrypt: { N: 1024 } },
      );
      writeFileSync(path.join(work, "issuer.keystore.json"), keystore, { mode: 0o600 });

      const res = await runScript(
        "scripts/deploy.ts",
        ["--rpc", chain.url, "--member", issuer.address, "--gas-price", "0", "--out", work],
        { DEPLOYER_PRIVATE_KEY: DEPLOYER_KEY },
      );
      expect(res.code, res.stdout + res.stderr).to.equal(0);

      const deployment = JSON.parse(readFileSync(path.join(work, "1337.json"), "utf8"));
      expect(deployment).to.include({ chainId: 1337, admin: new Wallet(DEPLOYER_KEY).address });
      expect(deployment.anchorers).to.deep.equal([issuer.address]);
      contract = deployment.contract;

      service = await startServiceProcess(dataDir, { ...serviceEnv(), DEV_ACCOUNT: "true" });
      expect(service.apiKey).to.be.a("string");
    });
  });

  describe("evidence submit --wait", () => {
    it("uploads, waits for anchoring and saves <name>.evidence.json, anchored through the deployed address", async () => {
      const res = await runCli(
        ["submit", evidencePath(), "--title", "商品页", "--wait", "--out", work, "--server", service.url],
        { EVIDENCE_API_KEY: service.apiKey! },
      );
      expect(res.code, res.stderr).to.equal(0);
      certificatePath = path.join(work, "截图 evidence.png.evidence.json");
      const certificate = JSON.parse(readFileSync(certificatePath, "utf8"));
      expect(certificate.anchor).to.include({ chainId: 1337, contract });
      expect(certificate.record).to.include({ fileName: "截图 evidence.png", title: "商品页" });
      const tx = (await new JsonRpcChainReader(chain.url).request("eth_getTransactionByHash", [
        certificate.anchor.txHash,
      ])) as {
        type: string;
        gasPrice: string;
      };
      expect([tx.type, tx.gasPrice], "a legacy transaction at gas price 0").to.deep.equal(["0x0", "0x0"]);
    });

    it("prints the status and fetches the certificate by id", async () => {
      const id = JSON.parse(readFileSync(certificatePath, "utf8")).record.id;
      const status = await runCli(["status", id, "--server", service.url, "--json"]);
      expect(JSON.parse(status.stdout).status).to.equal("anchored");
      const fetched = await runCli(["certificate", id, "--server", service.url, "--out", work]);
      expect(fetched.stdout.trim()).to.equal(path.join(work, `${id}.evidence.json`));
    });
  });

  describe("evidence verify", () => {
    it("says VALID with the right file and shows the anchored time in UTC and local time (exit 0)", async () => {
      const res = await runCli(["verify", certificatePath, "--file", evidencePath(), "--rpc", chain.url]);
      expect(res.code, res.stdout + res.stderr).to.equal(0);
      for (const id of ["format", "content", "leaf", "inclusion", "anchor", "signature"]) {
        expect(res.stdout).to.match(new RegExp(`PASS  ${id}`));
      }
      expect(res.stdout).to.match(
        /VALID: the certified file existed no later than\n {2}\d{4}-\d\d-\d\dT[\d:.]+Z \(UTC\)\n.*\(local time\)/,
      );
    });

    it("fails content with the wrong file (exit 1)", async () => {
      const other = path.join(work, "other.png");
      writeFileSync(other, "a different screenshot");
      const res = await runCli(["verify", certificatePath, "--file", other, "--rpc", chain.url]);
      expect(res.code).to.equal(1);
      expect(res.stdout).to.match(/FAIL {2}content/);
      expect(res.stdout).to.match(/INVALID: failed content\./);
    });

    it("accepts the file's SHA-256 instead of the file, and writes JSON with --json", async () => {
      const digest = sha256Hex(readFileSync(evidencePath()));
      const res = await runCli(["verify", certificatePath, "--sha256", digest, "--rpc", chain.url, "--json"]);
      expect(res.code).to.equal(0);
      const parsed = JSON.parse(res.stdout);
      expect(parsed.valid).to.equal(true);
      expect(parsed.checks.map((c: { id: string }) => c.id)).to.deep.equal([
        "format",
        "content",
        "leaf",
        "inclusion",
        "anchor",
        "signature",
      ]);
    });

    it("stays VALID after the service is stopped: only the chain is needed", async () => {
      await service.stop();
      const res = await runCli(["verify", certificatePath, "--file", evidencePath(), "--rpc", chain.url]);
      expect(res.code, res.stdout).to.equal(0);
      expect(res.stdout).to.include("VALID");
    });

    it("explains a node of another chain, exit 1, no stack trace", async () => {
      const res = await runCli(["verify", certificatePath, "--rpc", otherChain.url]);
      expect(res.code).to.equal(1);
      expect(res.stdout).to.match(/the chain read has id 4242, the certificate names chain 1337/);
      expect(res.stdout + res.stderr).not.to.match(/\n\s+at /);
    });

    it("explains a node of the right chain id without the contract, exit 1", async () => {
      const lookalike = await startChainNode({ chainId: 1337 });
      try {
        const res = await runCli(["verify", certificatePath, "--rpc", lookalike.url]);
        expect(res.code).to.equal(1);
        expect(res.stdout).to.match(new RegExp(`there is no contract at ${contract} on this chain`));
      } finally {
        await lookalike.stop();
      }
    });

    it("explains an unreachable node, exit 1", async () => {
      const res = await runCli(["verify", certificatePath, "--rpc", "http://127.0.0.1:9"]);
      expect(res.code).to.equal(1);
      expect(res.stdout).to.match(/cannot reach the chain at http:\/\/127\.0\.0\.1:9/);
    });

    it("fails format for a file that is not a certificate, exit 1", async () => {
      const res = await runCli(["verify", evidencePath(), "--rpc", chain.url]);
      expect(res.code).to.equal(1);
      expect(res.stdout).to.match(/FAIL {2}format/);
    });

    it("answers usage errors with exit 2", async () => {
      expect((await runCli(["verify"])).code).to.equal(2);
      expect((await runCli(["verify", certificatePath, "--sha256", "xyz"])).code).to.equal(2);
      expect((await runCli(["verify", certificatePath, "--bogus"])).code).to.equal(2);
      expect((await runCli(["no-such-command"])).code).to.equal(2);
    });
  });

  describe("evidence hash", () => {
    it("prints what sha256sum prints", async () => {
      const res = await runCli(["hash", evidencePath()]);
      const digest = sha256Hex(readFileSync(evidencePath()));
      expect(res.stdout).to.equal(`${digest}  ${evidencePath()}\n`);
    });
  });

  describe("evidence accounts create", () => {
    it("prints a new API key once, which then authenticates", async () => {
      const res = await runCli(["accounts", "create", "--name", "Mediation centre", "--json"], { DATA_DIR: dataDir });
      expect(res.code, res.stderr).to.equal(0);
      const { apiKey, name } = JSON.parse(res.stdout);
      expect(name).to.equal("Mediation centre");
      expect(apiKey).to.match(/^[A-Za-z0-9_-]{43}$/);
      const db = readFileSync(path.join(dataDir, "evidence.db"));
      expect(db.includes(Buffer.from(apiKey)), "the key itself is not stored").to.equal(false);
      // The service is stopped: restart it on the same data to use the key.
      service = await startServiceProcess(dataDir, serviceEnv());
      const list = await api(service.url, apiKey).get("/api/v1/evidence");
      expect(list.status).to.equal(200);
    });
  });
});
