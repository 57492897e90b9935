/**
 * Runs at most `limit` tasks at once; the others wait their turn, in the order they came. For
 * work whose memory no byte budget sees: reading a capture package inflates its entries a
 * chunk at a time, tens of megabytes at most each, and many such reads at once would add up.
 */
export class ConcurrencyLimit {
  readonly #limit: number;
  #running = 0;
  readonly #waiting: (() => void)[] = [];

  constructor(limit: number) {
    this.#limit = limit;
  }

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.#running < this.#limit) this.#running++;
    // A finished task hands its place to the next waiting one, so none overtakes the queue.
    else await new Promise<void>((resolve) => this.#waiting.push(resolve));
    try {
      return await task();
    } finally {
      const next = this.#waiting.shift();
      if (next) next();
      else this.#running--;
    }
  }
}
