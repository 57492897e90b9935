import type { Command } from "./command.ts";
import { accountsCreate, accountsList } from "./commands/accounts.ts";
import { capture } from "./commands/capture.ts";
import { certificate } from "./commands/certificate.ts";
import { hash } from "./commands/hash.ts";
import { serve } from "./commands/serve.ts";
import { status } from "./commands/status.ts";
import { storeCopy } from "./commands/store.ts";
import { submit } from "./commands/submit.ts";
import { verify } from "./commands/verify.ts";
import { commandList, runProgram, type Program } from "./program.ts";

/** Every command; each lives in its own file under commands/ and loads what it needs when it runs. */
const COMMANDS: Command[] = [
  serve,
  submit,
  capture,
  status,
  certificate,
  verify,
  hash,
  accountsCreate,
  accountsList,
  storeCopy,
] as Command[];

const EVIDENCE: Program = {
  name: "evidence",
  invocation: "evidence",
  commands: COMMANDS,
  /** Commands grouped under a word ("accounts"), listed when the word comes alone. */
  groups: {
    accounts: "manage accounts in the service's store",
    store: "move the service's store",
  },
  help: `evidence — blockchain evidence timestamping

Usage: evidence <command> [options]

Commands:
${commandList(COMMANDS)}

Run "evidence <command> --help" or "evidence help <command>" for a command's options,
"evidence --version" for the version.
Exit status: 0 success or valid, 1 invalid or refused, 2 usage, 3 could not verify,
4 the service could not be reached, 74 the output could not be written,
141 the output's reader stopped reading.`,
};

/** The `evidence` command: one command line, and its exit status. */
export function main(argv: string[]): Promise<number> {
  return runProgram(EVIDENCE, argv);
}
