import { claimsOf } from "../../core/certificate.ts";
import { timeText } from "../../core/verify/wording.ts";
import { defineCommand, evidenceIdOf, SERVICE_HELP, SERVICE_OPTIONS } from "../command.ts";
import { EXIT } from "../exit.ts";
import { ServiceClient } from "../service-client.ts";

export const status = defineCommand({
  name: "status",
  summary: "show an evidence item's status",
  usage: `Usage: evidence status <id> [--server URL] [--json]

Shows where the evidence is: capturing, pending, anchoring, anchored (or failed), and
every certificate issued for it.
${SERVICE_HELP}`,
  options: SERVICE_OPTIONS,
  async run({ values, positionals, lang }) {
    const view = await ServiceClient.from(values).status(evidenceIdOf(positionals));
    if (values.json) {
      console.log(JSON.stringify(view));
      return EXIT.ok;
    }
    console.log(`${view.id}: ${view.status}`);
    if (view.record) {
      console.log(`  content hash  ${view.record.contentHash}`);
      console.log(`  submitted at  ${view.record.submittedAt}`);
      if (view.record.fileName) console.log(`  file name     ${view.record.fileName}`);
    }
    if (view.capture) {
      console.log(`  capture of    ${view.capture.url} (${view.capture.status})`);
      if (view.capture.error) console.log(`  failed        ${view.capture.error.code}: ${view.capture.error.message}`);
    }
    if (view.certificate) {
      const t = timeText(claimsOf(view.certificate).anchor.timestamp, lang);
      console.log(`  anchored at   ${t.utc} (${t.local})`);
    }
    for (const [i, h] of (view.history ?? []).entries()) {
      console.log(
        `  certificate ${i}: ${h.reason}, block ${h.blockNumber}, issued ${h.issuedAt}${h.current ? " (current)" : ""}`,
      );
    }
    if (view.notice) console.log(`  note: ${view.notice}`);
    return EXIT.ok;
  },
});
