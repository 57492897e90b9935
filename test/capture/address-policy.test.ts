import { expect } from "chai";
import { AddressPolicy, classifyAddress, parseAllowList } from "../../service/capture/address-policy.ts";
import { CaptureError } from "../../service/capture/errors.ts";
import { loadVector } from "../helpers/vectors.ts";

interface AddressCase {
  address: string;
  port?: number;
  allow?: string;
  allowed: boolean;
  category: string;
  embeddedIn?: string;
  allowListed?: boolean;
  desc?: string;
}

interface UrlCase {
  url: string;
  allowed?: boolean;
  code?: string;
  desc?: string;
}

describe("address policy", () => {
  describe("checkAddress", () => {
    for (const c of loadVector<{ cases: AddressCase[] }>("capture/addresses.json").cases) {
      const name = `${c.allowed ? "allows" : "refuses"} ${c.address}${c.port ? ` port ${c.port}` : ""}${c.allow ? ` with CAPTURE_ALLOW=${c.allow}` : ""} (${c.desc ?? c.category})`;
      it(name, () => {
        const verdict = new AddressPolicy({ allow: c.allow ?? "" }).checkAddress(c.address, c.port ?? 443);
        expect(verdict.allowed, verdict.reason).to.equal(c.allowed);
        expect(verdict.category).to.equal(c.category);
        expect(verdict.embeddedIn).to.equal(c.embeddedIn);
        expect(verdict.allowListed).to.equal(c.allowListed ?? false);
        expect(verdict.reason).to.be.a("string").and.not.empty;
      });
    }
  });

  describe("classifyAddress", () => {
    it("reports IPv4-mapped IPv6 addresses by their IPv4 form", () => {
      expect(classifyAddress("::ffff:10.0.0.1")).to.deep.equal({
        address: "10.0.0.1",
        category: "private",
        embeddedIn: "ipv4Mapped",
      });
    });
  });

  describe("checkUrl", () => {
    const policy = new AddressPolicy();
    for (const c of loadVector<{ cases: UrlCase[] }>("capture/urls.json").cases) {
      if (c.allowed) {
        it(`accepts ${c.url}`, () => {
          expect(policy.checkUrl(c.url)).to.be.instanceOf(URL);
        });
      } else {
        it(`rejects ${c.url} with ${c.code}${c.desc ? ` (${c.desc})` : ""}`, () => {
          expect(() => policy.checkUrl(c.url))
            .to.throw(CaptureError)
            .with.property("code", c.code);
        });
      }
    }

    it("rejects a URL longer than 4096 characters", () => {
      expect(() => policy.checkUrl(`https://example.com/${"a".repeat(4096)}`))
        .to.throw(CaptureError)
        .with.property("code", "URL_REFUSED");
    });

    it("accepts a loopback URL on any port when CAPTURE_ALLOW lists it", () => {
      expect(new AddressPolicy({ allow: "127.0.0.1/32" }).checkUrl("http://127.0.0.1:54321/").port).to.equal("54321");
    });
  });

  describe("parseAllowList", () => {
    it("reads comma-separated CIDRs and bare addresses", () => {
      expect(
        parseAllowList(" 127.0.0.1/32, ::1 ,10.0.0.0/8,").map(([a, bits]) => `${a.toString()}/${bits}`),
      ).to.deep.equal(["127.0.0.1/32", "::1/128", "10.0.0.0/8"]);
    });

    it("is empty by default", () => {
      expect(parseAllowList("")).to.deep.equal([]);
      expect(AddressPolicy.fromEnv({}).allow).to.deep.equal([]);
    });

    for (const bad of ["localhost", "10.0.0.0/33", "::/129", "10.0.0.0/x", "10.0.0.0/-1"]) {
      it(`rejects ${JSON.stringify(bad)}`, () => {
        expect(() => parseAllowList(bad)).to.throw(RangeError, /CAPTURE_ALLOW/);
      });
    }
  });
});
