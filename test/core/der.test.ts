import { expect } from "chai";
import { readFileSync } from "node:fs";
import { concatBytes } from "@noble/hashes/utils.js";
import * as pkijs from "pkijs";
import { encodingProblem } from "../../service/core/der.ts";
import { fromHex32 } from "../../service/core/index.ts";
import { parseTrustBundle, timestampTokenFromBase64, verifyTimestampToken } from "../../service/core/timestamp.ts";
import { seededRandom } from "../helpers/random.ts";
import { loadVector } from "../helpers/vectors.ts";

const hex = (text: string) => Uint8Array.from(text.match(/../g) ?? [], (h) => parseInt(h, 16));
const der = (text: string) => encodingProblem(hex(text.replace(/\s/g, "")), "DER");
const ber = (text: string) => encodingProblem(hex(text.replace(/\s/g, "")), "BER");

const vectors = loadVector<{
  data: string;
  cases: { desc: string; token: string; trust: string[]; want: { status: string } }[];
}>("timestamp/tokens.json");
const pem = (name: string) => readFileSync(new URL(`../vectors/timestamp/${name}`, import.meta.url), "utf8");

/** The TSTInfo and the signed attributes (as the SET that is signed) of a token. */
function signedParts(token: Uint8Array): { tstInfo: Uint8Array; signedAttributes: Uint8Array } {
  const signedData = new pkijs.SignedData({ schema: pkijs.ContentInfo.fromBER(new Uint8Array(token)).content });
  return {
    tstInfo: new Uint8Array(signedData.encapContentInfo.eContent!.getValue()),
    signedAttributes: new Uint8Array(signedData.signerInfos[0]!.signedAttrs!.encodedValue),
  };
}

/** A DER value as a tree, and back to bytes with chosen length encodings. */
interface Node {
  identifier: Uint8Array;
  children: Node[] | null;
  content: Uint8Array;
  /** Where the value is in the bytes it was read from. */
  start: number;
  end: number;
}

function parse(b: Uint8Array, start = 0, end = b.length): Node[] {
  const nodes: Node[] = [];
  for (let p = start; p < end;) {
    const at = p;
    let q = p + 1;
    if ((b[p]! & 0x1f) === 0x1f) while (b[q++]! & 0x80);
    const identifier = b.subarray(p, q);
    let length = b[q++]!;
    if (length & 0x80) {
      const n = length & 0x7f;
      length = 0;
      for (let i = 0; i < n; i++) length = length * 256 + b[q++]!;
    }
    const constructed = (identifier[0]! & 0x20) !== 0;
    nodes.push({
      identifier,
      children: constructed ? parse(b, q, q + length) : null,
      content: b.subarray(q, q + length),
      start: at,
      end: q + length,
    });
    p = q + length;
  }
  return nodes;
}

type LengthForm = "minimal" | "long" | "indefinite";

function encode(node: Node, form: (n: Node) => LengthForm): Uint8Array {
  const body = node.children ? concat(node.children.map((c) => encode(c, form))) : node.content;
  const f = form(node);
  if (f === "indefinite") return concat([node.identifier, Uint8Array.of(0x80), body, Uint8Array.of(0, 0)]);
  const octets: number[] = [];
  for (let n = body.length; n > 0; n = Math.floor(n / 256)) octets.unshift(n % 256);
  const length =
    f === "long"
      ? [0x80 | (octets.length + 1), 0, ...octets]
      : body.length < 0x80
        ? [body.length]
        : [0x80 | octets.length, ...octets];
  return concat([node.identifier, Uint8Array.from(length), body]);
}

const concat = (parts: Uint8Array[]): Uint8Array => concatBytes(...parts);

function all(nodes: Node[]): Node[] {
  return nodes.flatMap((n) => [n, ...all(n.children ?? [])]);
}

describe("service/core/der", () => {
  describe("encodingProblem", () => {
    it("accepts DER", () => {
      expect(der("3006 020101 0101ff")).to.equal(null);
      expect(der("020100")).to.equal(null);
      expect(der("0202 0080")).to.equal(null); // 128 needs its 00
      expect(der("0201 80")).to.equal(null);
      expect(der("0500")).to.equal(null);
      expect(der("0603 2a0304")).to.equal(null);
      expect(der("0602 8102")).to.equal(null);
      expect(der("0302 0780")).to.equal(null);
      expect(der("3106 020101 020102")).to.equal(null);
      expect(der("1f1f 00")).to.equal(null); // universal 31 (DATE) needs the high tag-number form
      expect(der(`180f ${ascii("20261126060139Z")}`)).to.equal(null);
      expect(der(`1813 ${ascii("20261126060139.267Z")}`)).to.equal(null);
      expect(der(`1815 ${ascii("20240229235959.00001Z")}`)).to.equal(null);
      expect(der(`170d ${ascii("261126060139Z")}`)).to.equal(null);
      expect(der("3081 80" + "0400".repeat(64))).to.equal(null);
    });

    it("refuses what DER forbids and says where", () => {
      for (const [bytes, reason] of [
        ["3080 020101 0000", /indefinite/],
        ["3081 03 020101", /fewest octets/],
        ["3082 0003 020101", /fewest octets/],
        ["0202 0001", /INTEGER not in the fewest/],
        ["0202 ff80", /INTEGER not in the fewest/],
        ["0101 01", /BOOLEAN TRUE/],
        ["0302 0781", /unused bits are not zero/],
        ["2403 040100", /constructed string/],
        ["3106 020102 020101", /SET OF not in DER order/],
        [`1814 ${ascii("20261126060139.2670Z")}`, /fraction/],
        [`1810 ${ascii("20261126060139.Z")}`, /fraction/],
        [`1811 ${ascii("20261126060139+01")}`, /form/],
        [`180d ${ascii("202611260601Z")}`, /form/],
        [`180f ${ascii("20230229120000Z")}`, /not a date/],
        [`180f ${ascii("20261126240000Z")}`, /not a date/],
        [`170e ${ascii("2611260601390Z")}`, /form/],
      ] as const) {
        expect(der(bytes), bytes).to.match(reason);
      }
    });

    it("refuses what BER forbids too", () => {
      for (const [bytes, reason] of [
        ["", /cut off/],
        ["30", /cut off/],
        ["3003 0201", /runs past/],
        ["020101 00", /follow the value/],
        ["0000", /end-of-contents/],
        ["1103 020101", /primitive universal 17/],
        ["2203 020101", /constructed universal 2/],
        ["0200", /empty INTEGER/],
        ["0202 0001", /fewest octets/],
        ["0100", /one octet/],
        ["0501 00", /NULL with contents/],
        ["0602 8001", /subidentifier/],
        ["0601 81", /cut off/],
        ["0301 01", /unused bits/],
        ["0302 0800", /more than 7/],
        ["1f02 00", /high tag-number form/],
        ["1f8001 00", /leading zero/],
        ["0f00", /reserved/],
        ["0480 0000", /primitive/],
        ["3080 020101", /end-of-contents/],
        ["2406 0c0141 040142", /segment of another type/],
        ["2308 03020701 03020700", /unused bits/],
        ["30ff", /reserved length/],
      ] as const) {
        expect(ber(bytes), bytes).to.match(reason);
      }
    });

    it("accepts BER where BER allows it", () => {
      expect(ber("3080 020101 0101 01 0000")).to.equal(null);
      expect(ber("3082 0003 020101")).to.equal(null);
      expect(ber("2480 040141 040142 0000")).to.equal(null);
      expect(ber("3106 020102 020101")).to.equal(null);
    });
  });

  describe("the genuine tokens", () => {
    const genuine = vectors.cases.filter((c) => c.want.status === "passed");

    it("have a DER TSTInfo and DER signed attributes, but for the development TSA's unsorted multi-valued RDNs", () => {
      expect(genuine.length).to.be.greaterThan(4);
      for (const c of genuine) {
        const { tstInfo, signedAttributes } = signedParts(timestampTokenFromBase64(c.token));
        const outermost = { setOrder: "outermost" } as const;
        expect(encodingProblem(tstInfo, "DER", outermost), c.desc).to.equal(null);
        expect(encodingProblem(signedAttributes, "DER", outermost), c.desc).to.equal(null);
        const development = c.trust.some((t) => t.startsWith("development"));
        const sorted = encodingProblem(signedAttributes, "DER") === null;
        expect(sorted, c.desc).to.equal(!development);
      }
    });

    it("fuzz: every re-encoding against DER inside the TSTInfo or the signed attributes is refused (seeded)", () => {
      const random = seededRandom(3161);
      let tried = 0;
      for (const c of genuine) {
        const parts = signedParts(timestampTokenFromBase64(c.token));
        for (const bytes of [parts.tstInfo, parts.signedAttributes]) {
          const [top] = parse(bytes);
          const nodes = all([top!]);
          for (let i = 0; i < 40; i++) {
            const target = nodes[Math.floor(random() * nodes.length)]!;
            const forms: LengthForm[] = target.children ? ["long", "indefinite"] : ["long"];
            const form = forms[Math.floor(random() * forms.length)]!;
            const mutated = encode(top!, (n) => (n === target ? form : "minimal"));
            expect(encodingProblem(mutated, "DER", { setOrder: "outermost" }), `${c.desc} ${form}`).to.be.a("string");
            // BER allows both forms of length.
            expect(encodingProblem(mutated, "BER"), `${c.desc} ${form}`).to.equal(null);
            tried++;
          }
        }
      }
      expect(tried).to.be.greaterThan(300);
    });

    it("fuzz: every BER re-encoding of the token around them still verifies (seeded)", async function () {
      this.timeout(20_000);
      const random = seededRandom(5652);
      const root = fromHex32(vectors.data);
      const checked: string[] = [];
      for (const desc of ["openssl-rsa-ess-v2", "development-ecdsa", "der-genuine"]) {
        const c = vectors.cases.find((v) => v.desc === desc)!;
        const token = timestampTokenFromBase64(c.token);
        const trust = c.trust.flatMap((name) => parseTrustBundle(pem(name)));
        const { tstInfo, signedAttributes } = signedParts(token);
        const [top] = parse(token);
        // The values a re-encoding may touch: constructed ones that do not enclose or lie in
        // the TSTInfo's bytes, the signed attributes or a certificate (ESS hashes its bytes).
        const signedData = top!.children![1]!.children![0]!;
        const certificates = signedData.children!.find((n) => n.identifier[0] === 0xa0)?.children ?? [];
        const attributesAt = indexOf(token, signedAttributes.subarray(1)) - 1;
        const tstInfoAt = indexOf(token, tstInfo);
        const kept = [
          [tstInfoAt, tstInfoAt + tstInfo.length],
          [attributesAt, attributesAt + signedAttributes.length],
          ...certificates.map((n) => [n.start, n.end]),
        ] as [number, number][];
        const outside = all([top!]).filter(
          (n) => n.children && kept.every(([s, e]) => n.end <= s || n.start >= e || (n.start < s && n.end >= e)),
        );
        expect(outside.length, desc).to.be.greaterThan(5);
        for (let i = 0; i < 12; i++) {
          const chosen = new Set(outside.filter(() => random() < 0.3));
          const mutated = encode(top!, (n) => (chosen.has(n) ? (random() < 0.5 ? "long" : "indefinite") : "minimal"));
          if (chosen.size === 0) continue;
          const result = await verifyTimestampToken(mutated, root, trust);
          expect({ desc, status: result.status, detail: result.detail.code }).to.deep.equal({
            desc,
            status: "passed",
            detail: "ok",
          });
          checked.push(desc);
        }
      }
      expect(checked.length).to.be.greaterThan(30);
    });
  });
});

function ascii(text: string): string {
  return [...text].map((ch) => ch.charCodeAt(0).toString(16).padStart(2, "0")).join("");
}

function indexOf(haystack: Uint8Array, needle: Uint8Array): number {
  outer: for (let i = 0; i + needle.length <= haystack.length; i++) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}
