import { expect } from "chai";
import { readFileSync, writeFileSync } from "node:fs";
import { evidenceAnchorInterface, JsonRpcChainReader, MAX_RPC_BATCH } from "../../service/core/index.ts";
import { memberServiceOn } from "../helpers/consortium.ts";
import { floodAnswer, JsonRpcProxy } from "../helpers/json-rpc-proxy.ts";
import {
  api,
  cleanUpDataDir,
  startChainNode,
  startServiceProcess,
  tempDir,
  until,
  type ChainNode,
  type ServiceProcess,
} from "../helpers/processes.ts";
import { sha256Hex } from "../helpers/hash.ts";

const CHAIN_ID = 4343;
/** Larger than the two sockets' kernel buffers together, so a reader that stops early is seen to stop. */
const FLOOD_BYTES = 32 * 1024 * 1024;

/** An earlier registry the service trusts beside its own (TRUSTED_CONTRACTS). */
const EARLIER_REGISTRY = `0x${"44".repeat(20)}`;

const anchorOf = (root: string) => evidenceAnchorInterface.encodeFunctionData("anchorOf", [root]);
const call = (id: number | string, method: string, params: unknown[]) => ({ jsonrpc: "2.0", id, method, params });

/** A process's resident memory and its peak, in bytes (Linux /proc). */
function memoryOf(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status)![1]) * 1024;
  return { rss: kib("VmRSS"), peak: kib("VmHWM") };
}

/** Sets a process's peak resident memory back to its current one (Linux 4.0+, clear_refs 5). */
function resetPeak(pid: number): void {
  writeFileSync(`/proc/${pid}/clear_refs`, "5");
}

describe("POST /rpc, the public JSON-RPC proxy (a real service; its chain node behind a recording proxy)", function () {
  this.timeout(120_000);
  let chain: ChainNode;
  let node: JsonRpcProxy;
  let service: ServiceProcess;
  let dataDir: string;
  let contract: string;
  let direct: JsonRpcChainReader;
  /** The flood each request marked "flood" receives; replaced per test. */
  let flood: ReturnType<typeof floodAnswer> | undefined;

  before(async () => {
    dataDir = tempDir("rpc-proxy");
    chain = await startChainNode({ chainId: CHAIN_ID });
    direct = new JsonRpcChainReader(chain.url);
    const env = await memberServiceOn(chain.url, dataDir);
    contract = env.ANCHOR_CONTRACT!;
    node = await JsonRpcProxy.start(chain.url, {
      // The node answers a batch in reverse order: the service must match answers by id.
      reverseBatches: true,
      intercept: (calls) =>
        flood && calls.some((c) => String(c.id).startsWith("flood")) ? flood.intercept : undefined,
    });
    service = await startServiceProcess(dataDir, {
      ...env,
      CHAIN_RPC_URL: node.url,
      CHAIN_ID: String(CHAIN_ID),
      TRUSTED_CONTRACTS: EARLIER_REGISTRY,
    });
  });

  after(async () => {
    await service?.stop();
    await node?.stop();
    await chain?.stop();
    await cleanUpDataDir(dataDir);
  });

  const rpc = (body: unknown) => api(service.url).postJson("/rpc", body);

  describe("the six reads verification makes", () => {
    it("forwards each with the parameters verification sends, answering exactly what the node answers", async () => {
      const client = api(service.url, service.apiKey);
      const { body } = await client.postJson("/api/v1/evidence/digests", {
        items: [{ contentHash: sha256Hex("rpc") }],
      });
      const certificate = await client.anchored(body.items[0].id);
      const { root, anchor } = certificate.batch;
      const calls = [
        call(1, "eth_chainId", []),
        call(2, "eth_blockNumber", []),
        call(3, "eth_getCode", [contract, "latest"]),
        call(4, "eth_call", [{ to: contract, data: anchorOf(root) }, "latest"]),
        call(5, "eth_getBlockByNumber", [`0x${anchor.blockNumber.toString(16)}`, false]),
        call(6, "eth_getTransactionReceipt", [anchor.txHash]),
      ];
      for (const c of calls) {
        const before = node.received.length;
        const proxied = await rpc(c);
        expect(proxied.status, c.method).to.equal(200);
        expect(proxied.body, c.method).to.deep.equal({
          jsonrpc: "2.0",
          id: c.id,
          result: await direct.request(c.method, c.params),
        });
        expect(proxied.body.result, c.method).not.to.equal(null);
        expect(node.received.slice(before), `${c.method} reached the node as sent`).to.deep.include(c);
      }
    });

    it("answers a batch mixing allowed and refused calls in call order, each with its own id", async () => {
      const batch = [
        call("a", "eth_chainId", []),
        call("b", "eth_sendRawTransaction", ["0x00"]),
        call("c", "eth_blockNumber", []),
        call("d", "eth_getBlockByNumber", ["latest", true]),
        call("e", "eth_getCode", [contract, "latest"]),
        call("f", "anvil_setBalance", [contract, "0x1"]),
      ];
      const before = node.received.length;
      const res = await rpc(batch);
      expect(res.body.map((a: { id: string }) => a.id)).to.deep.equal(["a", "b", "c", "d", "e", "f"]);
      expect(res.body[0].result).to.equal(`0x${CHAIN_ID.toString(16)}`);
      expect(res.body[1].error.code).to.equal(-32601);
      expect(res.body[2].result).to.match(/^0x[0-9a-f]+$/);
      expect(res.body[3].error.code).to.equal(-32602);
      expect(res.body[4].result).to.equal(await direct.request("eth_getCode", [contract, "latest"]));
      expect(res.body[5].error.code).to.equal(-32601);
      // Only the allowed calls went on, as one batch (which the node answered in reverse).
      expect(node.received.slice(before).map((c) => c.id)).to.deep.equal(["a", "c", "e"]);
    });

    it(`refuses a batch of more than ${MAX_RPC_BATCH} calls, and two calls with the same id`, async () => {
      const tooMany = await rpc(Array.from({ length: MAX_RPC_BATCH + 1 }, (_, i) => call(i, "eth_chainId", [])));
      expect([tooMany.status, tooMany.body.code]).to.deep.equal([400, "INVALID_RPC_BATCH"]);
      const twice = await rpc([call(1, "eth_chainId", []), call(1, "eth_blockNumber", [])]);
      expect(twice.body[0].result).to.equal(`0x${CHAIN_ID.toString(16)}`);
      expect(twice.body[1].error.code).to.equal(-32600);
    });

    it("answers a body that is not sent as JSON with 415 problem+json, not a JSON-RPC error under 200", async () => {
      for (const type of ["text/plain", undefined]) {
        const res = await fetch(`${service.url}/rpc`, {
          method: "POST",
          ...(type ? { headers: { "content-type": type } } : {}),
          body: JSON.stringify(call(1, "eth_chainId", [])),
        });
        expect([res.status, ((await res.json()) as { code: string }).code], type).to.deep.equal([
          415,
          "UNSUPPORTED_MEDIA_TYPE",
        ]);
      }
    });

    it("charges nothing for a refused batch: 30,000 entries (400), then a call is answered, not limited", async () => {
      const huge = await rpc(Array.from({ length: 30_000 }, () => 1));
      expect([huge.status, huge.body.code]).to.deep.equal([400, "INVALID_RPC_BATCH"]);
      const next = await rpc(call(1, "eth_chainId", []));
      expect([next.status, next.body.result]).to.deep.equal([200, `0x${CHAIN_ID.toString(16)}`]);
    });

    it("refuses an id the node could answer by another (2.5, beyond 2^53, 1e400) with -32600, and answers the rest", async () => {
      const before = node.received.length;
      const res = await rpc([
        call(1, "eth_chainId", []),
        call(2.5, "eth_blockNumber", []),
        call(2 ** 64, "eth_chainId", []),
      ]);
      expect(res.status).to.equal(200);
      expect(res.body[0].result).to.equal(`0x${CHAIN_ID.toString(16)}`);
      expect([res.body[1].error.code, res.body[2].error.code]).to.deep.equal([-32600, -32600]);
      const infinite = await fetch(`${service.url}/rpc`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: '{"jsonrpc":"2.0","id":1e400,"method":"eth_chainId","params":[]}',
      });
      expect(((await infinite.json()) as { error: { code: number } }).error.code).to.equal(-32600);
      expect(node.received.slice(before).map((c) => c.id)).to.deep.equal([1]);
    });
  });

  describe("calls that could halt the node or flood the service", () => {
    it("refuses the chain-halting eth_call (an endless loop with gas 2^64 - 1) with -32602; it never reaches the node", async () => {
      const halting = call(9, "eth_call", [{ data: "0x5b600056", gas: "0xffffffffffffffff" }, "latest"]);
      const res = await rpc(halting);
      expect(res.body).to.deep.include({ jsonrpc: "2.0", id: 9 });
      expect(res.body.error.code).to.equal(-32602);
      // Even aimed at the contract, with valid call data, a gas limit is refused.
      const aimed = call(10, "eth_call", [
        { to: contract, data: anchorOf(`0x${"11".repeat(32)}`), gas: "0xffffffffffffffff" },
        "latest",
      ]);
      expect((await rpc(aimed)).body.error.code).to.equal(-32602);
      expect(node.sawText("0x5b600056"), "the halting call reached the node").to.equal(false);
      expect(node.sawText("0xffffffffffffffff"), "a gas limit reached the node").to.equal(false);
    });

    it("refuses an eth_call with a state override, a sender, a value, another target or another function; none reaches the node", async () => {
      const data = anchorOf(`0x${"22".repeat(32)}`);
      const refused = {
        "a state override": [{ to: contract, data }, "latest", { [contract]: { code: "0x6000" } }],
        "a sender": [{ to: contract, data, from: contract }, "latest"],
        "a value": [{ to: contract, data, value: "0x1" }, "latest"],
        "another contract": [{ to: `0x${"33".repeat(20)}`, data }, "latest"],
        "another function": [{ to: contract, data: `0x12345678${"00".repeat(32)}` }, "latest"],
        "no call object": ["latest"],
      };
      const before = node.received.length;
      for (const [what, params] of Object.entries(refused)) {
        const res = await rpc(call(what, "eth_call", params));
        expect(res.body.error?.code, what).to.equal(-32602);
      }
      expect(node.received.slice(before)).to.deep.equal([]);
    });

    it("forwards anchorOf to an earlier registry the service trusts (TRUSTED_CONTRACTS): the page verifies its certificates through /rpc", async () => {
      const params = [{ to: EARLIER_REGISTRY, data: anchorOf(`0x${"55".repeat(32)}`) }, "latest"];
      const res = await rpc(call("earlier", "eth_call", params));
      expect(res.body.error).to.equal(undefined);
      expect(res.body.result).to.equal(await direct.request("eth_call", params));
    });

    it("answers 502 to a node that floods it, and stops reading the node's answer, cutting the connection", async function () {
      const pid = service.child.pid!;
      const requests = 8;
      const floods = Array.from({ length: requests }, () => floodAnswer(FLOOD_BYTES));
      let next = 0;
      flood = {
        intercept: (calls, res) => floods[next++]!.intercept(calls, res),
        outcome: Promise.resolve({ written: 0, completed: false }),
      };
      const before = memoryOf(pid);
      resetPeak(pid);
      const answers = await Promise.all(
        floods.map((_, i) =>
          rpc(
            Array.from({ length: 8 }, (_, k) =>
              call(`flood-${i}-${k}`, "eth_call", [
                { to: contract, data: anchorOf(`0x${sha256Hex(`${i} ${k}`)}`) },
                "latest",
              ]),
            ),
          ),
        ),
      );
      const outcomes = await Promise.all(floods.map((f) => f.outcome));
      flood = undefined;
      // Measured, not asserted: the service's garbage from earlier requests makes the peak too noisy to bound tightly.
      const grown = memoryOf(pid).peak - before.rss;
      console.log(
        `      (peak resident memory ${grown >= 0 ? "+" : ""}${(grown / 2 ** 20).toFixed(1)} MiB for ${requests} answers of ${FLOOD_BYTES / 2 ** 20} MiB)`,
      );
      for (const a of answers) expect([a.status, a.body.code]).to.deep.equal([502, "CHAIN_UNREACHABLE"]);
      for (const o of outcomes) {
        expect(o.completed, "the service read the whole answer").to.equal(false);
        // What was written is the 1 MiB read plus what the two sockets' kernel buffers held when the connection was cut.
        expect(o.written).to.be.below(FLOOD_BYTES / 2);
      }
    });
  });

  describe("when the node fails", () => {
    it("answers 502 naming no internal address, and logs it in one line without a stack, at most once per 10 s", async () => {
      const logBefore = service.output().length;
      // An earlier test's last access-log line may still be on its way through the pipe:
      // this test's lines are those logged from now on.
      const startedAt = Date.now();
      const floods = Array.from({ length: 6 }, () => floodAnswer(FLOOD_BYTES));
      let next = 0;
      flood = {
        intercept: (calls, res) => floods[next++]!.intercept(calls, res),
        outcome: Promise.resolve({ written: 0, completed: false }),
      };
      const answers = await Promise.all(
        floods.map((_, i) =>
          rpc([
            call(`flood-log-${i}`, "eth_call", [{ to: contract, data: anchorOf(`0x${"44".repeat(32)}`) }, "latest"]),
          ]),
        ),
      );
      flood = undefined;
      await Promise.all(floods.map((f) => f.outcome));
      for (const a of answers) {
        expect([a.status, a.body.code]).to.deep.equal([502, "CHAIN_UNREACHABLE"]);
        const text = JSON.stringify(a.body);
        expect(text).not.to.match(/127\.0\.0\.1|localhost|http:\/\//);
        expect(text).not.to.include(String(new URL(node.url).port));
      }
      const lines = (from: number) =>
        service
          .output()
          .slice(from)
          .split("\n")
          .filter((l) => l.startsWith("{"))
          .map((l) => JSON.parse(l) as { level: number; time: number; msg: string; path?: string; status?: number });
      const proxyLines = (from: number) =>
        lines(from).filter((l) => l.level >= 40 && l.msg.startsWith("the RPC proxy could not read the chain"));
      // Each request has its one access-log line (written as its answer goes out: wait for the last).
      const answered = () =>
        lines(logBefore).filter((l) => l.path === "/rpc" && l.status === 502 && l.time >= startedAt);
      await until(async () => (answered().length >= 6 ? true : undefined), "the access-log line of every request");
      expect(answered()).to.have.length(6);
      // The failures' own line: at most one here (none if an earlier failure was logged less than 10 s ago) ...
      expect(proxyLines(logBefore).length).to.be.at.most(1);
      // ... and over the service's whole life, at least one, each 10 s or more after the one before.
      const all = proxyLines(0);
      expect(all.length).to.be.at.least(1);
      for (let i = 1; i < all.length; i++) expect(all[i]!.time - all[i - 1]!.time).to.be.at.least(10_000);
      // No other warning or error for a request to /rpc, and no stack anywhere.
      expect(lines(0).filter((l) => l.level >= 40 && l.path === "/rpc")).to.deep.equal([]);
      expect(service.output(), "a stack trace").not.to.match(/\n\s+at /);
    });
  });
});
