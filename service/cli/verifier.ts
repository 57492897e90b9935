import type { Command } from "./command.ts";
import { hash } from "./commands/hash.ts";
import { verify } from "./commands/verify.ts";
import { commandList, runProgram, type Program } from "./program.ts";

/**
 * The verifier on its own: `evidence verify` and `evidence hash`, nothing that talks to the
 * service. The service builds it into one JavaScript file with no dependencies
 * (http/routes/verifier.ts) for mediators and courts to run with a plain Node.js.
 */
const COMMANDS = [verify, hash] as Command[];

const VERIFIER: Program = {
  name: "evidence-verify",
  invocation: "node evidence-verify.mjs",
  commands: COMMANDS,
  groups: {},
  help: `evidence-verify — checks Evidence Anchor certificates against the blockchain, with no service

Usage: node evidence-verify.mjs <command> [options]

Commands:
${commandList(COMMANDS)}

Run "node evidence-verify.mjs <command> --help" for a command's options, "--version" for the version.
Exit status: 0 valid, 1 invalid, 2 usage, 3 could not verify, 74 the output could not be written,
141 the output's reader stopped reading.`,
};

/** The standalone verifier: one command line, and its exit status. */
export function verifierMain(argv: string[]): Promise<number> {
  return runProgram(VERIFIER, argv);
}
