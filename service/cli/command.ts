import type { ParseArgsOptionsConfig } from "node:util";
import type { Lang } from "../core/index.ts";
import { EVIDENCE_ID } from "../core/schema.ts";
import { UsageError } from "./exit.ts";

/** What util.parseArgs gives for an options table: each option typed by its declaration. */
export type Values<O extends ParseArgsOptionsConfig> = {
  [K in keyof O]?: O[K]["type"] extends "boolean" ? boolean : O[K]["multiple"] extends true ? string[] : string;
};

export interface Context<O extends ParseArgsOptionsConfig> {
  values: Values<O>;
  positionals: string[];
  /** The language of messages: --lang, else the locale (LC_ALL, LC_MESSAGES, LANG, else the system's). */
  lang: Lang;
  /** How the command names itself in messages: "evidence verify", "evidence-verify verify". */
  who: string;
}

export interface Command<O extends ParseArgsOptionsConfig = ParseArgsOptionsConfig> {
  name: string;
  summary: string;
  usage: string;
  /** The summary and the usage in Chinese, shown under a Chinese locale or --lang zh. */
  summaryZh?: string;
  usageZh?: string;
  options: O;
  run(context: Context<O>): Promise<number>;
}

/** Declares a command with its options typed from their table. */
export function defineCommand<const O extends ParseArgsOptionsConfig>(command: Command<O>): Command<O> {
  return command;
}

/** Options every command that talks to the service takes. */
export const SERVICE_OPTIONS = {
  server: { type: "string" },
  "api-key": { type: "string" },
  json: { type: "boolean" },
  lang: { type: "string" },
} as const satisfies ParseArgsOptionsConfig;

export const SERVICE_HELP = `  --server URL     the service (default $EVIDENCE_SERVER or http://127.0.0.1:8080)
  --api-key KEY    the API key (default $EVIDENCE_API_KEY)
  --json           machine-readable output
  --lang zh|en     the language of the output (default: from LC_ALL / LANG)`;

export const SERVICE_HELP_ZH = `  --server URL     服务地址（默认取 $EVIDENCE_SERVER，否则 http://127.0.0.1:8080）
  --api-key KEY    API 密钥（默认取 $EVIDENCE_API_KEY）
  --json           输出机器可读的 JSON
  --lang zh|en     输出语言（默认依 LC_ALL / LANG 而定）`;

/** The one evidence id a command names (status, certificate); anything else is a usage error. */
export function evidenceIdOf(positionals: string[]): string {
  if (positionals.length !== 1) throw new UsageError("name exactly one evidence id", "请给出且只给出一个存证编号");
  const id = positionals[0]!;
  if (!EVIDENCE_ID.test(id)) throw new UsageError(`"${id}" is not an evidence id`, `“${id}”不是存证编号`);
  return id;
}
