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
  /** Words grouping commands ("accounts"), with what they are for in each language. */
  groups: Record<string, Record<Lang, string>>;
  help: Record<Lang, string>;
}

/** The command lines of a program's commands, for its help. */
export function commandList(commands: Command[], lang: Lang = "en"): string {
  return commands
    .map((c) => `  ${c.name.padEnd(18)} ${(lang === "zh-CN" ? c.summaryZh : undefined) ?? c.summary}`)
    .join("\n");
}

/** Runs one command line of `program`; the result is the exit status. */
export async function runProgram(program: Program, argv: string[]): Promise<number> {
  const { commands, groups, name } = program;
  // The language of every word said from here on, help and usage mistakes too.
  const asked = askedLanguage(argv);
  const lang = asked.lang;
  const zh = lang === "zh-CN";
  const help = program.help[lang];
  // The commands' usage is written for `evidence`; another program shows its own invocation.
  const usageOf = (command: Command) =>
    ((zh ? command.usageZh : undefined) ?? command.usage).replace(
      /^(Usage: |用法：)evidence /,
      (_, word: string) => `${word}${program.invocation} `,
    );
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
    const group = groups[first];
    if (group !== undefined) {
      const sub = commands.filter((c) => c.name.startsWith(`${first} `));
      const text = `${name} ${first} — ${group[lang]}\n\n${zh ? "命令：" : "Commands:"}\n${commandList(sub, lang)}`;
      const helpAsked = second === undefined || second === "--help" || second === "-h";
      if (helpAsked) console.log(text);
      else
        console.error(
          `${name}${zh ? `：未知命令“${first} ${second}”` : `: unknown command "${first} ${second}"`}\n\n${text}`,
        );
      return helpAsked ? EXIT.ok : EXIT.usage;
    }
    console.error(`${name}${zh ? `：未知命令“${first}”` : `: unknown command "${first}"`}\n\n${help}`);
    return EXIT.usage;
  }
  const who = `${name} ${command.name}`;
  const colon = zh ? "：" : ": ";
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
    console.error(`${who}${colon}${parseErrorText(e, lang)}\n\n${usageOf(command)}`);
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
      const twice = zh ? `--${token.name} 给了不止一次` : `--${token.name} is given more than once`;
      console.error(`${who}${colon}${twice}\n\n${usageOf(command)}`);
      return EXIT.usage;
    }
    seen.add(token.name);
  }
  if (values.help) {
    console.log(usageOf(command));
    return EXIT.ok;
  }
  if (asked.refused !== undefined) {
    console.error(`${who}${colon}${asked.refused}`);
    return EXIT.usage;
  }
  try {
    return await command.run({
      values: values as never,
      positionals: parsed.positionals.map(restore),
      lang,
      who,
    });
  } catch (e) {
    return report(who, usageOf(command), e, lang);
  }
}

/**
 * The language a command line asks for: its --lang (zh or en), else the environment's. A
 * --lang of another language is refused (`refused` says so, in the environment's language).
 */
function askedLanguage(argv: string[]): { lang: Lang; refused?: string } {
  const fallback = environmentLanguage();
  const end = argv.includes("--") ? argv.indexOf("--") : argv.length;
  let option: string | undefined;
  for (let i = 0; i < end; i++) {
    const arg = argv[i]!;
    if (arg === "--lang" && i + 1 < end) option = argv[i + 1];
    else if (arg.startsWith("--lang=")) option = arg.slice("--lang=".length);
  }
  if (option === undefined) return { lang: fallback };
  if (/^(zh|zh-CN|en)$/i.test(option)) return { lang: langOf(option) };
  return {
    lang: fallback,
    refused:
      fallback === "zh-CN" ? `--lang 只能是 zh 或 en，而不是“${option}”` : `--lang must be zh or en, got "${option}"`,
  };
}

/**
 * The language of the environment: the locale's variables (LC_ALL, LC_MESSAGES, LANG), and
 * where none is set (Windows has none) the system's locale, which ICU reads from the system.
 */
export function environmentLanguage(
  env: Record<string, string | undefined> = process.env,
  systemLocale: () => string | undefined = () => Intl.DateTimeFormat().resolvedOptions().locale,
): Lang {
  // The system's locale only when the environment names none: asking ICU for it costs about
  // 20 ms of every command's start-up.
  return langOf(env.LC_ALL || env.LC_MESSAGES || env.LANG || systemLocale());
}

/** Node's refusal of a command line (util.parseArgs), said in the reader's language. */
function parseErrorText(e: unknown, lang: Lang): string {
  const { code, message } = e as { code?: string; message: string };
  if (lang !== "zh-CN") return message;
  // "Unknown option '--x'. …", "Option '--file <value>' argument missing", "Option '-h, --help' does not take …"
  const option = /'(?:-[^-' ], )?(-[^' ]+)/.exec(message)?.[1];
  if (code === "ERR_PARSE_ARGS_UNKNOWN_OPTION" && option !== undefined) {
    return `未知选项 ${option}（以“-”开头的文件名，请写在“--”之后，如 -- "${option}"）`;
  }
  if (code === "ERR_PARSE_ARGS_INVALID_OPTION_VALUE" && option !== undefined) {
    return /argument missing/.test(message) ? `选项 ${option} 后面缺少它的值` : `选项 ${option} 不带值`;
  }
  return message;
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

/** Every failure is one line and an exit status; a stack trace only with DEBUG set. */
function report(who: string, usage: string, e: unknown, lang: Lang): number {
  const colon = lang === "zh-CN" ? "：" : ": ";
  if (e instanceof UsageError) {
    console.error(`${who}${colon}${(lang === "zh-CN" ? e.zh : undefined) ?? e.message}\n\n${usage}`);
    return EXIT.usage;
  }
  console.error(`${who}${colon}${failureText(e, lang)}`);
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
