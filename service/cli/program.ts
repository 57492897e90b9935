import { parseArgs, type ParseArgsOptionsConfig } from "node:util";
import { firstLineOf } from "../core/errors.ts";
import { EVIDENCE_ID } from "../core/schema.ts";
import { langOf, type Lang } from "../core/verify/wording.ts";
import type { Command } from "./command.ts";
import { EXIT, UnreachableError, UsageError } from "./exit.ts";
import { serviceVersion } from "../version.ts";
import { failureText } from "./words.ts";

/** A command-line program: its commands, the words grouping some of them, and its help. */
export interface Program {
  /** How it names itself in messages: "evidence". */
  name: string;
  /** How it is run, as its usage lines say: "evidence", "node evidence-verify.mjs". */
  invocation: string;
  commands: Command[];
  groups: Record<string, string>;
  help: string;
}

/** The command lines of a program's commands, for its help. */
export function commandList(commands: Command[]): string {
  return commands.map((c) => `  ${c.name.padEnd(18)} ${c.summary}`).join("\n");
}

/** Runs one command line of `program`; the result is the exit status. */
export async function runProgram(program: Program, argv: string[]): Promise<number> {
  const { commands, groups, help, name } = program;
  // The commands' usage is written for `evidence`; another program shows its own invocation.
  const usageOf = (command: Command) => command.usage.replace(/^Usage: evidence /, `Usage: ${program.invocation} `);
  const [first, second] = argv;
  if (first === "--version" || first === "-V" || first === "version") {
    console.log(`${name} ${serviceVersion()}`);
    return EXIT.ok;
  }
  if (first === "help" && second !== undefined) return runProgram(program, [...argv.slice(1), "--help"]);
  if (first === undefined || first === "--help" || first === "-h" || first === "help") {
    console.log(help);
    return first === undefined ? EXIT.usage : EXIT.ok;
  }
  const twoWord = second !== undefined ? `${first} ${second}` : undefined;
  const command = commands.find((c) => c.name === twoWord) ?? commands.find((c) => c.name === first);
  if (!command) {
    if (first in groups) {
      const sub = commands.filter((c) => c.name.startsWith(`${first} `));
      const text = `${name} ${first} — ${groups[first]}\n\nCommands:\n${commandList(sub)}`;
      const asked = second === undefined || second === "--help" || second === "-h";
      (asked ? console.log : console.error)(asked ? text : `${name}: unknown command "${first} ${second}"\n\n${text}`);
      return asked ? EXIT.ok : EXIT.usage;
    }
    console.error(`${name}: unknown command "${first}"\n\n${help}`);
    return EXIT.usage;
  }
  if (command.name !== "serve") endOnClosedOutput(name);
  const { args, restore } = shieldIds(
    joinDashedValues(argv.slice(command.name.split(" ").length), command.options),
    command.options,
  );
  let parsed;
  try {
    parsed = parseArgs({
      args,
      options: { ...command.options, help: { type: "boolean", short: "h" } } as ParseArgsOptionsConfig,
      allowPositionals: true,
      strict: true,
      tokens: true,
    });
  } catch (e) {
    console.error(`${name} ${command.name}: ${(e as Error).message}\n\n${usageOf(command)}`);
    return EXIT.usage;
  }
  const values = parsed.values as Record<string, unknown>;
  // parseArgs keeps the last of an option given twice: `--file a --file b` would verify b
  // without a word. Only options declared repeatable may repeat.
  const seen = new Set<string>();
  for (const token of parsed.tokens ?? []) {
    if (token.kind !== "option") continue;
    const repeatable = (command.options as Record<string, { multiple?: boolean }>)[token.name]?.multiple === true;
    if (seen.has(token.name) && !repeatable) {
      console.error(`${name} ${command.name}: --${token.name} is given more than once\n\n${usageOf(command)}`);
      return EXIT.usage;
    }
    seen.add(token.name);
  }
  if (values.help) {
    console.log(usageOf(command));
    return EXIT.ok;
  }
  let lang: Lang;
  try {
    lang = languageOf(values.lang as string | undefined);
  } catch (e) {
    console.error(`${name} ${command.name}: ${(e as Error).message}`);
    return EXIT.usage;
  }
  try {
    return await command.run({
      values: values as never,
      positionals: parsed.positionals.map(restore),
      lang,
      who: `${name} ${command.name}`,
    });
  } catch (e) {
    return report(`${name} ${command.name}`, usageOf(command), e, lang);
  }
}

let watchingOutput = false;

/**
 * A reader that stops reading (`evidence verify DIR | head`) ends the command at once and
 * quietly, with the status of a tool ended by SIGPIPE; any other failure to write the output
 * is one line and status 1. (The service logs on, whatever becomes of its output.)
 */
function endOnClosedOutput(name: string): void {
  if (watchingOutput) return;
  watchingOutput = true;
  process.stdout.on("error", (e: NodeJS.ErrnoException) => {
    if (e.code !== "EPIPE") process.stderr.write(`${name}: cannot write the output: ${firstLineOf(e)}\n`);
    process.exit(e.code === "EPIPE" ? EXIT.outputClosed : EXIT.outputFailed);
  });
}

/** --lang zh|en, else the locale of the environment. */
function languageOf(option: string | undefined): Lang {
  if (option !== undefined) {
    if (!/^(zh|zh-CN|en)$/i.test(option)) throw new Error(`--lang must be zh or en, got "${option}"`);
    return langOf(option);
  }
  return langOf(process.env.LC_ALL || process.env.LC_MESSAGES || process.env.LANG);
}

/** Every failure is one line and an exit status; a stack trace only with DEBUG set. */
function report(who: string, usage: string, e: unknown, lang: Lang): number {
  if (e instanceof UsageError) {
    console.error(`${who}: ${e.message}\n\n${usage}`);
    return EXIT.usage;
  }
  console.error(`${who}: ${failureText(e, lang)}`);
  if (process.env.DEBUG) console.error(e);
  if (e instanceof UnreachableError) return EXIT.unreachable;
  return EXIT.failed;
}

/**
 * An option's value that begins with "-" (an API key made before keys were drawn without one,
 * a title such as "-draft") is refused by parseArgs as ambiguous unless written `--opt=value`.
 * After an option that takes a value, an argument that begins with "-" and names no option of
 * the command is taken as that value, as `--opt=value`; one that names an option (`--title
 * --json`) is left for parseArgs to refuse.
 */
function joinDashedValues(args: string[], options: ParseArgsOptionsConfig): string[] {
  const config = options as Record<string, { type: string; short?: string }>;
  const names = new Set([
    "--help",
    "-h",
    "--",
    ...Object.entries(config).flatMap(([n, o]) => [`--${n}`, ...(o.short ? [`-${o.short}`] : [])]),
  ]);
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    const next = args[i + 1];
    const optionName = next?.replace(/=.*$/, "") ?? "";
    if (
      takesValue(arg, options) &&
      !out.includes("--") &&
      next !== undefined &&
      next.startsWith("-") &&
      next !== "-" &&
      !names.has(optionName)
    ) {
      out.push(`${arg}=${next}`);
      i++;
    } else out.push(arg);
  }
  return out;
}

/** Whether `arg` is a long option, without `=value`, whose value is the next argument. */
function takesValue(arg: string, options: ParseArgsOptionsConfig): boolean {
  return /^--[^=]+$/.test(arg) && (options as Record<string, { type: string }>)[arg.slice(2)]?.type === "string";
}

/**
 * An evidence id may begin with "-" (base64url), and so may the file named after it
 * (`-YDEV….zip`): read as an option, `evidence status -YDEV…` would be refused. A single-dash
 * argument that is an evidence id, or a file name made of one, is taken as a positional
 * argument where it stands; an option's value is left alone. `restore` gives back the
 * argument for the stand-in parseArgs saw.
 */
function shieldIds(
  args: string[],
  options: ParseArgsOptionsConfig,
): { args: string[]; restore: (positional: string) => string } {
  const shielded = new Map<string, string>();
  const out = args.map((arg, i) => {
    const base = arg.replace(/^.*\//, "").replace(/(\.evidence\.json|\.json|\.zip|\.pdf)$/, "");
    if (
      takesValue(args[i - 1] ?? "", options) ||
      args.slice(0, i).includes("--") ||
      !/^-[^-]/.test(arg) ||
      !EVIDENCE_ID.test(base)
    )
      return arg;
    const standIn = `\u0000${shielded.size}`;
    shielded.set(standIn, arg);
    return standIn;
  });
  return { args: out, restore: (positional) => shielded.get(positional) ?? positional };
}
