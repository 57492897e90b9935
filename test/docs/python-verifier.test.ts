import { expect } from "chai";
import { once } from "node:events";
import { readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { cleanUpDataDir, tempDir } from "../helpers/processes.ts";
import { pythonVerifier, type PythonVerdict } from "../helpers/python-verifier.ts";

const vectors = (file: string) => new URL(`../vectors/certificate/${file}`, import.meta.url).pathname;

/**
 * The independent verifier of docs/protocol.md, Appendix A, run as printed: a court can check a
 * certificate with code it has read itself only if that code works. Against a real chain, on a
 * genuine certificate and every well-formed forgery: test/service/hostile.e2e.test.ts.
 */
describe("docs/protocol.md Appendix A: the independent Python verifier, run as printed", () => {
  let dir: string;
  let verify: (args: string[]) => Promise<PythonVerdict>;
  before(() => {
    dir = tempDir("python-verifier");
    verify = pythonVerifier(dir);
  });
  after(() => cleanUpDataDir(dir));

  for (const file of ["certificate.json", "certificate-v2.json"]) {
    it(`passes content, leaf, inclusion and signature of ${file}, and says the anchor was not checked without a node`, async () => {
      const result = await verify([vectors(file), "--file", vectors("evidence.txt")]);
      expect(result.checks).to.deep.equal({
        content: "passed",
        leaf: "passed",
        inclusion: "passed",
        anchor: "error",
        signature: "passed",
      });
      expect([result.verdict, result.exitCode]).to.deep.equal(["indeterminate", 3]);
    });
  }

  it("fails another file, an altered record and a broken proof, each by its own check", async () => {
    const certificate = JSON.parse(readFileSync(vectors("certificate-v2.json"), "utf8"));
    const write = (name: string, value: unknown) => {
      writeFileSync(path.join(dir, name), JSON.stringify(value));
      return path.join(dir, name);
    };
    const other = write("other.txt", "another file");
    const altered = write("altered.json", { ...certificate, record: { ...certificate.record, fileName: "x.png" } });
    const proof = { ...certificate.proof, path: [...certificate.proof.path].reverse() };
    const broken = write("broken.json", { ...certificate, proof });
    const failed = async (args: string[]) =>
      Object.entries((await verify(args)).checks)
        .filter(([, status]) => status === "failed")
        .map(([id]) => id);
    expect(await failed([vectors("certificate-v2.json"), "--file", other])).to.deep.equal(["content"]);
    // Version 2 signs the batch, not the record: the record is bound by its leaf hash alone.
    expect(await failed([altered])).to.deep.equal(["leaf"]);
    expect(await failed([broken])).to.deep.equal(["inclusion"]);
  });

  it("could not verify against a node whose answers are of another shape, read whatever their HTTP status, never crashing", async () => {
    // A node that answers eth_blockNumber with HTTP 500 (JSON-RPC all the same) and anchorOf with null.
    const answers: Record<string, [number, unknown]> = {
      eth_chainId: [200, "0x7a69"],
      eth_blockNumber: [500, "0x100"],
      eth_getCode: [200, "0x6080"],
      eth_call: [200, null],
    };
    const node = createServer((req, res) => {
      let body = "";
      req.on("data", (chunk: Buffer) => (body += chunk));
      req.on("end", () => {
        const { id, method } = JSON.parse(body) as { id: number; method: string };
        const [status, result] = answers[method] ?? [200, null];
        res
          .writeHead(status, { "content-type": "application/json" })
          .end(JSON.stringify({ jsonrpc: "2.0", id, result }));
      });
    });
    node.listen(0, "127.0.0.1");
    await once(node, "listening");
    try {
      const rpc = `http://127.0.0.1:${(node.address() as AddressInfo).port}`;
      const result = await verify([vectors("certificate.json"), "--rpc", rpc]);
      expect([result.checks.anchor, result.verdict, result.exitCode], result.output).to.deep.equal([
        "error",
        "indeterminate",
        3,
      ]);
      expect(result.output).to.match(/anchor +error +the node's answer is not the expected one/);
    } finally {
      node.close();
    }
  });

  describe("against a node that answers as the chain of certificate-v2.json would", () => {
    const certificate = JSON.parse(readFileSync(vectors("certificate-v2.json"), "utf8"));
    const { root, treeSize, anchor, issuer } = certificate.batch;
    const word = (n: number) => n.toString(16).padStart(64, "0");
    const quantity = (n: number) => `0x${n.toString(16)}`;
    /** The Anchored event's third topic: the anchorer, left-padded with `padding` (24 hex digits). */
    let padding = "0".repeat(24);
    let code = "0x6080";
    let node: ReturnType<typeof createServer>;
    let rpc: string;
    before(async () => {
      const answers: Record<string, () => unknown> = {
        eth_chainId: () => quantity(anchor.chainId),
        eth_blockNumber: () => quantity(anchor.blockNumber + 5),
        eth_getCode: () => code,
        eth_call: () => `0x${word(anchor.timestamp)}${word(anchor.blockNumber)}${word(treeSize)}`,
        eth_getBlockByNumber: () => ({
          hash: anchor.blockHash,
          timestamp: quantity(anchor.timestamp),
          transactions: [anchor.txHash],
        }),
        eth_getTransactionReceipt: () => ({
          status: "0x1",
          blockNumber: quantity(anchor.blockNumber),
          blockHash: anchor.blockHash,
          logs: [
            {
              address: anchor.contract,
              topics: [
                "0x657c885d7d5dd131160c24792c13cea0c72bc48d2e2121e97ce7f9faf98ec379",
                root,
                `0x${padding}${issuer.address.slice(2).toLowerCase()}`,
              ],
              data: `0x${word(treeSize)}${word(anchor.timestamp)}`,
            },
          ],
        }),
      };
      node = createServer((req, res) => {
        let body = "";
        req.on("data", (chunk: Buffer) => (body += chunk));
        req.on("end", () => {
          const { id, method } = JSON.parse(body) as { id: number; method: string };
          res
            .writeHead(200, { "content-type": "application/json" })
            .end(JSON.stringify({ jsonrpc: "2.0", id, result: answers[method]?.() ?? null }));
        });
      });
      node.listen(0, "127.0.0.1");
      await once(node, "listening");
      rpc = `http://127.0.0.1:${(node.address() as AddressInfo).port}`;
    });
    after(() => node.close());
    afterEach(() => {
      padding = "0".repeat(24);
      code = "0x6080";
    });

    it("is valid, every check passed", async () => {
      const result = await verify([vectors("certificate-v2.json"), "--file", vectors("evidence.txt"), "--rpc", rpc]);
      expect([result.verdict, result.exitCode, result.checks.anchor], result.output).to.deep.equal([
        "valid",
        0,
        "passed",
      ]);
    });

    it("reads integers written as 1.0 or 1e0 as the integers they are (§3.2 rule 6): the certificate is the same", async () => {
      const text = readFileSync(vectors("certificate-v2.json"), "utf8")
        .replace(/"leafIndex": (\d+)/, '"leafIndex": $1.0')
        .replace(/"treeSize": (\d+)/, '"treeSize": $1e0')
        .replace(/"blockNumber": (\d+)/, '"blockNumber": $1.000');
      expect(text).to.match(/"leafIndex": \d+\.0/);
      const reformatted = path.join(dir, "reformatted.json");
      writeFileSync(reformatted, text);
      const result = await verify([reformatted, "--file", vectors("evidence.txt"), "--rpc", rpc]);
      expect([result.verdict, result.exitCode], result.output).to.deep.equal(["valid", 0]);
    });

    it("could not verify, not invalid, when the registry named with --contract has no code on the node (§8.4.6): another chain", async () => {
      code = "0x";
      const named = await verify([vectors("certificate-v2.json"), "--rpc", rpc, "--contract", anchor.contract]);
      expect([named.checks.anchor, named.verdict, named.exitCode], named.output).to.deep.equal([
        "error",
        "indeterminate",
        3,
      ]);
      const unnamed = await verify([vectors("certificate-v2.json"), "--rpc", rpc]);
      expect(
        [unnamed.checks.anchor, unnamed.verdict],
        "no registry named: the certificate's contract is not there",
      ).to.deep.equal(["failed", "invalid"]);
    });

    it("takes no Anchored event whose anchorer topic is not an address (high bytes set), as ABI decoders do not (§7.2)", async () => {
      padding = "f".repeat(24);
      const result = await verify([vectors("certificate-v2.json"), "--rpc", rpc]);
      expect([result.checks.anchor, result.verdict], result.output).to.deep.equal(["failed", "invalid"]);
      expect(result.output).to.match(/anchor +failed +no Anchored event/);
    });
  });

  it("reads a certificate file an editor saved with a UTF-8 byte order mark as the same certificate (§5.1)", async () => {
    const marked = path.join(dir, "marked.json");
    writeFileSync(marked, Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), readFileSync(vectors("certificate.json"))]));
    const result = await verify([marked, "--file", vectors("evidence.txt")]);
    expect(result.checks.leaf).to.equal("passed");
    expect(result.checks.signature).to.equal("passed");
  });

  it("fails the format of a certificate file whose bytes are not UTF-8, as the reference verifier does (§8.1)", async () => {
    const broken = path.join(dir, "not-utf8.json");
    const bytes = readFileSync(vectors("certificate.json"));
    bytes[bytes.indexOf(Buffer.from('"record"')) + 2] = 0xff;
    writeFileSync(broken, bytes);
    const result = await verify([broken]);
    expect(result.checks).to.deep.equal({ format: "failed" });
    expect([result.verdict, result.exitCode]).to.deep.equal(["invalid", 1]);
  });
});
