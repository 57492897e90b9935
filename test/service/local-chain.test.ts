import { expect } from "chai";
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { copyFileSync, mkdirSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { createServer, type Server } from "node:net";
import path from "node:path";
import { createInterface } from "node:readline";
import { gunzipSync } from "node:zlib";
import { setTimeout as delay } from "node:timers/promises";
import { Wallet } from "ethers";
import { JsonRpcChainReader } from "../../service/core/index.ts";
import { isAlive } from "../../service/process-alive.ts";
import {
  anvilBinary,
  LocalChain,
  LocalChainError,
  type LocalChainOptions,
  LockHeldError,
  PortInUseError,
} from "../../service/chain/local-chain.ts";
import { screenCall } from "../../service/chain/node-gateway.ts";
import { decodeDump, type DumpedState, summarizeState, tornState } from "../../service/chain/chain-snapshots.ts";
import { freePort, tempDir, until } from "../helpers/processes.ts";
import { seededRandom } from "../helpers/random.ts";
import { loadVector } from "../helpers/vectors.ts";

const HOST = path.resolve(import.meta.dirname, "../helpers/local-chain-host.ts");

/** Runtime code: SSTORE(calldata[0:32], calldata[32:64]); STOP. Init code copies it and returns it. */
const STORE_RUNTIME = "6020356000355500";
const STORE_INIT = `0x6008600c60003960086000f3${STORE_RUNTIME}`;

interface Mined {
  blockNumber: number;
  blockHash: string;
  transactionHash: string;
  contractAddress: string | null;
}

/** Signs and sends a transaction at the account's next nonce; returns its hash. */
async function sendOnly(url: string, wallet: Wallet, tx: { to?: string; data: string }): Promise<string> {
  const rpc = new JsonRpcChainReader(url);
  const chainId = await rpc.chainId();
  const nonce = Number(await rpc.request("eth_getTransactionCount", [wallet.address, "pending"]));
  const raw = await wallet.signTransaction({
    type: 2,
    chainId,
    nonce,
    to: tx.to ?? null,
    data: tx.data,
    gasLimit: 200_000,
    maxFeePerGas: 10_000_000_000n,
    maxPriorityFeePerGas: 1_000_000_000n,
  });
  return (await rpc.request("eth_sendRawTransaction", [raw])) as string;
}

/**
 * Starts a call that runs for ever (2^64-1 gas, a jump to itself) on a node without a gas cap.
 * It holds the node's state for reading; a writer that comes after it waits for ever, and from
 * then on so does every state read, dump and block. Nothing says when the node has begun the
 * call. Returns what ends the call's request.
 */
function startEndlessCall(url: string): () => void {
  const aborted = new AbortController();
  void postCall(url, "eth_call", [{ data: "0x5b600056", gas: "0xffffffffffffffff" }, "latest"], aborted.signal);
  return () => aborted.abort();
}

/** One JSON-RPC call over HTTP that `signal` can end; its answer's bytes, or null once it failed or ended. */
function postCall(url: string, method: string, params: unknown[], signal: AbortSignal): Promise<ArrayBuffer | null> {
  return fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }),
    signal,
  })
    .then((res) => res.arrayBuffer())
    .catch(() => null);
}

/** Whether a state read gets no answer within 2 s: a writer waits behind the endless call. */
async function stateStalled(url: string, address: string): Promise<boolean> {
  const reader = new JsonRpcChainReader(url, { timeoutMs: 2_000 });
  return reader.request("eth_getBalance", [address, "latest"]).then(
    () => false,
    () => true,
  );
}

/**
 * Makes the miner wait behind an endless call, with a transaction from `wallet` (which must
 * hold funds) in its pool; resolves once a state read no longer answers. A transaction that
 * arrives before the call has begun is simply mined, so another is sent until one waits in the
 * pool; while a read still answers, the miner has not queued yet and a dump would go through.
 */
async function stallMiner(url: string, wallet: Wallet): Promise<() => void> {
  const stop = startEndlessCall(url);
  const rpc = new JsonRpcChainReader(url);
  let waiting = await sendOnly(url, wallet, { to: wallet.address, data: "0x" });
  await until(async () => {
    if (((await rpc.request("txpool_status", [])) as { pending: string }).pending === "0x1") {
      return (await stateStalled(url, wallet.address)) || undefined;
    }
    if ((await rpc.request("eth_getTransactionReceipt", [waiting])) !== null) {
      waiting = await sendOnly(url, wallet, { to: wallet.address, data: "0x" });
    }
    return undefined;
  }, "the miner to wait behind the call");
  return stop;
}

/**
 * Sends administrative writes (`anvil_setBalance`, which no block records, so the head stays
 * where it is) one after another, until one does not answer: it waits behind an endless call,
 * and its request stays open, since a closed one would leave the lock's queue. A write that
 * answers came before the call had begun. Ends when the node goes; returns what ends it sooner.
 */
function keepWriting(url: string, address: string): () => void {
  const aborted = new AbortController();
  void (async () => {
    while ((await postCall(url, "anvil_setBalance", [address, "0x1"], aborted.signal)) !== null);
  })();
  return () => aborted.abort();
}

/** Signs and sends a transaction at the account's next nonce, and waits for its receipt. */
async function send(url: string, wallet: Wallet, tx: { to?: string; data: string }): Promise<Mined> {
  const rpc = new JsonRpcChainReader(url);
  const hash = await sendOnly(url, wallet, tx);
  const receipt = await until(
    async () =>
      ((await rpc.request("eth_getTransactionReceipt", [hash])) as Record<string, string> | null) ?? undefined,
    `the receipt of ${hash}`,
  );
  expect(receipt.status, `transaction ${hash}`).to.equal("0x1");
  return {
    blockNumber: Number(receipt.blockNumber),
    blockHash: receipt.blockHash!,
    transactionHash: hash,
    contractAddress: receipt.contractAddress ?? null,
  };
}

const word = (n: number | bigint) => BigInt(n).toString(16).padStart(64, "0");
const storeCall = (slot: number, value: bigint) => `0x${word(slot)}${word(value)}`;

async function blockHash(url: string, blockNumber: number): Promise<string | undefined> {
  const block = (await new JsonRpcChainReader(url).request("eth_getBlockByNumber", [
    `0x${blockNumber.toString(16)}`,
    false,
  ])) as { hash: string } | null;
  return block?.hash;
}

async function storageAt(url: string, contract: string, slot: number): Promise<bigint> {
  return BigInt(
    (await new JsonRpcChainReader(url).request("eth_getStorageAt", [
      contract,
      `0x${slot.toString(16)}`,
      "latest",
    ])) as string,
  );
}

/** A LocalChain in a process of its own, so a test can kill -9 it together with its node. */
interface Host {
  child: ChildProcess;
  url: string;
  nodePid: number;
  command(command: object): Promise<Record<string, any>>;
}

async function startHost(options: Omit<LocalChainOptions, "log">): Promise<Host> {
  const child = spawn(process.execPath, [HOST, JSON.stringify(options)], { stdio: ["pipe", "pipe", "pipe"] });
  child.stderr!.resume();
  const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  const next = async () => {
    const { value, done } = await lines.next();
    if (done) throw new Error("the host exited");
    return JSON.parse(value) as Record<string, any>;
  };
  const first = await next();
  if (!first.ready) throw Object.assign(new Error(first.error), { name: first.name });
  return {
    child,
    url: first.ready.url,
    nodePid: first.ready.pid,
    async command(command) {
      child.stdin!.write(`${JSON.stringify(command)}\n`);
      return next();
    },
  };
}

/** kill -9 of the service and its chain node at once, as a power cut does. */
async function powerCut(host: Host): Promise<void> {
  const exited = once(host.child, "exit");
  process.kill(host.child.pid!, "SIGKILL");
  process.kill(host.nodePid, "SIGKILL");
  await exited;
  await until(async () => (isAlive(host.nodePid) ? undefined : true), "the node to be gone", 10_000);
}

describe("LocalChain (real Anvil processes)", function () {
  this.timeout(120_000);
  let dataDir: string;
  let port: number;
  const chains: LocalChain[] = [];
  const hosts: Host[] = [];
  const others: ChildProcess[] = [];
  const wallet = new Wallet(Wallet.createRandom().privateKey);

  async function start(options: Partial<LocalChainOptions> = {}): Promise<LocalChain> {
    const chain = await LocalChain.start({ dataDir, port, blockTime: 0, ...options });
    chains.push(chain);
    return chain;
  }

  async function deployStore(chain: LocalChain): Promise<string> {
    await chain.fund(wallet.address, 10n ** 21n);
    return (await send(chain.url, wallet, { data: STORE_INIT })).contractAddress!;
  }

  beforeEach(async () => {
    dataDir = tempDir("local-chain");
    port = await freePort();
  });

  afterEach(async () => {
    for (const chain of chains.splice(0)) await chain.stop();
    for (const host of hosts.splice(0)) {
      if (host.child.exitCode === null && host.child.signalCode === null) {
        const exited = once(host.child, "exit");
        host.child.kill("SIGTERM");
        await exited;
      }
    }
    for (const child of others.splice(0)) if (child.exitCode === null) child.kill("SIGKILL");
    rmSync(dataDir, { recursive: true, force: true });
  });

  describe("durableThrough", () => {
    it("keeps the block, its hash, a receipt and contract storage across a kill -9 of the node", async () => {
      const chain = await start({ snapshotIntervalMs: 3_600_000 });
      const contract = await deployStore(chain);
      const stored = await send(chain.url, wallet, { to: contract, data: storeCall(1, 0xabcdefn) });
      await chain.durableThrough(stored.blockNumber, stored.blockHash);
      // Blocks past the durable one are not promised: one more, then the crash.
      await send(chain.url, wallet, { to: contract, data: storeCall(2, 1n) });

      process.kill(chain.pid!, "SIGKILL");
      const status = await chain.statusWhen((s) => s.state === "running" && s.restarts === 1);

      expect(status.lastExit?.signal).to.equal("SIGKILL");
      expect(await blockHash(chain.url, stored.blockNumber)).to.equal(stored.blockHash);
      const receipt = (await new JsonRpcChainReader(chain.url).request("eth_getTransactionReceipt", [
        stored.transactionHash,
      ])) as Record<string, string>;
      expect([receipt.blockHash, receipt.status]).to.deep.equal([stored.blockHash, "0x1"]);
      expect(await storageAt(chain.url, contract, 1)).to.equal(0xabcdefn);
    });

    for (const [blockTime, mining] of [
      [0, "a block per transaction: dumps with mining paused"],
      [1, "a block each second: dumps with the miner running"],
    ] as const)
      it(`keeps every promised block across 10 power cuts at random moments after the promise (${mining})`, async () => {
        const seed = Number(process.env.FAULT_SEED ?? Date.now() % 100_000);
        const random = seededRandom(seed);
        console.log(`      (FAULT_SEED=${seed})`);
        // Snapshots every 20 ms besides the promised ones (with a block each second, each comes
        // right after a block; a dump that does meet a block falls back to pausing the miner).
        const options = { dataDir, port, blockTime, snapshotIntervalMs: 20 };
        let host = await startHost(options);
        hosts.push(host);
        await host.command({ fund: [wallet.address, String(10n ** 21n)] });
        const contract = (await send(host.url, wallet, { data: STORE_INIT })).contractAddress!;
        const promised: (Mined & { slot: number; value: bigint })[] = [];

        for (let round = 0; round < 10; round++) {
          const value = BigInt(Math.floor(random() * 2 ** 48));
          const mined = await send(host.url, wallet, { to: contract, data: storeCall(round, value) });
          const answer = await host.command({ durable: [mined.blockNumber, mined.blockHash] });
          expect(answer.durable?.blockNumber, JSON.stringify(answer)).to.be.at.least(mined.blockNumber);
          promised.push({ ...mined, slot: round, value });
          // The cut lands anywhere from at once to mid-way through the next snapshot.
          if (random() < 0.5)
            void sendOnly(host.url, wallet, { to: contract, data: storeCall(100 + round, 1n) }).catch(() => {});
          await delay(random() * 30);
          await powerCut(host);

          host = await startHost(options);
          hosts.push(host);
          for (const p of promised) {
            expect(await blockHash(host.url, p.blockNumber), `round ${round}: block ${p.blockNumber}`).to.equal(
              p.blockHash,
            );
            const receipt = (await new JsonRpcChainReader(host.url).request("eth_getTransactionReceipt", [
              p.transactionHash,
            ])) as Record<string, string> | null;
            expect(receipt?.blockHash, `round ${round}: receipt of ${p.transactionHash}`).to.equal(p.blockHash);
            expect(await storageAt(host.url, contract, p.slot), `round ${round}: slot ${p.slot}`).to.equal(p.value);
          }
        }
      });

    it("with a block interval, dumps between blocks without pausing the miner, whose restart would put off the next block by up to an interval", async () => {
      const chain = await start({ blockTime: 1, snapshotIntervalMs: 3_600_000 });
      const log = path.join(dataDir, "chain", "anvil.log");
      const startedWith = readFileSync(log, "utf8").length;
      const rpc = new JsonRpcChainReader(chain.url);
      // Just after a block, so that the next one is about a second away.
      const head = Number(await rpc.request("eth_blockNumber", []));
      const next = await until(
        async () => ((await rpc.request("eth_blockNumber", [])) as string) !== `0x${head.toString(16)}` || undefined,
        "a new block",
      );
      expect(next).to.equal(true);
      const snapshot = await chain.durableThrough(head + 1);
      expect(snapshot.blockNumber).to.be.at.least(head + 1);
      expect(readFileSync(log, "utf8").slice(startedWith))
        .to.include("anvil_dumpState")
        .and.not.include("evm_setIntervalMining");
    });

    it("serves concurrent callers from one dump", async () => {
      const chain = await start({ snapshotIntervalMs: 3_600_000 });
      const contract = await deployStore(chain);
      const blocks: Mined[] = [];
      for (let i = 0; i < 5; i++) blocks.push(await send(chain.url, wallet, { to: contract, data: storeCall(i, 1n) }));
      let dumps = 0;
      chain.on("snapshot", () => dumps++);

      const snapshots = await Promise.all(blocks.map((b) => chain.durableThrough(b.blockNumber, b.blockHash)));

      expect(dumps).to.equal(1);
      expect(new Set(snapshots.map((s) => s.path)).size).to.equal(1);
      expect(snapshots[0]!.blockNumber).to.equal(blocks.at(-1)!.blockNumber);
    });

    it("resolves at once for a block an earlier snapshot holds", async () => {
      const chain = await start({ snapshotIntervalMs: 3_600_000 });
      const contract = await deployStore(chain);
      const mined = await send(chain.url, wallet, { to: contract, data: storeCall(0, 1n) });
      const first = await chain.durableThrough(mined.blockNumber);
      let dumps = 0;
      chain.on("snapshot", () => dumps++);

      expect(await chain.durableThrough(mined.blockNumber - 1)).to.deep.equal(first);
      expect(dumps).to.equal(0);
    });

    it("rejects a block the node has not mined", async () => {
      const chain = await start();
      const error = await chain.durableThrough(1_000).catch((e: unknown) => e);
      expect(error).to.be.instanceOf(LocalChainError).and.have.property("code", "BLOCK_NOT_MINED");
    });

    it("rejects a block hash the node does not hold at that number", async () => {
      const chain = await start();
      const error = await chain.durableThrough(0, `0x${"11".repeat(32)}`).catch((e: unknown) => e);
      expect(error).to.be.instanceOf(LocalChainError).and.have.property("code", "BLOCK_LOST");
    });

    it("rejects a negative or fractional block number", async () => {
      const chain = await start();
      for (const bad of [-1, 1.5, Number.NaN]) {
        expect(await chain.durableThrough(bad).catch((e: unknown) => e)).to.be.instanceOf(RangeError);
      }
    });
  });

  describe("snapshots", () => {
    it("keeps the newest two snapshots and no partial file", async () => {
      const chain = await start({ snapshotIntervalMs: 3_600_000 });
      const contract = await deployStore(chain);
      for (let i = 0; i < 4; i++) {
        const mined = await send(chain.url, wallet, { to: contract, data: storeCall(i, 1n) });
        await chain.durableThrough(mined.blockNumber);
      }
      const files = readdirSync(path.join(dataDir, "chain", "snapshots")).sort();
      expect(files).to.have.length(2);
      expect(files.every((f) => /^snapshot-\d{10}-block-\d+\.json$/.test(f))).to.equal(true);
      expect(path.basename(chain.newestSnapshot!.path)).to.equal(files[1]);
    });

    it("removes a partial snapshot an interrupted write left, and starts from the newest whole one", async () => {
      let chain = await start({ snapshotIntervalMs: 3_600_000 });
      const contract = await deployStore(chain);
      const mined = await send(chain.url, wallet, { to: contract, data: storeCall(0, 7n) });
      await chain.durableThrough(mined.blockNumber);
      await chains.pop()!.stop();
      const partial = path.join(dataDir, "chain", "snapshots", ".snapshot-99-1.tmp");
      writeFileSync(partial, '{"block":');

      chain = await start();

      expect(readdirSync(path.dirname(partial))).not.to.include(path.basename(partial));
      expect(await blockHash(chain.url, mined.blockNumber)).to.equal(mined.blockHash);
    });

    it("takes a last snapshot on stop", async () => {
      const chain = await start({ snapshotIntervalMs: 3_600_000 });
      const contract = await deployStore(chain);
      const mined = await send(chain.url, wallet, { to: contract, data: storeCall(0, 1n) });
      await chains.pop()!.stop();
      expect(chain.newestSnapshot?.blockNumber).to.equal(mined.blockNumber);
      expect(chain.status.state).to.equal("stopped");
    });

    it("snapshots on its own while the head moves", async () => {
      const chain = await start({ snapshotIntervalMs: 50 });
      const contract = await deployStore(chain);
      const mined = await send(chain.url, wallet, { to: contract, data: storeCall(0, 1n) });
      const status = await chain.statusWhen((s) => (s.lastSnapshot?.blockNumber ?? -1) >= mined.blockNumber);
      expect(status.lastSnapshot!.blockNumber).to.equal(mined.blockNumber);
    });

    it("imports the state.json of the earlier layout, written by that layout's node on SIGTERM", async () => {
      const chainDir = path.join(dataDir, "chain");
      mkdirSync(chainDir, { recursive: true });
      const legacy = spawn(
        anvilBinary(),
        ["--port", String(port), "--silent", "--state", path.join(chainDir, "state.json")],
        { detached: true, stdio: "ignore" },
      );
      others.push(legacy);
      writeFileSync(path.join(chainDir, "anvil.pid"), String(legacy.pid));
      const url = `http://127.0.0.1:${port}`;
      await until(() => new JsonRpcChainReader(url, { timeoutMs: 500 }).chainId(), "the earlier node");
      await new JsonRpcChainReader(url).request("anvil_setBalance", [wallet.address, "0x3635C9ADC5DEA00000"]);
      const contract = (await send(url, wallet, { data: STORE_INIT })).contractAddress!;
      const mined = await send(url, wallet, { to: contract, data: storeCall(3, 9n) });

      const chain = await start();

      expect(isAlive(legacy.pid!)).to.equal(false);
      expect(await blockHash(chain.url, mined.blockNumber)).to.equal(mined.blockHash);
      expect(await storageAt(chain.url, contract, 3)).to.equal(9n);
      expect(chain.newestSnapshot!.blockNumber).to.be.at.least(mined.blockNumber);
    });
  });

  describe("supervision", () => {
    it("restarts a node killed with SIGKILL and reports it", async () => {
      const chain = await start();
      const statuses: string[] = [];
      chain.on("status", (s) => statuses.push(s.state));
      const first = chain.pid!;

      process.kill(first, "SIGKILL");
      const status = await chain.statusWhen((s) => s.state === "running" && s.restarts === 1);

      expect(statuses).to.include("restarting");
      expect(status.lastExit).to.include({ code: null, signal: "SIGKILL" });
      expect(status.pid).to.be.a("number").and.not.equal(first);
      expect(await new JsonRpcChainReader(chain.url).chainId()).to.equal(31337);
    });

    it("reports a node that keeps failing to start as failed, with the reason, and recovers once the cause is gone", async () => {
      const chain = await start({ restartBackoff: { initialMs: 10, maxMs: 40 }, failAfter: 3 });
      const newest = chain.newestSnapshot!.path;
      copyFileSync(newest, `${newest}.good`);
      writeFileSync(newest, '{"block": {');

      process.kill(chain.pid!, "SIGKILL");
      const failed = await chain.statusWhen((s) => s.state === "failed");

      expect(failed.restarts).to.equal(1);
      expect(failed.lastError).to.match(/exited on start/);
      expect(failed.lastError).to.include(path.basename(newest));
      copyFileSync(`${newest}.good`, newest);
      const running = await chain.statusWhen((s) => s.state === "running");
      expect(running.lastError).to.equal(null);
    });

    it("restarts a node stuck behind a call that never ends (no gas cap on the raw node)", async () => {
      const chain = await start({ isolation: "loopback", dumpTimeoutMs: 1_500, snapshotIntervalMs: 3_600_000 });
      await chain.fund(wallet.address, 10n ** 21n);
      const head = await send(chain.url, wallet, { to: wallet.address, data: "0x" });
      const stop = await stallMiner(chain.url, wallet);

      const error = await chain.durableThrough(head.blockNumber).catch((e: unknown) => e);
      expect(error, "the dump went through").to.be.instanceOf(LocalChainError);
      const status = await chain.statusWhen((s) => s.state === "running" && s.restarts === 1);
      stop();

      expect(status.lastExit?.reason).to.match(/did not dump its state within 1500 ms/);
      expect(await new JsonRpcChainReader(chain.url).chainId()).to.equal(31337);
    });

    it("restarts a node whose state waits for ever behind a call, though no block needs a snapshot", async () => {
      const chain = await start({ isolation: "loopback", dumpTimeoutMs: 1_500, snapshotIntervalMs: 200 });
      await chain.fund(wallet.address, 10n ** 21n);
      const head = await send(chain.url, wallet, { to: wallet.address, data: "0x" });
      await chain.statusWhen((s) => (s.lastSnapshot?.blockNumber ?? -1) >= head.blockNumber);
      const stopCall = startEndlessCall(chain.url);
      const stopWrites = keepWriting(chain.url, Wallet.createRandom().address);

      const status = await chain.statusWhen((s) => s.state === "running" && s.restarts === 1);
      stopWrites();
      stopCall();

      expect(status.lastExit?.reason).to.match(/did not answer a state read within 1500 ms/);
      expect(await blockHash(chain.url, head.blockNumber)).to.equal(head.blockHash);
      expect(await send(chain.url, wallet, { to: wallet.address, data: "0x" })).to.have.property("blockNumber");
    });
  });

  describe("ownership", () => {
    it("never signals an unrelated process an old pid file names", async () => {
      const sleeper = spawn("sleep", ["600"], { stdio: "ignore" });
      others.push(sleeper);
      mkdirSync(path.join(dataDir, "chain"), { recursive: true });
      writeFileSync(path.join(dataDir, "chain", "anvil.pid"), String(sleeper.pid));
      const logged: string[] = [];

      const chain = await start({ log: (m) => logged.push(m) });
      await chains.pop()!.stop();

      expect(isAlive(sleeper.pid!)).to.equal(true);
      expect(chain.status.state).to.equal("stopped");
      expect(logged.join("\n")).to.include(`named pid ${sleeper.pid}, which is not this data directory's chain node`);
    });

    it("refuses a second instance on the same data directory, in this process or another, and leaves the first one's node alone", async () => {
      const first = await start();
      const pid = first.pid!;

      const here = await LocalChain.start({ dataDir, port: await freePort(), blockTime: 0 }).catch((e: unknown) => e);
      const there = await startHost({ dataDir, port: await freePort(), blockTime: 0 }).catch((e: unknown) => e);

      expect(here).to.be.instanceOf(LockHeldError).and.have.property("holder", process.pid);
      expect(there).to.have.property("name", "LockHeldError");
      expect((there as Error).message).to.include(`pid ${process.pid}`);
      expect(first.pid).to.equal(pid);
      expect(first.status).to.include({ state: "running", restarts: 0 });
      expect(await new JsonRpcChainReader(first.url).chainId()).to.equal(31337);
    });

    for (const pidFile of ["kept", "lost"] as const) {
      it(`takes over the node a crashed instance left running, with the blocks it had not saved yet (pid file ${pidFile})`, async () => {
        const host = await startHost({ dataDir, port, blockTime: 0, snapshotIntervalMs: 3_600_000 });
        hosts.push(host);
        await host.command({ fund: [wallet.address, String(10n ** 21n)] });
        const contract = (await send(host.url, wallet, { data: STORE_INIT })).contractAddress!;
        const unsaved = await send(host.url, wallet, { to: contract, data: storeCall(5, 55n) });
        const exited = once(host.child, "exit");
        host.child.kill("SIGKILL"); // the service alone: its node runs on
        await exited;
        expect(isAlive(host.nodePid)).to.equal(true);
        if (pidFile === "lost") rmSync(path.join(dataDir, "chain", "anvil.pid"));

        const chain = await start();

        expect(isAlive(host.nodePid)).to.equal(false);
        expect(chain.pid).to.not.equal(host.nodePid);
        expect(await blockHash(chain.url, unsaved.blockNumber)).to.equal(unsaved.blockHash);
        expect(await storageAt(chain.url, contract, 5)).to.equal(55n);
      });
    }

    for (const isolation of ["loopback", "auto"] as const) {
      it(`names the port another program holds (${isolation})`, async () => {
        const squatter: Server = createServer().listen(port, "127.0.0.1");
        await once(squatter, "listening");
        try {
          const error = await start({ isolation }).catch((e: unknown) => e);
          expect(error).to.be.instanceOf(PortInUseError);
          expect((error as Error).message).to.include(`port ${port}`);
        } finally {
          squatter.close();
        }
        // The failed start released the data directory.
        await start({ isolation });
      });
    }
  });

  describe("lock-down", () => {
    /**
     * One JSON-RPC call over node:http, which sends Host and Origin as given (fetch treats
     * both as forbidden header names).
     */
    const rpc = (url: string, method: string, params: unknown[] = [], headers: Record<string, string> = {}) =>
      new Promise<{ status: number; headers: Record<string, unknown>; body: any }>((resolve, reject) => {
        const req = httpRequest(url, { method: "POST", headers: { "content-type": "application/json", ...headers } });
        req.on("response", (res) => {
          let text = "";
          res.on("data", (d: Buffer) => (text += d.toString()));
          res.on("end", () => resolve({ status: res.statusCode!, headers: res.headers, body: JSON.parse(text) }));
        });
        req.on("error", reject);
        req.end(JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }));
      });

    /** Sends an HTTP/1.1 WebSocket handshake; resolves with the status the server answered. */
    const upgrade = (url: string, headers: Record<string, string>) =>
      new Promise<number>((resolve, reject) => {
        const req = httpRequest(url, {
          headers: {
            connection: "Upgrade",
            upgrade: "websocket",
            "sec-websocket-version": "13",
            "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==",
            ...headers,
          },
        });
        req.on("upgrade", (res, socket) => {
          socket.destroy();
          resolve(res.statusCode!);
        });
        req.on("response", (res) => {
          res.resume();
          resolve(res.statusCode!);
        });
        req.on("error", reject);
        req.end();
      });

    describe("on loopback", () => {
      it("has no dev accounts and sends no CORS allowance to a foreign origin", async () => {
        const chain = await start({ isolation: "loopback" });
        const preflight = await fetch(chain.url, {
          method: "OPTIONS",
          headers: {
            origin: "http://evil.example",
            "access-control-request-method": "POST",
            "access-control-request-headers": "content-type",
          },
        });
        const answer = await rpc(chain.url, "eth_chainId", [], { origin: "http://evil.example" });

        expect(preflight.headers.get("access-control-allow-origin")).to.equal(null);
        expect(answer.headers).not.to.have.property("access-control-allow-origin");
        expect(await new JsonRpcChainReader(chain.url).request("eth_accounts", [])).to.deep.equal([]);
      });

      it("still answers a foreign Host header and a cross-origin WebSocket (why the node is isolated where possible)", async () => {
        const chain = await start({ isolation: "loopback" });
        const foreignHost = await rpc(chain.url, "eth_chainId", [], { host: `evil.example:${port}` });
        expect(foreignHost.body.result).to.equal("0x7a69");
        expect(await upgrade(chain.url, { origin: "http://evil.example" })).to.equal(101);
      });
    });

    describe("in a network namespace", () => {
      let chain: LocalChain;

      beforeEach(async function () {
        chain = await start({ isolation: "auto" });
        // A machine that forbids namespaces (some containers) runs the node on loopback.
        if (chain.status.isolation !== "network-namespace") this.skip();
      });

      it("runs the node in a network namespace other than this process's", () => {
        expect(readlinkSync(`/proc/${chain.pid}/ns/net`)).to.not.equal(readlinkSync("/proc/self/ns/net"));
      });

      it("refuses administrative methods, and the contract's storage stays as it was", async () => {
        const contract = await deployStore(chain);
        await send(chain.url, wallet, { to: contract, data: storeCall(0, 42n) });
        for (const [method, params] of [
          ["anvil_setStorageAt", [contract, "0x0", `0x${word(1)}`]],
          ["anvil_setBalance", [wallet.address, "0x0"]],
          ["evm_setNextBlockTimestamp", [1]],
          ["evm_mine", []],
        ] as const) {
          const { body } = await rpc(chain.url, method, [...params]);
          expect(body.error?.code, method).to.equal(-32601);
        }
        expect(await storageAt(chain.url, contract, 0)).to.equal(42n);
      });

      it("refuses a foreign Host header, a web page's Origin and a WebSocket upgrade", async () => {
        expect((await rpc(chain.url, "eth_chainId", [], { host: `evil.example:${port}` })).status).to.equal(403);
        expect((await rpc(chain.url, "eth_chainId", [], { origin: `http://127.0.0.1:${port}` })).status).to.equal(403);
        expect(await upgrade(chain.url, {})).to.equal(400);
        expect((await rpc(chain.url, "eth_chainId")).status).to.equal(200);
      });

      it("ends a call that would loop for ever out of gas", async () => {
        const { body } = await rpc(chain.url, "eth_call", [
          { data: "0x5b600056", gas: "0xffffffffffffffff" },
          "latest",
        ]);
        expect(body.error?.message).to.match(/out of gas|OutOfGas/i);
      });

      it("answers batches, refusing only the calls it does not allow", async () => {
        const res = await fetch(chain.url, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify([
            { jsonrpc: "2.0", id: 1, method: "eth_chainId", params: [] },
            { jsonrpc: "2.0", id: 2, method: "anvil_reset", params: [] },
            { jsonrpc: "2.0", id: 3, method: "eth_blockNumber", params: [] },
          ]),
        });
        const answers = (await res.json()) as { id: number; result?: string; error?: { code: number } }[];
        expect(answers.map((a) => [a.id, a.result ?? a.error?.code])).to.deep.equal([
          [1, "0x7a69"],
          [2, -32601],
          [3, "0x0"],
        ]);
      });
    });
  });
});

describe("screenCall", () => {
  const vectors = loadVector<{
    cases: { desc: string; call: unknown; want: "forward" | "refuse"; code?: number; gas?: string }[];
  }>("local-chain/gateway-calls.json").cases;

  for (const v of vectors) {
    it(`${v.want === "forward" ? "forwards" : "refuses"} ${v.desc}`, () => {
      const screened = screenCall(v.call);
      if (v.want === "refuse") {
        expect(screened).to.have.nested.property("refusal.error.code", v.code);
        return;
      }
      expect(screened).to.have.property("call");
      const call = (screened as { call: { params?: [{ gas?: string }] } }).call;
      if (v.gas !== undefined) expect(call.params![0].gas).to.equal(v.gas);
      else expect(call).to.deep.equal(v.call);
    });
  }
});

describe("tornState", () => {
  const vectors = loadVector<{ cases: { desc: string; state: DumpedState; torn: boolean }[] }>(
    "local-chain/torn-states.json",
  ).cases;

  for (const v of vectors) {
    it(`finds ${v.desc}`, () => {
      expect(tornState(v.state) !== null).to.equal(v.torn);
    });
  }
});

describe("decodeDump", () => {
  // What anvil 1.7.1 answered to anvil_dumpState (chain 4242): a contract deployed, two
  // transactions to it, two empty blocks; head 5. Gzipped JSON, as the node sends it.
  const gz = readFileSync(new URL("../vectors/local-chain/anvil-1.7.1-dump.json.gz", import.meta.url));
  const whole = JSON.parse(gunzipSync(gz).toString("utf8"));

  it("summarises a real dump as a whole parse would, without its blocks", async () => {
    const { json, state } = await decodeDump(`0x${gz.toString("hex")}`);
    expect(json.equals(gunzipSync(gz))).to.equal(true);
    expect(state).to.deep.equal({
      best_block_number: 5,
      accounts: whole.accounts,
      transactions: whole.transactions,
    });
    expect(tornState(state)).to.equal(null);
  });

  it("falls back to a whole parse when the fields come in another order", () => {
    const reordered = Buffer.from(
      JSON.stringify({
        transactions: whole.transactions,
        historical_states: null,
        blocks: whole.blocks,
        best_block_number: 5,
        accounts: whole.accounts,
        block: whole.block,
      }),
    );
    const state = summarizeState(reordered);
    expect([state.best_block_number, state.accounts, state.transactions]).to.deep.equal([
      5,
      whole.accounts,
      whole.transactions,
    ]);
  });

  it("rejects an answer that is not hex", async () => {
    for (const bad of ["", "0x", "nonsense", "0xzz"]) {
      expect(await decodeDump(bad).catch((e: unknown) => e), bad).to.be.instanceOf(Error);
    }
  });
});
