#!/usr/bin/env node
/**
 * The installed `evidence` command (package.json "bin"). Plain JavaScript, so that a run whose
 * modules are all in the compile cache never loads the TypeScript stripper: start-up is most
 * of a single `evidence verify`. scripts/evidence.ts is the same entry for `npm start`.
 */
import { enableCompileCache } from "node:module";
import process from "node:process";

// V8's compiled code and every module's stripped TypeScript are kept across runs (in the OS's
// temporary directory). Everything else is imported after this line, so through the cache.
enableCompileCache();
const { main } = await import("../service/cli/main.ts");

process.exitCode = await main(process.argv.slice(2));
