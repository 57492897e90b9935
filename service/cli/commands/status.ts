import { claimsOf } from "../../core/certificate.ts";
import { timeText } from "../../core/verify/wording.ts";
import { visibleText } from "../../core/visible-text.ts";
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
    // What the service reports comes from submitters and captured pages: shown, never obeyed by the terminal.
    const log = (line: string) => console.log(visibleText(line));
    log(`${view.id}: ${view.status}`);
    if (view.record) {
      log(`  content hash  ${view.record.contentHash}`);
      log(`  submitted at  ${view.record.submittedAt}`);
      if (view.record.fileName) log(`  file name     ${view.record.fileName}`);
    }
    if (view.capture) {
      log(`  capture of    ${view.capture.url} (${view.capture.status})`);
      if (view.capture.error) log(`  failed        ${view.capture.error.code}: ${view.capture.error.message}`);
    }
    if (view.certificate) {
      const t = timeText(claimsOf(view.certificate).anchor.timestamp, lang);
      log(`  anchored at   ${t.utc} (${t.local})`);
    }
    for (const [i, h] of (view.history ?? []).entries()) {
      log(
        `  certificate ${i}: ${h.reason}, block ${h.blockNumber}, issued ${h.issuedAt}${h.current ? " (current)" : ""}`,
      );
    }
    if (view.notice) log(`  note: ${view.notice}`);
    return EXIT.ok;
  },
});
