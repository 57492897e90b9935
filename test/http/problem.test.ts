import { expect } from "chai";
import { toProblem } from "../../service/http/problem.ts";

describe("toProblem (http/problem.ts): what the client caused is not an internal error", () => {
  it("treats an upload the client abandoned (multer's 'Request aborted') as the client's, not a 500", () => {
    expect(toProblem(new Error("Request aborted"))).to.include({ status: 400, code: "BAD_REQUEST" });
  });

  it("answers a request the process had no descriptor for (EMFILE, ENFILE) 503 SERVER_BUSY, not a 500", () => {
    for (const code of ["EMFILE", "ENFILE"]) {
      const error = Object.assign(new Error(`${code}: too many open files, open 'tmp/x'`), { code });
      expect(toProblem(error), code).to.include({ status: 503, code: "SERVER_BUSY" });
    }
  });

  it("still answers an unknown failure as a 500, and a connection reset (a database's too) is not taken for an abort", () => {
    expect(toProblem(new Error("something broke"))).to.include({ status: 500, code: "INTERNAL" });
    const reset = Object.assign(new Error("read ECONNRESET"), { code: "ECONNRESET" });
    expect(toProblem(reset).status).to.not.equal(400);
  });
});
