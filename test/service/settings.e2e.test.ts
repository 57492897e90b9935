import { expect } from "chai";
import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import path from "node:path";
import qrcode from "qrcode-generator";
import { claimsOf, JsonRpcChainReader, verifyCertificate } from "../../service/core/index.ts";
import { launchBrowser } from "../helpers/browser.ts";
import { memberServiceOn } from "../helpers/consortium.ts";
import { readDatabase } from "../helpers/database.ts";
import { JsonRpcProxy } from "../helpers/json-rpc-proxy.ts";
import {
  api,
  cleanUpDataDir,
  freePort,
  runCli,
  startChainNode,
  startServiceProcess,
  tempDir,
  until,
  type ChainNode,
  type ServiceProcess,
} from "../helpers/processes.ts";
import { pdfQrMismatches } from "../helpers/qr.ts";
import { sha256Hex } from "../helpers/hash.ts";

const ISSUER_NAME = "示例公证处 Example Notary Office";
const PUBLIC_URL = "https://evidence.example.org";

describe("service settings in effect (real processes, an external chain node)", function () {
  this.timeout(120_000);

  describe("CONFIRMATIONS, ISSUER_NAME and PUBLIC_URL (a node that mines only when told)", () => {
    let chain: ChainNode;
    let node: JsonRpcProxy;
    let rpc: JsonRpcChainReader;
    let service: ServiceProcess;
    let url: string;
    let dataDir: string;

    before(async () => {
      chain = await startChainNode({ chainId: 5151 });
      rpc = new JsonRpcChainReader(chain.url);
      dataDir = tempDir("settings");
      const env = await memberServiceOn(chain.url, dataDir);
      // The service's reads are recorded, to know when it has looked at the chain.
      node = await JsonRpcProxy.start(chain.url);
      await rpc.request("evm_setAutomine", [false]);
      const port = await freePort();
      url = `http://127.0.0.1:${port}`;
      service = await startServiceProcess(dataDir, {
        ...env,
        CHAIN_RPC_URL: node.url,
        PORT: String(port),
        CONFIRMATIONS: "3",
        ISSUER_NAME,
        PUBLIC_URL,
        // No transaction is sent twice while the test holds the blocks back.
        RECEIPT_TIMEOUT_MS: "600000",
      });
    });

    after(async () => {
      await service?.stop();
      await node?.stop();
      await chain?.stop();
      await cleanUpDataDir(dataDir);
    });

    /** Submits one digest and waits until the transaction anchoring it is in the node's pool. */
    async function submitAndSend(name: string): Promise<{ id: string; txHash: string; root: string }> {
      const { body } = await api(url, service.apiKey).postJson("/api/v1/evidence/digests", {
        items: [{ contentHash: sha256Hex(name) }],
      });
      const id: string = body.items[0].id;
      const sent = await until(async () => {
        const [row] = readDatabase<{ tx_hash: string | null; root: string }>(
          dataDir,
          "SELECT b.tx_hash, b.root FROM evidence e JOIN batches b ON b.id = e.batch_id WHERE e.id = ?",
          id,
        );
        return row?.tx_hash ? { txHash: row.tx_hash, root: row.root } : undefined;
      }, "the anchoring transaction to be sent");
      return { id, ...sent };
    }

    /**
     * Mines one block, then waits until the service has found the anchor twice since (a whole
     * anchoring round has seen the new block, confirmations counted), or has certified the item.
     * Finding the anchor reads its event: one eth_getLogs naming the root per round.
     */
    async function mineAndLetTheServiceLook(id: string, root: string): Promise<void> {
      await rpc.request("evm_mine", []);
      const seen = node.received.length;
      const rounds = () =>
        node.received
          .slice(seen)
          .filter((c) => c.method === "eth_getLogs" && JSON.stringify(c.params).includes(root.slice(2))).length;
      await until(
        async () =>
          rounds() >= 2 || (await api(url).get(`/api/v1/evidence/${id}`)).body.certificate ? true : undefined,
        "the service to find the anchor in two rounds",
      );
    }

    async function anchored(name: string): Promise<any> {
      const { id } = await submitAndSend(name);
      for (let i = 0; i < 3; i++) await rpc.request("evm_mine", []);
      return api(url).anchored(id);
    }

    it("issues no certificate until the anchoring block has 3 confirmations (CONFIRMATIONS=3)", async () => {
      const { id, txHash, root } = await submitAndSend("confirmations");
      await mineAndLetTheServiceLook(id, root);
      const receipt = (await rpc.request("eth_getTransactionReceipt", [txHash])) as { blockNumber: string };
      const minedIn = Number(receipt.blockNumber);
      for (const confirmations of [1, 2]) {
        if (confirmations === 2) await mineAndLetTheServiceLook(id, root);
        expect(await rpc.blockNumber()).to.equal(minedIn + confirmations - 1);
        const view = (await api(url).get(`/api/v1/evidence/${id}`)).body;
        expect([view.status, view.certificate], `${confirmations} confirmation(s)`).to.deep.equal([
          "anchoring",
          undefined,
        ]);
      }
      await rpc.request("evm_mine", []);
      const certificate = await api(url).anchored(id);
      expect(certificate.batch.anchor.blockNumber).to.equal(minedIn);
      expect(await rpc.blockNumber()).to.equal(minedIn + 2);
      expect((await verifyCertificate(certificate, { chain: rpc })).valid).to.equal(true);
    });

    it("names the issuer ISSUER_NAME in the certificate it signs", async () => {
      const certificate = await anchored("issuer name");
      expect(claimsOf(certificate).issuer.name).to.equal(ISSUER_NAME);
      const result = await verifyCertificate(certificate, { chain: rpc });
      expect([result.valid, result.claims?.issuer.name]).to.deep.equal([true, ISSUER_NAME]);
    });

    it("puts PUBLIC_URL in /api/v1/site, in the certificate document's verify link and QR code, and in the page's QR code", async () => {
      const certificate = await anchored("public url");
      const id = certificate.record.id;
      const verifyUrl = `${PUBLIC_URL}/verify?id=${id}`;
      expect((await api(url).get("/api/v1/site")).body.publicUrl).to.equal(PUBLIC_URL);

      const pdf = Buffer.from(await (await fetch(`${url}/api/v1/evidence/${id}/certificate.pdf`)).arrayBuffer());
      const pdfFile = path.join(dataDir, "certificate.pdf");
      writeFileSync(pdfFile, pdf);
      const text = execFileSync("pdftotext", ["-raw", "-enc", "UTF-8", pdfFile, "-"], { encoding: "utf8" }).replace(
        /\s+/g,
        "",
      );
      expect(text).to.include(verifyUrl);
      expect(pdf.toString("latin1")).to.include(`/URI (${verifyUrl})`);
      expect(pdfQrMismatches(pdfFile, verifyUrl), "modules of the document's QR code").to.deep.equal([]);

      const browser = await launchBrowser();
      try {
        const page = await browser.newPage();
        await page.goto(`${url}/verify?id=${id}`);
        await page.waitForSelector("#verdict.valid");
        await page.waitForFunction(() => (document.querySelector("#qr") as HTMLImageElement).src.startsWith("data:"));
        const expected = qrcode(0, "M");
        expected.addData(verifyUrl);
        expected.make();
        expect(await page.getAttribute("#qr", "src")).to.equal(expected.createDataURL(4, 2));
      } finally {
        await browser.close();
      }
    });
  });

  describe("LEGACY_TRANSACTIONS", () => {
    let chain: ChainNode;
    let dataDir: string;
    let service: ServiceProcess | undefined;

    before(async () => {
      chain = await startChainNode({ chainId: 5252 });
      dataDir = tempDir("settings-legacy");
    });

    after(async () => {
      await service?.stop();
      await chain?.stop();
      await cleanUpDataDir(dataDir);
    });

    async function anchoringTransactionType(env: Record<string, string>, key: string, name: string): Promise<string> {
      service = await startServiceProcess(dataDir, env);
      const { body } = await api(service.url, key).postJson("/api/v1/evidence/digests", {
        items: [{ contentHash: sha256Hex(name) }],
      });
      const certificate = await api(service.url).anchored(body.items[0].id);
      await service.stop();
      const tx = (await new JsonRpcChainReader(chain.url).request("eth_getTransactionByHash", [
        certificate.batch.anchor.txHash,
      ])) as {
        type: string;
      };
      return tx.type;
    }

    it("anchors with type-0 transactions when set, and EIP-1559 (type 2) ones when not, on the same chain", async () => {
      const env = { ...(await memberServiceOn(chain.url, dataDir)), DEV_ACCOUNT: "false" };
      const created = await runCli(["accounts", "create", "--name", "legacy", "--json"], { DATA_DIR: dataDir });
      const key: string = JSON.parse(created.stdout).apiKey;
      expect(await anchoringTransactionType({ ...env, LEGACY_TRANSACTIONS: "true" }, key, "legacy")).to.equal("0x0");
      expect(await anchoringTransactionType(env, key, "eip-1559")).to.equal("0x2");
    });
  });

  describe("BATCH_MAX_ITEMS", () => {
    let service: ServiceProcess;
    let dataDir: string;

    before(async () => {
      dataDir = tempDir("settings-batch");
      // An hour's wait: a batch can only be sealed by filling it.
      service = await startServiceProcess(dataDir, { BATCH_MAX_ITEMS: "5", BATCH_MAX_WAIT_MS: "3600000" });
    });

    after(async () => {
      await service?.stop();
      await cleanUpDataDir(dataDir);
    });

    const submit = async (names: string[]): Promise<string[]> => {
      const { body } = await api(service.url, service.apiKey).postJson("/api/v1/evidence/digests", {
        items: names.map((n) => ({ contentHash: sha256Hex(`batch ${n}`) })),
      });
      return body.items.map((i: { id: string }) => i.id);
    };

    it("seals a batch as soon as it holds 5 items, without waiting, and leaves the rest pending", async () => {
      // Three, then two: the three wait for the two, and the five are sealed together.
      const first = await submit(["a", "b", "c"]);
      const second = await submit(["d", "e"]);
      const certificates = await Promise.all([...first, ...second].map((id) => api(service.url).anchored(id)));
      expect(new Set(certificates.map((c) => c.batch.root)).size, "one batch").to.equal(1);
      expect(certificates.map((c) => [c.batch.treeSize, c.proof.leafIndex])).to.deep.equal(
        [0, 1, 2, 3, 4].map((i) => [5, i]),
      );
      // Seven at once: a batch of five, and two left to wait for more.
      const seven = await submit(["f", "g", "h", "i", "j", "k", "l"]);
      const sealed = await Promise.all(seven.slice(0, 5).map((id) => api(service.url).anchored(id)));
      expect(sealed.map((c) => c.batch.treeSize)).to.deep.equal([5, 5, 5, 5, 5]);
      for (const id of seven.slice(5)) {
        expect((await api(service.url).get(`/api/v1/evidence/${id}`)).body.status, id).to.equal("pending");
      }
    });
  });
});
