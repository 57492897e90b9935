import { EvidenceError } from "./errors.ts";
import { decodeAnchoredLog, decodeAnchorOf, encodeAnchorOf, isAnchoredTopic } from "./anchor-abi.ts";
import type { Hex32 } from "./hex.ts";
import { recall, remember } from "./recently-used.ts";

/** What the contract's `anchorOf(root)` returns; all zeros when the root was never anchored. */
export interface AnchorOnChain {
  timestamp: number;
  blockNumber: number;
  treeSize: number;
}

/** A block header, as far as verification needs it. */
export interface BlockOnChain {
  hash: Hex32;
  timestamp: number;
  /** The hashes of the block's transactions. */
  transactions: Hex32[];
}

/** An `Anchored` event as the chain holds it. */
export interface AnchoredEvent {
  contract: string;
  root: Hex32;
  anchorer: string;
  treeSize: number;
  timestamp: number;
}

/** A transaction's receipt, as far as verification needs it. */
export interface ReceiptOnChain {
  status: 0 | 1;
  blockNumber: number;
  blockHash: Hex32;
  /** The `Anchored` events the transaction emitted, from any contract (the verifier checks which). */
  anchored: AnchoredEvent[];
}

/**
 * The chain reads verification needs. The service, the CLI and the web page each hand one
 * to the verifier; {@link JsonRpcChainReader} is the usual one. Implementations throw
 * CHAIN_UNAVAILABLE when the chain cannot be read, or answers something that is not
 * JSON-RPC: that is an error, never evidence against a certificate.
 */
export interface ChainReader {
  chainId(): Promise<number>;
  /** The newest block's number. */
  blockNumber(): Promise<number>;
  /**
   * The newest block's number when it is known to be at least `atLeast` without asking the
   * node (a cache's highest seen), else as {@link blockNumber}. Optional: a reader without it
   * is asked {@link blockNumber}.
   */
  blockNumberAtLeast?(atLeast: number): Promise<number>;
  /**
   * Whether there is code at `contract`: in the newest state, or in the state after block `at`.
   * A node whose newest state is behind the block it reports as newest (one importing it, or
   * one of a pool of nodes at different heights) answers "no" wrongly; at a given block it
   * answers that block's state or an error.
   */
  hasCode(contract: string, at?: number): Promise<boolean>;
  /** The contract's record of `root`: in the newest state, or in the state after block `at` (as {@link hasCode}). */
  anchorOf(contract: string, root: Hex32, at?: number): Promise<AnchorOnChain>;
  /** null when the chain has no block of that number. */
  block(blockNumber: number): Promise<BlockOnChain | null>;
  /** null when the chain knows no such transaction (or it is not mined yet). */
  receipt(txHash: Hex32): Promise<ReceiptOnChain | null>;
}

/** The JSON-RPC methods verification uses: the service's read-only proxy allows exactly these. */
export const VERIFIER_RPC_METHODS = [
  "eth_chainId",
  "eth_blockNumber",
  "eth_getCode",
  "eth_call",
  "eth_getBlockByNumber",
  "eth_getTransactionReceipt",
] as const;

export type VerifierRpcMethod = (typeof VERIFIER_RPC_METHODS)[number];

/** The label of the node a service verifies through: its own (server.ts), or its /rpc proxy as the pages use it. */
export const SERVICE_NODE_LABEL = "the service's chain node";

/**
 * Reads the chain over plain JSON-RPC with `fetch`: the same code runs in node (service,
 * CLI) and in the browser (verification page).
 */
export class JsonRpcChainReader implements ChainReader {
  readonly url: string;
  /** How the node is named in messages: its URL, unless the caller must not show it. */
  readonly label: string;
  readonly #timeoutMs: number;
  #nextId = 1;

  constructor(url: string, options: { timeoutMs?: number; label?: string } = {}) {
    this.url = url;
    this.label = options.label ?? url;
    this.#timeoutMs = options.timeoutMs ?? 10_000;
  }

  async chainId(): Promise<number> {
    return quantity(await this.request("eth_chainId", []), "eth_chainId", this.label);
  }

  async blockNumber(): Promise<number> {
    return quantity(await this.request("eth_blockNumber", []), "eth_blockNumber", this.label);
  }

  async hasCode(contract: string, at?: number): Promise<boolean> {
    const code = await this.request("eth_getCode", [contract, blockTag(at)]);
    if (typeof code !== "string")
      throw unavailable(`eth_getCode answered ${typeof code}, not hex`, undefined, "bad-answer", this.label);
    return code !== "0x" && code !== "0x0";
  }

  async anchorOf(contract: string, root: Hex32, at?: number): Promise<AnchorOnChain> {
    const result = await this.request("eth_call", [{ to: contract, data: encodeAnchorOf(root) }, blockTag(at)]);
    try {
      return decodeAnchorOf(String(result));
    } catch (e) {
      throw unavailable(
        `the contract at ${contract} answered anchorOf with something that is not an EvidenceAnchor answer`,
        e,
      );
    }
  }

  async block(blockNumber: number): Promise<BlockOnChain | null> {
    const block = (await this.request("eth_getBlockByNumber", [`0x${blockNumber.toString(16)}`, false])) as {
      hash?: unknown;
      timestamp?: unknown;
      transactions?: unknown;
    } | null;
    if (block === null) return null;
    const hex32 = (h: unknown) => typeof h === "string" && /^0x[0-9a-fA-F]{64}$/.test(h);
    if (
      typeof block !== "object" ||
      !hex32(block.hash) ||
      !Array.isArray(block.transactions) ||
      !block.transactions.every(hex32)
    ) {
      throw unavailable("eth_getBlockByNumber returned a malformed block", undefined, "bad-answer", this.label);
    }
    return {
      hash: (block.hash as string).toLowerCase() as Hex32,
      timestamp: quantity(block.timestamp, "block.timestamp", this.label),
      transactions: (block.transactions as string[]).map((h) => h.toLowerCase() as Hex32),
    };
  }

  async receipt(txHash: Hex32): Promise<ReceiptOnChain | null> {
    const receipt = (await this.request("eth_getTransactionReceipt", [txHash])) as RawReceipt | null;
    if (receipt === null) return null;
    if (typeof receipt !== "object" || typeof receipt.blockHash !== "string" || !Array.isArray(receipt.logs)) {
      throw unavailable("eth_getTransactionReceipt returned a malformed receipt", undefined, "bad-answer", this.label);
    }
    const anchored: AnchoredEvent[] = [];
    for (const log of receipt.logs) {
      const event = anchoredEvent(log);
      if (event) anchored.push(event);
    }
    return {
      status: quantity(receipt.status, "receipt.status", this.label) === 1 ? 1 : 0,
      blockNumber: quantity(receipt.blockNumber, "receipt.blockNumber", this.label),
      blockHash: receipt.blockHash.toLowerCase() as Hex32,
      anchored,
    };
  }

  /** The node in a sentence: "the chain node at URL", or the label that stands for it ("the service's chain node"). */
  get #node(): string {
    return this.label === this.url ? `the chain node at ${this.url}` : this.label;
  }

  /** One JSON-RPC 2.0 call; any failure is CHAIN_UNAVAILABLE with the reason. */
  async request(method: string, params: unknown[]): Promise<unknown> {
    let response: Response;
    try {
      response = await fetch(this.url, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ jsonrpc: "2.0", id: this.#nextId++, method, params }),
        signal: AbortSignal.timeout(this.#timeoutMs),
      });
    } catch (e) {
      const timedOut = (e as Error)?.name === "TimeoutError";
      throw unavailable(
        timedOut
          ? `${this.#node} did not answer within ${this.#timeoutMs / 1000} s`
          : `cannot reach ${this.#node}: ${this.label === this.url ? reason(e) : errorCode(e)}`,
        e,
        timedOut ? "timeout" : "unreachable",
        this.label,
      );
    }
    let body: { result?: unknown; error?: { message?: unknown }; code?: unknown; detail?: unknown } | undefined;
    let unparsed: unknown;
    try {
      body = (await response.json()) as typeof body;
    } catch (e) {
      unparsed = e;
    }
    // A gateway in front of the node saying the node behind it is down: a reverse proxy's
    // error page, or this service's /rpc with its problem (502 CHAIN_UNREACHABLE).
    if (GATEWAY_FAILURES.has(response.status) && !(typeof body === "object" && body !== null && "jsonrpc" in body)) {
      const problem =
        typeof body === "object" && body !== null
          ? `${typeof body.code === "string" ? ` ${body.code}` : ""}${typeof body.detail === "string" ? `: ${body.detail}` : ""}`
          : ": the node behind it is down";
      throw unavailable(
        `${this.#node} answered HTTP ${response.status}${problem}`,
        unparsed,
        "unreachable",
        this.label,
      );
    }
    if (unparsed !== undefined) {
      throw unavailable(
        `${this.label} answered HTTP ${response.status} without JSON-RPC`,
        unparsed,
        "not-json-rpc",
        this.label,
      );
    }
    if (typeof body !== "object" || body === null) {
      throw unavailable(`${this.label} answered without JSON-RPC`, undefined, "not-json-rpc", this.label);
    }
    if (body.error !== undefined) {
      throw unavailable(
        `${method} failed: ${String(body.error?.message ?? "error")}`,
        undefined,
        "rpc-error",
        this.label,
      );
    }
    if (!("result" in body))
      throw unavailable(`${method}: no result from ${this.label}`, undefined, "not-json-rpc", this.label);
    return body.result;
  }
}

/** Statuses of a gateway whose upstream (the node) failed: Bad Gateway, Service Unavailable, Gateway Timeout. */
const GATEWAY_FAILURES = new Set([502, 503, 504]);

interface RawReceipt {
  status?: unknown;
  blockNumber?: unknown;
  blockHash?: unknown;
  logs?: unknown;
}

/** Decodes an `Anchored` log, or null for any other log. */
function anchoredEvent(log: unknown): AnchoredEvent | null {
  const l = log as { address?: unknown; topics?: unknown; data?: unknown };
  if (typeof l !== "object" || l === null || !Array.isArray(l.topics) || !isAnchoredTopic(l.topics[0])) return null;
  if (typeof l.address !== "string" || typeof l.data !== "string" || l.topics.length !== 3) return null;
  const decoded = decodeAnchoredLog(l.topics, l.data);
  return decoded && { contract: l.address, ...decoded };
}

/**
 * Caches what cannot change: the chain id, blocks, receipts, and anchors once set
 * (anchors are immutable). Unset anchors are asked again, since they may be set later;
 * the newest block number is remembered as the highest seen, so a verifier asks the node
 * only when a certificate names a newer block. A read already under way is shared, not
 * asked again: certificates of one batch verified at once ask the node once.
 *
 * On a chain whose blocks are final only some blocks deep (`finalityDepth`), a block, a
 * receipt or an anchor is remembered only once that many blocks are above it: a newer one
 * may still be replaced, and whoever asked for it first (anyone, through the service's verify
 * route) would otherwise decide what every later verification is told. What is remembered
 * can still be lost by a chain restored from an older backup: {@link stillHeld} asks the node
 * for the newest block remembered and forgets everything when the node no longer has it.
 */
/** How many blocks {@link CachingChainReader.stillHeld} asks about at most; past it, everything is forgotten. */
const MAX_HELD_ASKED = 64;

export class CachingChainReader implements ChainReader {
  readonly #inner: ChainReader;
  readonly #limit: number;
  #chainId: Promise<number> | undefined;
  #highestBlock = -1;
  readonly #code = new Map<string, boolean>();
  readonly #anchors = new Map<string, AnchorOnChain>();
  readonly #blocks = new Map<number, BlockOnChain>();
  readonly #receipts = new Map<string, ReceiptOnChain>();
  readonly #underWay = new Map<string, Promise<unknown>>();
  /** Grows with each {@link forget}: a read begun before it is not remembered after it. */
  #generation = 0;
  readonly #finalityDepth: number;
  /**
   * The newest block anything remembered is in, with its hash, and each block that was the
   * newest since {@link stillHeld} last asked (what is remembered may come from two forks, if
   * the chain changed between): what stillHeld asks about.
   */
  #newestHeld: { number: number; hash: Hex32 } | undefined;
  #heldSinceAsked: { number: number; hash: Hex32 }[] = [];
  /** The newest block remembered when {@link stillHeld} last asked. */
  #lastAsked: { number: number; hash: Hex32 } | undefined;

  /**
   * `limit` bounds each cache; past it the entry read longest ago goes. `finalityDepth`: how
   * many blocks must be above a block before what is in it is remembered (0, the default,
   * for a chain with immediate finality: QBFT, IBFT, a single development node).
   */
  constructor(inner: ChainReader, options: { limit?: number; finalityDepth?: number } = {}) {
    this.#inner = inner;
    this.#limit = options.limit ?? 10_000;
    this.#finalityDepth = options.finalityDepth ?? 0;
  }

  /**
   * Whether the node still has the newest block anything remembered is in, as it was: when
   * it has another block there, or none (a fork deeper than the finality depth, a node
   * restored from an older backup), everything is forgotten and false returned. Every block
   * below it is linked to it by hash, so one read answers for all that is remembered.
   */
  async stillHeld(): Promise<boolean> {
    const asked = [...(this.#lastAsked ? [this.#lastAsked] : []), ...this.#heldSinceAsked];
    this.#heldSinceAsked = [];
    this.#lastAsked = this.#newestHeld;
    const generation = this.#generation;
    // Too many to ask about (a bulk read of many new batches between two passes): forgotten.
    const lost =
      asked.length > MAX_HELD_ASKED ||
      (await Promise.all(asked.map(async (held) => (await this.#inner.block(held.number))?.hash !== held.hash))).some(
        Boolean,
      );
    if (generation !== this.#generation || !lost) return true;
    this.forget();
    return false;
  }

  /**
   * Forgets everything read: the chain is known to have lost what it held (a rollback, a
   * restore), so an anchor, block or receipt read before may be gone.
   */
  forget(): void {
    this.#generation++;
    this.#highestBlock = -1;
    this.#newestHeld = undefined;
    this.#heldSinceAsked = [];
    this.#lastAsked = undefined;
    this.#code.clear();
    this.#anchors.clear();
    this.#blocks.clear();
    this.#receipts.clear();
    this.#underWay.clear();
  }

  chainId(): Promise<number> {
    this.#chainId ??= this.#inner.chainId().catch((e: unknown) => {
      this.#chainId = undefined;
      throw e;
    });
    return this.#chainId;
  }

  async blockNumber(): Promise<number> {
    const generation = this.#generation;
    const latest = await this.#shared("height", () => this.#inner.blockNumber());
    if (generation === this.#generation) this.#highestBlock = Math.max(this.#highestBlock, latest);
    return latest;
  }

  /** The newest block number, asked of the node only when `atLeast` is beyond what was seen. */
  async blockNumberAtLeast(atLeast: number): Promise<number> {
    return this.#highestBlock >= atLeast ? this.#highestBlock : this.blockNumber();
  }

  async hasCode(contract: string, at?: number): Promise<boolean> {
    const key = contract.toLowerCase();
    const cached = recall(this.#code, key);
    if (cached) return true;
    const generation = this.#generation;
    const has = await this.#shared(`code ${key} ${blockTag(at)}`, () => this.#inner.hasCode(contract, at));
    if (has && generation === this.#generation) remember(this.#code, key, true, this.#limit);
    return has;
  }

  async anchorOf(contract: string, root: Hex32, at?: number): Promise<AnchorOnChain> {
    const key = `${contract.toLowerCase()}/${root}`;
    const cached = recall(this.#anchors, key);
    if (cached) return cached;
    const generation = this.#generation;
    const anchor = await this.#shared(`anchor ${key} ${blockTag(at)}`, () => this.#inner.anchorOf(contract, root, at));
    // Remembered with the hash of its block, which stillHeld() then asks about.
    if (anchor.timestamp !== 0 && (await this.#final(anchor.blockNumber, generation))) {
      const block = await this.block(anchor.blockNumber).catch(() => null);
      if (block && generation === this.#generation) {
        this.#held(anchor.blockNumber, block.hash);
        remember(this.#anchors, key, anchor, this.#limit);
      }
    }
    return anchor;
  }

  async block(blockNumber: number): Promise<BlockOnChain | null> {
    const cached = recall(this.#blocks, blockNumber);
    if (cached) return cached;
    const generation = this.#generation;
    const block = await this.#shared(`block ${blockNumber}`, () => this.#inner.block(blockNumber));
    if (block && (this.#finalNow(blockNumber, generation) ?? (await this.#final(blockNumber, generation)))) {
      this.#held(blockNumber, block.hash);
      remember(this.#blocks, blockNumber, block, this.#limit);
    }
    return block;
  }

  async receipt(txHash: Hex32): Promise<ReceiptOnChain | null> {
    const cached = recall(this.#receipts, txHash);
    if (cached) return cached;
    const generation = this.#generation;
    const receipt = await this.#shared(`receipt ${txHash}`, () => this.#inner.receipt(txHash));
    if (
      receipt &&
      (this.#finalNow(receipt.blockNumber, generation) ?? (await this.#final(receipt.blockNumber, generation)))
    ) {
      this.#held(receipt.blockNumber, receipt.blockHash);
      remember(this.#receipts, txHash, receipt, this.#limit);
    }
    return receipt;
  }

  /**
   * Whether what is in block `n` may be remembered: nothing was forgotten since the read
   * began (`generation`), and `finalityDepth` blocks are above it (the newest block number is
   * asked again once when the highest seen is not high enough).
   */
  async #final(n: number, generation: number): Promise<boolean> {
    const now = this.#finalNow(n, generation);
    if (now !== undefined) return now;
    const latest = await this.blockNumber().catch(() => -1);
    return generation === this.#generation && n <= latest - this.#finalityDepth;
  }

  /**
   * {@link #final} without asking the node, so that a read is remembered in the same turn
   * it ends (a second read of the same finds it under way or remembered, never neither);
   * undefined when the node must be asked.
   */
  #finalNow(n: number, generation: number): boolean | undefined {
    if (generation !== this.#generation) return false;
    if (this.#finalityDepth === 0 || n <= this.#highestBlock - this.#finalityDepth) return true;
    return undefined;
  }

  /** Notes that something in block `n`, of hash `hash`, is remembered. */
  #held(n: number, hash: Hex32): void {
    if (this.#newestHeld === undefined || n > this.#newestHeld.number) {
      this.#newestHeld = { number: n, hash };
      this.#heldSinceAsked.push(this.#newestHeld);
    }
  }

  /** The read under way for `key`, or `read` started now and shared until it settles. */
  #shared<T>(key: string, read: () => Promise<T>): Promise<T> {
    const running = this.#underWay.get(key) as Promise<T> | undefined;
    if (running) return running;
    const started: Promise<T> = read().finally(() => {
      if (this.#underWay.get(key) === started) this.#underWay.delete(key);
    });
    this.#underWay.set(key, started);
    return started;
  }
}

/** The JSON-RPC block parameter: the newest state, or the state after block `at`. */
function blockTag(at: number | undefined): string {
  return at === undefined ? "latest" : `0x${at.toString(16)}`;
}

function quantity(value: unknown, what: string, node = ""): number {
  if (typeof value !== "string" || !/^0x[0-9a-fA-F]{1,16}$/.test(value)) {
    throw unavailable(`${what}: not a JSON-RPC quantity`, undefined, "bad-answer", node);
  }
  return Number(BigInt(value));
}

/**
 * Why a node could not be read, in a word a page or the CLI can say in any language:
 * `unreachable` (refused, no route, no such host), `timeout`, `not-json-rpc` (it answered
 * something else, e.g. a web page), `rpc-error` (it refused the call), `bad-answer` (an
 * answer of the wrong shape).
 */
export type ChainFailure = "unreachable" | "timeout" | "not-json-rpc" | "rpc-error" | "bad-answer";

/** A chain that could not be read: never evidence against a certificate. */
export class ChainUnavailableError extends EvidenceError {
  readonly failure: ChainFailure;
  readonly node: string;

  constructor(failure: ChainFailure, node: string, message: string, options?: { cause?: unknown }) {
    super("CHAIN_UNAVAILABLE", message, options);
    this.name = "ChainUnavailableError";
    this.failure = failure;
    this.node = node;
  }
}

function unavailable(message: string, cause?: unknown, failure: ChainFailure = "bad-answer", node = ""): EvidenceError {
  return new ChainUnavailableError(failure, node, message, cause === undefined ? undefined : { cause });
}

/**
 * Why a request failed, without the message: a socket error's message names the address it
 * tried (ECONNREFUSED 127.0.0.1:8545), which a node hidden behind a label must not show.
 */
function errorCode(e: unknown): string {
  const cause = e instanceof Error ? (e.cause as { code?: unknown } | undefined) : undefined;
  return typeof cause?.code === "string" ? cause.code : "no answer";
}

function reason(e: unknown): string {
  if (e instanceof Error) {
    const cause = e.cause instanceof Error ? `: ${e.cause.message}` : "";
    return `${e.message}${cause}`;
  }
  return String(e);
}

/**
 * Reads through a chain reader until the node fails to answer (unreachable or timed out);
 * from then on, for the rest of one request or one run, every read fails at once with that error. A
 * bulk verification of certificates of many batches then says "could not verify" for all
 * of them in one timeout, not one timeout per batch.
 */
export class OutageReader {
  #down: ChainUnavailableError | undefined;

  over(chain: ChainReader): ChainReader {
    const read =
      <A extends unknown[], R>(f: (...args: A) => Promise<R>) =>
      async (...args: A): Promise<R> => {
        if (this.#down) throw this.#down;
        try {
          return await f.apply(chain, args);
        } catch (e) {
          if (e instanceof ChainUnavailableError && (e.failure === "unreachable" || e.failure === "timeout")) {
            this.#down ??= e;
          }
          throw e;
        }
      };
    return {
      chainId: read(chain.chainId),
      blockNumber: read(chain.blockNumber),
      // Kept when the reader has it: without it, each certificate of a bulk run would ask the
      // node for its newest block again.
      ...(chain.blockNumberAtLeast && { blockNumberAtLeast: read(chain.blockNumberAtLeast) }),
      hasCode: read(chain.hasCode),
      anchorOf: read(chain.anchorOf),
      block: read(chain.block),
      receipt: read(chain.receipt),
    };
  }
}
