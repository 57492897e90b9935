import { defineCommand, evidenceIdOf, SERVICE_HELP, SERVICE_HELP_ZH, SERVICE_OPTIONS } from "../command.ts";
import { EXIT, UsageError } from "../exit.ts";
import { saveCertificate, saveFile } from "../save-certificate.ts";
import { ServiceClient } from "../service-client.ts";

export const certificate = defineCommand({
  name: "certificate",
  summary: "download an evidence item's certificate (JSON, or the PDF document)",
  usage: `Usage: evidence certificate <id> [--pdf] [--out DIR] [--server URL]

Saves the certificate as <id>.evidence.json (in DIR), or prints it with --json.
  --pdf          save the bilingual certificate document <id>.pdf instead; it carries
                 the JSON certificate inside, so "evidence verify <id>.pdf" checks it
  --out DIR      where it is saved (default: the current directory)
${SERVICE_HELP}`,
  summaryZh: "下载存证的证书（JSON，或 PDF 证书文件）",
  usageZh: `用法：evidence certificate <编号> [--pdf] [--out DIR] [--server URL]

将证书保存为 <编号>.evidence.json（在 DIR 中），或用 --json 直接打印。
  --pdf          改为保存中英双语的证书文件 <编号>.pdf；其中附有 JSON 证书，
                 因此 "evidence verify <编号>.pdf" 即可核验
  --out DIR      保存的目录（默认为当前目录）
${SERVICE_HELP_ZH}`,
  options: { ...SERVICE_OPTIONS, out: { type: "string" }, pdf: { type: "boolean" } },
  async run({ values, positionals }) {
    const id = evidenceIdOf(positionals);
    if (values.json && (values.pdf || values.out !== undefined)) {
      throw new UsageError(
        `--json prints the JSON certificate; it saves nothing, so it takes no ${values.pdf ? "--pdf" : "--out"}`,
        `--json 只打印 JSON 证书，不保存任何文件，因此不能与 ${values.pdf ? "--pdf" : "--out"} 同用`,
      );
    }
    const client = ServiceClient.from(values);
    if (values.pdf) {
      const pdf = await client.download(`/api/v1/evidence/${encodeURIComponent(id)}/certificate.pdf`);
      console.log(await saveFile(values.out ?? ".", `${id}.pdf`, pdf));
      return EXIT.ok;
    }
    const cert = await client.certificate(id);
    if (values.json) {
      console.log(JSON.stringify(cert, null, 2));
      return EXIT.ok;
    }
    console.log(await saveCertificate(values.out ?? ".", cert));
    return EXIT.ok;
  },
});
