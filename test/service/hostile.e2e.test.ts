import { expect } from "chai";
import { request } from "node:http";
import path from "node:path";
import { AbiCoder, keccak256, Wallet } from "ethers";
import { InProcessSigner } from "../../service/anchoring/signers.ts";
import { ChainClient } from "../../service/chain/chain-client.ts";
import { deployEvidenceAnchor } from "../../service/chain/deploy.ts";
import { canonicalBytes, hashLeaf, JsonRpcChainReader, toHex32 } from "../../service/core/index.ts";
import {
  api,
  cleanUpDataDir,
  freePort,
  startServiceProcess,
  tempDir,
  until,
  type ServiceProcess,
} from "../helpers/processes.ts";
import { loadVector } from "../helpers/vectors.ts";
import { readDatabase } from "../helpers/database.ts";
import { filesUnder } from "../helpers/files.ts";
import { sha256Hex } from "../helpers/hash.ts";
import { answerOf, RawConnection } from "../helpers/raw-http.ts";
import { pythonVerifier, type PythonVerdict } from "../helpers/python-verifier.ts";
import { writeFileSync } from "node:fs";

interface HttpCase {
  desc: string;
  method: string;
  path: string;
  auth: boolean;
  headers?: Record<string, string>;
  /** A header whose value is `repeat` written `count` times. */
  headerRepeat?: { name: string; repeat: string; count: number };
  body?: string;
  bodyBase64?: string;
  bodyRepeat?: { prefix: string; repeat: string; count: number; suffix: string };
  bodyNested?: number;
  /** The key whose value is nested (default items). */
  nestedKey?: string;
  status: number;
  code: string | null;
  /** A pattern the problem's detail matches: what a person reads must say what is wrong. */
  detail?: string;
  fileName?: string;
  /** The media type a 201 records. */
  mediaType?: string;
  rpcError?: number;
  /** The Allow header a 405 names. */
  allow?: string;
}

interface CertificateCase {
  desc: string;
  op:
    | "set"
    | "add"
    | "mul"
    | "push"
    | "delete"
    | "singleLeafTree"
    | "swapRecord"
    | "forgeIssuer"
    | "backdateInStorage"
    | "failedTransaction"
    | "ownRegistry"
    | "duplicateKey";
  path?: string;
  value?: unknown;
  failing: string[];
  /** Checks that could not be carried out (never reported as failures). */
  errors?: string[];
}

const httpCases = loadVector<{ cases: HttpCase[] }>("hostile/http.json").cases;
const certificateCases = loadVector<{ cases: CertificateCase[] }>("hostile/certificates.json").cases;

function bodyOf(c: HttpCase): Buffer | undefined {
  if (c.body !== undefined) return Buffer.from(c.body, "utf8");
  if (c.bodyBase64 !== undefined) return Buffer.from(c.bodyBase64, "base64");
  if (c.bodyRepeat)
    return Buffer.from(c.bodyRepeat.prefix + c.bodyRepeat.repeat.repeat(c.bodyRepeat.count) + c.bodyRepeat.suffix);
  if (c.bodyNested) {
    return Buffer.from(`{"${c.nestedKey ?? "items"}":${"[".repeat(c.bodyNested)}${"]".repeat(c.bodyNested)}}`);
  }
  return undefined;
}

/** A raw HTTP request (fetch would refuse or rewrite some of these on purpose). */
function send(
  url: string,
  c: HttpCase,
  apiKey: string,
): Promise<{ status: number; type: string; allow: string | undefined; body: any }> {
  const body = bodyOf(c);
  const headers: Record<string, string> = { ...c.headers };
  if (c.headerRepeat) headers[c.headerRepeat.name] = c.headerRepeat.repeat.repeat(c.headerRepeat.count);
  if (c.auth) headers.authorization = `Bearer ${apiKey}`;
  if (body) headers["content-length"] = String(body.length);
  return new Promise((resolve, reject) => {
    const req = request(new URL(c.path, url), { method: c.method, headers }, (res) =>
      answerOf(res).then(
        (a) =>
          resolve({
            status: a.status,
            type: String(a.headers["content-type"]),
            allow: a.headers.allow as string | undefined,
            body: a.body,
          }),
        reject,
      ),
    );
    // A server may answer (413) and close before reading a body it refuses: the answer counts,
    // not the broken pipe of the rest of the upload.
    req.on("error", (e: NodeJS.ErrnoException) => {
      if (e.code !== "EPIPE" && e.code !== "ECONNRESET") reject(e);
    });
    req.on("close", () => setTimeout(() => reject(new Error("the connection closed without an answer")), 1_000));
    req.end(body);
  });
}

/** Applies one mutation to a certificate (a JSON value); `path` is dot-separated. */
function mutate(certificate: any, c: CertificateCase, other: any): any {
  const copy = structuredClone(certificate);
  if (c.op === "swapRecord") {
    copy.record = other.record;
    return copy;
  }
  if (c.op === "singleLeafTree") {
    // A correct proof — the record alone as a tree of one — to a root nobody anchored.
    const leaf = toHex32(hashLeaf(canonicalBytes(copy.record)));
    copy.leafHash = leaf;
    copy.proof = { ...copy.proof, leafIndex: 0, treeSize: 1, path: [], root: leaf };
    return copy;
  }
  const keys = c.path!.split(".");
  const last = keys.pop()!;
  const parent = keys.reduce((o, k) => o[k], copy);
  if (c.op === "set") parent[last] = c.value;
  if (c.op === "add") parent[last] += c.value as number;
  if (c.op === "mul") parent[last] *= c.value as number;
  if (c.op === "push") parent[last].push(c.value);
  if (c.op === "delete") delete parent[last];
  return copy;
}

/** A key that anchored nothing: a forger's. */
const FORGER_KEY = "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a";

/** Signs a version 1 certificate as `issuer` (the forger names itself). */
async function signAs(certificate: any, key: string): Promise<any> {
  const signer = new InProcessSigner(key);
  const { signature: _, ...unsigned } = certificate;
  unsigned.issuer = { address: signer.address, name: "Evidence Anchor" };
  const [signature] = await signer.signMessages([canonicalBytes(unsigned)]);
  return { ...unsigned, signature };
}

/**
 * What someone with the embedded chain's development methods (any process on its machine)
 * can do: write an anchor record straight into the contract's storage. EvidenceAnchor keeps
 * `_anchors` in slot 1 (after AccessControl's `_roles`), one packed word per root:
 * timestamp | blockNumber << 64 | treeSize << 128.
 */
async function writeAnchor(
  chainUrl: string,
  contract: string,
  root: string,
  a: { timestamp: number; blockNumber: number; treeSize: number },
): Promise<void> {
  const slot = keccak256(AbiCoder.defaultAbiCoder().encode(["bytes32", "uint256"], [root, 1]));
  const word = (BigInt(a.treeSize) << 128n) | (BigInt(a.blockNumber) << 64n) | BigInt(a.timestamp);
  await new JsonRpcChainReader(chainUrl).request("anvil_setStorageAt", [contract, slot, toHex32(hexBytes(word))]);
}

function hexBytes(value: bigint): Uint8Array {
  return Uint8Array.from(Buffer.from(value.toString(16).padStart(64, "0"), "hex"));
}

/** A certificate for a root of one leaf (the record alone), as a forger would build it. */
function singleLeaf(certificate: any, contentHash: string): any {
  const copy = structuredClone(certificate);
  copy.record = { ...copy.record, contentHash, id: "ForgedEvidence00000000" };
  const leaf = toHex32(hashLeaf(canonicalBytes(copy.record)));
  copy.leafHash = leaf;
  copy.proof = { ...copy.proof, leafIndex: 0, treeSize: 1, path: [], root: leaf };
  return copy;
}

/** The forged certificate of a case: a JSON value, or the exact text when the forgery is in the text. */
async function forge(c: CertificateCase, certificate: any, other: any, chainUrl: string): Promise<any> {
  const rpc = new JsonRpcChainReader(chainUrl);
  switch (c.op) {
    case "forgeIssuer":
      return signAs(certificate, FORGER_KEY);
    case "backdateInStorage": {
      const forged = singleLeaf(certificate, sha256Hex("a file made later, dated 2020"));
      forged.anchor.timestamp = Date.UTC(2020, 0, 1) / 1000;
      await writeAnchor(chainUrl, forged.anchor.contract, forged.proof.root, { ...forged.anchor, treeSize: 1 });
      return signAs(forged, FORGER_KEY);
    }
    case "failedTransaction": {
      // A transaction that reverted (anchoring a root a second time), mined in its own block.
      const forged = singleLeaf(certificate, sha256Hex("a file anchored by a failed transaction"));
      const nonce = Number(await rpc.request("eth_getTransactionCount", [new Wallet(FORGER_KEY).address, "latest"]));
      await rpc.request("anvil_setBalance", [new Wallet(FORGER_KEY).address, "0x3635C9ADC5DEA00000"]);
      const tx = await new Wallet(FORGER_KEY).signTransaction({
        to: certificate.anchor.contract,
        data: "0x0000000000",
        gasLimit: 100_000,
        gasPrice: 10_000_000_000n,
        nonce,
        chainId: certificate.anchor.chainId,
      });
      const txHash = (await rpc.request("eth_sendRawTransaction", [tx])) as string;
      await rpc.request("evm_mine", []);
      const receipt = (await rpc.request("eth_getTransactionReceipt", [txHash])) as {
        blockNumber: string;
        blockHash: string;
        status: string;
      };
      expect(receipt.status, "the transaction failed on chain").to.equal("0x0");
      const block = await rpc.block(Number(receipt.blockNumber));
      forged.anchor = {
        ...forged.anchor,
        txHash,
        blockNumber: Number(receipt.blockNumber),
        blockHash: block!.hash,
        timestamp: block!.timestamp,
      };
      await writeAnchor(chainUrl, forged.anchor.contract, forged.proof.root, { ...forged.anchor, treeSize: 1 });
      return signAs(forged, FORGER_KEY);
    }
    case "ownRegistry": {
      // Every step real: the forger deploys an EvidenceAnchor of its own on the service's chain,
      // anchors the root there and signs as the issuer that anchored it. Only the registry is not
      // the service's.
      const forger = new Wallet(FORGER_KEY);
      await rpc.request("anvil_setBalance", [forger.address, "0x3635C9ADC5DEA00000"]);
      const tx = { gasPrice: undefined, legacy: false };
      const { contract } = await deployEvidenceAnchor({
        rpcUrl: chainUrl,
        deployer: forger,
        anchorers: [forger.address],
        tx,
      });
      const forged = singleLeaf(certificate, sha256Hex("a file anchored in the forger's own registry"));
      const client = new ChainClient(chainUrl, forged.anchor.chainId, forger, contract, tx);
      try {
        const sent = await client.sendAnchor(forged.proof.root, 1);
        if (sent.kind !== "sent") throw new Error("the forger's root was anchored already");
        await client.waitForReceipt(sent.txHash, 1, 30_000);
        const location = await client.locate(forged.proof.root);
        if (!location) throw new Error("the forger's root is not in its registry");
        const { txHash, blockNumber, blockHash, timestamp } = location;
        forged.anchor = { ...forged.anchor, txHash, blockNumber, blockHash, timestamp, contract };
      } finally {
        client.destroy();
      }
      return signAs(forged, FORGER_KEY);
    }
    case "duplicateKey":
      return JSON.stringify(certificate).replace(
        '"contentHash":',
        `"contentHash":"${sha256Hex("another file")}","contentHash":`,
      );
    default:
      return mutate(certificate, c, other);
  }
}

describe("hostile input (test/vectors/hostile/, a real service process)", function () {
  this.timeout(120_000);
  let service: ServiceProcess;
  let dataDir: string;

  let chainUrl: string;

  before(async () => {
    dataDir = tempDir("hostile");
    const chainPort = await freePort();
    chainUrl = `http://127.0.0.1:${chainPort}`;
    service = await startServiceProcess(dataDir, {
      MAX_FILES_PER_REQUEST: "3",
      MAX_FILE_BYTES: String(1024 * 1024),
      LOCAL_CHAIN_PORT: String(chainPort),
      // The mutations below are of version 1 certificates; version 2's are in test/core/verify.test.ts.
      CERTIFICATE_VERSION: "1",
      // No time-stamp authority: the checks under test here are the chain's and the signature's.
      TSA_URLS: "",
      // The forgeries below use the development node's admin methods, as its operator can:
      // on loopback, not shut in its own network namespace behind the gateway.
      LOCAL_CHAIN_ISOLATION: "loopback",
    });
  });

  after(async () => {
    await service?.stop();
    await cleanUpDataDir(dataDir);
  });

  describe("requests", () => {
    /** What the service holds: its evidence rows, its stored objects, its staged uploads. */
    const holdings = () => ({
      evidence: readDatabase<{ id: string }>(dataDir, "SELECT id FROM evidence ORDER BY id").map((r) => r.id),
      objects: filesUnder(path.join(dataDir, "objects")),
      temporary: filesUnder(path.join(dataDir, "tmp")),
    });
    /** The items answered 201 so far: the only evidence there may be. */
    const acknowledged: string[] = [];

    for (const c of httpCases) {
      it(`answers ${c.status}${c.code ? ` ${c.code}` : ""} to ${c.desc}${c.status === 201 ? "" : ", recording nothing"}`, async () => {
        const before = holdings();
        const res = await send(service.url, c, service.apiKey!);
        expect(res.status, JSON.stringify(res.body)).to.equal(c.status);
        if (c.code) {
          expect(res.type).to.match(/^application\/problem\+json/);
          expect(res.body.code).to.equal(c.code);
        }
        if (c.detail) expect(res.body.detail).to.match(new RegExp(c.detail));
        if (c.fileName) expect(res.body.items[0].record.fileName).to.equal(c.fileName);
        if (c.mediaType) expect(res.body.items[0].record.mediaType).to.equal(c.mediaType);
        if (c.rpcError) expect(res.body.error.code).to.equal(c.rpcError);
        expect(res.allow, "Allow").to.equal(c.allow);
        // No partial record: a refused request leaves the database and the object store as
        // they were (its staged files are removed as it ends); an accepted one adds exactly its items.
        const items: { id: string; contentHash: string }[] = c.status === 201 ? res.body.items : [];
        acknowledged.push(...items.map((i) => i.id));
        const expected = {
          evidence: [...before.evidence, ...items.map((i) => i.id)].sort(),
          objects: [
            ...new Set([...before.objects, ...items.map((i) => path.join(i.contentHash.slice(0, 2), i.contentHash))]),
          ].sort(),
          // Staged files of this request and of earlier ones (a refused upload's may appear after
          // its answer, while the store finishes the write it began) are all gone once settled.
          temporary: [],
        };
        await until(
          async () => (JSON.stringify(holdings()) === JSON.stringify(expected) ? true : undefined),
          "the service's holdings to settle",
          10_000,
        ).catch((e: Error) => {
          e.message += `: expected ${JSON.stringify(expected)}, found ${JSON.stringify(holdings())}`;
          throw e;
        });
      });
    }

    for (const [desc, bytes, status, code] of [
      ["bytes that are not HTTP", "GARBAGE\r\n\r\n", 400, "BAD_REQUEST"],
      ["an HTTP/1.1 request without Host", "GET /healthz HTTP/1.1\r\n\r\n", 400, "BAD_REQUEST"],
      [
        "a request with both Content-Length and chunked encoding",
        "POST /api/v1/verify HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        400,
        "BAD_REQUEST",
      ],
    ] as const) {
      it(`answers ${status} ${code} as problem+json to ${desc}, before any route`, async () => {
        const connection = await RawConnection.open(service.url);
        try {
          connection.write(bytes);
          const answer = await connection.answer();
          expect([answer.status, answer.headers["content-type"], JSON.parse(answer.body).code]).to.deep.equal([
            status,
            "application/problem+json",
            code,
          ]);
        } finally {
          connection.destroy();
        }
      });
    }

    it("is still alive, logged no internal error, and holds only the evidence it acknowledged and no temporary file", async () => {
      const health = await api(service.url).get("/healthz");
      expect(health.status).to.equal(200);
      expect(service.child.exitCode).to.equal(null);
      expect(service.output()).not.to.match(/INTERNAL|TypeError|ReferenceError/);
      expect(holdings().evidence).to.deep.equal([...acknowledged].sort());
      expect(holdings().temporary).to.deep.equal([]);
    });
  });

  describe("certificates", () => {
    let certificate: any;
    let other: any;
    /** The independent verifier of docs/protocol.md, Appendix A, run as printed, naming the service's registry. */
    let python: (certificate: unknown) => Promise<PythonVerdict>;
    before(async () => {
      const client = api(service.url, service.apiKey);
      // Nothing else pending: the two items below make a batch of exactly two.
      await client.settled();
      const { body } = await client.postJson("/api/v1/evidence/digests", {
        items: [{ contentHash: sha256Hex("one"), fileName: "one.png" }, { contentHash: sha256Hex("two") }],
      });
      certificate = await client.anchored(body.items[0].id);
      expect(certificate.proof).to.include({ leafIndex: 0, treeSize: 2 });
      other = await client.anchored(body.items[1].id);
      const res = await client.postJson("/api/v1/verify", { certificate });
      expect(res.body.valid, "the unmutated certificate is valid").to.equal(true);
      const run = pythonVerifier(dataDir);
      let n = 0;
      python = (value) => {
        const file = path.join(dataDir, `forged-${n++}.json`);
        writeFileSync(file, typeof value === "string" ? value : JSON.stringify(value));
        return run([file, "--rpc", chainUrl, "--contract", certificate.anchor.contract]);
      };
      const genuine = await python(certificate);
      expect([genuine.verdict, genuine.checks], genuine.output).to.deep.equal([
        "valid",
        { content: "skipped", leaf: "passed", inclusion: "passed", anchor: "passed", signature: "passed" },
      ]);
    });

    for (const c of certificateCases) {
      it(`rejects ${c.desc}, failing ${c.failing.join(", ")}${c.errors ? `, unable to check ${c.errors.join(", ")}` : ""}`, async () => {
        const forged = await forge(c, certificate, other, chainUrl);
        const res = await api(service.url).postJson(
          "/api/v1/verify",
          typeof forged === "string" ? `{"certificate":${forged}}` : { certificate: forged },
        );
        expect(res.status).to.equal(200);
        expect(res.body.valid).to.equal(false);
        const failed = res.body.checks
          .filter((x: { status: string }) => x.status === "failed")
          .map((x: { id: string }) => x.id);
        expect(failed).to.deep.equal(c.failing);
        const errors = res.body.checks
          .filter((x: { status: string }) => x.status === "error")
          .map((x: { id: string }) => x.id);
        expect(errors).to.deep.equal(c.errors ?? []);
        // The independent verifier of docs/protocol.md, Appendix A, agrees on every check it makes
        // (it expects a certificate that passed the format check).
        if (!c.failing.includes("format")) {
          const independent = await python(forged);
          const its = (status: string) =>
            Object.entries(independent.checks)
              .filter(([, s]) => s === status)
              .map(([id]) => id);
          const ours = (ids: string[]) => ids.filter((id) => id in independent.checks);
          expect([its("failed"), its("error")], independent.output).to.deep.equal([
            ours(c.failing),
            ours(c.errors ?? []),
          ]);
        }
      });
    }
  });
});
