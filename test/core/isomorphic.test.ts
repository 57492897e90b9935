import { expect } from "chai";
import { build } from "esbuild";

/** The core runs in the page too: each entry the pages import must bundle without Node's built-ins. */
const BROWSER_ENTRIES = ["index.ts", "pdf-attachment.ts", "timestamp.ts"];

describe("service/core in the browser", () => {
  for (const entry of BROWSER_ENTRIES) {
    it(`${entry} bundles for the browser with no node: built-ins`, async () => {
      const result = await build({
        entryPoints: [new URL(`../../service/core/${entry}`, import.meta.url).pathname],
        bundle: true,
        platform: "browser",
        format: "esm",
        write: false,
        logLevel: "silent",
      });
      expect(result.errors).to.deep.equal([]);
      expect(result.outputFiles[0]!.text).not.to.match(/from\s*["']node:|require\(["']node:/);
    });
  }
});
