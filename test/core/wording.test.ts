import { expect } from "chai";
import { readFileSync } from "node:fs";
import { parseCertificate, verifyCertificate, verifyEvidence, type Reason } from "../../service/core/index.ts";
import {
  checkSentence,
  httpStatusText,
  reasonText,
  timeText,
  verdictExplanation,
  verdictHeadline,
  warningText,
} from "../../service/core/verify/wording.ts";
import { strToU8, zipSync } from "fflate";
import { sha256Hex } from "../helpers/hash.ts";
import { RecordedChain } from "../helpers/recorded-chain.ts";
import { example, loadVector } from "../helpers/vectors.ts";

interface TimeVector {
  time: string;
  zone: string;
  en: string;
  zh: string;
}

const VECTORS = JSON.parse(
  readFileSync(new URL("../vectors/wording/time-text.json", import.meta.url), "utf8"),
) as TimeVector[];

describe("times in verdicts (core/verify/wording.ts)", () => {
  const saved = process.env.TZ;
  afterEach(() => {
    if (saved === undefined) delete process.env.TZ;
    else process.env.TZ = saved;
  });

  for (const v of VECTORS) {
    it(`shows ${v.time} in ${v.zone} as ${v.en}, whether the zone is the reader's own or named`, () => {
      const date = new Date(v.time);
      const named = [timeText(date, "en", v.zone).local, timeText(date, "zh-CN", v.zone).local];
      process.env.TZ = v.zone;
      const own = [timeText(date, "en").local, timeText(date, "zh-CN").local];
      expect({ named, own }).to.deep.equal({ named: [v.en, v.zh], own: [v.en, v.zh] });
    });
  }

  it("gives the same moment in UTC whatever the zone", () => {
    process.env.TZ = "Asia/Shanghai";
    expect(timeText(1_795_704_371, "en").utc).to.equal("2026-11-26 14:46:11 UTC");
  });
});

interface ReasonVector {
  reason: Reason;
  zh: string;
}

const REASONS_ZH = loadVector<{ cases: ReasonVector[] }>("wording/reasons-zh.json").cases;

describe("reasons in Chinese (core/verify/wording.ts)", () => {
  for (const v of REASONS_ZH) {
    it(`says ${v.reason.code} "${"message" in v.reason ? v.reason.message : "…"}" in Chinese`, () => {
      expect(reasonText(v.reason, "zh-CN")).to.equal(v.zh);
    });
  }

  it("says which time the issuer states the anchor contradicts, in both languages", () => {
    const anchoredAt = "2026-11-28T16:45:31.000Z";
    const submitted = {
      code: "warning.stated-time-contradicts-anchor",
      stated: "submittedAt",
      at: "2031-01-01T00:00:00.000Z",
      anchoredAt,
    } as const;
    expect(warningText(submitted, "en")).to.equal(
      "The issuer states the file was submitted at 2031-01-01 00:00:00 UTC, after the root was anchored at 2026-11-28 16:45:31 UTC: no record is anchored before it is made. The issuer's clock was wrong, or what it states is not true; only the anchoring time is proven.",
    );
    expect(warningText(submitted, "zh-CN")).to.equal(
      "签发方所述的提交时间（2031-01-01 00:00:00 UTC）晚于上链时间（2026-11-28 16:45:31 UTC）：记录不可能在形成之前上链。签发方的时钟有误，或其所述不实；得到证实的只有上链时间。",
    );
    const issued = { ...submitted, stated: "issuedAt", at: "2019-03-01T09:00:00.000Z" } as const;
    expect(warningText(issued, "zh-CN")).to.equal(
      "签发方所述的签发时间（2019-03-01 09:00:00 UTC）早于其所载锚定的上链时间（2026-11-28 16:45:31 UTC）：证书不可能在其锚定之前签发。签发方的时钟有误，或其所述不实；得到证实的只有上链时间。",
    );
  });

  it("warns of the development TSA in Chinese without its English name (it is the same TSA by construction)", () => {
    const warning = { code: "warning.development-tsa", tsa: "Development TSA - not trusted by courts" } as const;
    expect(warningText(warning, "zh-CN")).to.equal("时间戳由开发测试用时间戳机构签发，法院不予采信。");
    expect(warningText(warning, "en")).to.equal(
      "The time-stamp was issued by a development TSA, which courts do not trust.",
    );
  });

  it("words a time-stamp token's problem in English too, never as the verifier's code", () => {
    const reason = { code: "timestamp.invalid", index: 0, problem: "content-digest-mismatch" } as Reason;
    expect(reasonText(reason, "en")).to.equal(
      "token 1: the token was altered after it was signed (its content no longer matches its signature)",
    );
  });

  /**
   * Every field of both example certificates broken in every way a schema can refuse: the
   * Chinese reasons may keep field names, quoted values, hashes and the certificate's own
   * words, and English only as the marked technical detail — never an English sentence.
   */
  for (const [version, certificate] of [
    ["1", example.certificate()],
    ["2", example.certificateV2()],
  ] as const) {
    it(`speaks Chinese for every field of a version ${version} certificate broken in each way`, async () => {
      const chain = RecordedChain.holding(parseCertificate(certificate));
      const { issuer } = certificate as { issuer?: { name: string }; batch?: { issuer: { name: string } } };
      const issuerName = (issuer ?? (certificate as { batch: { issuer: { name: string } } }).batch.issuer).name;
      const english: string[] = [];
      for (const { what, broken } of brokenCopies(certificate)) {
        const result = await verifyCertificate(broken, { chain });
        for (const check of result.checks) {
          const zh = reasonText(check.reason, "zh-CN");
          const rest = zh
            .replace(/（技术细节：.*?）/g, "")
            .replace(/“[^”]*”/g, "")
            .replace(/[A-Za-z_][\w-]*(?:\.[\w-]+|\[\d+\])+/g, "")
            .replace(/0x[0-9a-fA-F]+/g, "")
            .replaceAll(issuerName, "");
          if (/[A-Za-z]{2,}[ ,:]+[A-Za-z]{2,}/.test(rest)) english.push(`${what}: ${zh}`);
        }
      }
      expect(english).to.deep.equal([]);
    });
  }
});

describe("what a verdict says first (core/verify/wording.ts)", () => {
  it("blames an altered certificate before the file compared with it", async () => {
    const certificate = structuredClone(example.certificate()) as { record: { contentHash: string } };
    const chain = RecordedChain.holding(parseCertificate(example.certificate()));
    certificate.record.contentHash = sha256Hex("a file made later");
    const result = await verifyCertificate(certificate, { chain, fileDigest: sha256Hex(example.file()) });
    expect(result.checks.filter((c) => c.status === "failed").map((c) => c.id)).to.include.members(["content", "leaf"]);
    expect(verdictExplanation(result, "en")).to.match(/^The certificate itself fails these checks: (?!.*File)/);
    expect(verdictExplanation(result, "en")).to.match(
      /The file was compared with this certificate, so that comparison means nothing either\.$/,
    );
    expect(verdictExplanation(result, "zh-CN")).to.match(/^证书本身未通过以下检查：/);
  });

  it("says a certificate document it cannot read safely proves nothing as it is, a PDF without the attachment may be a copy that lost it, and a file of another kind is the wrong file", async () => {
    const chain = RecordedChain.holding(parseCertificate(example.certificate()));
    const pdf = new TextEncoder().encode("%PDF-1.7\n% a certificate document cut short");
    const damaged = await verifyEvidence({ kind: "bytes", bytes: pdf }, { chain });
    expect(verdictExplanation(damaged, "en")).to.match(
      /^This PDF cannot be read safely: .*so as it is it proves nothing: it may have been altered, or rewritten by a PDF tool\. Ask for the PDF as issued/,
    );
    expect(verdictExplanation(damaged, "zh-CN")).to.match(/^这份 PDF 无法可靠读取：.*因此它按现状不能证明任何内容/);
    // A form the reader does not take is said to be one, not a sign of forgery.
    const encrypted = readFileSync(new URL("../vectors/pdf/encrypted.pdf", import.meta.url));
    const unsupported = await verifyEvidence({ kind: "bytes", bytes: encrypted }, { chain });
    expect(verdictExplanation(unsupported, "en")).to.match(
      /^This PDF is in a form this verifier does not read: .*encrypted PDFs are not supported.*which is itself no sign of forgery/,
    );
    expect(verdictExplanation(unsupported, "zh-CN")).to.match(/^这份 PDF 使用了本验证程序不读取的形式：加密的 PDF。/);
    expect(unsupported.verdict, "could not verify, never invalid").to.equal("indeterminate");
    // Not a certificate at all: the JSON that claims to be one and is damaged says so.
    const damagedJson = await verifyEvidence(
      { kind: "bytes", bytes: new TextEncoder().encode('{"type": "evidence-anchor-certificate"') },
      { chain },
    );
    expect(verdictExplanation(damagedJson, "en")).to.match(
      /^The certificate cannot be read as one: .*It is damaged or was altered/,
    );
    const png = await verifyEvidence({ kind: "bytes", bytes: example.file() }, { chain });
    expect(verdictExplanation(png, "en")).to.match(
      /^This is not a readable certificate: the file is not a certificate/,
    );
    // A PDF or a ZIP of another kind, chosen by mistake, is the wrong file too, not a damaged certificate.
    const contract = readFileSync(new URL("../vectors/pdf/no-attachment.pdf", import.meta.url));
    const ordinaryPdf = await verifyEvidence({ kind: "bytes", bytes: contract }, { chain });
    expect(verdictExplanation(ordinaryPdf, "en")).to.match(
      /^This PDF carries no certificate attachment, so there is nothing to verify\. If it is a copy of a certificate document .* which is no sign of forgery: ask for the PDF as issued, .* If this is the wrong file, choose the evidence certificate/,
    );
    expect(verdictExplanation(ordinaryPdf, "zh-CN")).to.match(/^这份 PDF 中没有证书附件，无法核验。若它是证书的副本/);
    // The headline says so too: no certificate here, rather than a bare "invalid".
    expect([verdictHeadline(ordinaryPdf, "en"), verdictHeadline(ordinaryPdf, "zh-CN")]).to.deep.equal([
      "INVALID — there is no certificate in this file",
      "无效——此文件中没有证书",
    ]);
    expect(verdictHeadline(png, "en")).to.equal("INVALID — there is no certificate in this file");
    expect(verdictHeadline(damaged, "en"), "a damaged document keeps the plain headline").to.equal("INVALID");
    // A certificate with statements beside it that it does not cover: said so, in both languages.
    const withMore = { anchoredAt: "2020-01-01T00:00:05.000Z", certificate: example.certificate() };
    const statements = await verifyEvidence(
      { kind: "bytes", bytes: new TextEncoder().encode(JSON.stringify(withMore)) },
      { chain },
    );
    expect(verdictExplanation(statements, "en")).to.equal(
      'This file holds a certificate and, beside it, statements the certificate does not cover: "anchoredAt" is no member of the service\'s status answer. A reader could take them for certified facts, so as it is the file proves nothing. Verify the certificate on its own: the .evidence.json file or the PDF document the service issued.',
    );
    expect(verdictExplanation(statements, "zh-CN")).to.equal(
      "此文件中除证书外，还有证书未涵盖的陈述：“anchoredAt”不是服务状态应答中的字段。读者可能把这些陈述当作已存证的事实，因此此文件按现状不能证明任何内容。请单独核验证书：服务签发的 .evidence.json 文件或其 PDF 证书。",
    );
    const photos = zipSync({ "shot.png": strToU8("not really a png") });
    const ordinaryZip = await verifyEvidence({ kind: "bytes", bytes: photos }, { chain });
    expect(verdictExplanation(ordinaryZip, "en")).to.match(
      /^This is not a readable certificate: the ZIP is not a capture package/,
    );
  });

  it("says a capture's error status is one, in both languages, and a success status as the number alone", () => {
    expect(httpStatusText(200, "en")).to.equal("200");
    expect(httpStatusText(404, "en")).to.equal(
      "404 (the site answered with an error: the page captured is its error page)",
    );
    expect(httpStatusText(404, "zh-CN")).to.equal("404（网站返回的是错误，所取证的是该错误页面）");
  });

  it("says the node has not reached the anchoring block, not that the chain could not be read", async () => {
    const chain = RecordedChain.holding(parseCertificate(example.certificate()));
    chain.latest = 5;
    const result = await verifyCertificate(example.certificate(), { chain });
    const anchor = result.checks.find((c) => c.id === "anchor")!;
    expect(checkSentence(anchor, "en")).to.match(/^The node has not yet reached the anchoring block/);
    expect(checkSentence(anchor, "zh-CN")).to.match(/^该节点尚未同步到上链区块/);
  });
});

/** A copy of `certificate` for each field and each wrong value: missing, null, of every wrong type, too long, not Unicode. */
function* brokenCopies(certificate: Record<string, unknown>): Generator<{ what: string; broken: unknown }> {
  const wrongValues: [string, unknown][] = [
    ["null", null],
    ["a string", "x"],
    ["a fraction", 1.5],
    ["negative", -1],
    ["huge", 2 ** 60],
    ["an array", []],
    ["an object", {}],
    ["5,000 characters", "x".repeat(5000)],
    ["a lone surrogate", "\ud800"],
    ["upper-case hex", `0x${"A".repeat(64)}`],
  ];
  function* walk(value: Record<string, unknown>, path: string[]): Generator<{ what: string; broken: unknown }> {
    for (const [key, inner] of Object.entries(value)) {
      const at = [...path, key];
      const copy = (set: (parent: Record<string, unknown>) => void) => {
        const broken = structuredClone(certificate);
        set(at.slice(0, -1).reduce<any>((o, k) => o[k], broken));
        return broken;
      };
      yield { what: `${at.join(".")} missing`, broken: copy((parent) => delete parent[key]) };
      for (const [name, wrong] of wrongValues) {
        yield { what: `${at.join(".")} ${name}`, broken: copy((parent) => (parent[key] = wrong)) };
      }
      if (inner !== null && typeof inner === "object") yield* walk(inner as Record<string, unknown>, at);
    }
  }
  yield* walk(certificate, []);
  yield { what: "an unknown field", broken: { ...certificate, extra: 1 } };
}
