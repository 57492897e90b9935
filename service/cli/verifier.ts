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
  help: {
    en: `evidence-verify — checks Evidence Anchor certificates against the blockchain, with no service

Usage: node evidence-verify.mjs <command> [options]

Commands:
${commandList(COMMANDS)}

Run "node evidence-verify.mjs <command> --help" for a command's options, "--version" for the version.
Exit status: 0 valid, 1 invalid, 2 usage, 3 could not verify, 74 the output could not be written,
141 the output's reader stopped reading.`,
    "zh-CN": `evidence-verify — 直接对照区块链核验 Evidence Anchor 存证证书，无需任何服务

用法：node evidence-verify.mjs <命令> [选项]

命令：
${commandList(COMMANDS, "zh-CN")}

运行 "node evidence-verify.mjs <命令> --help" 查看命令的选项，"--version" 查看版本。
退出状态：0 有效，1 无效，2 用法有误，3 无法核验，74 无法写出输出，141 输出的读取方已停止读取。`,
  },
};

/** The standalone verifier: one command line, and its exit status. */
export function verifierMain(argv: string[]): Promise<number> {
  return runProgram(VERIFIER, argv);
}
