import { setTimeout as delay } from "node:timers/promises";
import { captureFailureText, isWebUrl, type EvidenceView } from "../../core/api.ts";
import { defineCommand, SERVICE_HELP, SERVICE_HELP_ZH, SERVICE_OPTIONS } from "../command.ts";
import { EXIT, UsageError } from "../exit.ts";
import { saveCertificate, saveFile } from "../save-certificate.ts";
import { ServiceClient } from "../service-client.ts";
import { say, statusName } from "../words.ts";

export const capture = defineCommand({
  name: "capture",
  summary: "have the service capture a web page as evidence (网页取证)",
  usage: `Usage: evidence capture <url> [--title T] [--note N] [--video] [--wait] [--out DIR]

The service opens the page in a clean browser of its own and records it as a notary would:
a full-page screenshot, the page (MHTML, HTML), its network traffic (HAR, WARC), the server's
address and TLS certificates, the DNS answers, and the capture environment. The record of
all of it is anchored like any other evidence.
  --title T, --note N   recorded with the capture
  --video        also record the session as a video
  --wait         wait until anchored, then save the package <id>.zip (verifiable with
                 "evidence verify <id>.zip") and the certificate <id>.evidence.json
  --out DIR      where they are saved (default: the current directory)
${SERVICE_HELP}
Exit status: 0 recorded (and anchored, with --wait), 1 refused or failed, 2 usage,
4 the service could not be reached.`,
  summaryZh: "由服务对网页进行取证（网页取证）",
  usageZh: `用法：evidence capture <网址> [--title T] [--note N] [--video] [--wait] [--out DIR]

服务在自己的一个全新浏览器中打开该网页，像公证员那样记录下来：整页截图、网页本身
（MHTML、HTML）、网络往来（HAR、WARC）、服务器的地址和 TLS 证书、DNS 应答，以及
取证环境。所有这些的记录与其他证据一样上链锚定。
  --title T, --note N   随取证一并记录（标题、备注）
  --video        同时录制取证过程的视频
  --wait         等待上链，然后保存取证包 <编号>.zip（可用 "evidence verify <编号>.zip"
                 核验）和证书 <编号>.evidence.json
  --out DIR      保存的目录（默认为当前目录）
${SERVICE_HELP_ZH}
退出状态：0 已记录（加 --wait 时为已上链），1 被拒绝或失败，2 用法有误，4 无法连接服务。`,
  options: {
    ...SERVICE_OPTIONS,
    title: { type: "string" },
    note: { type: "string" },
    video: { type: "boolean" },
    wait: { type: "boolean" },
    out: { type: "string" },
  },
  async run({ values, positionals, lang }) {
    if (positionals.length !== 1) throw new UsageError("name exactly one URL", "请给出且只给出一个网址");
    const url = positionals[0]!;
    if (!isWebUrl(url)) {
      throw new UsageError(
        `${url}: only http and https pages can be captured`,
        `${url}：只能对 http 和 https 网页取证`,
      );
    }
    const client = ServiceClient.from(values);
    client.requireKey();
    const accepted = await client.post<{ id: string; status: string }>("/api/v1/captures", {
      url,
      ...(values.title ? { title: values.title } : {}),
      ...(values.note ? { note: values.note } : {}),
      ...(values.video ? { video: true } : {}),
    });
    if (!values.json) {
      const state = statusName(accepted.status, lang);
      console.log(
        say(lang, `capture ${accepted.id} of ${url}: ${state}`, `网页取证 ${accepted.id}（${url}）：${state}`),
      );
    }
    if (!values.wait) {
      if (values.json) console.log(JSON.stringify(accepted));
      return EXIT.ok;
    }
    let view: EvidenceView;
    for (let last = ""; ;) {
      view = await client.status(accepted.id);
      if (view.status !== last && !values.json) console.error(`  ${statusName(view.status, lang)}`);
      last = view.status;
      if (view.status === "failed") {
        // Not an answer of the service's to a request: the capture itself failed (exit 1).
        const why = captureFailureText(view.capture?.error, lang) || say(lang, "no reason given", "未说明原因");
        throw new Error(`${say(lang, "the capture failed: ", "取证失败：")}${why}`);
      }
      if (view.certificate) break;
      await delay(1_000);
    }
    const out = values.out ?? ".";
    const pkg = await saveFile(
      out,
      `${accepted.id}.zip`,
      await client.download(`/api/v1/evidence/${accepted.id}/package`),
    );
    const certificate = await saveCertificate(out, view.certificate!);
    if (values.json) console.log(JSON.stringify({ id: accepted.id, package: pkg, certificate }));
    else
      console.log(`${say(lang, "anchored: ", "已上链：")}${pkg}\n${say(lang, "          ", "        ")}${certificate}`);
    return EXIT.ok;
  },
});
