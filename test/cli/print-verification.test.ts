import { expect } from "chai";
import { parseCertificate, verifyCertificate, type TimestampSummary } from "../../service/core/index.ts";
import { verificationText } from "../../service/cli/print-verification.ts";
import { RecordedChain } from "../helpers/recorded-chain.ts";
import { example } from "../helpers/vectors.ts";

/** The genuine example's verification, with one time-stamp summary of `status` in place of its own. */
async function withTimestamp(status: TimestampSummary["status"]) {
  const result = await verifyCertificate(example.certificate(), {
    chain: RecordedChain.holding(parseCertificate(example.certificate())),
  });
  const timestamp: TimestampSummary = {
    tsa: "DigiCert Timestamp 2023",
    time: "2023-11-28T22:58:37.000Z",
    status,
    development: false,
    offsetSeconds: 94_608_000,
  };
  return { ...result, timestamps: [timestamp] };
}

const lineOf = (text: string, label: RegExp) => text.split("\n").find((l) => label.test(l));

describe("evidence verify's text: a time-stamp's line (cli/print-verification.ts)", () => {
  const options = { rpc: "http://127.0.0.1:8545", source: "c.evidence.json" };

  it("shows a checked token's authority and time as they are", async () => {
    const text = verificationText(await withTimestamp("passed"), { ...options, lang: "en" });
    expect(lineOf(text, /^ {2}time-stamp/)).to.match(
      /DigiCert Timestamp 2023: 2023-11-28 22:58:37 UTC \(94608000 s from the block's time\)$/,
    );
  });

  it("says a token that was not checked is only what it says of itself, in both languages", async () => {
    const result = await withTimestamp("error");
    expect(lineOf(verificationText(result, { ...options, lang: "en" }), /^ {2}time-stamp/)).to.match(
      /\(94608000 s from the block's time\) — NOT CHECKED: the name and time are only what the token says$/,
    );
    expect(lineOf(verificationText(result, { ...options, lang: "zh-CN" }), /^ {2}时间戳/)).to.match(
      /（?与区块时间相差 94608000 秒\)?——未核验：名称和时间仅为令牌自述$/,
    );
  });

  it("says a token that failed did", async () => {
    const text = verificationText(await withTimestamp("failed"), { ...options, lang: "en" });
    expect(lineOf(text, /^ {2}time-stamp/)).to.match(/ — FAILED: the token does not hold$/);
  });
});

describe("evidence verify's text: the certificate's facts (cli/print-verification.ts)", () => {
  const options = { rpc: "http://127.0.0.1:8545", source: "c.evidence.json" };
  const genuine = () =>
    verifyCertificate(example.certificate(), { chain: RecordedChain.holding(parseCertificate(example.certificate())) });

  it("names the certificate by its id among the facts, so that a printed copy can be compared with it", async () => {
    const text = verificationText(await genuine(), { ...options, lang: "en" });
    const id = parseCertificate(example.certificate()).record.id;
    expect(lineOf(text, /^ {2}certificate id/)).to.match(new RegExp(` ${id}$`));
    expect(lineOf(verificationText(await genuine(), { ...options, lang: "zh-CN" }), /^ {2}证书编号/)).to.match(
      new RegExp(` ${id}$`),
    );
  });

  it("says the facts of a certificate that failed its own checks are its unproven claims, and not those of one that only a file failed to match", async () => {
    const forged = example.certificate() as { issuer: { name: string } };
    forged.issuer.name = "最高人民法院司法区块链";
    const failed = await verifyCertificate(forged, { chain: RecordedChain.holding(parseCertificate(forged)) });
    expect(failed.verdict).to.equal("invalid");
    expect(verificationText(failed, { ...options, lang: "en" })).to.include(
      "What this certificate states, below, is unproven",
    );
    expect(verificationText(failed, { ...options, lang: "zh-CN" })).to.include("以下为该证书自称的内容，未经证实");
    const otherFile = await verifyCertificate(example.certificate(), {
      chain: RecordedChain.holding(parseCertificate(example.certificate())),
      fileDigest: "0".repeat(64),
    });
    expect(otherFile.verdict).to.equal("invalid");
    expect(verificationText(otherFile, { ...options, lang: "en" })).not.to.include("unproven");
  });
});

describe("evidence verify's text: the checks' table (cli/print-verification.ts)", () => {
  const options = { rpc: "http://127.0.0.1:8545", source: "c.evidence.json" };
  /** The display column (CJK characters are two wide) at which `name` begins on `line`. */
  const columnOf = (line: string, name: string) =>
    [...line.slice(0, line.indexOf(name))].reduce((w, ch) => w + (/[\u2e80-\ua4cf\uff00-\uff60]/.test(ch) ? 2 : 1), 0);

  for (const lang of ["zh-CN", "en"] as const) {
    it(`starts every check's name in one column, whatever its status (${lang}; 无法检查 and COULD NOT CHECK are the widest)`, async () => {
      // A node behind the anchoring block: the anchor check could not be made, an error among passes.
      const verified = await verifyCertificate(example.certificateV2(), {
        chain: RecordedChain.holding(parseCertificate(example.certificateV2())),
      });
      const result = {
        ...verified,
        checks: verified.checks.map((c) =>
          c.id === "anchor"
            ? { ...c, status: "error" as const, reason: { code: "anchor.behind" as const, latest: 1, blockNumber: 12 } }
            : c,
        ),
      };
      const names = lang === "zh-CN" ? ["格式", "区块链锚定", "时间戳"] : ["Format", "Blockchain anchor", "Time-stamp"];
      const lines = verificationText(result, { ...options, lang }).split("\n");
      const columns = names.map((name) => {
        const line = lines.find(
          (l) => /^(通过|未通过|未检查|无法检查|PASS|FAIL|SKIP|COULD NOT CHECK) /.test(l) && l.includes(name),
        );
        expect(line, name).to.not.equal(undefined);
        return columnOf(line!, name);
      });
      expect(new Set(columns).size, columns.join(", ")).to.equal(1);
    });
  }
});
