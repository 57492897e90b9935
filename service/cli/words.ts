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
