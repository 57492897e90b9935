import { claimsOf } from "../../core/certificate.ts";
import { timeText, type Lang } from "../../core/verify/wording.ts";
import { visibleText } from "../../core/visible-text.ts";
import { defineCommand, evidenceIdOf, SERVICE_HELP, SERVICE_HELP_ZH, SERVICE_OPTIONS } from "../command.ts";
import { EXIT } from "../exit.ts";
import { ServiceClient } from "../service-client.ts";
import { statusWord } from "../words.ts";

/** The labels of `evidence status`, padded to one width in each language. */
const WORDS = {
  en: {
    contentHash: "content hash",
    submittedAt: "submitted at",
    fileName: "file name   ",
    captureOf: "capture of  ",
    failed: "failed      ",
    anchoredAt: "anchored at ",
    note: "note        ",
    certificate: "certificate",
    block: "block",
    issued: "issued",
    current: " (current)",
  },
  "zh-CN": {
    contentHash: "内容哈希",
    submittedAt: "提交时间",
    fileName: "文件名  ",
    captureOf: "取证网址",
    failed: "失败原因",
    anchoredAt: "上链时间",
    note: "说明    ",
    certificate: "证书",
    block: "区块",
    issued: "签发于",
    current: "（现行）",
  },
} as const satisfies Record<Lang, Record<string, string>>;

export const status = defineCommand({
  name: "status",
  summary: "show an evidence item's status",
  usage: `Usage: evidence status <id> [--server URL] [--json] [--lang zh|en]

Shows where the evidence is: capturing, pending, anchoring, anchored (or failed), and
every certificate issued for it, with times in local time and UTC.
${SERVICE_HELP}`,
  summaryZh: "查看存证的状态",
  usageZh: `用法：evidence status <编号> [--server URL] [--json] [--lang zh|en]

显示存证所处的阶段：取证中、待上链、上链中、已上链（或失败），以及为它签发的每一份
证书，时间以本地时间和 UTC 表示。
${SERVICE_HELP_ZH}`,
  options: SERVICE_OPTIONS,
  async run({ values, positionals, lang }) {
    const view = await ServiceClient.from(values).status(evidenceIdOf(positionals));
    if (values.json) {
      console.log(JSON.stringify(view));
      return EXIT.ok;
    }
    // What the service reports comes from submitters and captured pages: shown, never obeyed by the terminal.
    const log = (line: string) => console.log(visibleText(line));
    const words = WORDS[lang];
    const row = (label: keyof typeof WORDS.en, value: string) => log(`  ${words[label]}  ${value}`);
    const when = (time: Date | number) => timeText(time, lang).both;
    log(`${view.id}: ${statusWord(view.status, lang)}`);
    if (view.record) {
      row("contentHash", view.record.contentHash);
      row("submittedAt", when(new Date(view.record.submittedAt)));
      if (view.record.fileName) row("fileName", view.record.fileName);
    }
    if (view.capture) {
      row("captureOf", `${view.capture.url} (${view.capture.status})`);
      if (view.capture.error) row("failed", `${view.capture.error.code}: ${view.capture.error.message}`);
    }
    if (view.certificate) row("anchoredAt", when(claimsOf(view.certificate).anchor.timestamp));
    for (const [i, h] of (view.history ?? []).entries()) {
      const current = h.current ? words.current : "";
      log(
        `  ${words.certificate} ${i}: ${h.reason}, ${words.block} ${h.blockNumber}, ${words.issued} ${when(new Date(h.issuedAt))}${current}`,
      );
    }
    if (view.notice) row("note", view.notice);
    return EXIT.ok;
  },
});
