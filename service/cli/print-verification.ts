import {
  CHECK_NAMES,
  STATUS_NAMES,
  checkSentence,
  httpStatusText,
  reasonText,
  timeText,
  timestampStatusNote,
  UNPROVEN_FACTS,
  verdictExplanation,
  verdictHeadline,
  warningText,
  type Lang,
} from "../core/verify/wording.ts";
import { certificateFailed, type VerificationResult } from "../core/verify/checks.ts";
import { visibleText } from "../core/visible-text.ts";

/**
 * A verification in words for a mediator or a court's technician: the verdict first, what
 * it means and what to do, each check with its sentence and detail, then the facts.
 */
export function verificationText(
  result: VerificationResult,
  options: { lang: Lang; rpc: string; source: string },
): string {
  const { lang } = options;
  const zh = lang === "zh-CN";
  const lines: string[] = [];
  const headline = verdictHeadline(result, lang);
  lines.push(`== ${headline} ==`, verdictExplanation(result, lang), "");
  for (const warning of result.warnings) lines.push(`${zh ? "注意：" : "WARNING: "}${warningText(warning, lang)}`);
  if (result.warnings.length > 0) lines.push("");
  const width = Math.max(...Object.values(CHECK_NAMES).map((n) => displayWidth(n[lang])));
  // The widest status ("无法检查", "COULD NOT CHECK") and two spaces: every name starts in one column.
  const statusWidth = Math.max(...Object.values(STATUS_NAMES).map((n) => displayWidth(n[lang]))) + 2;
  for (const check of result.checks) {
    const status = STATUS_NAMES[check.status][lang];
    const name = CHECK_NAMES[check.id][lang];
    lines.push(`${pad(status, statusWidth)}${pad(name, width + 2)}${checkSentence(check, lang)}`);
    lines.push(`${" ".repeat(statusWidth + width + 2)}${reasonText(check.reason, lang)}`);
  }
  lines.push("");
  const c = result.claims;
  const facts: [string, string][] = [];
  if (result.capture) {
    // What the certified manifest states of the capture (never an uncertified one's).
    const { url, finalUrl, status, title, startedAt } = result.capture;
    const t = timeText(new Date(startedAt), lang);
    facts.push([zh ? "取证网址" : "captured URL", url]);
    if (finalUrl !== url) facts.push([zh ? "最终网址" : "final URL", finalUrl]);
    if (status !== undefined) facts.push([zh ? "HTTP 状态码" : "HTTP status", httpStatusText(status, lang)]);
    if (title) facts.push([zh ? "网页标题" : "page title", title]);
    facts.push([zh ? "取证时间" : "captured at", t.both]);
  }
  if (c) {
    facts.push([zh ? "证书编号" : "certificate id", c.record.id]);
    if (result.anchoredAt) {
      const t = timeText(new Date(result.anchoredAt), lang);
      facts.push([zh ? "上链时间" : "anchored at", t.both]);
    }
    facts.push([zh ? "内容 SHA-256" : "content SHA-256", c.record.contentHash]);
    if (c.record.fileName) facts.push([zh ? "文件名" : "file name", c.record.fileName]);
    if (c.record.title) facts.push([zh ? "标题" : "title", c.record.title]);
    facts.push([zh ? "提交时间" : "submitted at", timeText(new Date(c.record.submittedAt), lang).both]);
    facts.push(
      [zh ? "链" : "chain", String(c.anchor.chainId)],
      [zh ? "合约" : "contract", c.anchor.contract],
      [zh ? "区块" : "block", String(c.anchor.blockNumber)],
      [zh ? "交易" : "transaction", c.anchor.txHash],
      [zh ? "签发方" : "issuer", `${c.issuer.name} (${c.issuer.address})`],
    );
    for (const ts of result.timestamps) {
      const t = timeText(new Date(ts.time), lang);
      const offset = zh ? `与区块时间相差 ${ts.offsetSeconds} 秒` : `${ts.offsetSeconds} s from the block's time`;
      facts.push([
        zh ? "时间戳" : "time-stamp",
        `${ts.tsa}: ${t.utc} (${offset})${timestampStatusNote(ts.status, lang)}`,
      ]);
    }
  }
  const now = timeText(new Date(), lang);
  facts.push([zh ? "验证时间" : "verified at", now.both]);
  facts.push([zh ? "查询节点" : "node read", options.rpc]);
  facts.push([zh ? "证书文件" : "certificate", options.source]);
  // The facts of a certificate that failed are its own claims, and said to be.
  if (c && certificateFailed(result)) lines.push(UNPROVEN_FACTS[lang]);
  const factWidth = Math.max(...facts.map(([k]) => displayWidth(k)));
  for (const [k, v] of facts) lines.push(`  ${pad(k, factWidth + 2)}${v}`);
  // Every line may hold text from the certificate (a file name, an issuer's name, a key, a
  // time-stamp authority): none of it may reach the terminal as a control or a line break.
  return lines.map(visibleText).join("\n");
}

/** Columns on a terminal: CJK characters take two. */
function displayWidth(text: string): number {
  let width = 0;
  for (const ch of text)
    width += /[\u1100-\u115f\u2e80-\ua4cf\uac00-\ud7a3\uf900-\ufaff\ufe30-\ufe4f\uff00-\uff60\uffe0-\uffe6]/.test(ch)
      ? 2
      : 1;
  return width;
}

function pad(text: string, width: number): string {
  return text + " ".repeat(Math.max(1, width - displayWidth(text)));
}
