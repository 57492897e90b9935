import { expect } from "chai";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { evidenceAnchorInterface } from "../../service/core/index.ts";
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

const ANCHOR_OF = evidenceAnchorInterface.getFunction("anchorOf")!.selector;
const A_DAY = 86_400;

/**
 * A node that lies about one thing: the contract's record of an anchor. Its answer to
 * `anchorOf` says the root was anchored a day earlier; every other answer is the real
 * chain's (blocks, receipts, code).
 */
function backdatingAnchors(call: ReceivedCall, answer: Record<string, unknown>): Record<string, unknown> {
  const params = call.params as [{ data?: string }] | undefined;
  if (call.method !== "eth_call" || !params?.[0]?.data?.startsWith(ANCHOR_OF) || typeof answer.result !== "string")
    return answer;
  const [timestamp, blockNumber, treeSize] = evidenceAnchorInterface.decodeFunctionResult("anchorOf", answer.result);
  const result = evidenceAnchorInterface.encodeFunctionResult("anchorOf", [
    BigInt(timestamp) - BigInt(A_DAY),
    blockNumber,
    treeSize,
  ]);
  return { ...answer, result };
}

describe("evidence verify against a node that lies about an anchor (real chain node behind a lying proxy, the CLI)", function () {
  this.timeout(120_000);
  let chain: ChainNode;
  let liar: JsonRpcProxy;
  let service: ServiceProcess;
  let dataDir: string;
  let certificate: any;
  let certificatePath: string;

  before(async () => {
    chain = await startChainNode({ chainId: 7171 });
    dataDir = tempDir("lying-node");
    service = await startServiceProcess(dataDir, await memberServiceOn(chain.url, dataDir));
    const client = api(service.url, service.apiKey);
    const { body } = await client.postJson("/api/v1/evidence/digests", {
      items: [{ contentHash: sha256Hex("lied about") }],
    });
    certificate = await client.anchored(body.items[0].id);
    certificatePath = path.join(dataDir, "honest.evidence.json");
    writeFileSync(certificatePath, JSON.stringify(certificate));
    liar = await JsonRpcProxy.start(chain.url, { rewrite: backdatingAnchors });
  });

  after(async () => {
    await service?.stop();
    await liar?.stop();
    await chain?.stop();
    await cleanUpDataDir(dataDir);
  });

  const verify = (file: string, rpc: string) => runCli(["verify", file, "--rpc", rpc, "--json"]);
  const failed = (out: string) =>
    (JSON.parse(out).checks as { id: string; status: string }[]).filter((c) => c.status === "failed").map((c) => c.id);

  it("is VALID against the honest node", async () => {
    const res = await verify(certificatePath, chain.url);
    expect(res.code, res.stdout + res.stderr).to.equal(0);
    expect(JSON.parse(res.stdout).verdict).to.equal("valid");
  });

  it("fails anchor for an honest certificate when the node back-dates the contract's record (exit 1)", async () => {
    const res = await verify(certificatePath, liar.url);
    expect(res.code, res.stdout + res.stderr).to.equal(1);
    expect(failed(res.stdout)).to.deep.equal(["anchor"]);
    const anchor = JSON.parse(res.stdout).checks.find((c: { id: string }) => c.id === "anchor");
    const stated = certificate.batch.anchor.timestamp;
    expect(anchor.reason).to.deep.include({ code: "anchor.time-differs", onChain: stated - A_DAY, stated });
    expect(liar.calls("eth_call").length, "the verifier read the anchor from the liar").to.be.greaterThan(0);
  });

  it("fails anchor for a certificate back-dated to agree with the lying node: the block's own time differs (exit 1)", async () => {
    const forged = structuredClone(certificate);
    forged.batch.anchor.timestamp -= A_DAY;
    const file = path.join(dataDir, "backdated.evidence.json");
    writeFileSync(file, JSON.stringify(forged));
    const res = await verify(file, liar.url);
    expect(res.code, res.stdout + res.stderr).to.equal(1);
    const result = JSON.parse(res.stdout);
    expect(failed(res.stdout)).to.deep.equal(["anchor", "signature"]);
    const anchor = result.checks.find((c: { id: string }) => c.id === "anchor");
    expect(anchor.reason).to.deep.include({
      code: "anchor.block-time-differs",
      blockNumber: certificate.batch.anchor.blockNumber,
      onChain: certificate.batch.anchor.timestamp,
      stated: certificate.batch.anchor.timestamp - A_DAY,
    });
  });
});
