import type { EvidenceStore, NewEvidence } from "../store/store.ts";

interface Waiting {
  items: readonly NewEvidence[];
  resolve: () => void;
  reject: (e: unknown) => void;
}

/**
 * Group commit: the requests whose items are ready in the same turn of the event loop
 * share one transaction, so one fsync makes them all durable. Each request's promise
 * settles only once its own items are committed, or have failed: no request is answered
 * before that. When a group fails as a whole, each request is committed alone, so only
 * the bad one fails.
 */
export class GroupCommit {
  readonly #store: EvidenceStore;
  #waiting: Waiting[] = [];
  #running: Promise<void> = Promise.resolve();
  #closed = false;

  constructor(store: EvidenceStore) {
    this.#store = store;
  }

  commit(items: readonly NewEvidence[]): Promise<void> {
    if (this.#closed) return Promise.reject(new Error("intake is closed"));
    return new Promise((resolve, reject) => {
      if (this.#waiting.push({ items, resolve, reject }) === 1) setImmediate(() => this.#flush());
    });
  }

  /** Commits what is queued; later commits are refused. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#flush();
    await this.#running;
  }

  #flush(): void {
    const group = this.#waiting;
    if (group.length === 0) return;
    this.#waiting = [];
    // One transaction at a time: the next group waits for the one being committed.
    this.#running = this.#running.then(() => this.#commitGroup(group));
  }

  async #commitGroup(group: Waiting[]): Promise<void> {
    try {
      await this.#store.insertEvidence(group.length === 1 ? group[0]!.items : group.flatMap((w) => w.items));
      for (const w of group) w.resolve();
    } catch (e) {
      if (group.length === 1) return group[0]!.reject(e);
      for (const w of group) {
        try {
          await this.#store.insertEvidence(w.items);
          w.resolve();
        } catch (err) {
          w.reject(err);
        }
      }
    }
  }
}
