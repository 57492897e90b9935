import { Interface } from "ethers";
import { EVIDENCE_ANCHOR_ABI } from "./abi.ts";
import { EvidenceError } from "./errors.ts";
import type { Hex32 } from "./hex.ts";

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
}

/**
 * The few chain reads verification needs. The service, the CLI and the web page each
 * hand one to {@link verifyCertificate}; {@link JsonRpcAnchorReader} is the usual one.
 * Implementations throw CHAIN_UNAVAILABLE when the chain cannot be read.
 */
export interface AnchorReader {
  chainId(): Promise<number>;
  /** Throws CHAIN_MISMATCH when there is no contract at `contract`. */
  anchorOf(contract: string, root: Hex32): Promise<AnchorOnChain>;
  /** null when the chain has no block of that number. */
  block(blockNumber: number): Promise<BlockOnChain | null>;
}

/** The JSON-RPC methods verification uses: the service's read-only proxy allows exactly these. */
export const VERIFIER_RPC_METHODS = [
  "eth_chainId",
  "eth_call",
  "eth_getCode",
  "eth_getBlockByNumber",
  "eth_blockNumber",
] as const;

const anchorInterface = new Interface(EVIDENCE_ANCHOR_ABI);

/**
 * Reads the anchor contract over plain JSON-RPC with `fetch`: the same code runs in
 * node (service, CLI) and in the browser (verification page).
 */
export class JsonRpcAnchorReader implements AnchorReader {
  readonly url: string;
  readonly #timeoutMs: number;
  #nextId = 1;

  constructor(url: string, options: { timeoutMs?: number } = {}) {
    this.url = url;
    this.#timeoutMs = options.timeoutMs ?? 10_000;
  }

  async chainId(): Promise<number> {
    return quantity(await this.request("eth_chainId", []), "eth_chainId");
  }

  async anchorOf(contract: string, root: Hex32): Promise<AnchorOnChain> {
    const code = await this.request("eth_getCode", [contract, "latest"]);
    if (code === "0x" || code === "0x0" || code === null) {
      throw new EvidenceError("CHAIN_MISMATCH", `there is no contract at ${contract} on this chain`);
    }
    const data = anchorInterface.encodeFunctionData("anchorOf", [root]);
    const result = await this.request("eth_call", [{ to: contract, data }, "latest"]);
    try {
      const [timestamp, blockNumber, treeSize] = anchorInterface.decodeFunctionResult("anchorOf", String(result));
      return { timestamp: Number(timestamp), blockNumber: Number(blockNumber), treeSize: Number(treeSize) };
    } catch (e) {
      throw new EvidenceError("CHAIN_MISMATCH", `the contract at ${contract} is not an EvidenceAnchor`, { cause: e });
    }
  }

  async block(blockNumber: number): Promise<BlockOnChain | null> {
    const block = (await this.request("eth_getBlockByNumber", [`0x${blockNumber.toString(16)}`, false])) as {
      hash?: unknown;
      timestamp?: unknown;
    } | null;
    if (block === null) return null;
    if (typeof block !== "object" || typeof block.hash !== "string") {
      throw new EvidenceError("CHAIN_UNAVAILABLE", "eth_getBlockByNumber returned a malformed block");
    }
    return { hash: block.hash.toLowerCase() as Hex32, timestamp: quantity(block.timestamp, "block.timestamp") };
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
      throw new EvidenceError("CHAIN_UNAVAILABLE", `cannot reach the chain at ${this.url}: ${reason(e)}`, { cause: e });
    }
    let body: { result?: unknown; error?: { message?: unknown } };
    try {
      body = (await response.json()) as typeof body;
    } catch (e) {
      throw new EvidenceError("CHAIN_UNAVAILABLE", `${this.url} answered ${response.status} without JSON-RPC`, {
        cause: e,
      });
    }
    if (body.error !== undefined) {
      throw new EvidenceError("CHAIN_UNAVAILABLE", `${method} failed: ${String(body.error.message ?? "error")}`);
    }
    if (!("result" in body)) throw new EvidenceError("CHAIN_UNAVAILABLE", `${method}: no result from ${this.url}`);
    return body.result;
  }
}

/**
 * Caches what cannot change: the chain id, blocks, and anchors once set (anchors are
 * immutable). Unset anchors are asked again, since they may be set later.
 */
export class CachingAnchorReader implements AnchorReader {
  readonly #inner: AnchorReader;
  readonly #limit: number;
  #chainId: Promise<number> | undefined;
  readonly #anchors = new Map<string, AnchorOnChain>();
  readonly #blocks = new Map<number, BlockOnChain>();

  /** `limit` bounds each cache (anchors, blocks); past it the entry read longest ago goes. */
  constructor(inner: AnchorReader, options: { limit?: number } = {}) {
    this.#inner = inner;
    this.#limit = options.limit ?? 10_000;
  }

  chainId(): Promise<number> {
    this.#chainId ??= this.#inner.chainId().catch((e: unknown) => {
      this.#chainId = undefined;
      throw e;
    });
    return this.#chainId;
  }

  async anchorOf(contract: string, root: Hex32): Promise<AnchorOnChain> {
    const key = `${contract.toLowerCase()}/${root}`;
    const cached = recall(this.#anchors, key);
    if (cached) return cached;
    const anchor = await this.#inner.anchorOf(contract, root);
    if (anchor.timestamp !== 0) remember(this.#anchors, key, anchor, this.#limit);
    return anchor;
  }

  async block(blockNumber: number): Promise<BlockOnChain | null> {
    const cached = recall(this.#blocks, blockNumber);
    if (cached) return cached;
    const block = await this.#inner.block(blockNumber);
    if (block) remember(this.#blocks, blockNumber, block, this.#limit);
    return block;
  }
}

/** A cached value, moved to the back of the eviction order (a Map iterates in insertion order). */
function recall<K, V>(cache: Map<K, V>, key: K): V | undefined {
  const value = cache.get(key);
  if (value !== undefined) {
    cache.delete(key);
    cache.set(key, value);
  }
  return value;
}

function remember<K, V>(cache: Map<K, V>, key: K, value: V, limit: number): void {
  cache.set(key, value);
  if (cache.size > limit) cache.delete(cache.keys().next().value as K);
}

function quantity(value: unknown, what: string): number {
  if (typeof value !== "string" || !/^0x[0-9a-fA-F]{1,16}$/.test(value)) {
    throw new EvidenceError("CHAIN_UNAVAILABLE", `${what}: not a JSON-RPC quantity`);
  }
  return Number(BigInt(value));
}

function reason(e: unknown): string {
  if (e instanceof Error) {
    const cause = e.cause instanceof Error ? `: ${e.cause.message}` : "";
    return `${e.message}${cause}`;
  }
  return String(e);
}
