import { defineCommand } from "../command.ts";
import { EXIT, UsageError } from "../exit.ts";
import { sha256File } from "../../intake/file-digest.ts";

export const hash = defineCommand({
  name: "hash",
  summary: "print a file's SHA-256, as sha256sum does",
  usage: `Usage: evidence hash <file…> [--json]

Prints each file's SHA-256 as "<hash>  <file>", the form sha256sum prints. The file is
streamed, never loaded whole.`,
  options: { json: { type: "boolean" } },
  async run({ values, positionals }) {
    if (positionals.length === 0) throw new UsageError("name at least one file");
    for (const file of positionals) {
      const contentHash = await sha256File(file);
      console.log(values.json ? JSON.stringify({ file, contentHash }) : `${contentHash}  ${file}`);
    }
    return EXIT.ok;
  },
});
