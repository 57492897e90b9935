import { expect } from "chai";
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { cleanUpDataDir, tempDir } from "../helpers/processes.ts";
import { pythonVerifier, type PythonVerdict } from "../helpers/python-verifier.ts";

const vectors = (file: string) => new URL(`../vectors/certificate/${file}`, import.meta.url).pathname;

/**
 * The independent verifier of docs/protocol.md, Appendix A, run as printed: a court can check a
 * certificate with code it has read itself only if that code works. Against a real chain, on a
 * genuine certificate and every well-formed forgery: test/service/hostile.e2e.test.ts.
 */
describe("docs/protocol.md Appendix A: the independent Python verifier, offline on the vectors of §11.1", () => {
  let dir: string;
  let verify: (args: string[]) => Promise<PythonVerdict>;
  before(() => {
    dir = tempDir("python-verifier");
    verify = pythonVerifier(dir);
  });
  after(() => cleanUpDataDir(dir));

  for (const file of ["certificate.json", "certificate-v2.json"]) {
    it(`passes content, leaf, inclusion and signature of ${file}, and says the anchor was not checked without a node`, async () => {
      const result = await verify([vectors(file), "--file", vectors("evidence.txt")]);
      expect(result.checks).to.deep.equal({
        content: "passed",
        leaf: "passed",
        inclusion: "passed",
        anchor: "error",
        signature: "passed",
      });
      expect([result.verdict, result.exitCode]).to.deep.equal(["indeterminate", 3]);
    });
  }

  it("fails another file, an altered record and a broken proof, each by its own check", async () => {
    const certificate = JSON.parse(readFileSync(vectors("certificate-v2.json"), "utf8"));
    const write = (name: string, value: unknown) => {
      writeFileSync(path.join(dir, name), JSON.stringify(value));
      return path.join(dir, name);
    };
    const other = write("other.txt", "another file");
    const altered = write("altered.json", { ...certificate, record: { ...certificate.record, fileName: "x.png" } });
    const proof = { ...certificate.proof, path: [...certificate.proof.path].reverse() };
    const broken = write("broken.json", { ...certificate, proof });
    const failed = async (args: string[]) =>
      Object.entries((await verify(args)).checks)
        .filter(([, status]) => status === "failed")
        .map(([id]) => id);
    expect(await failed([vectors("certificate-v2.json"), "--file", other])).to.deep.equal(["content"]);
    // Version 2 signs the batch, not the record: the record is bound by its leaf hash alone.
    expect(await failed([altered])).to.deep.equal(["leaf"]);
    expect(await failed([broken])).to.deep.equal(["inclusion"]);
  });

  it("reads a certificate file an editor saved with a UTF-8 byte order mark as the same certificate (§5.1)", async () => {
    const marked = path.join(dir, "marked.json");
    writeFileSync(marked, Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), readFileSync(vectors("certificate.json"))]));
    const result = await verify([marked, "--file", vectors("evidence.txt")]);
    expect(result.checks.leaf).to.equal("passed");
    expect(result.checks.signature).to.equal("passed");
  });
});
