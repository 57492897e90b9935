import { expect } from "chai";
import { EvidenceError } from "../../service/core/errors.ts";
import { firstDuplicateKey, nestsDeeperThan, parseJson, parseJsonText } from "../../service/core/json.ts";
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

  it("names where a key is written twice: the object's path through keys and array indexes, escaped keys decoded", () => {
    const cases: [string, string, string][] = [
      ['{"k":1,"k":2}', "k", ""],
      // A byte-order mark before the text, as a body parser takes it.
      ['\uFEFF{"k":1,"k":2}', "k", ""],
      ['\uFEFF{"a":{"k":1,"k":2}}', "k", "a"],
      ['{"a":[{"x":1},{"k":1,"k":2}]}', "k", "a[1]"],
      ['{"a":{"b":[[1,"]",{"k":1,"\\u006b":1}]]}}', "k", "a.b[0][2]"],
      ['[0, {"x":[true, null]}, {"e":1.5e3, "e" : 2}]', "e", "[2]"],
      ['{"s":"a\\"}{","t":{"u":{},"v":[],"u":0}}', "u", "t"],
      // Past sixteen keys in one object, and the duplicate of the first and of the last.
      [`{${Array.from({ length: 40 }, (_, i) => `"k${i}":${i}`).join(",")},"k0":0}`, "k0", ""],
      [`{"o":{${Array.from({ length: 40 }, (_, i) => `"k${i}":${i}`).join(",")},"k39":0}}`, "k39", "o"],
    ];
    for (const [text, key, at] of cases) expect(firstDuplicateKey(text), text).to.deep.equal({ key, at });
    expect(firstDuplicateKey('{"a":{"k":1},"b":{"k":1},"c":[{"k":1},{"k":1}]}')).to.equal(null);
  });
});
