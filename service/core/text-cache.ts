/**
 * A map keyed by text that holds at most `maxEntries` entries and `maxChars` characters of
 * keys: when either would be exceeded it starts again empty. The verifier's caches are keyed
 * by what a caller hands in (batch statements, tokens), so their memory must stay bounded
 * whatever the keys; a key longer than `maxChars` is not kept at all.
 */
export class TextKeyedCache<V> {
  readonly #map = new Map<string, V>();
  #chars = 0;
  readonly maxEntries: number;
  readonly maxChars: number;

  constructor(maxEntries: number, maxChars: number) {
    this.maxEntries = maxEntries;
    this.maxChars = maxChars;
  }

  get(key: string): V | undefined {
    return this.#map.get(key);
  }

  has(key: string): boolean {
    return this.#map.has(key);
  }

  set(key: string, value: V): void {
    if (key.length > this.maxChars) return;
    if (!this.#map.has(key)) {
      if (this.#map.size >= this.maxEntries || this.#chars + key.length > this.maxChars) this.clear();
      this.#chars += key.length;
    }
    this.#map.set(key, value);
  }

  clear(): void {
    this.#map.clear();
    this.#chars = 0;
  }

  get size(): number {
    return this.#map.size;
  }

  /** Characters of keys held. */
  get chars(): number {
    return this.#chars;
  }
}
