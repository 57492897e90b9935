import { parseArgs, type ParseArgsConfig } from "node:util";
import { commands, type Command } from "./commands.ts";
import { EXIT, UsageError } from "./exit.ts";

const HELP = `evidence — blockchain evidence timestamping

Usage: evidence <command> [options]

Commands:
${Object.entries(commands)
  .map(([name, c]) => `  ${name.padEnd(18)} ${c.summary}`)
  .join("\n")}

Run "evidence <command> --help" for a command's options.`;

export async function main(argv: string[]): Promise<number> {
  const [first, second, ...rest] = argv;
  if (first === undefined || first === "--help" || first === "-h" || first === "help") {
    console.log(HELP);
    return first === undefined ? EXIT.usage : EXIT.ok;
  }
  // Two-word commands: "accounts create".
  const twoWord = second !== undefined ? `${first} ${second}` : undefined;
  const name = twoWord !== undefined && twoWord in commands ? twoWord : first;
  const args = name === twoWord ? rest : argv.slice(1);
  const command: Command | undefined = commands[name];
  if (!command) {
    console.error(`evidence: unknown command "${first}"\n\n${HELP}`);
    return EXIT.usage;
  }
  let parsed;
  try {
    parsed = parseArgs({
      args,
      options: { ...command.options, help: { type: "boolean", short: "h" } } as ParseArgsConfig["options"],
      allowPositionals: true,
      strict: true,
    });
  } catch (e) {
    console.error(`evidence ${name}: ${(e as Error).message}\n\n${command.usage}`);
    return EXIT.usage;
  }
  if ((parsed.values as { help?: boolean }).help) {
    console.log(command.usage);
    return EXIT.ok;
  }
  try {
    return await command.run(parsed.values as Record<string, string | boolean | undefined>, parsed.positionals);
  } catch (e) {
    if (e instanceof UsageError) {
      console.error(`evidence ${name}: ${e.message}\n\n${command.usage}`);
      return EXIT.usage;
    }
    console.error(`evidence ${name}: ${(e as Error).message}`);
    return EXIT.failed;
  }
}
