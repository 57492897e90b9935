#!/usr/bin/env node
/**
 * The installed `evidence` command (package.json "bin"). Plain JavaScript, so that a run whose
 * modules are all in the compile cache never loads the TypeScript stripper: start-up is most
 * of a single `evidence verify`. scripts/evidence.ts is the same entry for `npm start`.
 */
import * as nodeModule from "node:module";
import process from "node:process";

// The service's modules are TypeScript, which Node runs from 22.13 on: an older Node is told
// which to use, a usage error, rather than failing with exit 1 (which `verify` means as INVALID).
const [major, minor] = process.versions.node.split(".").map(Number);
if (major < 22 || (major === 22 && minor < 13)) {
  process.stderr.write(
    `evidence needs Node.js 22.13 or later; this is ${process.version}. ` +
      "In the project, run it with the Node that npm run setup installs: npx evidence, or node_modules/.bin/node scripts/evidence.mjs\n",
  );
  process.exit(2);
}

// V8's compiled code and every module's stripped TypeScript are kept across runs (in the OS's
// temporary directory). Everything else is imported after this line, so through the cache.
nodeModule.enableCompileCache();
const { main } = await import("../service/cli/main.ts");

process.exitCode = await main(process.argv.slice(2));
