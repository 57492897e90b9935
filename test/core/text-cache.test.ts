import { expect } from "chai";
import { TextKeyedCache } from "../../service/core/text-cache.ts";

describe("TextKeyedCache (the verifier's caches, bounded whatever the keys)", () => {
  it("keeps what it is given, counting each key's characters once", () => {
    const cache = new TextKeyedCache<number>(10, 100);
    cache.set("a", 1);
    cache.set("bb", 2);
    cache.set("bb", 3);
    expect([cache.get("a"), cache.get("bb"), cache.has("c"), cache.size, cache.chars]).to.deep.equal([
      1,
      3,
      false,
      2,
      3,
    ]);
  });

  it("starts again empty rather than hold more than maxEntries entries", () => {
    const cache = new TextKeyedCache<number>(3, 1_000);
    for (let i = 0; i < 3; i++) cache.set(`key ${i}`, i);
    cache.set("key 3", 3);
    expect([cache.size, cache.has("key 0"), cache.get("key 3")]).to.deep.equal([1, false, 3]);
  });

  it("starts again empty rather than hold more than maxChars characters of keys", () => {
    const cache = new TextKeyedCache<true>(1_000, 100);
    for (let i = 0; i < 4; i++) cache.set(String(i).repeat(30), true);
    expect([cache.size, cache.chars]).to.deep.equal([1, 30]);
    for (let i = 0; i < 1_000; i++) {
      cache.set(`${i}:${"x".repeat(40)}`, true);
      expect(cache.chars).to.be.at.most(100);
    }
  });

  it("does not keep a key longer than maxChars at all", () => {
    const cache = new TextKeyedCache<true>(1_000, 100);
    cache.set("short", true);
    cache.set("y".repeat(101), true);
    expect([cache.has("y".repeat(101)), cache.has("short"), cache.chars]).to.deep.equal([false, true, 5]);
  });
});
