#!/usr/bin/env node
/**
 * The `evidence` command: runs the service, submits evidence, and verifies certificates
 * against the chain with no service at all.
 */
import { enableCompileCache } from "node:module";

// Start-up is most of a single `evidence verify`: keep V8's compiled code and the stripped
// TypeScript of every module across runs (in the OS's temporary directory). Everything else
// is imported after this line, so it is loaded through the cache.
enableCompileCache();
const { main } = await import("../service/cli/main.ts");

process.exitCode = await main(process.argv.slice(2));
