import { type ChildProcess, spawn } from "node:child_process";
import { EventEmitter, once } from "node:events";
import { closeSync, existsSync, openSync, readFileSync, readSync, rmSync, statSync } from "node:fs";
import { rename, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { createServer } from "node:net";
import path from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { decodeDump, headOf, parseState, SnapshotStore, syncDirectory, tornState } from "./chain-snapshots.ts";
import { DEFAULT_CALL_GAS_CAP, type NodeGateway, PortInUseError, startGateway } from "./node-gateway.ts";
import { NodeIpc } from "./node-ipc.ts";
import { isAlive } from "../process-alive.ts";
import { commandLine, DirectoryLock, hasArgument, networkNamespaceFlags, processesWhere } from "./node-ownership.ts";
import { makeDirectory } from "../make-directory.ts";

export { PortInUseError } from "./node-gateway.ts";
export { LockHeldError } from "./node-ownership.ts";

/**
 * How the node is kept from other programs: in a network namespace of its own, reachable
 * only through its control socket and the service's gateway; or listening on 127.0.0.1,
 * where every local program can reach it, and so can a web page in a local browser
 * (Anvil accepts a WebSocket from any origin and any Host header, so DNS rebinding works).
 */
export type Isolation = "network-namespace" | "loopback";

export type LocalChainState = "starting" | "running" | "restarting" | "failed" | "stopped";

/** What the health model reads; emitted as a "status" event on every change. */
export interface LocalChainStatus {
  /**
   * "failed": the node has failed `failAfter` times in a row and is still retried every
   * `maxMs` of the backoff; "restarting": it exited and is about to be started again.
   */
  state: LocalChainState;
  /** Unexpected exits since this instance started. */
  restarts: number;
  lastExit: { code: number | null; signal: string | null; at: string; reason: string | null } | null;
  /** The newest snapshot on disk: every block up to `blockNumber` survives a power cut. */
  lastSnapshot: { blockNumber: number; at: string } | null;
  /** Why the last start or snapshot failed, while it is the current trouble. */
  lastError: string | null;
  pid: number | null;
  isolation: Isolation;
}

export interface LocalChainOptions {
  dataDir: string;
  port: number;
  /** Seconds between blocks; 0 mines a block for every transaction. */
  blockTime: number;
  chainId?: number;
  log?: (message: string) => void;
  /** "auto" (the default) isolates the node when this machine allows it. */
  isolation?: Isolation | "auto";
  /** How often to snapshot a chain whose head moved; default 5 s. */
  snapshotIntervalMs?: number;
  /** Snapshots kept on disk, at least 2 (the newest and the one before); default 2. */
  keepSnapshots?: number;
  /** Restart delays: `initialMs` doubling up to `maxMs`; default 0.5 s to 30 s. */
  restartBackoff?: { initialMs: number; maxMs: number };
  /** Failures in a row after which the state is "failed"; default 5. */
  failAfter?: number;
  /** How long a node must run before its failures stop counting; default 30 s. */
  healthyAfterMs?: number;
  /**
   * A node that takes longer than this to dump its state, or to answer the state read made
   * while its head stands still, is taken for hung and restarted; default 60 s.
   */
  dumpTimeoutMs?: number;
  /** How long a starting node may take to answer; default 30 s. */
  startTimeoutMs?: number;
  /** Gas above which the gateway lowers an `eth_call`'s gas (isolated mode only). */
  callGasCap?: bigint;
}

export type LocalChainErrorCode =
  | "START_FAILED"
  | "NOT_RUNNING"
  | "NODE_RESTARTED"
  | "BLOCK_NOT_MINED"
  | "BLOCK_LOST"
  | "SNAPSHOT_FAILED"
  | "STOPPED"
  | "PATH_TOO_LONG";

export class LocalChainError extends Error {
  readonly code: LocalChainErrorCode;

  constructor(code: LocalChainErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = "LocalChainError";
  }
}

/** A snapshot that holds a block durably. */
export interface DurableSnapshot {
  blockNumber: number;
  path: string;
  at: string;
}

interface Waiter {
  blockNumber: number;
  generation: number;
  resolve: (snapshot: DurableSnapshot) => void;
  reject: (error: Error) => void;
}

const DEFAULT_CHAIN_ID = 31337;
const ZERO_ADDRESS = `0x${"00".repeat(20)}`;
/** The port Anvil listens on inside its own network namespace, where nothing else can be. */
const NAMESPACED_PORT = 8545;
/** sun_path holds 108 bytes with the terminating NUL (unix(7)). */
const MAX_SOCKET_PATH = 107;

/**
 * The embedded chain: a single-node development chain (Anvil) that belongs to one service
 * instance, survives crashes of the service and of itself, and keeps every block it was
 * asked to keep.
 *
 * Durability: {@link durableThrough} resolves once a snapshot holding the block is on disk
 * (written atomically, see {@link SnapshotStore}); the node is always started from the
 * newest snapshot, so a block a certificate names survives even a kill -9 of everything.
 * Snapshots are also taken every few seconds while the head moves, and on stop.
 *
 * Supervision: a node that exits unexpectedly is started again from the newest snapshot,
 * with exponential backoff; the state is reported through {@link status} and "status"
 * events, not hidden. A node that stops answering (a dump, or a state read while the head
 * stands still) within `dumpTimeoutMs` is killed and restarted the same way.
 *
 * Ownership: one instance per data directory (a kernel-held lock, see
 * {@link DirectoryLock}). The node's pid is recorded in `chain/anvil.pid`; a node left
 * running by a crashed instance is recognised by its command line, which names this
 * directory's control socket, then saved, stopped and started again as this instance's
 * child. A pid file naming any other process never gets that process signalled.
 *
 * Lock-down: no dev accounts, no CORS, 127.0.0.1 only; where the machine allows it, the
 * node runs in a network namespace of its own and is reached only through its control
 * socket and a gateway that refuses administrative methods, foreign Host headers, web
 * pages and WebSockets, and caps call gas (see `node-gateway.ts`).
 */
export class LocalChain extends EventEmitter<{ status: [LocalChainStatus]; snapshot: [DurableSnapshot] }> {
  readonly url: string;
  readonly chainId: number;
  readonly dataDir: string;
  readonly #options: Required<Omit<LocalChainOptions, "chainId" | "log" | "isolation">>;
  readonly #log: (message: string) => void;
  readonly #chainDir: string;
  readonly #pidFile: string;
  readonly #logFile: string;
  readonly #snapshots: SnapshotStore;
  readonly #ipc: NodeIpc;
  readonly #namespaceFlags: string[] | undefined;
  #status: LocalChainStatus;
  #lock: DirectoryLock | undefined;
  #gateway: NodeGateway | undefined;
  #child: ChildProcess | undefined;
  /** Incremented on every start of the node: blocks past the restored snapshot differ between generations. */
  #generation = 0;
  #durable: { blockNumber: number; generation: number; snapshot: DurableSnapshot | undefined } = {
    blockNumber: -1,
    generation: 0,
    snapshot: undefined,
  };
  #waiters: Waiter[] = [];
  #dumping: Promise<void> | undefined;
  #lastDumpMs = 0;
  #failures = 0;
  #exitReason: string | null = null;
  #closing = false;
  #periodic: NodeJS.Timeout | undefined;
  #restartTimer: NodeJS.Timeout | undefined;
  #launching: Promise<void> | undefined;
  #healthyTimer: NodeJS.Timeout | undefined;

  private constructor(options: LocalChainOptions, namespaceFlags: string[] | undefined) {
    super();
    this.dataDir = options.dataDir;
    this.chainId = options.chainId ?? DEFAULT_CHAIN_ID;
    this.url = `http://127.0.0.1:${options.port}`;
    this.#options = {
      dataDir: options.dataDir,
      port: options.port,
      blockTime: options.blockTime,
      snapshotIntervalMs: options.snapshotIntervalMs ?? 5_000,
      keepSnapshots: options.keepSnapshots ?? 2,
      restartBackoff: options.restartBackoff ?? { initialMs: 500, maxMs: 30_000 },
      failAfter: options.failAfter ?? 5,
      healthyAfterMs: options.healthyAfterMs ?? 30_000,
      dumpTimeoutMs: options.dumpTimeoutMs ?? 60_000,
      startTimeoutMs: options.startTimeoutMs ?? 30_000,
      callGasCap: options.callGasCap ?? DEFAULT_CALL_GAS_CAP,
    };
    this.#log = options.log ?? (() => {});
    this.#chainDir = path.resolve(options.dataDir, "chain");
    this.#pidFile = path.join(this.#chainDir, "anvil.pid");
    this.#logFile = path.join(this.#chainDir, "anvil.log");
    this.#snapshots = new SnapshotStore(path.join(this.#chainDir, "snapshots"), { keep: this.#options.keepSnapshots });
    this.#ipc = new NodeIpc(path.join(this.#chainDir, "node.ipc"));
    this.#namespaceFlags = namespaceFlags;
    const newest = this.#snapshots.newest();
    this.#status = {
      state: "starting",
      restarts: 0,
      lastExit: null,
      lastSnapshot: newest ? { blockNumber: newest.blockNumber, at: newest.at.toISOString() } : null,
      lastError: null,
      pid: null,
      isolation: namespaceFlags ? "network-namespace" : "loopback",
    };
  }

  /**
   * Starts the node from the newest snapshot and returns once it answers. Throws
   * {@link LockHeldError} when another instance runs this data directory's chain,
   * {@link PortInUseError} when the port belongs to another program, and
   * {@link LocalChainError} START_FAILED when the node does not come up.
   */
  static async start(options: LocalChainOptions): Promise<LocalChain> {
    const chainDir = path.resolve(options.dataDir, "chain");
    makeDirectory(chainDir);
    const socket = path.join(chainDir, "node.ipc");
    if (Buffer.byteLength(socket) > MAX_SOCKET_PATH) {
      throw new LocalChainError(
        "PATH_TOO_LONG",
        `the chain's control socket ${socket} is longer than a Unix socket path may be (${MAX_SOCKET_PATH} bytes); use a shorter DATA_DIR`,
      );
    }
    const lock = await DirectoryLock.acquire(chainDir);
    let flags: string[] | undefined;
    const isolation = options.isolation ?? "auto";
    if (isolation !== "loopback") {
      flags = networkNamespaceFlags();
      if (!flags && isolation === "network-namespace") {
        await lock.release();
        throw new LocalChainError("START_FAILED", "this machine does not allow a network namespace (unshare --net)");
      }
    }
    const chain = new LocalChain(options, flags);
    chain.#lock = lock;
    try {
      await chain.#open();
    } catch (e) {
      await chain.#close();
      throw e;
    }
    return chain;
  }

  get status(): LocalChainStatus {
    return structuredClone(this.#status);
  }

  /** The node's pid while it runs. */
  get pid(): number | undefined {
    return this.#child?.pid;
  }

  /** The newest snapshot file, for backups: a complete state that `--load-state` reads. */
  get newestSnapshot(): DurableSnapshot | undefined {
    const newest = this.#snapshots.newest();
    return newest && { blockNumber: newest.blockNumber, path: newest.path, at: newest.at.toISOString() };
  }

  /**
   * Resolves once a snapshot holding block `blockNumber` — the very block the node holds
   * now, and every block before it — is on disk, fsynced: from then on the block survives
   * a power cut, and a restart finds it with the same hash.
   *
   * Pass the block's hash when it is known (a certificate carries it): the call then also
   * checks that the node's block of that number is that block, and rejects with
   * BLOCK_LOST if a restart replaced it. Without it, the block meant is the one the node
   * holds when this is called.
   *
   * Concurrent calls share dumps: one dump runs at a time, and it serves every caller
   * whose block it holds.
   */
  async durableThrough(blockNumber: number, blockHash?: string): Promise<DurableSnapshot> {
    if (!Number.isSafeInteger(blockNumber) || blockNumber < 0) {
      throw new RangeError(`expected a block number, got ${blockNumber}`);
    }
    if (this.#closing) throw new LocalChainError("STOPPED", "the local chain is stopping");
    if (this.#status.state !== "running") {
      throw new LocalChainError("NOT_RUNNING", `the local chain is ${this.#status.state}`);
    }
    const generation = this.#generation;
    let block: { hash: string } | null;
    try {
      block = await this.#ipc.request<{ hash: string } | null>("eth_getBlockByNumber", [hex(blockNumber), false]);
    } catch (e) {
      if (this.#status.state === "running" && generation === this.#generation) throw e;
      throw new LocalChainError("NODE_RESTARTED", `the chain node exited while block ${blockNumber} was looked up`, {
        cause: e,
      });
    }
    if (generation !== this.#generation) {
      throw new LocalChainError("NODE_RESTARTED", `the chain node restarted while block ${blockNumber} was looked up`);
    }
    if (!block) throw new LocalChainError("BLOCK_NOT_MINED", `the local chain has no block ${blockNumber} yet`);
    if (blockHash !== undefined && block.hash.toLowerCase() !== blockHash.toLowerCase()) {
      throw new LocalChainError(
        "BLOCK_LOST",
        `block ${blockNumber} on the local chain is ${block.hash}, not ${blockHash}: the chain restarted from a snapshot without it`,
      );
    }
    if (this.#durable.generation === generation && this.#durable.blockNumber >= blockNumber && this.#durable.snapshot) {
      return this.#durable.snapshot;
    }
    return new Promise((resolve, reject) => {
      this.#waiters.push({ blockNumber, generation, resolve, reject });
      this.#pump();
    });
  }

  /**
   * Sends one JSON-RPC body to the node through the control socket and returns its parsed
   * answer: the service's own client (a ChainTransport), which needs none of the gateway's
   * guards and would otherwise pay its HTTP trips. Fails like any unreachable node while
   * the node restarts.
   */
  exchange(body: string): Promise<unknown> {
    if (this.#status.state !== "running") {
      return Promise.reject(new LocalChainError("NOT_RUNNING", `the local chain is ${this.#status.state}`));
    }
    // As long as the gateway gives a call (its own timeout).
    return this.#ipc.exchange(body, 60_000);
  }

  /** Credits `address` with `wei` (Anvil's `anvil_setBalance`, through the control socket). */
  async fund(address: string, wei: bigint): Promise<void> {
    await this.#ipc.request("anvil_setBalance", [address, `0x${wei.toString(16)}`]);
  }

  /**
   * Stops this instance's node, after a last snapshot; never any other process. Releases
   * the data directory for the next instance.
   */
  async stop(): Promise<void> {
    if (this.#status.state === "stopped") return;
    this.#closing = true;
    clearTimeout(this.#periodic);
    clearTimeout(this.#restartTimer);
    clearTimeout(this.#healthyTimer);
    await this.#launching?.catch(() => {});
    await this.#dumping;
    if (this.#status.state === "running") {
      try {
        const snapshot = await this.#snapshot(this.#ipc);
        this.#recordDurable(snapshot, this.#generation);
      } catch (e) {
        this.#log(`the local chain's last snapshot failed: ${message(e)}`);
      }
    }
    this.#settleWaiters();
    this.#rejectWaiters(() => true, new LocalChainError("STOPPED", "the local chain stopped"));
    await this.#close();
  }

  /** Resolves with the first status (the current one included) for which `predicate` holds. */
  async statusWhen(predicate: (status: LocalChainStatus) => boolean): Promise<LocalChainStatus> {
    if (predicate(this.#status)) return this.status;
    return new Promise((resolve) => {
      const listener = (status: LocalChainStatus) => {
        if (!predicate(status)) return;
        this.off("status", listener);
        resolve(status);
      };
      this.on("status", listener);
    });
  }

  async #open(): Promise<void> {
    const removed = this.#snapshots.removeTemporaryFiles();
    if (removed > 0) this.#log(`removed ${removed} partial chain snapshots left by an interrupted write`);
    await this.#takeOverPrevious();
    await this.#importLegacyState();
    if (this.#namespaceFlags) {
      this.#gateway = await startGateway({
        port: this.#options.port,
        ipc: this.#ipc,
        gasCap: this.#options.callGasCap,
      });
    } else {
      this.#log(
        "the local chain listens on 127.0.0.1 without a network namespace of its own: any local program can use its administrative methods",
      );
    }
    await this.#launch();
    if (!this.#snapshots.newest()) await this.durableThrough(0);
    this.#schedulePeriodic();
  }

  /** Starts the node from the newest snapshot and waits until it answers. */
  async #launch(): Promise<void> {
    if (!this.#namespaceFlags) await assertPortFree(this.#options.port);
    const snapshot = this.#snapshots.newest();
    rmSync(this.#ipc.path, { force: true });
    const args = [
      "--host",
      "127.0.0.1",
      "--port",
      String(this.#namespaceFlags ? NAMESPACED_PORT : this.#options.port),
      "--chain-id",
      String(this.chainId),
      "--accounts",
      "0",
      "--no-cors",
      "--ipc",
      this.#ipc.path,
      ...(this.#options.blockTime > 0 ? ["--block-time", String(this.#options.blockTime)] : []),
      ...(snapshot ? ["--load-state", snapshot.path] : []),
    ];
    const [command, argv] = this.#namespaceFlags
      ? ["unshare", [...this.#namespaceFlags, "--", anvilBinary(), ...args]]
      : [anvilBinary(), args];
    const logStart = existsSync(this.#logFile) ? statSync(this.#logFile).size : 0;
    const log = openSync(this.#logFile, "a", 0o600);
    // Its own process group: a Ctrl-C at the service's terminal does not reach the node
    // directly; the service stops it after a last snapshot. The child stays referenced:
    // a supervising instance keeps its process alive until stop().
    const child = spawn(command, argv, { detached: true, stdio: ["ignore", log, log] });
    closeSync(log);
    let gone = false;
    const exited = once(child, "exit").then(([code, signal]) => {
      gone = true;
      return { code: code as number | null, signal };
    });
    exited.catch(() => (gone = true));
    try {
      if (child.pid === undefined) await exited;
      await writePidFile(this.#pidFile, child.pid!);
      const ready = await Promise.race([this.#answers(this.#options.startTimeoutMs, () => gone), exited]);
      if (ready !== true) {
        throw new LocalChainError(
          "START_FAILED",
          `the chain node exited on start (code ${ready.code}, signal ${ready.signal}): ${tail(this.#logFile, logStart)}`,
        );
      }
    } catch (e) {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      rmSync(this.#pidFile, { force: true });
      if (isPortInUse(tail(this.#logFile, logStart))) throw new PortInUseError(this.#options.port);
      if (e instanceof LocalChainError) throw e;
      throw new LocalChainError("START_FAILED", `the chain node did not start: ${message(e)}`, { cause: e });
    }
    this.#child = child;
    this.#generation++;
    this.#durable = {
      blockNumber: snapshot?.blockNumber ?? -1,
      generation: this.#generation,
      snapshot: snapshot && { blockNumber: snapshot.blockNumber, path: snapshot.path, at: snapshot.at.toISOString() },
    };
    child.once("exit", (code, signal) => this.#onExit(child, code, signal));
    if (child.exitCode !== null || child.signalCode !== null) {
      child.removeAllListeners("exit");
      this.#onExit(child, child.exitCode, child.signalCode);
      return;
    }
    const generation = this.#generation;
    this.#healthyTimer = setTimeout(() => {
      if (this.#generation === generation && this.#child === child) this.#failures = 0;
    }, this.#options.healthyAfterMs).unref();
    this.#setStatus({ state: "running", pid: child.pid!, lastError: null });
  }

  /**
   * Polls the control socket until the node answers (no event announces it); true, or
   * throws on timeout. Stops early once `gone` says the process exited.
   */
  async #answers(timeoutMs: number, gone: () => boolean): Promise<true> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        await this.#ipc.request("eth_chainId", [], 1_000);
        return true;
      } catch (e) {
        if (gone()) throw new Error("the node exited");
        if (Date.now() > deadline) throw new Error(`no answer within ${timeoutMs} ms: ${message(e)}`);
        await delay(50);
      }
    }
  }

  #onExit(child: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    if (this.#child !== child) return;
    this.#child = undefined;
    rmSync(this.#pidFile, { force: true });
    if (this.#closing) return;
    const reason = this.#exitReason;
    this.#exitReason = null;
    this.#failures++;
    const at = new Date().toISOString();
    this.#log(
      `the local chain node exited unexpectedly (code ${code}, signal ${signal}${reason ? `; ${reason}` : ""}); restarting it from the newest snapshot`,
    );
    this.#rejectWaiters(
      (w) => w.generation === this.#generation,
      new LocalChainError("NODE_RESTARTED", "the chain node exited before the block was in a snapshot"),
    );
    this.#scheduleRestart({ restarts: this.#status.restarts + 1, lastExit: { code, signal, at, reason }, pid: null });
  }

  /** Schedules the next start after the backoff; `change` goes into the same status update. */
  #scheduleRestart(change: Partial<LocalChainStatus> = {}): void {
    const { initialMs, maxMs } = this.#options.restartBackoff;
    const wait = Math.min(maxMs, initialMs * 2 ** Math.max(0, this.#failures - 1));
    this.#setStatus({ ...change, state: this.#failures >= this.#options.failAfter ? "failed" : "restarting" });
    this.#restartTimer = setTimeout(() => void this.#restart(), wait);
  }

  async #restart(): Promise<void> {
    if (this.#closing) return;
    try {
      this.#launching = this.#launch();
      await this.#launching;
      this.#log(`restarted the local chain node (pid ${this.pid}) from block ${this.#durable.blockNumber}`);
    } catch (e) {
      if (this.#closing) return;
      this.#failures++;
      this.#log(`restarting the local chain node failed (${this.#failures} in a row): ${message(e)}`);
      this.#scheduleRestart({ lastError: message(e) });
    } finally {
      this.#launching = undefined;
    }
  }

  /** Runs dumps while callers wait for blocks the durable snapshot does not hold yet. */
  #pump(): void {
    if (this.#dumping) return;
    this.#dumping = (async () => {
      while (this.#child && this.#status.state === "running") {
        const generation = this.#generation;
        if (!this.#waiters.some((w) => w.generation === generation)) return;
        let snapshot: DurableSnapshot;
        try {
          snapshot = await this.#snapshot(this.#ipc);
        } catch (e) {
          const error = new LocalChainError("SNAPSHOT_FAILED", `the chain snapshot failed: ${message(e)}`, {
            cause: e,
          });
          this.#setStatus({ lastError: error.message });
          this.#rejectWaiters((w) => w.generation === generation, error);
          return;
        }
        if (generation !== this.#generation) continue;
        this.#recordDurable(snapshot, generation);
        this.#settleWaiters();
        // A head that went back (an administrative revert) cannot serve a waiter for a later block.
        this.#rejectWaiters(
          (w) => w.generation === generation && w.blockNumber > snapshot.blockNumber,
          new LocalChainError("BLOCK_LOST", `the chain's head went back to block ${snapshot.blockNumber}`),
        );
      }
    })().finally(() => {
      this.#dumping = undefined;
      // A caller may have registered between the loop's last look and this line.
      const waiting = this.#waiters.some((w) => w.generation === this.#generation);
      if (waiting && this.#child && this.#status.state === "running") this.#pump();
    });
  }

  #recordDurable(snapshot: DurableSnapshot, generation: number): void {
    if (generation !== this.#generation) return;
    this.#durable = { blockNumber: snapshot.blockNumber, generation, snapshot };
    this.#setStatus({ lastSnapshot: { blockNumber: snapshot.blockNumber, at: snapshot.at }, lastError: null });
    this.emit("snapshot", snapshot);
  }

  #settleWaiters(): void {
    const { blockNumber, generation, snapshot } = this.#durable;
    if (!snapshot) return;
    const done = this.#waiters.filter((w) => w.generation === generation && w.blockNumber <= blockNumber);
    this.#waiters = this.#waiters.filter((w) => !done.includes(w));
    for (const w of done) w.resolve(snapshot);
  }

  #rejectWaiters(which: (w: Waiter) => boolean, error: Error): void {
    const rejected = this.#waiters.filter(which);
    this.#waiters = this.#waiters.filter((w) => !rejected.includes(w));
    for (const w of rejected) w.reject(error);
  }

  /**
   * One consistent dump of the node's state, written as the newest snapshot.
   *
   * The head is read before and after the dump: a block mined meanwhile shows as a moved
   * head, and the dump is taken again. With interval mining the first dump is taken with
   * the miner running: pausing and resuming it restarts the block interval, which would put
   * off the next block by up to a whole interval after every certification. Later attempts,
   * and every dump when blocks are mined on demand, pause mining (a block the miner had
   * already taken on when it was paused still shows as a moved head). The dump is decoded
   * and checked for a torn state (see `tornState`) after mining resumes, which keeps the
   * pause short; a torn dump is taken again from the start. The file is written last.
   */
  async #snapshot(rpc: NodeIpc): Promise<DurableSnapshot> {
    const started = performance.now();
    let torn: string | null = null;
    for (let attempt = 1; attempt <= 3; attempt++) {
      const unpaused = attempt === 1 && this.#options.blockTime > 0 ? await this.#dumpBetweenBlocks(rpc) : null;
      const { hexState, head } = unpaused ?? (await this.#pausedDump(rpc));
      const { json, state } = await decodeDump(hexState);
      if (headOf(state) !== head) throw new Error(`the dump holds block ${headOf(state)}, the node said ${head}`);
      const tear = tornState(state);
      // A tear needs a block mined during the dump; the same finding twice at the same head
      // is the state itself (an administrative nonce change), not a tear.
      if (tear && tear !== torn) {
        torn = tear;
        continue;
      }
      if (tear) this.#log(`the chain state is inconsistent at block ${head}: ${tear}`);
      const file = await this.#snapshots.write(json, head);
      this.#lastDumpMs = performance.now() - started;
      return { blockNumber: file.blockNumber, path: file.path, at: file.at.toISOString() };
    }
    throw new Error(`every dump was torn: ${torn}`);
  }

  /** `anvil_dumpState` and the head around it; null if a block was mined during it. */
  async #dumpBetweenBlocks(rpc: NodeIpc): Promise<{ hexState: string; head: number } | null> {
    const before = Number(await rpc.request<string>("eth_blockNumber"));
    const hexState = await this.#answerOrKill<string>(rpc, "anvil_dumpState", [], "dump its state");
    const after = Number(await rpc.request<string>("eth_blockNumber"));
    return before === after ? { hexState, head: before } : null;
  }

  /** `anvil_dumpState` with mining paused, taken again until no block was mined during it. */
  async #pausedDump(rpc: NodeIpc): Promise<{ hexState: string; head: number }> {
    const interval = this.#options.blockTime;
    const [pause, resume] =
      interval > 0
        ? [["evm_setIntervalMining", [0]] as const, ["evm_setIntervalMining", [interval]] as const]
        : [["evm_setAutomine", [false]] as const, ["evm_setAutomine", [true]] as const];
    await rpc.request(pause[0], [...pause[1]]);
    try {
      // Blocks the miner had already taken on are still mined (a burst of transactions
      // becomes several blocks): wait for them to be through.
      for (let attempt = 1; attempt <= 50; attempt++) {
        if (attempt > 1) await delay(20);
        const dump = await this.#dumpBetweenBlocks(rpc);
        if (dump) return dump;
      }
      throw new Error("the chain kept mining through 50 dumps");
    } finally {
      await rpc.request(resume[0], [...resume[1]]).catch(() => {});
    }
  }

  /**
   * A state read that gets no answer means a writer (the miner, with a transaction in its
   * pool) waits behind a reader that never ends, such as a call with unbounded gas; every
   * block, read and dump then waits with it. While the head stands still no dump would
   * notice, so the read is the check: a node that does not answer it is killed and restarted.
   */
  async #probeState(): Promise<void> {
    await this.#answerOrKill(this.#ipc, "eth_getBalance", [ZERO_ADDRESS, "latest"], "answer a state read");
  }

  /**
   * A request the node must answer within `dumpTimeoutMs`: a node that does not (`it did not
   * <what> within … ms`) is taken for hung and killed, to be restarted; never one started since.
   */
  async #answerOrKill<T>(rpc: NodeIpc, method: string, params: unknown[], what: string): Promise<T> {
    const generation = this.#generation;
    const timeoutMs = this.#options.dumpTimeoutMs;
    try {
      return await rpc.request<T>(method, params, timeoutMs);
    } catch (e) {
      if (/did not answer/.test(message(e)) && generation === this.#generation) {
        this.#killHung(`it did not ${what} within ${timeoutMs} ms`);
      }
      throw e;
    }
  }

  /** A node that holds its state lock for ever (a call that never ends) is killed and restarted. */
  #killHung(reason: string): void {
    const child = this.#child;
    if (!child) return;
    this.#exitReason = reason;
    child.kill("SIGKILL");
  }

  #schedulePeriodic(): void {
    const wait = Math.max(this.#options.snapshotIntervalMs, 20 * this.#lastDumpMs);
    this.#periodic = setTimeout(() => void this.#periodicSnapshot(), wait).unref();
  }

  async #periodicSnapshot(): Promise<void> {
    try {
      if (this.#status.state === "running" && !this.#closing) {
        const head = Number(await this.#ipc.request<string>("eth_blockNumber"));
        if (head > this.#durable.blockNumber || this.#durable.generation !== this.#generation) {
          await this.durableThrough(head);
        } else {
          await this.#probeState();
        }
      }
    } catch (e) {
      this.#log(
        `the periodic chain check (a snapshot, or a state read while the head stands still) failed: ${message(e)}`,
      );
    }
    if (!this.#closing) this.#schedulePeriodic();
  }

  /**
   * A node left running by a crashed instance of this service: recognised by its command
   * line, which names this directory's control socket — found through the pid file and,
   * should that be gone, among all processes — then saved, and stopped, to be started
   * again as this instance's child. A node of the earlier layout (`--state
   * chain/state.json`) is stopped with SIGTERM, which makes it write that file. Any other
   * process the pid file may name is left alone.
   */
  async #takeOverPrevious(): Promise<void> {
    // The earlier layout named the file as DATA_DIR was given, relative or not.
    const legacyStates = [path.join(this.#chainDir, "state.json"), path.join(this.dataDir, "chain", "state.json")];
    const ours = (argv: string[]) => hasArgument(argv, "--ipc", this.#ipc.path);
    const legacy = (argv: string[]) => legacyStates.some((file) => hasArgument(argv, "--state", file));
    const recorded = readPid(this.#pidFile);
    if (recorded !== undefined && isAlive(recorded)) {
      const argv = commandLine(recorded);
      if (!argv || (!ours(argv) && !legacy(argv))) {
        this.#log(
          `${this.#pidFile} named pid ${recorded}, which is not this data directory's chain node; left it alone`,
        );
      }
    }
    for (const pid of processesWhere(ours)) {
      this.#log(
        `found this data directory's chain node still running (pid ${pid}); saving its state and restarting it`,
      );
      try {
        const pending = await this.#ipc.request<{ pending: string }>("txpool_status");
        // Transactions waiting in its pool would be lost with the process: mine them first.
        if (Number(pending.pending) > 0) await this.#ipc.request("evm_mine");
        const snapshot = await this.#snapshot(this.#ipc);
        this.#log(`saved the running chain node's state at block ${snapshot.blockNumber}`);
      } catch (e) {
        this.#log(`could not save the running chain node's state (${message(e)}); restarting from the newest snapshot`);
      }
      await this.#stopPrevious(pid);
    }
    for (const pid of processesWhere(legacy)) {
      this.#log(
        `stopping this data directory's chain node of the earlier layout (pid ${pid}); it saves its state.json`,
      );
      await this.#stopPrevious(pid);
    }
    rmSync(this.#pidFile, { force: true });
  }

  /** Never a second node on the same state: one that outlives SIGKILL stops the start. */
  async #stopPrevious(pid: number): Promise<void> {
    await terminate(pid);
    if (isAlive(pid)) {
      throw new LocalChainError("START_FAILED", `this data directory's earlier chain node (pid ${pid}) does not exit`);
    }
  }

  /** The earlier layout kept one `chain/state.json`: it becomes the first snapshot. */
  async #importLegacyState(): Promise<void> {
    const legacy = path.join(this.#chainDir, "state.json");
    if (this.#snapshots.newest() || !existsSync(legacy)) return;
    const json = readFileSync(legacy);
    let head: number;
    try {
      head = headOf(parseState(json));
    } catch (e) {
      throw new LocalChainError(
        "START_FAILED",
        `${legacy} is not a complete chain state (${message(e)}); restore it from a backup or move it away`,
      );
    }
    const snapshot = await this.#snapshots.write(json, head);
    this.#setStatus({ lastSnapshot: { blockNumber: head, at: snapshot.at.toISOString() } });
    this.#log(`imported ${legacy} (block ${head}) as the first chain snapshot; the file itself is no longer used`);
  }

  async #close(): Promise<void> {
    this.#closing = true;
    clearTimeout(this.#periodic);
    clearTimeout(this.#restartTimer);
    clearTimeout(this.#healthyTimer);
    const child = this.#child;
    if (child) {
      // Keep this process alive until the node has exited.
      child.ref();
      const exited = once(child, "exit");
      child.kill("SIGTERM");
      const stopped = await Promise.race([exited.then(() => true), delay(10_000, false, { ref: false })]);
      if (!stopped) {
        child.kill("SIGKILL");
        await exited;
      }
      this.#child = undefined;
    }
    rmSync(this.#pidFile, { force: true });
    await this.#gateway?.close();
    await this.#lock?.release();
    this.#setStatus({ state: "stopped", pid: null });
  }

  #setStatus(change: Partial<LocalChainStatus>): void {
    this.#status = { ...this.#status, ...change };
    this.emit("status", this.status);
  }
}

/** Starts the embedded chain; see {@link LocalChain.start}. */
export function startLocalChain(options: LocalChainOptions): Promise<LocalChain> {
  return LocalChain.start(options);
}

/** The Anvil binary shipped in the platform package of `@foundry-rs/anvil`. */
export function anvilBinary(): string {
  const require = createRequire(import.meta.url);
  const arch = { x64: "amd64", arm64: "arm64" }[process.arch as string] ?? process.arch;
  const pkg = require.resolve(`@foundry-rs/anvil-${process.platform}-${arch}/package.json`);
  return path.join(path.dirname(pkg), "bin", process.platform === "win32" ? "anvil.exe" : "anvil");
}

/** Stops a process that is not our child (so cannot be awaited): SIGTERM, then SIGKILL after 10 s. */
async function terminate(pid: number): Promise<void> {
  try {
    process.kill(pid, "SIGTERM");
  } catch {
    return;
  }
  for (let i = 0; i < 200 && isAlive(pid); i++) await delay(50);
  if (!isAlive(pid)) return;
  try {
    process.kill(pid, "SIGKILL");
  } catch {
    return;
  }
  for (let i = 0; i < 100 && isAlive(pid); i++) await delay(50);
}

/** Binding first tells a port in use by another program apart from a node that fails to start. */
async function assertPortFree(port: number): Promise<void> {
  const probe = createServer();
  probe.listen(port, "127.0.0.1");
  try {
    await once(probe, "listening");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "EADDRINUSE") throw new PortInUseError(port);
    throw e;
  }
  probe.close();
  await once(probe, "close");
}

function isPortInUse(log: string): boolean {
  return /Address already in use|AddrInUse/i.test(log);
}

async function writePidFile(file: string, pid: number): Promise<void> {
  const temporary = `${file}.tmp`;
  await writeFile(temporary, `${pid}\n`, { mode: 0o600 });
  await rename(temporary, file);
  await syncDirectory(path.dirname(file));
}

function readPid(file: string): number | undefined {
  if (!existsSync(file)) return undefined;
  const pid = Number(readFileSync(file, "utf8").trim());
  return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
}

/** What the node wrote to its log since `offset`, last 2 KB, on one line. */
function tail(file: string, offset: number): string {
  try {
    const size = statSync(file).size;
    const start = Math.max(offset, size - 2048);
    const buffer = Buffer.alloc(size - start);
    const fd = openSync(file, "r");
    try {
      readSync(fd, buffer, 0, buffer.length, start);
    } finally {
      closeSync(fd);
    }
    return (
      buffer
        .toString("utf8")
        .trim()
        .replace(/\s*\n\s*/g, " | ") || "(nothing in its log)"
    );
  } catch {
    return "(no log)";
  }
}

function hex(n: number): string {
  return `0x${n.toString(16)}`;
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
