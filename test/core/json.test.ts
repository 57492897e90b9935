import { expect } from "chai";
import { EvidenceError } from "../../service/core/errors.ts";
import { nestsDeeperThan, parseJson, parseJsonText } from "../../service/core/json.ts";
import { MAX_JSON_DEPTH } from "../../service/core/limits.ts";

const nested = (depth: number, open = "[", close = "]") => `${open.repeat(depth)}${close.repeat(depth)}`;

describe("untrusted JSON (core/json.ts): nesting is bounded before parsing, keys are never written twice", () => {
  it(`parses text nested ${MAX_JSON_DEPTH} levels deep, and refuses one level more before JSON.parse sees it`, () => {
    expect(parseJson(nested(MAX_JSON_DEPTH))).to.be.an("array");
    expect(() => parseJson(nested(MAX_JSON_DEPTH + 1), "the certificate"))
      .to.throw(EvidenceError, `the certificate nests arrays and objects deeper than ${MAX_JSON_DEPTH} levels`)
      .with.property("code", "INVALID_JSON");
  });

  it("refuses 16 MB of nested arrays at once (JSON.parse and a walk of it would take gigabytes)", () => {
    expect(() => parseJsonText(nested(8_000_000))).to.throw(EvidenceError, /deeper than/);
  });

  it("counts objects and arrays alike, and no bracket inside a string, escaped quotes included", () => {
    expect(nestsDeeperThan('{"a":{"b":[1]}}', 2)).to.equal(true);
    expect(nestsDeeperThan('{"a":{"b":[1]}}', 3)).to.equal(false);
    expect(nestsDeeperThan(`["${"[".repeat(100)}"]`, 1)).to.equal(false);
    expect(nestsDeeperThan(`[${"[],".repeat(100)}{}]`, 2), "many opened, none deep").to.equal(false);
    expect(nestsDeeperThan(`["\\"${"{".repeat(100)}"]`, 1)).to.equal(false);
    expect(nestsDeeperThan(`["\\\\", ${nested(3)}]`, 3)).to.equal(true);
  });

  it("still refuses text that is not JSON, and a key written twice, naming it", () => {
    expect(() => parseJson("{", "the body")).to.throw(EvidenceError, "the body is not valid JSON");
    expect(() => parseJsonText('{"a":{"k":1,"k":2}}', "x"))
      .to.throw(EvidenceError, 'x has the key "k" twice in a')
      .with.property("code", "DUPLICATE_KEY");
  });

  it("refuses a key written twice in text laid out as JSON.stringify lays it out, indented or not, with a final newline or without", () => {
    for (const text of ['{\n  "a": 1,\n  "a": 1\n}', '{\n  "a": 1,\n  "a": 1\n}\n', '{"a":1,"a":1}', '{"a":1,"a":1}\n'])
      expect(() => parseJsonText(text), JSON.stringify(text)).to.throw(EvidenceError, 'the text has the key "a" twice');
    for (const text of ['{\n  "a": 1\n}', '{\n  "a": 1\n}\n', '{"a":1}', '{"a":1}\n'])
      expect(parseJsonText(text)).to.deep.equal({ a: 1 });
  });
});
