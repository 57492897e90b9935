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
export const COMMANDS: Command[] = [
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

const EXIT_STATUS = `Exit status: 0 success or valid, 1 invalid or refused, 2 usage, 3 could not verify,
4 the service could not be reached, 74 the output could not be written,
141 the output's reader stopped reading.`;

const EXIT_STATUS_ZH = `退出状态：0 成功或有效，1 无效或被拒绝，2 用法有误，3 无法核验，4 无法连接服务，
74 无法写出输出，141 输出的读取方已停止读取。`;

const EVIDENCE: Program = {
  name: "evidence",
  invocation: "evidence",
  commands: COMMANDS,
  /** Commands grouped under a word ("accounts"), listed when the word comes alone. */
  groups: {
    accounts: { en: "manage accounts in the service's store", "zh-CN": "管理服务存储中的账户" },
    store: { en: "move the service's store", "zh-CN": "迁移服务的存储" },
  },
  help: {
    en: `evidence — blockchain evidence timestamping

Usage: evidence <command> [options]

Commands:
${commandList(COMMANDS)}

Run "evidence <command> --help" or "evidence help <command>" for a command's options,
"evidence --version" for the version.
${EXIT_STATUS}`,
    "zh-CN": `evidence — 区块链电子证据存证

用法：evidence <命令> [选项]

命令：
${commandList(COMMANDS, "zh-CN")}

运行 "evidence <命令> --help" 或 "evidence help <命令>" 查看命令的选项，
"evidence --version" 查看版本。
${EXIT_STATUS_ZH}`,
  },
};

/** The `evidence` command: one command line, and its exit status. */
export function main(argv: string[]): Promise<number> {
  return runProgram(EVIDENCE, argv);
}
