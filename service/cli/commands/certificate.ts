import { defineCommand, evidenceIdOf, SERVICE_HELP, SERVICE_OPTIONS } from "../command.ts";
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
${SERVICE_HELP}`,
  options: { ...SERVICE_OPTIONS, out: { type: "string" }, pdf: { type: "boolean" } },
  async run({ values, positionals }) {
    const id = evidenceIdOf(positionals);
    if (values.json && (values.pdf || values.out !== undefined)) {
      throw new UsageError(
        `--json prints the JSON certificate; it saves nothing, so it takes no ${values.pdf ? "--pdf" : "--out"}`,
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
