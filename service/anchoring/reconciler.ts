import type { Logger } from "../log.ts";
import type { ReconciliationStatus } from "../health.ts";
import type { EvidenceStore } from "../store/store.ts";
import type { AnchorChain } from "./anchor-chain.ts";

/**
 * Checks every batch recorded as anchored against the chain: the root is there, in the
 * recorded block, and that block still has the recorded hash. A mismatch — a chain rolled
 * back, a reorganisation deeper than the confirmations, a node restored from an old
 * backup — is never silent: it is logged as an error, health turns degraded naming the
 * batch, and the batch goes back to be anchored again, its items certified again (their
 * earlier certificates stay in each item's history). Each pass also asks whether the chain
 * still holds what the service's verifier remembers of it (`verifierChain`): that may be
 * another member's anchor, which no batch of this service names.
 */
export class Reconciler {
  readonly #store: EvidenceStore;
  readonly #chain: AnchorChain;
  readonly #log: Logger;
  readonly #intervalMs: number;
  readonly #onReopened: () => void;
  readonly #nodeMayLag: boolean;
  readonly #verifierChain: { stillHeld(): Promise<boolean> } | undefined;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #checkedAt: string | null = null;
  readonly #mismatched = new Set<number>();
  #unresolved = new Set<number>();

  /**
   * `nodeMayLag`: the node is one of many (an external chain) and may still be syncing, so
   * a batch anchored beyond its newest block is not judged. The embedded chain's node is
   * the chain itself: what it lacks, the chain lacks.
   */
  constructor(options: {
    store: EvidenceStore;
    chain: AnchorChain;
    log: Logger;
    intervalMs: number;
    onReopened: () => void;
    nodeMayLag: boolean;
    verifierChain?: { stillHeld(): Promise<boolean> };
  }) {
    this.#store = options.store;
    this.#chain = options.chain;
    this.#log = options.log;
    this.#intervalMs = options.intervalMs;
    this.#onReopened = options.onReopened;
    this.#nodeMayLag = options.nodeMayLag;
    this.#verifierChain = options.verifierChain;
  }

  get status(): ReconciliationStatus {
    return {
      checkedAt: this.#checkedAt,
      mismatches: this.#mismatched.size,
      batches: [...this.#mismatched],
      unresolved: [...this.#unresolved],
    };
  }

  start(): void {
    const tick = () => {
      this.#running = this.runOnce()
        .then(
          () => undefined,
          (e: unknown) => this.#log.warn(`reconciliation with the chain could not run: ${(e as Error).message}`),
        )
        .finally(() => {
          this.#running = undefined;
          if (this.#timer !== undefined) this.#timer = setTimeout(tick, this.#intervalMs);
        });
    };
    this.#timer = setTimeout(tick, 0);
  }

  async stop(): Promise<void> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#running;
  }

  /** One pass over the anchored batches; returns the ids of those found without their anchor. */
  async runOnce(): Promise<number[]> {
    const batches = await this.#store.anchoredBatches();
    const anchored = new Set(batches.map((b) => b.id));
    for (const id of this.#unresolved) if (anchored.has(id)) this.#unresolved.delete(id);
    const hashes = new Map<number, string | null>();
    const lost: number[] = [];
    const latest = this.#nodeMayLag ? await this.#chain.blockNumber() : Number.MAX_SAFE_INTEGER;
    for (const batch of batches) {
      if (batch.anchor.blockNumber > latest) continue;
      const location = await this.#chain.locate(batch.root);
      let problem: string | null = null;
      if (!location) problem = "the root is not anchored on the chain";
      else if (location.blockNumber !== batch.anchor.blockNumber || location.timestamp !== batch.anchor.timestamp) {
        problem = `the chain records it in block ${location.blockNumber}, not ${batch.anchor.blockNumber}`;
      } else {
        if (!hashes.has(batch.anchor.blockNumber)) {
          hashes.set(batch.anchor.blockNumber, await this.#chain.blockHash(batch.anchor.blockNumber));
        }
        const hash = hashes.get(batch.anchor.blockNumber);
        if (hash !== batch.anchor.blockHash)
          problem = `block ${batch.anchor.blockNumber} now has hash ${hash}, not ${batch.anchor.blockHash}`;
      }
      if (problem === null) continue;
      this.#log.error(
        { batch: batch.id, root: batch.root, block: batch.anchor.blockNumber },
        `batch ${batch.id} lost its anchor: ${problem}; anchoring it again and certifying its items again`,
      );
      await this.#store.reopenBatch(batch.id, new Date().toISOString());
      this.#mismatched.add(batch.id);
      this.#unresolved.add(batch.id);
      lost.push(batch.id);
    }
    if (lost.length === 0 && this.#verifierChain && !(await this.#verifierChain.stillHeld().catch(() => true))) {
      this.#log.warn("the chain no longer holds a block the verifier had read: what it read of the chain is forgotten");
    }
    this.#checkedAt = new Date().toISOString();
    if (lost.length > 0) this.#onReopened();
    return lost;
  }
}
