import { expect } from "chai";
import { build } from "esbuild";

describe("service/core", () => {
  it("bundles for the browser with no node: built-ins", async () => {
    const result = await build({
      entryPoints: [new URL("../../service/core/index.ts", import.meta.url).pathname],
      bundle: true,
      platform: "browser",
      format: "esm",
      write: false,
      logLevel: "silent",
    });
    expect(result.errors).to.deep.equal([]);
    expect(result.outputFiles[0]!.text).not.to.match(/from\s*["']node:/);
  });
});
