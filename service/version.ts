import { readFileSync } from "node:fs";

let read: string | undefined;

/** The service's version (package.json): in capture manifests, and `evidence --version`. */
export function serviceVersion(): string {
  read ??= (JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string })
    .version;
  return read;
}
