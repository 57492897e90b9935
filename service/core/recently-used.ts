/**
 * A Map as a cache bounded by count, the entry used longest ago forgotten first: a Map
 * iterates in insertion order, so an entry used is moved to the back.
 */

/** A cached value, moved to the back of the eviction order. */
export function recall<K, V>(cache: Map<K, V>, key: K): V | undefined {
  const value = cache.get(key);
  if (value !== undefined) {
    cache.delete(key);
    cache.set(key, value);
  }
  return value;
}

/** Caches `value`, forgetting the entry used longest ago past `limit` entries. */
export function remember<K, V>(cache: Map<K, V>, key: K, value: V, limit: number): void {
  cache.set(key, value);
  if (cache.size > limit) cache.delete(cache.keys().next().value as K);
}
