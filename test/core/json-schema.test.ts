import { expect } from "chai";
import { readFileSync } from "node:fs";
import { Ajv } from "ajv";
import * as v from "valibot";
import { RecordSchema } from "../../service/core/schema.ts";
import { schemas } from "../../scripts/export-schemas.ts";
import { example } from "../helpers/vectors.ts";

const published = (name: string) =>
  JSON.parse(readFileSync(new URL(`../../docs/schema/${name}`, import.meta.url), "utf8"));

describe("the published JSON Schemas (docs/schema/), checked by an independent validator (ajv)", () => {
  it("are what scripts/export-schemas.ts generates from the verifiers' own schemas", () => {
    for (const [name, schema] of Object.entries(schemas())) expect(published(name), name).to.deep.equal(schema);
  });

  const ajv = new Ajv({ strict: false });
  const record = ajv.compile(published("record.schema.json"));
  const v1 = ajv.compile(published("certificate-v1.schema.json"));
  const v2 = ajv.compile(published("certificate-v2.schema.json"));

  it("count text limits in code points, as the verifier does: 1,024 camera emoji are a file name, 1,025 are not", () => {
    const base = example.records().records[0]!.record;
    for (const count of [1024, 1025]) {
      const candidate = { ...base, fileName: "📷".repeat(count) };
      const verifier = v.safeParse(RecordSchema, candidate).success;
      expect([record(candidate), verifier], String(count)).to.deep.equal([count === 1024, count === 1024]);
    }
  });

  it("accept the example records and certificates of both versions", () => {
    for (const r of example.records().records) expect(record(r.record), JSON.stringify(record.errors)).to.equal(true);
    expect(v1(example.certificate()), JSON.stringify(v1.errors)).to.equal(true);
    expect(v2(example.certificateV2()), JSON.stringify(v2.errors)).to.equal(true);
  });

  const mutations: [string, (c: Record<string, any>) => void][] = [
    ["an unknown field", (c) => (c.extra = 1)],
    ["an uppercase leafHash", (c) => (c.leafHash = c.leafHash.toUpperCase())],
    ["a record with null", (c) => (c.record.title = null)],
    ["a missing signature", (c) => delete c.signature],
    ["a fractional block number", (c) => ((c.anchor ?? c.batch.anchor).blockNumber = 1.5)],
    ["a path of 65 elements", (c) => (c.proof.path = Array(65).fill(c.leafHash))],
    ["a file name of 1,025 characters", (c) => (c.record.fileName = "名".repeat(1025))],
  ];
  for (const [what, mutate] of mutations) {
    it(`refuse ${what}, as the verifier does`, () => {
      const one = example.certificate();
      const two = example.certificateV2();
      mutate(one);
      mutate(two);
      expect([v1(one), v2(two)]).to.deep.equal([false, false]);
    });
  }
});
