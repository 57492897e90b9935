import { expect } from "chai";
import { hashApiKey, newApiKey } from "../../service/store/accounts.ts";

describe("API keys (service/store/accounts.ts)", () => {
  it("are 32 random bytes in base64url, stored only as their SHA-256", () => {
    const key = newApiKey();
    expect(key).to.match(/^[A-Za-z0-9_-]{43}$/);
    expect(Buffer.from(key, "base64url").length).to.equal(32);
    expect(hashApiKey(key)).to.match(/^[0-9a-f]{64}$/);
  });

  it("never begin with '-', which `--api-key -…` would read as an option", () => {
    // One key in 64 would, drawn freely: 10,000 keys without one happen by chance with p ≈ 1e-68.
    const keys = Array.from({ length: 10_000 }, () => newApiKey());
    expect(keys.filter((k) => k.startsWith("-"))).to.deep.equal([]);
    expect(new Set(keys.map((k) => k[1])).has("-"), "'-' is still drawn elsewhere").to.equal(true);
  });
});
