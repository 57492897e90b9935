import { expect } from "chai";
import { rmSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { makeDirectory } from "../../service/make-directory.ts";
import { tempDir } from "../helpers/processes.ts";

describe("makeDirectory (mkdir -p on the real file system)", () => {
  let root: string;
  beforeEach(() => (root = tempDir("make-directory")));
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it("makes every missing level with the mode asked for, and accepts one that exists", () => {
    const dir = path.join(root, "a", "b", "c");
    makeDirectory(dir);
    makeDirectory(dir);
    for (const level of [path.join(root, "a"), path.join(root, "a", "b"), dir]) {
      expect(statSync(level).mode & 0o777, level).to.equal(0o700);
    }
  });

  it("refuses a path through a file (ENOTDIR) and a file in its place (EEXIST)", () => {
    const file = path.join(root, "file");
    writeFileSync(file, "x");
    expect(() => makeDirectory(path.join(file, "sub")))
      .to.throw()
      .with.property("code", "ENOTDIR");
    expect(() => makeDirectory(file))
      .to.throw()
      .with.property("code", "EEXIST");
  });

  it("fails at once for a directory the file system will not make under an existing parent (/proc/x), where Node's recursive mkdir never returns", () => {
    expect(() => makeDirectory("/proc/evidence-anchor/data"))
      .to.throw()
      .with.property("code", "ENOENT");
  });
});
