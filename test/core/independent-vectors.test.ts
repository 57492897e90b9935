import { expect } from "chai";
import { createHash } from "node:crypto";
import { canonicalize, recordLeafHash, parseRecord, toHex32 } from "../../service/core/index.ts";
import { example } from "../helpers/vectors.ts";

/**
 * The example records' canonical JSON (RFC 8785), written out by hand from the records in
 * test/vectors/certificate/records.json: keys in code-unit order, no white space, strings
 * as JSON.stringify writes them (so "\n" and "\"" escaped, "é" and "📷" as UTF-8). Nothing
 * here comes from service/core: the hashes are node:crypto's, over these literal bytes.
 * Each can be checked in a shell:
 *
 *     printf '\x00%s' '<canonical>' | sha256sum
 */
const CANONICAL = [
  String.raw`{"contentHash":"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855","fileName":"empty.txt","id":"Ue7gQ2hTn4c1mXbVq9KzAw","mediaType":"text/plain","salt":"00112233445566778899aabbccddeeff","size":0,"submittedAt":"2026-11-25T16:39:00.123Z","submitter":"acct_example","v":1}`,
  String.raw`{"contentHash":"313ebae9f8adca08ba8b525fdbd69cac86ba565e1b8f8a03c020157c14efd5c9","fileName":"侵权页面截图.png","id":"q1Zr8xYwK0pLmN3oB5cD7e","mediaType":"image/png","note":"line one\nline two é 📷","salt":"ffeeddccbbaa99887766554433221100","size":15,"sourceUrl":"https://shop.example.com/item/123?ref=a&b=\"c\"","submittedAt":"2026-11-25T16:39:01.456Z","submitter":"acct_example","title":"商品详情页截图 / product page screenshot","v":1}`,
  String.raw`{"contentHash":"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08","id":"Zx9Yw8Vu7Ts6Rq5Po4Nm3L","salt":"0123456789abcdef0123456789abcdef","submittedAt":"2026-11-25T16:39:02.789Z","submitter":"acct_other","v":1}`,
];

const sha256 = (...parts: Buffer[]) => createHash("sha256").update(Buffer.concat(parts)).digest();
/** RFC 6962 §2.1: a leaf is SHA-256(0x00 ‖ data), a node SHA-256(0x01 ‖ left ‖ right). */
const leaf = (canonical: string) => sha256(Buffer.from([0x00]), Buffer.from(canonical, "utf8"));
const node = (left: Buffer, right: Buffer) => sha256(Buffer.from([0x01]), left, right);
const hex = (b: Buffer) => `0x${b.toString("hex")}`;

describe("the example vectors, computed independently of service/core", () => {
  const vectors = example.records();

  for (const [i, canonical] of CANONICAL.entries()) {
    it(`record ${i}: SHA-256(0x00 ‖ hand-written JCS) is the vector's leaf hash, and the code writes the same bytes`, () => {
      const expected = vectors.records[i]!;
      expect(hex(leaf(canonical))).to.equal(expected.leafHash);
      expect(expected.canonical, "the vector file's canonical form").to.equal(canonical);
      // The code under test agrees with the hand-written bytes.
      const record = parseRecord(expected.record);
      expect(canonicalize(record)).to.equal(canonical);
      expect(toHex32(recordLeafHash(record))).to.equal(hex(leaf(canonical)));
    });
  }

  it("the hand-written JSON is JSON of the same record, keys in order, with nothing but the record", () => {
    for (const [i, canonical] of CANONICAL.entries()) {
      const parsed = JSON.parse(canonical) as Record<string, unknown>;
      expect(parsed, `record ${i}`).to.deep.equal(vectors.records[i]!.record);
      const keys = Object.keys(parsed);
      expect(keys, `record ${i}: keys sorted`).to.deep.equal([...keys].sort());
    }
  });

  it("the root of the three records' tree is SHA-256(0x01 ‖ SHA-256(0x01 ‖ leaf0 ‖ leaf1) ‖ leaf2), as in the certificates", () => {
    const [a, b, c] = CANONICAL.map(leaf) as [Buffer, Buffer, Buffer];
    const root = hex(node(node(a, b), c));
    expect(root).to.equal(vectors.root);
    const v1 = example.certificate() as {
      proof: { root: string; leafIndex: number; path: string[] };
      leafHash: string;
    };
    expect(v1.proof.root).to.equal(root);
    // The second record's proof: its sibling leaf 0, then leaf 2.
    expect([v1.leafHash, v1.proof.leafIndex, v1.proof.path]).to.deep.equal([hex(b), 1, [hex(a), hex(c)]]);
    const v2 = example.certificateV2() as { batch: { root: string } };
    expect(v2.batch.root).to.equal(root);
  });
});
