import { expect } from "chai";
import {
  buildRecord,
  canonicalize,
  contentHashOf,
  EvidenceError,
  newEvidenceId,
  parseRecord,
  recordLeafHash,
  toHex32,
} from "../../service/core/index.ts";
import { example } from "../helpers/vectors.ts";

const base = () => ({ ...example.records().records[0]!.record });

describe("records", () => {
  describe("canonical form and leaf hash", () => {
    for (const [i, v] of example.records().records.entries()) {
      it(`reproduce example record ${i}: JCS bytes and SHA-256(0x00 || JCS)`, () => {
        const record = parseRecord(v.record);
        expect(canonicalize(record)).to.equal(v.canonical);
        expect(toHex32(recordLeafHash(record))).to.equal(v.leafHash);
      });
    }
  });

  describe("buildRecord", () => {
    it("makes fresh ids (27 base64url characters) and salts (32 hex characters), and receipt time with milliseconds", () => {
      const a = buildRecord({ contentHash: "a".repeat(64), submitter: "acct_x" });
      const b = buildRecord({ contentHash: "a".repeat(64), submitter: "acct_x" });
      expect(a.id).to.match(/^[A-Za-z0-9_-]{27}$/);
      expect(a.id).not.to.equal(b.id);
      expect(a.salt)
        .to.match(/^[0-9a-f]{32}$/)
        .and.not.equal(b.salt);
      expect(a.submittedAt).to.match(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    });

    it("omits optional fields that are unknown, never writing null", () => {
      const r = buildRecord({ contentHash: "a".repeat(64), submitter: "acct_x", title: undefined });
      expect(Object.keys(r).sort()).to.deep.equal(["contentHash", "id", "salt", "submittedAt", "submitter", "v"]);
    });

    it("keeps a Chinese file name as given", () => {
      const r = buildRecord({
        contentHash: "a".repeat(64),
        submitter: "acct_x",
        fileName: "证据 ../../etc/passwd.png",
      });
      expect(r.fileName).to.equal("证据 ../../etc/passwd.png");
    });
  });

  describe("parseRecord", () => {
    const cases: [string, (r: Record<string, unknown>) => void, RegExp][] = [
      ["a version other than 1", (r) => (r.v = 2), /record\.v/],
      ["an uppercase content hash", (r) => (r.contentHash = "E3B0" + String(r.contentHash).slice(4)), /contentHash/],
      ["a 0x-prefixed content hash", (r) => (r.contentHash = "0x" + String(r.contentHash).slice(2)), /contentHash/],
      ["a short id (under 96 bits)", (r) => (r.id = "abc"), /record\.id/],
      ["a time without milliseconds", (r) => (r.submittedAt = "2026-11-25T16:39:00Z"), /submittedAt/],
      ["a time that is not UTC", (r) => (r.submittedAt = "2026-11-25T16:39:00.000+08:00"), /submittedAt/],
      ["an impossible date", (r) => (r.submittedAt = "2026-02-30T16:39:00.000Z"), /submittedAt/],
      ["a short salt", (r) => (r.salt = "00"), /salt/],
      ["a null optional field", (r) => (r.title = null), /title/],
      ["a negative size", (r) => (r.size = -1), /size/],
      ["a fractional size", (r) => (r.size = 1.5), /size/],
      ["an unknown field", (r) => (r.extra = "x"), /unknown field "extra"/],
      ["a note longer than 8192 characters", (r) => (r.note = "x".repeat(8193)), /note/],
      ["a missing submitter", (r) => delete r.submitter, /submitter/],
    ];
    for (const [what, mutate, message] of cases) {
      it(`rejects ${what}`, () => {
        const r = base();
        mutate(r);
        expect(() => parseRecord(r))
          .to.throw(EvidenceError, message)
          .with.property("code", "INVALID_RECORD");
      });
    }

    it("rejects values that are not objects", () => {
      for (const value of [null, [], "record", 1]) expect(() => parseRecord(value)).to.throw(/JSON object/);
    });
  });

  it("contentHashOf prints what sha256sum prints", () => {
    // printf 'test' | sha256sum
    expect(contentHashOf(new TextEncoder().encode("test"))).to.equal(
      "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    );
  });

  it("newEvidenceId gives 27 base64url characters: 20 bytes, the time in seconds since 2020 and 16 random bytes", () => {
    const now = Date.parse("2026-11-28T02:15:00.750Z");
    const id = newEvidenceId(now);
    expect(id).to.match(/^[A-Za-z0-9_-]{27}$/);
    const bytes = Buffer.from(id, "base64url");
    expect(bytes.length).to.equal(20);
    expect(bytes.readUInt32BE(0)).to.equal(Math.floor(now / 1000) - Date.parse("2020-01-01T00:00:00Z") / 1000);
  });

  it("newEvidenceId begins the ids of one second alike (their first five characters are 30 bits of its time), so that a burst of them lands in one place of the store's index", () => {
    const now = Date.parse("2026-11-28T02:15:00Z");
    const prefixes = new Set(Array.from({ length: 1000 }, () => newEvidenceId(now).slice(0, 5)));
    expect(prefixes.size).to.equal(1);
    expect(newEvidenceId(now + 3600_000).slice(0, 5)).not.to.equal([...prefixes][0]);
  });

  it("newEvidenceId never begins with '-', which a command line would take for an option, even past 2151 or before 2020", () => {
    const times = [0, Date.now(), Date.parse("2151-07-01T00:00:00Z"), Date.parse("2199-01-01T00:00:00Z")];
    for (const now of times) expect(newEvidenceId(now), new Date(now).toISOString()).not.to.match(/^-/);
    // Held at the last second before "-": ids still differ, by their random bytes.
    const late = Date.parse("2199-01-01T00:00:00Z");
    expect(newEvidenceId(late)).not.to.equal(newEvidenceId(late));
  });

  it("newEvidenceId carries 128 random bits after the time: each of the 128 bits both set and clear across 1,000 ids of one second", () => {
    const now = Date.now();
    const ids = Array.from({ length: 1000 }, () => newEvidenceId(now));
    expect(new Set(ids).size).to.equal(ids.length);
    const decoded = ids.map((id) => Buffer.from(id, "base64url"));
    for (const bytes of decoded) expect(bytes.length).to.equal(20);
    // Re-encoding gives the id back: no character carries bits beyond the 160.
    expect(decoded.map((b) => b.toString("base64url"))).to.deep.equal(ids);
    const set = new Array<number>(128).fill(0);
    for (const bytes of decoded)
      for (let bit = 0; bit < 128; bit++) set[bit]! += (bytes[4 + (bit >> 3)]! >> (7 - (bit & 7))) & 1;
    // A fixed bit would be set in all or none; a random one in about half (P(0 or 1000) = 2^-999).
    const fixed = set.flatMap((n, bit) => (n === 0 || n === ids.length ? [bit] : []));
    expect(fixed, "bits that never change").to.deep.equal([]);
  });
});
