import type { AnchorChain } from "../anchoring/anchor-chain.ts";
import { fromHex32 } from "../core/index.ts";
import type { Logger } from "../log.ts";
import type { EvidenceStore } from "../store/store.ts";
import type { TsaStamper } from "./stamper.ts";

/**
 * Time-stamped checkpoints of the chain: every interval, the newest block's hash is
 * stamped by the TSAs and kept. A later rewrite of the chain's history — even by a
 * majority of its validators — cannot produce tokens dated in the past for its new block
 * hashes, so each checkpoint fixes the chain as it was by then (docs/timestamps.md).
 */
export class Checkpointer {
  readonly #chain: AnchorChain;
  readonly #store: EvidenceStore;
  readonly #stamper: TsaStamper;
  readonly #intervalMs: number;
  readonly #log: Logger;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  lastError: string | null = null;

  constructor(options: {
    chain: AnchorChain;
    store: EvidenceStore;
    stamper: TsaStamper;
    intervalMs: number;
    log: Logger;
  }) {
    this.#chain = options.chain;
    this.#store = options.store;
    this.#stamper = options.stamper;
    this.#intervalMs = options.intervalMs;
    this.#log = options.log;
  }

  start(): void {
    const tick = () => {
      this.#running = this.takeOne()
        .then(() => undefined)
        .catch((e: unknown) => {
          this.lastError = (e as Error).message;
          this.#log.warn(`checkpoint not taken: ${this.lastError}`);
        })
        .finally(() => {
          this.#running = undefined;
          if (this.#timer !== undefined) this.#timer = setTimeout(tick, this.#intervalMs);
        });
    };
    this.#timer = setTimeout(tick, this.#intervalMs);
  }

  async stop(): Promise<void> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#running;
  }

  /** Stamps the newest block's hash now; returns the block number, or null when no TSA answered. */
  async takeOne(): Promise<number | null> {
    const blockNumber = await this.#chain.blockNumber();
    const blockHash = await this.#chain.blockHash(blockNumber);
    if (!blockHash) throw new Error(`the chain has no block ${blockNumber}`);
    const { tokens, errors } = await this.#stamper.stamp(fromHex32(blockHash), []);
    if (tokens.length === 0) throw new Error(errors.join("; ") || "no TSA is configured");
    await this.#store.insertCheckpoint({
      blockNumber,
      blockHash,
      chainId: this.#chain.chainId,
      takenAt: new Date().toISOString(),
      timestamps: tokens,
    });
    this.lastError = errors[0] ?? null;
    return blockNumber;
  }
}
