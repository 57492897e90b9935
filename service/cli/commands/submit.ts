import { access, constants, stat } from "node:fs/promises";
import * as v from "valibot";
import { SubmissionDetailsSchema, type SubmissionDetails } from "../../core/api.ts";
import { defineCommand, SERVICE_HELP, SERVICE_HELP_ZH, SERVICE_OPTIONS } from "../command.ts";
import { EXIT, UsageError } from "../exit.ts";
import { saveCertificate } from "../save-certificate.ts";
import { ServiceClient } from "../service-client.ts";
import { failureText, say, statusName } from "../words.ts";

export const submit = defineCommand({
  name: "submit",
  summary: "upload evidence files; --wait saves their certificates",
  usage: `Usage: evidence submit <file…> [--title T] [--source-url URL] [--note N] [--wait] [--out DIR]

Uploads each file; the service hashes it, batches it and anchors it. Every file and
option is checked before anything is uploaded; an empty file is refused, not uploaded.
  --title T, --source-url URL, --note N   recorded with each file
  --wait         wait until anchored and save each certificate as <id>.evidence.json;
                 every accepted file's certificate is saved even if another file failed
  --out DIR      where certificates are saved (default: the current directory)
${SERVICE_HELP}
Exit status: 0 all accepted, 1 some refused, 2 usage, 4 the service could not be reached.`,
  summaryZh: "上传证据文件；加 --wait 则保存其证书",
  usageZh: `用法：evidence submit <文件…> [--title T] [--source-url URL] [--note N] [--wait] [--out DIR]

逐个上传文件；服务计算其哈希、组批并上链锚定。上传任何文件之前，先检查所有文件和选项；
空文件会被拒绝，不会上传。
  --title T, --source-url URL, --note N   随每个文件一并记录（标题、来源网址、备注）
  --wait         等待上链，并将每份证书保存为 <编号>.evidence.json；
                 即使其他文件失败，每个已被接收的文件的证书也都会保存
  --out DIR      证书保存的目录（默认为当前目录）
${SERVICE_HELP_ZH}
退出状态：0 全部接收，1 有文件被拒绝，2 用法有误，4 无法连接服务。`,
  options: {
    ...SERVICE_OPTIONS,
    title: { type: "string" },
    "source-url": { type: "string" },
    note: { type: "string" },
    wait: { type: "boolean" },
    out: { type: "string" },
  },
  async run({ values, positionals: files, lang, who }) {
    const colon = say(lang, ": ", "：");
    if (files.length === 0) throw new UsageError("name at least one file", "请至少给出一个文件");
    const details = checkDetails({ title: values.title, sourceUrl: values["source-url"], note: values.note });
    for (const file of files) await checkReadable(file);
    const client = ServiceClient.from(values);
    client.requireKey();

    const accepted: { file: string; id: string; contentHash: string }[] = [];
    const refused: { file: string; error: string }[] = [];
    for (const file of files) {
      try {
        // Checked before any upload, but it may be gone since: then it alone is refused.
        const size = (await stat(file)).size;
        // Every empty file has the same hash: a certificate for one proves nothing of anyone's.
        if (size === 0) {
          refused.push({ file, error: EMPTY_FILE });
          console.error(`${who}${colon}${file}${colon}${say(lang, EMPTY_FILE, EMPTY_FILE_ZH)}`);
          continue;
        }
        const progress = values.json ? undefined : progressPrinter(file, size);
        const item = await client.upload(file, details, progress);
        accepted.push({ file, id: item.id, contentHash: item.contentHash });
        if (!values.json) {
          const state = statusName(item.status, lang);
          console.log(
            `${item.contentHash}  ${file}  → ${say(lang, `evidence ${item.id} (${state})`, `存证 ${item.id}（${state}）`)}`,
          );
        }
      } catch (e) {
        if ((e as Error).name === "UnreachableError" && accepted.length === 0) throw e;
        refused.push({ file, error: (e as Error).message });
        console.error(`${who}${colon}${file}${colon}${failureText(e, lang)}`);
      }
    }
    const saved: { file: string; id: string; contentHash: string; certificate: string }[] = [];
    if (values.wait) {
      const outDir = values.out ?? ".";
      for (const item of accepted) {
        let certificate;
        try {
          certificate = await client.waitForCertificate(item.id);
        } catch (e) {
          // The evidence is recorded whatever happens to the wait: its ids must not be lost.
          const waiting = accepted.slice(saved.length).map((a) => `${a.id} (${a.file})`);
          (e as Error).message += `; recorded, certificate not yet saved: ${waiting.join(", ")}`;
          throw e;
        }
        const target = await saveCertificate(outDir, certificate);
        saved.push({ ...item, certificate: target });
        if (!values.json) console.log(`${say(lang, "anchored: ", "已上链：")}${item.file} → ${target}`);
      }
    }
    if (values.json) console.log(JSON.stringify({ items: values.wait ? saved : accepted, refused }));
    return refused.length === 0 ? EXIT.ok : EXIT.failed;
  },
});

const EMPTY_FILE =
  "empty (0 bytes), not uploaded: every empty file has the same SHA-256, so a certificate for one would prove nothing";
const EMPTY_FILE_ZH = "文件为空（0 字节），未上传：所有空文件的 SHA-256 都相同，对其存证不能证明任何内容";

function checkDetails(raw: Record<string, string | undefined>): SubmissionDetails {
  const given = Object.fromEntries(Object.entries(raw).filter(([, value]) => value !== undefined && value !== ""));
  const result = v.safeParse(SubmissionDetailsSchema, given);
  if (result.success) return result.output;
  const issue = result.issues[0]!;
  const key = String(issue.path?.[0]?.key ?? "");
  const option = { title: "--title", sourceUrl: "--source-url", note: "--note" }[key] ?? key;
  throw new UsageError(`${option} ${issue.message}`);
}

async function checkReadable(file: string): Promise<void> {
  let info;
  try {
    info = await stat(file);
    await access(file, constants.R_OK);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw code === "ENOENT"
      ? new UsageError(`${file}: no such file`, `${file}：没有这个文件`)
      : new UsageError(`${file}: cannot be read (${code})`, `${file}：无法读取（${code}）`);
  }
  if (!info.isFile()) throw new UsageError(`${file}: not a regular file`, `${file}：不是普通文件`);
}

function progressPrinter(name: string, total: number): ((sent: number) => void) | undefined {
  if (!process.stderr.isTTY || total < 8 * 1024 * 1024) return undefined;
  let last = -1;
  return (sent) => {
    const pct = Math.floor((sent / total) * 100);
    if (pct === last) return;
    last = pct;
    process.stderr.write(`\r${name}: ${pct}% of ${(total / 1024 ** 2).toFixed(1)} MiB`);
    if (sent >= total) process.stderr.write("\n");
  };
}
