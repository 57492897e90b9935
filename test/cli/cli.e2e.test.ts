import { expect } from "chai";
import { execFile, execFileSync } from "node:child_process";
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  truncateSync,
  writeFileSync,
} from "node:fs";
import path from "node:path";
import { Wallet } from "ethers";
import { strToU8, zipSync } from "fflate";
import { JsonRpcChainReader, MAX_DOCUMENT_BYTES } from "../../service/core/index.ts";
import { ADMIN_KEY, writeKeystore } from "../helpers/consortium.ts";
import {
  api,
  cleanUpDataDir,
  freePort,
  runCli,
  runScript,
  startChainNode,
  startServiceProcess,
  tempDir,
  until,
  type ChainNode,
  type CliResult,
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
  const evidencePath = () => path.join(work, "截图 evidence.png");
  /** The service on the deployed contract, with its key from an encrypted keystore, at gas price 0. */
  const serviceEnv = () => ({
    CHAIN_RPC_URL: chain.url,
    ANCHOR_CONTRACT: contract,
    ISSUER_KEYSTORE: path.join(work, "issuer.keystore.json"),
    ISSUER_KEYSTORE_PASSWORD: "correct horse battery staple",
    GAS_PRICE: "0",
  });

  /** The development account's key, printed at the service's first start. */
  let apiKey: string;
  let deploying: Promise<{ res: CliResult; deployment: any; issuer: { address: string } }> | undefined;
  let submitting: Promise<CliResult> | undefined;

  /** Deploys the contract (scripts/deploy.ts) once, for whichever test needs it first. */
  const deployed = () =>
    (deploying ??= (async () => {
      const issuer = Wallet.createRandom();
      writeKeystore(path.join(work, "issuer.keystore.json"), issuer.privateKey, "correct horse battery staple");
      const res = await runScript(
        "scripts/deploy.ts",
        ["--rpc", chain.url, "--member", issuer.address, "--gas-price", "0", "--out", work],
        { DEPLOYER_PRIVATE_KEY: DEPLOYER_KEY },
      );
      if (res.code !== 0) throw new Error(`deploy failed: ${res.stdout}${res.stderr}`);
      const deployment = JSON.parse(readFileSync(path.join(work, "1337.json"), "utf8"));
      contract = deployment.contract;
      return { res, deployment, issuer };
    })());

  /** The service on the deployed contract, started unless it is running. */
  async function running(): Promise<ServiceProcess> {
    if (service && service.child.exitCode === null && service.child.signalCode === null) return service;
    await deployed();
    service = await startServiceProcess(dataDir, {
      ...serviceEnv(),
      DEV_ACCOUNT: "true",
      MAX_FILE_BYTES: String(1024 * 1024),
    });
    apiKey ??= service.apiKey!;
    return service;
  }

  /** `evidence submit --wait` of evidencePath(), run once; its certificate is what the verify tests read. */
  const submitted = () =>
    (submitting ??= (async () => {
      const s = await running();
      return runCli(
        ["submit", evidencePath(), "--title", "商品页", "--wait", "--out", work, "--server", s.url, "--json"],
        {
          EVIDENCE_API_KEY: apiKey,
        },
      );
    })());
  const savedCertificate = async (): Promise<string> => JSON.parse((await submitted()).stdout).items[0].certificate;

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
      const { res, deployment, issuer } = await deployed();
      expect(res.code, res.stdout + res.stderr).to.equal(0);
      expect(deployment).to.include({ chainId: 1337, admin: new Wallet(DEPLOYER_KEY).address });
      expect(deployment.anchorers).to.deep.equal([issuer.address]);
      // The member's service runs on it, with its key from the keystore.
      await running();
      expect(apiKey).to.match(/^[A-Za-z0-9_-]{43}$/);
    });
  });

  describe("evidence submit --wait", () => {
    before(running);

    it("uploads, waits for anchoring and saves <id>.evidence.json, anchored through the deployed address", async () => {
      const res = await submitted();
      expect(res.code, res.stderr).to.equal(0);
      const [item] = JSON.parse(res.stdout).items;
      const certificatePath = item.certificate;
      expect(certificatePath).to.equal(path.join(work, `${item.id}.evidence.json`));
      const certificate = JSON.parse(readFileSync(certificatePath, "utf8"));
      expect(certificate.batch.anchor).to.include({ chainId: 1337, contract });
      expect(certificate.record).to.include({ fileName: "截图 evidence.png", title: "商品页" });
      const tx = (await new JsonRpcChainReader(chain.url).request("eth_getTransactionByHash", [
        certificate.batch.anchor.txHash,
      ])) as { type: string; gasPrice: string };
      expect([tx.type, tx.gasPrice], "a legacy transaction at gas price 0").to.deep.equal(["0x0", "0x0"]);
    });

    it("records the media type from the magic bytes and the name: PNG, PDF, plain text", async () => {
      const png = path.join(work, "page.png");
      writeFileSync(png, Buffer.concat([Buffer.from("89504e470d0a1a0a0000000d49484452", "hex"), Buffer.alloc(64)]));
      const pdf = path.join(work, "contract.bin");
      writeFileSync(pdf, "%PDF-1.7\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n");
      const text = path.join(work, "notes.txt");
      writeFileSync(text, "plain notes\n");
      const res = await runCli(["submit", png, pdf, text, "--server", service.url, "--json"], {
        EVIDENCE_API_KEY: apiKey,
      });
      expect(res.code, res.stderr).to.equal(0);
      const types = [];
      for (const item of JSON.parse(res.stdout).items) {
        types.push((await api(service.url).get(`/api/v1/evidence/${item.id}`)).body.record.mediaType);
      }
      expect(types).to.deep.equal(["image/png", "application/pdf", "text/plain"]);
    });

    it("checks every file before uploading any: a missing one is a usage error and nothing is sent", async () => {
      const before = (await api(service.url, apiKey).get("/api/v1/evidence?limit=500")).body.items.length;
      const res = await runCli(["submit", evidencePath(), path.join(work, "missing.png"), "--server", service.url], {
        EVIDENCE_API_KEY: apiKey,
      });
      expect(res.code).to.equal(2);
      expect(res.stderr).to.match(/missing\.png: no such file/);
      const after = (await api(service.url, apiKey).get("/api/v1/evidence?limit=500")).body.items.length;
      expect(after).to.equal(before);
    });

    it("saves the certificate of every accepted file with --wait, even when another file is refused (exit 1)", async () => {
      const small = path.join(work, "small.txt");
      writeFileSync(small, `accepted ${Date.now()}`);
      const big = path.join(work, "big.bin");
      writeFileSync(big, Buffer.alloc(2 * 1024 * 1024, 7)); // over MAX_FILE_BYTES (1 MiB) of this service
      const out = path.join(work, "partial");
      const res = await runCli(["submit", small, big, "--wait", "--out", out, "--server", service.url, "--json"], {
        EVIDENCE_API_KEY: apiKey,
      });
      expect(res.code).to.equal(1);
      const parsed = JSON.parse(res.stdout);
      expect(parsed.refused.map((r: { file: string }) => r.file)).to.deep.equal([big]);
      expect(parsed.refused[0].error).to.match(/413 FILE_TOO_LARGE/);
      expect(readdirSync(out)).to.deep.equal([`${parsed.items[0].id}.evidence.json`]);
    });

    it("refuses an empty file without uploading it, saying why, and goes on with the others (exit 1)", async () => {
      const empty = path.join(work, "empty.txt");
      writeFileSync(empty, "");
      const small = path.join(work, "after-empty.txt");
      writeFileSync(small, `accepted ${Date.now()}`);
      const before = (await api(service.url, apiKey).get("/api/v1/evidence?limit=500")).body.items.length;
      const res = await runCli(["submit", empty, small, "--server", service.url, "--json"], {
        EVIDENCE_API_KEY: apiKey,
      });
      expect(res.code, res.stderr).to.equal(1);
      const parsed = JSON.parse(res.stdout);
      expect(parsed.items.map((i: { file: string }) => i.file)).to.deep.equal([small]);
      expect(parsed.refused).to.deep.equal([
        {
          file: empty,
          error:
            "empty (0 bytes), not uploaded: every empty file has the same SHA-256, so a certificate for one would prove nothing",
        },
      ]);
      const after = (await api(service.url, apiKey).get("/api/v1/evidence?limit=500")).body.items.length;
      expect(after, "only the other file was recorded").to.equal(before + 1);
      // Said in Chinese under --lang zh, the lines a person reads; the JSON above stays English.
      writeFileSync(small, `accepted in Chinese ${Date.now()}`);
      const zh = await runCli(["submit", empty, small, "--server", service.url, "--lang", "zh"], {
        EVIDENCE_API_KEY: apiKey,
      });
      expect(zh.stderr).to.include(`evidence submit：${empty}：文件为空（0 字节），未上传`);
      expect(zh.stdout.endsWith("（待上链）\n"), zh.stdout).to.equal(true);
      expect(zh.stdout).to.include(`  ${small}  → 存证 `);
    });

    it("saves the certificate document with --pdf, which verifies as it is", async () => {
      const id = JSON.parse(readFileSync(await savedCertificate(), "utf8")).record.id;
      const saved = await runCli(["certificate", id, "--pdf", "--server", service.url, "--out", work]);
      expect(saved.code, saved.stderr).to.equal(0);
      const pdf = path.join(work, `${id}.pdf`);
      expect(saved.stdout.trim()).to.equal(pdf);
      expect(readFileSync(pdf).subarray(0, 5).toString()).to.equal("%PDF-");
      const verified = await runCli(["verify", pdf, "--file", evidencePath(), "--rpc", chain.url, "--json"]);
      const json = JSON.parse(verified.stdout);
      expect([verified.code, json.verdict]).to.deep.equal([0, "valid"]);
      // Only the attachment was checked, and the verdict says so: the page anyone can edit is not.
      expect(json.warnings.map((w: { code: string }) => w.code).at(-1)).to.equal("warning.printed-page-unchecked");
      const said = await runCli(["verify", pdf, "--file", evidencePath(), "--rpc", chain.url, "--lang", "en"]);
      expect(said.stdout).to.include(
        "WARNING: Only the certificate attached to the PDF was checked, not its printed page",
      );
    });

    it("prints the status and fetches the certificate by id", async () => {
      const id = JSON.parse(readFileSync(await savedCertificate(), "utf8")).record.id;
      const status = await runCli(["status", id, "--server", service.url, "--json"]);
      expect(JSON.parse(status.stdout).status).to.equal("anchored");
      // Said in the reader's language, times in local time and UTC, in one script per line.
      const en = await runCli(["status", id, "--server", service.url, "--lang", "en"], { TZ: "Asia/Shanghai" });
      expect(en.stdout.split("\n")[0]).to.equal(`${id}: anchored`);
      expect(en.stdout).to.match(
        /\n {2}submitted at {2}\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \(UTC\+08:00\) \/ \d{4}-.* UTC\n/,
      );
      expect(en.stdout).to.match(/\n {2}anchored at {3}\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \(UTC\+08:00\) \/ .* UTC\n/);
      expect(en.stdout, "no full-width brackets in English").not.to.match(/[（）]/);
      const zh = await runCli(["status", id, "--server", service.url, "--lang", "zh"], { TZ: "Asia/Shanghai" });
      expect(zh.stdout.split("\n")[0]).to.equal(`${id}: 已上链（anchored）`);
      expect(zh.stdout).to.match(/\n {2}上链时间 {2}\d{4}-\d\d-\d\d \d\d:\d\d:\d\d（UTC\+08:00） \/ .* UTC\n/);
      const fetched = await runCli(["certificate", id, "--server", service.url, "--out", work]);
      expect(fetched.stdout.trim()).to.equal(path.join(work, `${id}.evidence.json`));
    });
  });

  describe("errors talking to the service", () => {
    before(running);

    it("says in one line that the service cannot be reached, exit 4, no stack trace", async () => {
      const closed = `http://127.0.0.1:${await freePort()}`;
      for (const args of [
        ["status", "q1Zr8xYwK0pLmN3oB5cD7e", "--server", closed],
        ["submit", evidencePath(), "--server", closed, "--api-key", "x".repeat(43)],
        ["certificate", "q1Zr8xYwK0pLmN3oB5cD7e", "--server", closed],
      ]) {
        const res = await runCli(args);
        expect(res.code, args[0]).to.equal(4);
        expect(res.stderr.trim().split("\n"), args[0]).to.have.length(1);
        expect(res.stderr).to.include(`cannot reach the service at ${closed} (ECONNREFUSED)`);
      }
    });

    it("names the evidence already recorded when the service goes away during --wait (exit 4)", async () => {
      const s = await running();
      const file = path.join(work, "recorded before the service stopped.txt");
      writeFileSync(file, "bytes recorded before the service stopped");
      const run = runCli(["submit", file, "--wait", "--json", "--server", s.url], { EVIDENCE_API_KEY: apiKey });
      const listed = await until(async () => {
        const { body } = await api(s.url, apiKey).get("/api/v1/evidence?limit=5");
        return (body.items as { id: string; record: { fileName?: string } }[]).find(
          (i) => i.record.fileName === path.basename(file),
        );
      }, "the upload to be recorded");
      await s.stop();
      const res = await run;
      expect(res.code, res.stderr).to.equal(4);
      expect(res.stderr).to.include(`recorded, certificate not yet saved: ${listed.id} (${file})`);
    });

    it("says what the service refused, exit 1: an unknown id, in Chinese too", async () => {
      const zh = await runCli(["status", "AAAAAAAAAAAAAAAAAAAAAA", "--server", (await running()).url, "--lang", "zh"]);
      expect([zh.code, zh.stderr.trim()]).to.deep.equal([
        1,
        "evidence status：没有该编号的存证。（the service answered 404 NOT_FOUND: no evidence with that id）",
      ]);
      const res = await runCli(["status", "AAAAAAAAAAAAAAAAAAAAAA", "--server", (await running()).url]);
      expect([res.code, res.stderr.trim()]).to.deep.equal([
        1,
        "evidence status: the service answered 404 NOT_FOUND: no evidence with that id",
      ]);
    });

    it("takes an evidence id that begins with '-' as the id, not as an option", async () => {
      const res = await runCli(["status", "-AAAAAAAAAAAAAAAAAAAAA", "--server", (await running()).url]);
      expect([res.code, res.stderr.trim()]).to.deep.equal([
        1,
        "evidence status: the service answered 404 NOT_FOUND: no evidence with that id",
      ]);
      const unknown = await runCli(["status", "-x", "--server", (await running()).url]);
      expect(unknown.code, "a short unknown option is still one").to.equal(2);
    });

    it("takes an option's value that begins with '-' (an API key made before keys were drawn without one), and still refuses an option where a value should be", async () => {
      const url = (await running()).url;
      const dashed = await runCli([
        "status",
        "AAAAAAAAAAAAAAAAAAAAAA",
        "--api-key",
        `-${"A".repeat(42)}`,
        "--server",
        url,
      ]);
      expect([dashed.code, dashed.stderr.trim()]).to.deep.equal([
        1,
        "evidence status: the service answered 404 NOT_FOUND: no evidence with that id",
      ]);
      const missing = await runCli(["status", "AAAAAAAAAAAAAAAAAAAAAA", "--server", "--json"]);
      expect([missing.code, missing.stderr.split("\n")[0]]).to.deep.equal([
        2,
        "evidence status: Option '--server' argument is ambiguous.",
      ]);
    });

    it("refuses a server that is not an http URL and a missing API key as usage errors (exit 2)", async () => {
      expect((await runCli(["status", "x", "--server", "ftp://example"])).code).to.equal(2);
      expect(
        (await runCli(["submit", evidencePath(), "--server", service.url], { EVIDENCE_API_KEY: "" })).code,
      ).to.equal(2);
    });
  });

  describe("evidence verify", () => {
    let certificatePath: string;
    before(async () => {
      certificatePath = await savedCertificate();
    });

    it("says VALID with the right file, first, and shows the anchored time in local time and UTC (exit 0)", async () => {
      const res = await runCli([
        "verify",
        certificatePath,
        "--file",
        evidencePath(),
        "--rpc",
        chain.url,
        "--lang",
        "en",
      ]);
      expect(res.code, res.stdout + res.stderr).to.equal(0);
      expect(res.stdout.split("\n")[0]).to.equal("== VALID — the file matches the certificate ==");
      for (const name of ["Format", "File", "Record", "Merkle proof", "Blockchain anchor", "Issuer signature"]) {
        expect(res.stdout).to.match(new RegExp(`PASS +${name} `));
      }
      expect(res.stdout).not.to.match(/\b17\d{8}\b/); // never Unix seconds
      const args = ["verify", certificatePath, "--file", evidencePath(), "--rpc", chain.url, "--lang", "en"];
      const shanghai = await runCli(args, { TZ: "Asia/Shanghai" });
      expect(shanghai.stdout).to.match(
        /anchored at +\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \(UTC\+08:00\) \/ \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC\n/,
      );
      // Where local time is UTC, the same time is not said twice.
      const utc = await runCli(args, { TZ: "UTC" });
      expect(utc.stdout).to.match(/anchored at +\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC\n/);
      expect(utc.stdout.split("\n")[1]).to.match(
        /^The file you supplied existed no later than \S+ \S+ UTC, unchanged since\.$/,
      );
    });

    it("serves the verifier as one file that runs alone in an empty folder, with any Node.js from 20, and says what evidence verify says", async () => {
      const url = `${(await running()).url}/verifier/evidence-verify.mjs`;
      const download = await fetch(url);
      expect([download.status, download.headers.get("content-type")]).to.deep.equal([
        200,
        "text/javascript; charset=utf-8",
      ]);
      const body = Buffer.from(await download.arrayBuffer());
      const published = (await (await fetch(`${url}.sha256`)).text()).split(" ")[0];
      expect(published).to.equal(sha256Hex(body));
      const folder = tempDir("standalone-verifier");
      writeFileSync(path.join(folder, "evidence-verify.mjs"), body);
      copyFileSync(certificatePath, path.join(folder, "cert.evidence.json"));
      copyFileSync(evidencePath(), path.join(folder, "original.png"));
      writeFileSync(path.join(folder, "other.png"), "another file");
      const standalone = (node: string, file: string) =>
        new Promise<{ code: number; stdout: string }>((resolve) => {
          const args = ["evidence-verify.mjs", "verify", "cert.evidence.json", "--file", file, "--rpc", chain.url];
          execFile(node, [...args, "--json"], { cwd: folder }, (error, stdout) =>
            resolve({ code: error ? Number(error.code) : 0, stdout }),
          );
        });
      const reference = await runCli([
        "verify",
        certificatePath,
        "--file",
        evidencePath(),
        "--rpc",
        chain.url,
        "--json",
      ]);
      const ours = await standalone(process.execPath, "original.png");
      expect([ours.code, JSON.parse(ours.stdout)]).to.deep.equal([0, JSON.parse(reference.stdout)]);
      expect((await standalone(process.execPath, "other.png")).code).to.equal(1);
      // It names itself, and says how it is run.
      const own = (args: string[]) =>
        execFileSync(process.execPath, ["evidence-verify.mjs", ...args], { cwd: folder, encoding: "utf8" });
      const version = (
        JSON.parse(readFileSync(path.resolve(import.meta.dirname, "../../package.json"), "utf8")) as { version: string }
      ).version;
      expect(own(["--version"]).trim()).to.equal(`evidence-verify ${version}`);
      expect(own(["verify", "--help"]).split("\n")[0]).to.match(/^Usage: node evidence-verify\.mjs verify /);
      const ownInChinese = execFileSync(process.execPath, ["evidence-verify.mjs", "verify", "--help"], {
        cwd: folder,
        encoding: "utf8",
        env: { ...process.env, LANG: "zh_CN.UTF-8", LC_ALL: "", LC_MESSAGES: "" },
      });
      expect(ownInChinese.split("\n")[0]).to.match(/^用法：node evidence-verify\.mjs verify /);
      // The machine's own Node.js, when it is another (these machines come with Node.js 20).
      const system = "/usr/bin/node";
      if (existsSync(system) && execFileSync(system, ["--version"], { encoding: "utf8" }).trim() !== process.version) {
        const older = await standalone(system, "original.png");
        expect([older.code, JSON.parse(older.stdout).verdict], older.stdout).to.deep.equal([0, "valid"]);
      }
    });

    it("verifies a certificate file named after an id that begins with '-', as the certificate document prints it", async () => {
      const named = path.join(work, "-q1Zr8xYwK0pLmN3oB5cD7e.evidence.json");
      copyFileSync(certificatePath, named);
      const res = await runCli(["verify", path.basename(named), "--rpc", chain.url, "--lang", "en"], {}, { cwd: work });
      expect([res.code, res.stdout.split("\n")[0]], res.stderr).to.deep.equal([
        0,
        "== VALID CERTIFICATE — no file compared ==",
      ]);
    });

    it("says a valid certificate with no file compared is not a file match", async () => {
      const res = await runCli(["verify", certificatePath, "--rpc", chain.url, "--lang", "en"]);
      expect(res.code).to.equal(0);
      expect(res.stdout.split("\n")[0]).to.equal("== VALID CERTIFICATE — no file compared ==");
    });

    it("speaks Chinese under a zh locale and with --lang zh", async () => {
      for (const [args, env] of [
        [
          ["verify", certificatePath, "--file", evidencePath(), "--rpc", chain.url],
          { LANG: "zh_CN.UTF-8", LC_ALL: "" },
        ],
        [
          ["verify", certificatePath, "--file", evidencePath(), "--rpc", chain.url, "--lang", "zh"],
          { LANG: "C", LC_ALL: "" },
        ],
      ] as const) {
        const res = await runCli([...args], env);
        expect(res.code).to.equal(0);
        expect(res.stdout.split("\n")[0]).to.equal("== 有效——文件与存证一致 ==");
        expect(res.stdout).to.match(/通过 +区块链锚定 +该树根已记录在区块链上/);
        expect(res.stdout).not.to.match(/\bPASS\b|\bpassed\b/);
      }
    });

    it("fails content with the wrong file (exit 1), and the failure line does not claim a match", async () => {
      const other = path.join(work, "other.png");
      writeFileSync(other, "a different screenshot");
      const res = await runCli(["verify", certificatePath, "--file", other, "--rpc", chain.url, "--lang", "en"]);
      expect(res.code).to.equal(1);
      expect(res.stdout).to.match(/FAIL +File +The file you supplied is NOT the certified file/);
      expect(res.stdout).to.match(
        /^== INVALID — the file does not match the certificate ==\nThe certificate itself checks out \(record, Merkle proof, blockchain anchor and issuer signature all pass\), but the file you supplied is not the certified file/,
      );
    });

    it("writes out the controls a forged file name carries instead of passing them to the terminal", async () => {
      const forged = JSON.parse(readFileSync(certificatePath, "utf8"));
      forged.record.fileName =
        "x.txt\u001b[2J\u001b[H\u001b[32m\n== VALID — the file matches the certificate ==\u001b[0m";
      const file = path.join(work, "forged-name.evidence.json");
      writeFileSync(file, JSON.stringify(forged));
      for (const args of [[file], [work]]) {
        const res = await runCli(["verify", ...args, "--rpc", chain.url, "--lang", "en"]);
        expect(res.stdout, args.join(" ")).to.not.include("\u001b");
        expect(res.stdout.split("\n").filter((l) => l.startsWith("== VALID"))).to.deep.equal([]);
      }
      const single = await runCli(["verify", file, "--rpc", chain.url, "--lang", "en"]);
      expect(single.stdout).to.include("x.txt[U+001B][2J[U+001B][H[U+001B][32m[U+000A]== VALID");
      expect(single.stdout.split("\n")[0]).to.equal("== INVALID ==");
    });

    it("accepts the file's SHA-256 instead of the file, and prints the verdict of docs/protocol.md §8 with --json", async () => {
      const digest = sha256Hex(readFileSync(evidencePath()));
      const res = await runCli(["verify", certificatePath, "--sha256", digest, "--rpc", chain.url, "--json"]);
      expect(res.code).to.equal(0);
      const parsed = JSON.parse(res.stdout);
      expect(parsed).to.include({ verdict: "valid", valid: true, fileCompared: true });
      // As the page takes it, with 0x and in capitals too.
      const prefixed = await runCli([
        "verify",
        certificatePath,
        "--sha256",
        `0x${digest.toUpperCase()}`,
        "--rpc",
        chain.url,
        "--json",
      ]);
      expect([prefixed.code, JSON.parse(prefixed.stdout).fileCompared]).to.deep.equal([0, true]);
      // And the line sha256sum prints, name and all, as the page and the API take it.
      const line = await runCli([
        "verify",
        certificatePath,
        "--sha256",
        `${digest}  截图.png`,
        "--rpc",
        chain.url,
        "--json",
      ]);
      expect([line.code, JSON.parse(line.stdout).fileCompared]).to.deep.equal([0, true]);
      // A hash was compared, not a file: the verdict says so, in both languages.
      const content = parsed.checks.find((c: { id: string }) => c.id === "content");
      expect(content.reason).to.deep.equal({ code: "content.match", digest, given: true });
      const said = await runCli(["verify", certificatePath, "--sha256", digest, "--rpc", chain.url, "--lang", "en"]);
      expect(said.stdout.split("\n")[0]).to.equal("== VALID — the SHA-256 given matches the certificate ==");
      expect(said.stdout).to.include("no file was read");
      const zh = await runCli(["verify", certificatePath, "--sha256", digest, "--rpc", chain.url, "--lang", "zh"]);
      expect(zh.stdout.split("\n")[0]).to.equal("== 有效——所给 SHA-256 与存证一致 ==");
      const wrong = await runCli([
        "verify",
        certificatePath,
        "--sha256",
        "ab".repeat(32),
        "--rpc",
        chain.url,
        "--lang",
        "en",
      ]);
      expect([wrong.code, wrong.stdout.split("\n")[0]]).to.deep.equal([
        1,
        "== INVALID — the SHA-256 given does not match the certificate ==",
      ]);
      expect(parsed.checks.map((c: { id: string; status: string }) => [c.id, c.status])).to.deep.equal([
        ["format", "passed"],
        ["content", "passed"],
        ["leaf", "passed"],
        ["inclusion", "passed"],
        ["anchor", "passed"],
        ["signature", "passed"],
        ["timestamp", "skipped"],
      ]);
    });

    it("stays VALID after the service is stopped: only the chain is needed", async () => {
      await (await running()).stop();
      const res = await runCli(["verify", certificatePath, "--file", evidencePath(), "--rpc", chain.url]);
      expect(res.code, res.stdout).to.equal(0);
      expect(res.stdout).to.include("VALID");
    });

    it("could not verify against a node of another chain: exit 3, naming both ids, no stack trace", async () => {
      const res = await runCli(["verify", certificatePath, "--rpc", otherChain.url, "--lang", "en"]);
      expect(res.code).to.equal(3);
      expect(res.stdout.split("\n")[0]).to.equal("== COULD NOT VERIFY ==");
      expect(res.stdout).to.match(/the node is on chain 4242; the certificate is for chain 1337/);
      expect(res.stdout + res.stderr).not.to.match(/\n\s+at /);
    });

    it("could not verify against an unreachable node: exit 3, and says this is not a sign of forgery", async () => {
      const res = await runCli(["verify", certificatePath, "--rpc", "http://127.0.0.1:9", "--lang", "en"]);
      expect(res.code).to.equal(3);
      expect(res.stdout).to.match(/not a sign of forgery/);
      expect(res.stdout).to.match(/cannot reach the chain node at http:\/\/127\.0\.0\.1:9/);
    });

    it("could not verify (exit 3), never INVALID, against a node of another chain with the same id, which has neither the contract nor the certificate's block; INVALID on the certificate's own chain for a contract that is not there", async () => {
      const lookalike = await startChainNode({ chainId: 1337 });
      try {
        await new JsonRpcChainReader(lookalike.url).request("anvil_mine", ["0x40"]);
        const res = await runCli(["verify", certificatePath, "--rpc", lookalike.url, "--lang", "en"]);
        expect([res.code, res.stdout.split("\n")[0]]).to.deep.equal([3, "== COULD NOT VERIFY =="]);
        expect(res.stdout).to.include(`the node has no contract at ${contract}, and its block`);
        expect(res.stdout).to.include("it is of another chain with the id 1337, or the certificate names a block");
        const zh = await runCli(["verify", certificatePath, "--rpc", lookalike.url, "--lang", "zh"]);
        expect([zh.code, zh.stdout]).to.satisfy(
          ([code, out]: [number, string]) => code === 3 && out.includes("使用相同链 ID 1337 的另一条链"),
        );
        // On the certificate's own chain (it has the certificate's block), an empty address fails.
        const saved = JSON.parse(readFileSync(certificatePath, "utf8"));
        const anchor = saved.batch?.anchor ?? saved.anchor;
        anchor.contract = `0x${"12".repeat(20)}`;
        const emptyAddress = path.join(work, "empty-address.evidence.json");
        writeFileSync(emptyAddress, JSON.stringify(saved));
        const forged = await runCli(["verify", emptyAddress, "--rpc", chain.url, "--json"]);
        const anchorCheck = JSON.parse(forged.stdout).checks.find((c: { id: string }) => c.id === "anchor");
        expect([forged.code, anchorCheck.status, anchorCheck.reason.code]).to.deep.equal([
          1,
          "failed",
          "anchor.no-contract",
        ]);
        // The consortium's registry exists on its chain: a node without it is another chain of the same id.
        const trusting = await runCli([
          "verify",
          certificatePath,
          "--rpc",
          lookalike.url,
          "--contract",
          contract,
          "--lang",
          "en",
        ]);
        expect([trusting.code, trusting.stdout.split("\n")[0]]).to.deep.equal([3, "== COULD NOT VERIFY =="]);
        expect(trusting.stdout).to.include(`the node has no contract at ${contract}, the trusted registry`);
      } finally {
        await lookalike.stop();
      }
    });

    it("fails format for a file that is not a certificate, exit 1", async () => {
      const res = await runCli(["verify", evidencePath(), "--rpc", chain.url, "--lang", "en"]);
      expect(res.code).to.equal(1);
      expect(res.stdout).to.match(/FAIL +Format/);
    });

    it("verifies a directory of certificates against a directory of files: a table, and JSON lines", async () => {
      const certs = tempDir("cli-bulk");
      const files = tempDir("cli-bulk-files");
      try {
        writeFileSync(path.join(certs, "a.evidence.json"), readFileSync(certificatePath));
        const tampered = JSON.parse(readFileSync(certificatePath, "utf8"));
        tampered.record.title = "changed";
        writeFileSync(path.join(certs, "b.evidence.json"), JSON.stringify(tampered));
        writeFileSync(path.join(files, "original.png"), readFileSync(evidencePath()));
        const table = await runCli(["verify", certs, "--files", files, "--rpc", chain.url, "--lang", "en"]);
        expect(table.code, table.stdout).to.equal(1);
        expect(table.stdout).to.match(/^verdict +id +certificate +file +reason/);
        expect(table.stdout).to.match(/VALID +\S+ +a\.evidence\.json +compared/);
        expect(table.stdout).to.match(/INVALID +\S+ +b\.evidence\.json/);
        expect(table.stdout).to.match(
          /2 certificates: 1 valid, 1 invalid, 0 could not be verified; 0 with no file in /,
        );
        // Warnings have no column: each is said once under the table, with the certificates it is of.
        expect(table.stdout).to.match(/^WARNING \(\d+: [^)]+\): No trusted registry was named/m);
        expect(table.stderr, "no directory passed over").to.equal("");
        // A certificate in a subdirectory is not searched for, and that is said, not passed over.
        mkdirSync(path.join(certs, "older"));
        writeFileSync(path.join(certs, "older", "c.evidence.json"), readFileSync(certificatePath));
        const nested = await runCli(["verify", certs, "--rpc", chain.url, "--lang", "en", "--json"]);
        expect(nested.stdout.trim().split("\n")).to.have.length(2);
        expect(nested.stderr.trim()).to.equal(
          `evidence verify: ${certs}: 1 subdirectory not searched (name it to verify the certificates inside)`,
        );
        // So is a file of another kind, which may be a certificate saved under another name.
        writeFileSync(path.join(certs, "c.evidence.txt"), readFileSync(certificatePath));
        const other = await runCli(["verify", certs, "--rpc", chain.url, "--lang", "en", "--json"]);
        expect(other.stdout.trim().split("\n")).to.have.length(2);
        expect(other.stderr.trim().split("\n")).to.deep.equal([
          `evidence verify: ${certs}: 1 subdirectory not searched (name it to verify the certificates inside)`,
          `evidence verify: ${certs}: 1 file of other kinds not read (certificates are .json, .pdf, .zip or .wacz files; name a file to verify it)`,
        ]);
        rmSync(path.join(certs, "c.evidence.txt"));
        const zh = await runCli(["verify", certs, "--files", files, "--rpc", chain.url, "--lang", "zh"]);
        expect(zh.stdout).to.match(/^结论 +编号 +证书 +文件 +原因/);
        expect(zh.stdout).to.match(/^警告（\d+ 份：[^）]+）：未与受信任的存证合约比对/m);
        const zhInvalid = zh.stdout.split("\n").find((l) => l.includes("b.evidence.json"))!;
        // Each failure in words, not in hashes (those are in --json and a single certificate's report).
        expect(zhInvalid).to.match(
          /^无效 +\S+ +b\.evidence\.json +已比对 +记录：证书中的存证记录与证明所承诺的内容不一致：记录已被改动。/,
        );
        expect(zhInvalid.split("已比对")[1], "no English in the Chinese reason").to.not.match(/[A-Za-z]{2,}/);
        // With no original to compare, a valid certificate is not a file match, and the summary says so.
        const noFiles = tempDir("cli-bulk-no-files");
        const uncompared = await runCli(["verify", certs, "--files", noFiles, "--rpc", chain.url, "--lang", "en"]);
        expect(uncompared.stdout).to.match(/VALID +\S+ +a\.evidence\.json +—/);
        expect(uncompared.stdout).to.match(/; 2 with no file in \S+ to compare/);
        await cleanUpDataDir(noFiles);
        const lines = await runCli(["verify", certs, "--files", files, "--rpc", chain.url, "--json"]);
        const parsed = lines.stdout
          .trim()
          .split("\n")
          .map((l) => JSON.parse(l));
        expect(parsed.map((p) => [path.basename(p.certificate), p.verdict, p.fileCompared])).to.deep.equal([
          ["a.evidence.json", "valid", true],
          ["b.evidence.json", "invalid", true],
        ]);
      } finally {
        await cleanUpDataDir(certs);
        await cleanUpDataDir(files);
      }
    });

    it("passes over the files of a folder that hold no certificate and claim none, listing them with the verdicts", async () => {
      const mixed = tempDir("cli-mixed");
      try {
        writeFileSync(path.join(mixed, "a.evidence.json"), readFileSync(certificatePath));
        copyFileSync(
          path.resolve(import.meta.dirname, "../vectors/pdf/no-attachment.pdf"),
          path.join(mixed, "contract.pdf"),
        );
        writeFileSync(path.join(mixed, "notes.json"), JSON.stringify({ hello: "world" }));
        writeFileSync(path.join(mixed, "empty.zip"), "");
        // A browser extension: a ZIP with a manifest.json that is no capture manifest.
        writeFileSync(
          path.join(mixed, "extension.zip"),
          zipSync({ "manifest.json": strToU8('{"manifest_version":3}') }),
        );
        writeFileSync(path.join(mixed, "photos.zip"), zipSync({ "shot.png": strToU8("not really a png") }));
        // An archive compressed with a method packages never use (14, LZMA): refused by the package
        // reader for that, and still no package, since it names no manifest.json.
        const lzma = Buffer.from(zipSync({ "clip.mp4": strToU8("not really a video") }, { level: 0 }));
        lzma.writeUInt16LE(14, 8);
        lzma.writeUInt16LE(14, lzma.readUInt32LE(lzma.length - 22 + 16) + 10);
        writeFileSync(path.join(mixed, "video.zip"), lzma);
        copyFileSync(evidencePath(), path.join(mixed, "original.png"));
        // A long scan kept as a PDF, larger than any certificate document (a sparse file).
        writeFileSync(path.join(mixed, "scan.pdf"), "%PDF-1.7\n");
        truncateSync(path.join(mixed, "scan.pdf"), MAX_DOCUMENT_BYTES + 1);
        // An original this reader cannot read, naming no certificate: a hand-made invoice cut
        // short (a download that stopped).
        writeFileSync(
          path.join(mixed, "invoice.pdf"),
          "%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >>\nendobj\n2 0 obj <<",
        );
        const res = await runCli(["verify", mixed, "--files", mixed, "--rpc", chain.url, "--lang", "en"]);
        expect(res.code, res.stdout + res.stderr).to.equal(0);
        expect(res.stdout).to.match(/VALID +\S+ +a\.evidence\.json +compared/);
        expect(res.stdout).to.match(/— +— +contract\.pdf +— +passed over: a PDF with no certificate attached\n/);
        expect(res.stdout).to.match(/— +— +notes\.json +— +passed over: JSON that is no certificate\n/);
        expect(res.stdout).to.match(/— +— +photos\.zip +— +passed over: a ZIP that is no capture package\n/);
        expect(res.stdout).to.match(/— +— +empty\.zip +— +passed over: an empty file\n/);
        expect(res.stdout).to.match(/— +— +extension\.zip +— +passed over: a ZIP that is no capture package\n/);
        expect(res.stdout).to.match(/— +— +video\.zip +— +passed over: a ZIP that is no capture package\n/);
        expect(res.stdout).to.match(/— +— +scan\.pdf +— +passed over: a file larger than 64 MB that is no ZIP\n/);
        expect(res.stdout).to.match(
          /— +— +invoice\.pdf +— +passed over: a PDF this verifier cannot read that names no Evidence Anchor certificate\n/,
        );
        expect(res.stdout).to.match(
          /\n1 certificate: 1 valid, 0 invalid, 0 could not be verified; 0 with no file in \S+ to compare; 8 files holding no certificate passed over /,
        );
        expect(res.stderr.trim()).to.equal(
          `evidence verify: 8 files in ${mixed} matched no certificate: contract.pdf, empty.zip, extension.zip, invoice.pdf, notes.json, photos.zip, scan.pdf, video.zip`,
        );
        const lines = await runCli(["verify", mixed, "--rpc", chain.url, "--json", "--lang", "en"]);
        expect(
          lines.stdout
            .trim()
            .split("\n")
            .map((l) => JSON.parse(l).passedOver ?? JSON.parse(l).verdict),
        ).to.deep.equal([
          "valid",
          "pdf-without-certificate",
          "empty",
          "zip-not-a-package",
          "pdf-unreadable",
          "json-not-a-certificate",
          "zip-not-a-package",
          "too-large",
          "zip-not-a-package",
        ]);
        // An encrypted PDF hides what it names: named, or in a folder, it is a certificate document
        // in a form this reader does not read: could not verify (exit 3), never INVALID nor passed over.
        const sealedFolder = tempDir("cli-sealed");
        try {
          copyFileSync(new URL("../vectors/pdf/encrypted.pdf", import.meta.url), path.join(sealedFolder, "sealed.pdf"));
          writeFileSync(
            path.join(sealedFolder, "sealed-contract.pdf"),
            "%PDF-1.7\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n2 0 obj\n<< /Type /Pages /Kids [] /Count 0 >>\nendobj\n" +
              "3 0 obj\n<< /Filter /Standard /V 2 /R 3 /Length 128 /P -44 >>\nendobj\n" +
              "xref\n0 4\n0000000000 65535 f \n0000000009 00000 n \n0000000058 00000 n \n0000000115 00000 n \n" +
              "trailer\n<< /Size 4 /Root 1 0 R /Encrypt 3 0 R >>\nstartxref\n186\n%%EOF\n",
          );
          const named = await runCli(["verify", path.join(sealedFolder, "sealed.pdf"), "--rpc", chain.url, "--json"]);
          const format = JSON.parse(named.stdout).checks.find((c: { id: string }) => c.id === "format");
          expect([named.code, format.status, format.reason.code]).to.deep.equal([
            3,
            "error",
            "format.unsupported-document",
          ]);
          const folder = await runCli(["verify", sealedFolder, "--rpc", chain.url, "--json"]);
          expect([
            folder.code,
            folder.stdout
              .trim()
              .split("\n")
              .map((l) => JSON.parse(l).verdict),
          ]).to.deep.equal([3, ["indeterminate", "indeterminate"]]);
        } finally {
          await cleanUpDataDir(sealedFolder);
        }
        // Named, a file is a certificate to verify, whatever it holds.
        const named = await runCli(["verify", path.join(mixed, "contract.pdf"), "--rpc", chain.url, "--json"]);
        expect([named.code, JSON.parse(named.stdout).verdict]).to.deep.equal([1, "invalid"]);
        // However large: not a certificate (INVALID, format failed), never "could not verify".
        const large = await runCli(["verify", path.join(mixed, "scan.pdf"), "--rpc", chain.url, "--json"]);
        const largeFormat = JSON.parse(large.stdout).checks.find((c: { id: string }) => c.id === "format");
        expect([large.code, largeFormat.status, largeFormat.detail]).to.deep.equal([
          1,
          "failed",
          "the file is not a certificate: it is larger than 64 MB, as only a capture package (.zip) may be",
        ]);
        const largeZh = await runCli(["verify", path.join(mixed, "scan.pdf"), "--rpc", chain.url, "--lang", "zh-CN"]);
        expect(largeZh.stdout).to.include("该文件不是证书：它大于 64 MB，只有网页取证包（.zip）才会这么大");
        // A folder of nothing but originals holds no certificate to verify: a usage error.
        const originalsOnly = tempDir("cli-originals-only");
        copyFileSync(path.join(mixed, "contract.pdf"), path.join(originalsOnly, "contract.pdf"));
        const none = await runCli(["verify", originalsOnly, "--rpc", chain.url, "--lang", "en"]);
        expect(none.code).to.equal(2);
        expect(none.stderr).to.include("evidence verify: no certificate among the files found");
        await cleanUpDataDir(originalsOnly);
      } finally {
        await cleanUpDataDir(mixed);
      }
    });

    it("verifies, never passes over, a folder's file that claims to be a certificate in any way: a forged one is INVALID", async () => {
      const folder = tempDir("cli-claims");
      try {
        const forged = JSON.parse(readFileSync(certificatePath, "utf8"));
        forged.record.contentHash = sha256Hex("a file made later");
        // The type written with an escape, which parses to the same value.
        const escaped = JSON.stringify(forged).replace(
          '"evidence-anchor-certificate"',
          '"\\u0065vidence-anchor-certificate"',
        );
        writeFileSync(path.join(folder, "forged.json"), escaped);
        writeFileSync(path.join(folder, "record-only.json"), JSON.stringify({ record: forged.record }));
        writeFileSync(path.join(folder, "wrapped.json"), JSON.stringify({ certificate: forged }));
        writeFileSync(path.join(folder, "utf16.json"), Buffer.from(`\ufeff${JSON.stringify(forged)}`, "utf16le"));
        const res = await runCli(["verify", folder, "--rpc", chain.url, "--json"]);
        const verdicts = res.stdout
          .trim()
          .split("\n")
          .map((l) => [path.basename(JSON.parse(l).certificate), JSON.parse(l).verdict]);
        expect([res.code, verdicts]).to.deep.equal([
          1,
          [
            ["forged.json", "invalid"],
            ["record-only.json", "invalid"],
            ["utf16.json", "invalid"],
            ["wrapped.json", "invalid"],
          ],
        ]);
      } finally {
        await cleanUpDataDir(folder);
      }
    });

    it("compares a certificate with the file of its certified name in --files when none has its hash: an original altered since is INVALID there too (exit 1)", async () => {
      const certs = tempDir("cli-altered");
      const files = tempDir("cli-altered-files");
      try {
        writeFileSync(path.join(certs, "a.evidence.json"), readFileSync(certificatePath));
        const name = JSON.parse(readFileSync(certificatePath, "utf8")).record.fileName as string;
        writeFileSync(path.join(files, name), Buffer.concat([readFileSync(evidencePath()), Buffer.from([0])]));
        const res = await runCli(["verify", certs, "--files", files, "--rpc", chain.url, "--json"]);
        const [line] = res.stdout
          .trim()
          .split("\n")
          .map((l) => JSON.parse(l));
        expect([res.code, line.verdict, line.fileCompared, line.original, line.originalFoundBy]).to.deep.equal([
          1,
          "invalid",
          true,
          path.join(files, name),
          "name",
        ]);
        const alone = await runCli([
          "verify",
          path.join(certs, "a.evidence.json"),
          "--file",
          path.join(files, name),
          "--rpc",
          chain.url,
        ]);
        expect(alone.code, "the same pair, alone").to.equal(1);
        const table = await runCli(["verify", certs, "--files", files, "--rpc", chain.url, "--lang", "en"]);
        const row = table.stdout.split("\n").find((l) => l.includes("a.evidence.json"));
        expect(row).to.match(/^INVALID /);
        expect(row).to.include(`${name} (by its name)`);
        expect(table.stdout).to.include("0 valid, 1 invalid");
        expect(table.stdout).to.include(
          "; 1 compared with the file of their certified name, which differs; 0 with no file in",
        );
        const zh = await runCli(["verify", certs, "--files", files, "--rpc", chain.url, "--lang", "zh"]);
        expect(zh.stdout).to.include(`同名文件 ${name}`);
        expect(zh.stdout).to.include("；1 份按证书所记文件名比对，文件内容不同；0 份在");
      } finally {
        await cleanUpDataDir(certs);
        await cleanUpDataDir(files);
      }
    });

    it("finds the file of the certified name when a file system changed its case: an original altered since is INVALID there too", async () => {
      const certs = tempDir("cli-folded");
      const files = tempDir("cli-folded-files");
      try {
        writeFileSync(path.join(certs, "a.evidence.json"), readFileSync(certificatePath));
        const name = JSON.parse(readFileSync(certificatePath, "utf8")).record.fileName as string;
        const changed = name.toUpperCase();
        expect(changed).to.not.equal(name);
        writeFileSync(path.join(files, changed), Buffer.concat([readFileSync(evidencePath()), Buffer.from([0])]));
        const res = await runCli(["verify", certs, "--files", files, "--rpc", chain.url, "--json"]);
        const line = JSON.parse(res.stdout.trim());
        expect([res.code, line.verdict, line.fileCompared, line.original, line.originalFoundBy]).to.deep.equal([
          1,
          "invalid",
          true,
          path.join(files, changed),
          "name",
        ]);
      } finally {
        await cleanUpDataDir(certs);
        await cleanUpDataDir(files);
      }
    });

    it("takes a file of the certified name that another certificate of the run proves (VALID with it) for that one's: the first certificate's file is not compared, and named (exit 0); one that only states its hash proves nothing", async () => {
      const certs = tempDir("cli-versions");
      const files = tempDir("cli-versions-files");
      const second = tempDir("cli-versions-second");
      try {
        const name = JSON.parse(readFileSync(certificatePath, "utf8")).record.fileName as string;
        // A second version of the file, under the same name, certified too.
        writeFileSync(path.join(second, name), "screenshot bytes of the page, taken again");
        const s = await running();
        const submittedAgain = await runCli(
          ["submit", path.join(second, name), "--wait", "--out", second, "--server", s.url, "--json"],
          { EVIDENCE_API_KEY: apiKey },
        );
        expect(submittedAgain.code, submittedAgain.stderr).to.equal(0);
        const secondCertificate = JSON.parse(submittedAgain.stdout).items[0].certificate as string;
        writeFileSync(path.join(certs, "a.evidence.json"), readFileSync(certificatePath));
        writeFileSync(path.join(certs, "b.evidence.json"), readFileSync(secondCertificate));
        writeFileSync(path.join(files, name), readFileSync(path.join(second, name)));
        const res = await runCli(["verify", certs, "--files", files, "--rpc", chain.url, "--json"]);
        const lines = res.stdout
          .trim()
          .split("\n")
          .map((l) => JSON.parse(l))
          .map((l) => [
            path.basename(l.certificate),
            l.verdict,
            l.fileCompared,
            l.original ?? l.fileOfCertifiedNameIsAnothers,
            l.originalFoundBy,
          ]);
        expect([res.code, lines]).to.deep.equal([
          0,
          [
            ["a.evidence.json", "valid", false, path.join(files, name), undefined],
            ["b.evidence.json", "valid", true, path.join(files, name), "hash"],
          ],
        ]);
        const table = await runCli(["verify", certs, "--files", files, "--rpc", chain.url, "--lang", "en"]);
        expect(table.stdout).to.include(`— ${name} is another's`);
        expect(table.stdout).to.include("; 1 with no file in");
        expect(table.stdout).to.include("(1 whose file of the certified name is another certificate's)");
        // Saved as {"certificate": …}, the second certificate proves the file all the same.
        writeFileSync(
          path.join(certs, "b.evidence.json"),
          JSON.stringify({ certificate: JSON.parse(readFileSync(secondCertificate, "utf8")) }),
        );
        const wrapped = await runCli(["verify", certs, "--files", files, "--rpc", chain.url, "--json"]);
        expect(wrapped.code, wrapped.stdout).to.equal(0);
        // A certificate that only states the file's hash proves nothing: the first is compared by its name.
        const forged = JSON.parse(readFileSync(certificatePath, "utf8"));
        forged.record.contentHash = sha256Hex(readFileSync(path.join(second, name)));
        writeFileSync(path.join(certs, "b.evidence.json"), JSON.stringify(forged));
        const stated = await runCli(["verify", certs, "--files", files, "--rpc", chain.url, "--json"]);
        expect([
          stated.code,
          stated.stdout
            .trim()
            .split("\n")
            .map((l) => [
              path.basename(JSON.parse(l).certificate),
              JSON.parse(l).verdict,
              JSON.parse(l).originalFoundBy,
            ]),
        ]).to.deep.equal([
          1,
          [
            ["a.evidence.json", "invalid", "name"],
            ["b.evidence.json", "invalid", "hash"],
          ],
        ]);
      } finally {
        await cleanUpDataDir(certs);
        await cleanUpDataDir(files);
        await cleanUpDataDir(second);
      }
    });

    it("ends quietly with status 141, as SIGPIPE ends other tools, when its output's reader has gone (| head)", async () => {
      for (const format of [[], ["--json"]]) {
        const res = await runCli(
          ["verify", certificatePath, "--rpc", chain.url, ...format],
          {},
          { outputClosed: true },
        );
        expect(res.code, `${format.join(" ")} ${res.stderr}`).to.equal(141);
        expect(res.stderr, "no stack trace, nothing at all").to.equal("");
      }
    });

    it("exits 74, not 1 (invalid), when its output cannot be written (stdout is /dev/full)", async () => {
      const res = await runCli(["verify", certificatePath, "--rpc", chain.url], {}, { stdout: "/dev/full" });
      expect([res.code, res.stderr.trim()]).to.deep.equal([
        74,
        "evidence: cannot write the output: ENOSPC: no space left on device, write",
      ]);
    });

    it("says could-not-verify for an entry it cannot read (a directory, a dangling link, a device) and verifies the rest (exit 3)", async () => {
      const dir = tempDir("cli-unreadable");
      try {
        writeFileSync(path.join(dir, "a.evidence.json"), readFileSync(certificatePath));
        mkdirSync(path.join(dir, "b-directory.evidence.json"));
        symlinkSync(path.join(dir, "gone"), path.join(dir, "c-dangling.evidence.json"));
        symlinkSync("/dev/zero", path.join(dir, "d-device.evidence.json"));
        const res = await runCli(["verify", dir, "--rpc", chain.url, "--json"]);
        expect(res.code, res.stderr).to.equal(3);
        const lines = res.stdout
          .trim()
          .split("\n")
          .map((l) => JSON.parse(l) as { certificate: string; verdict: string; checks: { status: string }[] });
        expect(lines.map((l) => [path.basename(l.certificate), l.verdict, l.checks[0]!.status])).to.deep.equal([
          ["a.evidence.json", "valid", "passed"],
          ["b-directory.evidence.json", "indeterminate", "error"],
          ["c-dangling.evidence.json", "indeterminate", "error"],
          ["d-device.evidence.json", "indeterminate", "error"],
        ]);
      } finally {
        await cleanUpDataDir(dir);
      }
    });

    it("tells a Node too old for it which Node to use, exit 2 (a usage error, never 1, which would read as INVALID)", function () {
      // The machines start with Debian's Node 20; the project's own is newer.
      const system = "/usr/bin/node";
      let version: string;
      try {
        version = execFileSync(system, ["--version"], { encoding: "utf8" }).trim();
      } catch {
        return this.skip();
      }
      const [major, minor] = version.slice(1).split(".").map(Number) as [number, number];
      if (major > 22 || (major === 22 && minor >= 13)) return this.skip();
      let status = 0;
      let stderr = "";
      try {
        execFileSync(system, ["scripts/evidence.mjs", "verify", "x.evidence.json"], {
          encoding: "utf8",
          stdio: "pipe",
        });
      } catch (e) {
        status = (e as { status: number }).status;
        stderr = String((e as { stderr: string }).stderr);
      }
      expect([status, stderr.trim()]).to.deep.equal([
        2,
        `evidence needs Node.js 22.13 or later; this is ${version}. In the project, run it with the Node that npm run setup installs: npx evidence, or node_modules/.bin/node scripts/evidence.mjs`,
      ]);
    });

    it("answers usage errors with exit 2", async () => {
      expect((await runCli(["verify"])).code).to.equal(2);
      expect((await runCli(["verify", certificatePath, "--sha256", "xyz"])).code).to.equal(2);
      expect((await runCli(["verify", certificatePath, "--sha256", `0x${"ab".repeat(31)}`])).code).to.equal(2);
      expect((await runCli(["verify", certificatePath, "--bogus"])).code).to.equal(2);
      expect((await runCli(["verify", certificatePath, "--lang", "fr"])).code).to.equal(2);
      expect((await runCli(["verify", certificatePath, "--rpc", "notaurl"])).code).to.equal(2);
      expect((await runCli(["verify", certificatePath, "--rpc", "ftp://127.0.0.1:1"])).code).to.equal(2);
      for (const [flag, args] of [
        ["--pdf", ["certificate", "AAAAAAAAAAAAAAAAAAAAAA", "--json", "--pdf"]],
        ["--out", ["certificate", "AAAAAAAAAAAAAAAAAAAAAA", "--json", "--out", "x"]],
      ] as const) {
        const res = await runCli([...args]);
        expect([res.code, res.stderr.split("\n")[0]], args.join(" ")).to.deep.equal([
          2,
          `evidence certificate: --json prints the JSON certificate; it saves nothing, so it takes no ${flag}`,
        ]);
      }
      for (const args of [
        ["status", ".."],
        ["status", ""],
        ["certificate", "", "--pdf"],
      ]) {
        const res = await runCli(args);
        expect([res.code, res.stderr.split("\n")[0]], args.join(" ")).to.deep.equal([
          2,
          `evidence ${args[0]}: "${args[1]}" is not an evidence id`,
        ]);
      }
      // An option given twice would silently take the last: `--file a --file b` verifies b.
      const twice = await runCli(["verify", certificatePath, "--file", evidencePath(), "--file", certificatePath]);
      expect([twice.code, twice.stderr.split("\n")[0]]).to.deep.equal([
        2,
        "evidence verify: --file is given more than once",
      ]);
      for (const file of ["", path.join(work, "no such file"), work]) {
        const res = await runCli(["verify", certificatePath, "--file", file]);
        expect([res.code, res.stderr.split("\n")[0]], file).to.deep.equal([
          2,
          `evidence verify: --file ${file}: not a file that can be read`,
        ]);
      }
      expect((await runCli(["no-such-command"])).code).to.equal(2);
    });
  });

  describe("help", () => {
    it("lists the accounts subcommands for `evidence accounts`", async () => {
      const res = await runCli(["accounts"]);
      expect(res.code).to.equal(0);
      expect(res.stdout)
        .to.match(/accounts create/)
        .and.match(/accounts list/);
    });

    it("prints its version, and a command's help after help", async () => {
      const version = JSON.parse(readFileSync("package.json", "utf8")).version;
      for (const flag of ["--version", "-V", "version"]) {
        expect(await runCli([flag])).to.include({ code: 0, stdout: `evidence ${version}\n` });
      }
      const help = await runCli(["help", "verify"]);
      expect(help.code).to.equal(0);
      expect(help.stdout).to.equal((await runCli(["verify", "--help"])).stdout);
      expect((await runCli(["help", "accounts", "create"])).stdout).to.match(/^Usage: evidence accounts create/);
      expect((await runCli(["help", "nonsense"])).code).to.equal(2);
    });

    it("speaks Chinese in its help and its usage mistakes under a zh locale or with --lang zh", async () => {
      const zh = { LANG: "zh_CN.UTF-8", LC_ALL: "", LC_MESSAGES: "" };
      const help = await runCli(["--help"], zh);
      expect(help.stdout.split("\n").slice(0, 3)).to.deep.equal([
        "evidence — 区块链电子证据存证",
        "",
        "用法：evidence <命令> [选项]",
      ]);
      expect(help.stdout).to.match(/^ {2}verify +对照区块链核验存证证书（无需服务）$/m);
      expect((await runCli(["verify", "--help"], zh)).stdout).to.match(/^用法：evidence verify <证书…\|目录…>/);
      for (const [args, env, line] of [
        [["verify"], zh, "evidence verify：请至少给出一个证书文件或目录"],
        [
          ["verify", "c.json", "--bogus"],
          zh,
          'evidence verify：未知选项 --bogus（以“-”开头的文件名，请写在“--”之后，如 -- "--bogus"）',
        ],
        [["verify", "c.json", "--file"], zh, "evidence verify：选项 --file 后面缺少它的值"],
        [["hash", "--json=yes"], zh, "evidence hash：选项 --json 不带值"],
        [
          ["verify", "c.json", "--sha256", "xyz", "--lang", "zh"],
          { LANG: "C" },
          "evidence verify：--sha256 须为 64 个十六进制字符（前面带 0x，或 sha256sum 打印的整行，也可以）",
        ],
        [["verify", "c.json", "--lang", "fr"], zh, "evidence verify：--lang 只能是 zh 或 en，而不是“fr”"],
        [["verify", "c.json", "--lang", "fr"], { LANG: "C" }, 'evidence verify: --lang must be zh or en, got "fr"'],
        [["status", "nope", "--lang=zh"], {}, "evidence status：“nope”不是存证编号"],
        [["no-such-command"], zh, "evidence：未知命令“no-such-command”"],
      ] as const) {
        const res = await runCli([...args], env);
        expect([res.code, res.stderr.split("\n")[0]], args.join(" ")).to.deep.equal([2, line]);
      }
      // A usage mistake shows the usage in the same language.
      expect((await runCli(["verify"], zh)).stderr).to.match(/\n\n用法：evidence verify /);
    });

    it("has --help for every command", async () => {
      for (const command of [
        ["serve"],
        ["submit"],
        ["status"],
        ["certificate"],
        ["verify"],
        ["hash"],
        ["accounts", "create"],
        ["accounts", "list"],
      ]) {
        const res = await runCli([...command, "--help"]);
        expect(res.code, command.join(" ")).to.equal(0);
        expect(res.stdout, command.join(" ")).to.match(new RegExp(`^Usage: evidence ${command.join(" ")}`));
      }
    });
  });

  describe("evidence hash", () => {
    it("prints what sha256sum prints", async () => {
      const res = await runCli(["hash", evidencePath()]);
      const digest = sha256Hex(readFileSync(evidencePath()));
      expect(res.stdout).to.equal(`${digest}  ${evidencePath()}\n`);
    });

    it("writes names with a backslash, a newline or a carriage return escaped, as sha256sum does, so sha256sum -c checks them", async () => {
      const dir = tempDir("cli-hash");
      try {
        const names = ["plain.txt", "back\\slash.txt", "new\nline.txt", "carriage\rreturn.txt"];
        names.forEach((name, i) => writeFileSync(path.join(dir, name), `file ${i}`));
        const res = await runCli(["hash", ...names], {}, { cwd: dir });
        expect(res.code, res.stderr).to.equal(0);
        expect(res.stdout).to.equal(execFileSync("sha256sum", names, { cwd: dir, encoding: "utf8" }));
        writeFileSync(path.join(dir, "sums"), res.stdout);
        execFileSync("sha256sum", ["--check", "--strict", "--quiet", "sums"], { cwd: dir });
      } finally {
        await cleanUpDataDir(dir);
      }
    });

    it("names a file it cannot read on standard error, hashes the others, and exits 1", async () => {
      const res = await runCli(["hash", "/nonexistent/a.png", evidencePath(), "/"]);
      expect(res.code).to.equal(1);
      expect(res.stdout).to.equal(`${sha256Hex(readFileSync(evidencePath()))}  ${evidencePath()}\n`);
      expect(res.stderr.split("\n").filter(Boolean)).to.deep.equal([
        "evidence hash: /nonexistent/a.png: no such file or directory",
        "evidence hash: /: illegal operation on a directory",
      ]);
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
      // The running service (or one started now) on the same data takes the key.
      const list = await api((await running()).url, apiKey).get("/api/v1/evidence");
      expect(list.status).to.equal(200);
    });

    it("creates no account when its key cannot be written out (stdout is /dev/full), and says so", async () => {
      const empty = tempDir("cli-accounts");
      try {
        const res = await runCli(
          ["accounts", "create", "--name", "Lost key"],
          { DATA_DIR: empty },
          { stdout: "/dev/full" },
        );
        expect(res.code).to.equal(1);
        expect(res.stderr).to.match(/the API key could not be written out, so no account was created: ENOSPC/);
        const list = await runCli(["accounts", "list", "--json"], { DATA_DIR: empty });
        expect([list.code, list.stdout]).to.deep.equal([0, ""]);
      } finally {
        await cleanUpDataDir(empty);
      }
    });

    it("refuses words after the options (an unquoted name with a space) and creates nothing", async () => {
      const empty = tempDir("cli-accounts");
      try {
        const res = await runCli(["accounts", "create", "--name", "Acme", "Corp"], { DATA_DIR: empty });
        expect([res.code, res.stderr.split("\n")[0]]).to.deep.equal([
          2,
          'evidence accounts create: unexpected "Corp" (quote a name with spaces)',
        ]);
        expect(readdirSync(empty)).to.deep.equal([]);
      } finally {
        await cleanUpDataDir(empty);
      }
    });
  });
});
