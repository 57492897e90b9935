import { expect } from "chai";
import { writeFileSync } from "node:fs";
import type { ServerResponse } from "node:http";
import path from "node:path";
import { memberServiceOn } from "../helpers/consortium.ts";
import { JsonRpcProxy, type ReceivedCall } from "../helpers/json-rpc-proxy.ts";
import {
  api,
  cleanUpDataDir,
  runCli,
  startChainNode,
  startServiceProcess,
  tempDir,
  type ChainNode,
  type ServiceProcess,
} from "../helpers/processes.ts";
import { sha256Hex } from "../helpers/hash.ts";
import { pythonVerifier, type PythonVerdict } from "../helpers/python-verifier.ts";

/** The reads of the contract's state, whose last parameter is the block whose state is read. */
const STATE_READS = new Set(["eth_call", "eth_getCode"]);

/**
 * A node (or a pool of nodes behind one address) whose answers about the contract's state at
 * "latest" are those of block `stateAt`, older than the newest block it reports. With `hasBlocksAfter`
 * false it is the pool's lagging member for everything but the height: it has no block past
 * `stateAt`, so a read at a later block is an error and a later block or receipt is null.
 */
function lagging(upstream: string, stateAt: number, hasBlocksAfter: boolean) {
  const hex = (n: number) => `0x${n.toString(16)}`;
  const forward = async (call: ReceivedCall): Promise<unknown> => {
    const res = await fetch(upstream, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(call),
    });
    return res.json();
  };
  const answer = async (call: ReceivedCall): Promise<unknown> => {
    const params = (call.params ?? []) as unknown[];
    const beyond = (tag: unknown) => typeof tag === "string" && tag.startsWith("0x") && Number(tag) > stateAt;
    if (STATE_READS.has(call.method ?? "")) {
      const tag = params.at(-1);
      if (tag === "latest") return forward({ ...call, params: [...params.slice(0, -1), hex(stateAt)] });
      if (!hasBlocksAfter && beyond(tag))
        return { jsonrpc: "2.0", id: call.id, error: { code: -32000, message: "header not found" } };
    }
    if (!hasBlocksAfter && call.method === "eth_getBlockByNumber" && beyond(params[0])) {
      return { jsonrpc: "2.0", id: call.id, result: null };
    }
    const answered = (await forward(call)) as { result?: { blockNumber?: string } | null };
    if (!hasBlocksAfter && call.method === "eth_getTransactionReceipt" && beyond(answered.result?.blockNumber)) {
      return { ...answered, result: null };
    }
    return answered;
  };
  return () => async (received: ReceivedCall[], res: ServerResponse) => {
    const answers = await Promise.all(received.map(answer));
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify(received.length === 1 ? answers[0] : answers));
  };
}

describe("evidence verify against a node whose state lags the block it reports (real chain node behind a proxy, the CLI and the Python verifier)", function () {
  this.timeout(120_000);
  let chain: ChainNode;
  let service: ServiceProcess;
  let dataDir: string;
  let certificate: any;
  let certificatePath: string;
  let anchoredAt: number;
  let python: (args: string[]) => Promise<PythonVerdict>;
  const proxies: JsonRpcProxy[] = [];

  before(async () => {
    chain = await startChainNode({ chainId: 7272 });
    dataDir = tempDir("lagging-node");
    service = await startServiceProcess(dataDir, await memberServiceOn(chain.url, dataDir));
    const client = api(service.url, service.apiKey);
    const { body } = await client.postJson("/api/v1/evidence/digests", {
      items: [{ contentHash: sha256Hex("read while the block was imported") }],
    });
    certificate = await client.anchored(body.items[0].id);
    anchoredAt = certificate.batch.anchor.blockNumber;
    certificatePath = path.join(dataDir, "honest.evidence.json");
    writeFileSync(certificatePath, JSON.stringify(certificate));
    python = pythonVerifier(dataDir);
  });

  after(async () => {
    await service?.stop();
    for (const proxy of proxies) await proxy.stop();
    await chain?.stop();
    await cleanUpDataDir(dataDir);
  });

  const proxy = async (hasBlocksAfter: boolean): Promise<JsonRpcProxy> => {
    const started = await JsonRpcProxy.start(chain.url, {
      intercept: lagging(chain.url, anchoredAt - 1, hasBlocksAfter),
    });
    proxies.push(started);
    return started;
  };
  const verify = (file: string, rpc: string) => runCli(["verify", file, "--rpc", rpc, "--json"]);
  const anchorCheck = (out: string) =>
    (JSON.parse(out).checks as { id: string; status: string; reason: { code: string } }[]).find(
      (c) => c.id === "anchor",
    )!;

  it("is VALID when the newest state trails the reported head but the state at that head holds the anchor (a node importing the block)", async () => {
    const node = await proxy(true);
    const res = await verify(certificatePath, node.url);
    expect(res.code, res.stdout + res.stderr).to.equal(0);
    expect(JSON.parse(res.stdout).verdict).to.equal("valid");
    const pinned = node.calls("eth_call").filter((c) => (c.params as unknown[])[1] !== "latest");
    expect(pinned.length, "the zero answer at latest was read again at a block").to.be.greaterThan(0);

    const independent = await python([certificatePath, "--rpc", node.url]);
    expect([independent.verdict, independent.checks.anchor], independent.output).to.deep.equal(["valid", "passed"]);
  });

  it("could not verify (exit 3, never INVALID) through a pool whose member that answers has not reached the anchoring block", async () => {
    const pool = await proxy(false);
    const res = await verify(certificatePath, pool.url);
    expect(res.code, res.stdout + res.stderr).to.equal(3);
    const anchor = anchorCheck(res.stdout);
    expect([JSON.parse(res.stdout).verdict, anchor.status]).to.deep.equal(["indeterminate", "error"]);
    expect(anchor.reason.code).to.equal("anchor.unreachable");

    const independent = await python([certificatePath, "--rpc", pool.url]);
    expect([independent.verdict, independent.checks.anchor], independent.output).to.deep.equal([
      "indeterminate",
      "error",
    ]);
  });

  it("still fails a root that was never anchored through the same node, by the state at a block it has", async () => {
    const node = await proxy(true);
    const forged = structuredClone(certificate);
    forged.batch.root = `0x${sha256Hex("a root nobody anchored")}`;
    const file = path.join(dataDir, "never-anchored.evidence.json");
    writeFileSync(file, JSON.stringify(forged));
    const res = await verify(file, node.url);
    expect(res.code, res.stdout + res.stderr).to.equal(1);
    expect(anchorCheck(res.stdout).reason.code).to.equal("anchor.never-anchored");
  });
});
