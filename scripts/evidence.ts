#!/usr/bin/env node
/**
 * The `evidence` command: runs the service, submits evidence, and verifies certificates
 * against the chain with no service at all.
 */
import { main } from "../service/cli/main.ts";

process.exitCode = await main(process.argv.slice(2));
