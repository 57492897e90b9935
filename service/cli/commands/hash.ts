import * as util from "node:util";
import { defineCommand } from "../command.ts";
import { EXIT, UsageError } from "../exit.ts";
import { sha256File } from "../../intake/file-digest.ts";

export const hash = defineCommand({
  name: "hash",
  summary: "print a file's SHA-256, as sha256sum does",
  usage: `Usage: evidence hash <file…> [--json]

Prints each file's SHA-256 as "<hash>  <file>", the form sha256sum prints, so that
"sha256sum -c" checks the output. A name with a backslash, a newline or a carriage return
is written escaped, with a backslash before the line, as sha256sum writes it. The file is
streamed, never loaded whole. A file that cannot be read is named on standard error and the
others are hashed; the exit status is then 1.`,
  summaryZh: "打印文件的 SHA-256，格式与 sha256sum 相同",
  usageZh: `用法：evidence hash <文件…> [--json]

打印每个文件的 SHA-256，格式为 "<哈希>  <文件>"，与 sha256sum 的输出相同，
因此可用 "sha256sum -c" 检查这些输出。文件名中有反斜杠、换行或回车时，按 sha256sum
的写法转义，并在该行前加一个反斜杠。文件以流方式读取，不会整个载入内存。无法读取的
文件在标准错误中列出，其余文件照常计算；此时退出状态为 1。`,
  options: { json: { type: "boolean" } },
  async run({ values, positionals, who }) {
    if (positionals.length === 0) throw new UsageError("name at least one file", "请至少给出一个文件");
    let status: number = EXIT.ok;
    for (const file of positionals) {
      let contentHash: string;
      try {
        contentHash = await sha256File(file);
      } catch (e) {
        console.error(`${who}: ${file}: ${readError(e)}`);
        status = EXIT.failed;
        continue;
      }
      console.log(values.json ? JSON.stringify({ file, contentHash }) : sha256sumLine(contentHash, file));
    }
    return status;
  },
});

/** GNU coreutils' line: a name with `\`, LF or CR is escaped, and the line then begins with `\`. */
export function sha256sumLine(contentHash: string, file: string): string {
  if (!/[\\\n\r]/.test(file)) return `${contentHash}  ${file}`;
  const escaped = file.replace(/[\\\n\r]/g, (c) => (c === "\\" ? "\\\\" : c === "\n" ? "\\n" : "\\r"));
  return `\\${contentHash}  ${escaped}`;
}

/** What the system says about a file that cannot be read ("no such file or directory"). */
function readError(e: unknown): string {
  const errno = (e as { errno?: unknown }).errno;
  // util.getSystemErrorMessage is Node 22.12's; the standalone verifier runs on Node 20 too.
  if (typeof errno === "number" && util.getSystemErrorMessage) return util.getSystemErrorMessage(errno);
  return e instanceof Error ? e.message : String(e);
}
