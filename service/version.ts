import { readFileSync } from "node:fs";

/** The version, set where the standalone verifier is built: it has no package.json beside it. */
declare const EVIDENCE_ANCHOR_VERSION: string | undefined;

let read: string | undefined;

/** The service's version (package.json): in capture manifests, and `evidence --version`. */
export function serviceVersion(): string {
  read ??=
    typeof EVIDENCE_ANCHOR_VERSION === "string"
      ? EVIDENCE_ANCHOR_VERSION
      : (JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string }).version;
  return read;
}
