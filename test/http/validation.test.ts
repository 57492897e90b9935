import { expect } from "chai";
import * as v from "valibot";
import { HttpProblem } from "../../service/http/problem.ts";
import { parseBody } from "../../service/http/validation.ts";

/** What parseBody answers for `value`: its status, code and words. */
function refusal(schema: v.GenericSchema, value: unknown): [number, string, string] {
  try {
    parseBody(schema, value, "body");
  } catch (e) {
    if (e instanceof HttpProblem) return [e.status, e.code, e.message];
    throw e;
  }
  throw new Error("accepted");
}

describe("parseBody: what a refused JSON body is told (service/http/validation.ts)", () => {
  const schema = v.strictObject({
    url: v.string(),
    viewport: v.optional(v.strictObject({ width: v.number() })),
    items: v.optional(v.array(v.strictObject({ name: v.string() }))),
  });

  it("says an array where an object belongs must be an object, at the top and in a member", () => {
    expect(refusal(schema, [])).to.deep.equal([400, "INVALID_BODY", "body must be a JSON object"]);
    expect(refusal(schema, { url: "u", viewport: [1280] })).to.deep.equal([
      400,
      "INVALID_FIELD",
      "body.viewport must be a JSON object",
    ]);
  });

  it("names the element of a list that is not an object, whether a number or an array", () => {
    for (const element of [5, []]) {
      expect(refusal(schema, { url: "u", items: [{ name: "a" }, element] })).to.deep.equal([
        400,
        "INVALID_FIELD",
        "body.items[1] must be a JSON object",
      ]);
    }
  });

  it("still says a member an object lacks is missing", () => {
    expect(refusal(schema, {})).to.deep.equal([400, "INVALID_FIELD", "body.url is missing"]);
    expect(refusal(schema, { url: "u", items: [{}] })).to.deep.equal([
      400,
      "INVALID_FIELD",
      "body.items[0].name is missing",
    ]);
  });
});
