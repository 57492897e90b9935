import { PROBLEM_TEXT, type Problem } from "../core/api.ts";
import { firstLineOf } from "../core/errors.ts";
import type { Lang } from "../core/verify/wording.ts";

/**
 * The words the service commands print, in Simplified Chinese and English (`verify` speaks
 * through service/core/verify/wording.ts). Statuses keep their API name beside the Chinese.
 */
const STATUS_ZH: Record<string, string> = {
  queued: "排队中",
  capturing: "取证中",
  pending: "待上链",
  anchoring: "上链中",
  anchored: "已上链",
  failed: "失败",
};

/** An evidence or capture status in the reader's language: "已上链", or the API's word. */
export function statusName(status: string, lang: Lang): string {
  return (lang === "zh-CN" ? STATUS_ZH[status] : undefined) ?? status;
}

/** The same with the API's word beside the Chinese, where a script may look for it: "已上链（anchored）". */
export function statusWord(status: string, lang: Lang): string {
  const name = statusName(status, lang);
  return name === status ? status : `${name}（${status}）`;
}

/** Picks the reader's language. */
export function say(lang: Lang, en: string, zh: string): string {
  return lang === "zh-CN" ? zh : en;
}

/**
 * A failure in one line. In Chinese, a refusal of the service's (an error carrying its
 * problem+json) is said in Chinese where its code has words, the service's own English line
 * beside them; in English that line says it already.
 */
export function failureText(e: unknown, lang: Lang): string {
  const problem = (e as { problem?: Partial<Problem> } | undefined)?.problem;
  const known = lang === "zh-CN" && problem?.code ? PROBLEM_TEXT[problem.code]?.["zh-CN"] : undefined;
  return known === undefined ? firstLineOf(e) : `${known}（${firstLineOf(e)}）`;
}
