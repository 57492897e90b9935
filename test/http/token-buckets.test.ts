import { expect } from "chai";
import { TokenBuckets } from "../../service/http/auth.ts";

describe("TokenBuckets (service/http/auth.ts)", () => {
  const now = Date.parse("2026-01-01T00:00:00Z");

  it("admits a request larger than the whole bucket when it is full, and makes the next wait for the debt", () => {
    const buckets = new TokenBuckets(1);
    expect(buckets.take("a", 4, now)).to.deep.equal({ ok: true });
    // Three units owed and one needed: four minutes at one a minute.
    expect(buckets.take("a", 1, now)).to.deep.equal({ ok: false, retryAfter: 240 });
  });

  it("judges a request charged in parts as one request: what it paid before counts as still in the bucket", () => {
    const buckets = new TokenBuckets(1);
    expect(buckets.take("a", 1, now)).to.deep.equal({ ok: true });
    expect(buckets.take("a", 3, now, 1), "the rest of a request the full bucket admitted").to.deep.equal({ ok: true });
    expect(buckets.take("a", 1, now)).to.deep.equal({ ok: false, retryAfter: 240 });
    // Two requests are two: the second finds the bucket empty.
    expect(buckets.take("b", 1, now)).to.deep.equal({ ok: true });
    expect(buckets.take("b", 3, now)).to.deep.equal({ ok: false, retryAfter: 60 });

    const ten = new TokenBuckets(10);
    expect(ten.take("c", 5, now)).to.deep.equal({ ok: true });
    expect(ten.take("c", 3, now, 5), "8 of 10").to.deep.equal({ ok: true });
    expect(ten.take("c", 3, now, 5), "another 3 with only 2 left").to.deep.equal({ ok: false, retryAfter: 6 });
  });
});
