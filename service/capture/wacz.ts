import { createHash } from "node:crypto";
import { once } from "node:events";
import { createWriteStream } from "node:fs";
import { mkdir, readFile, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { WARCRecord, WARCSerializer } from "warcio";

/**
 * The capture's network traffic as a WACZ 1.1.1 web archive
 * (https://specs.webrecorder.net/wacz/1.1.1/): WARC records under `archive/`, a CDXJ index,
 * a page list and `datapackage.json`, so that ReplayWeb.page, pywb or any WARC tool can replay
 * the captured page without this service.
 *
 * The records are rebuilt from the browser's HAR (Playwright writes it with bodies embedded):
 * the bodies are the decoded bytes the browser received, so `Content-Encoding` and
 * `Transfer-Encoding` are dropped and `Content-Length` set to the body's length, and status
 * lines are written as HTTP/1.1 whatever the wire protocol was. The WARC is therefore a faithful
 * replay of what the browser saw, not a byte-exact copy of the wire (which, for https, the
 * service never sees in the clear). Each record is its own gzip member (WARC 1.1 annex D), so
 * the index can point at it by offset.
 */

/** The parts of a HAR 1.2 log (http://www.softwareishard.com/blog/har-12-spec/) used here. */
export interface HarLog {
  log: { entries: HarEntry[]; pages?: { title?: string }[] };
}

export interface HarEntry {
  startedDateTime: string;
  request: {
    method: string;
    url: string;
    httpVersion: string;
    headers: { name: string; value: string }[];
    postData?: { mimeType?: string; text?: string };
  };
  response: {
    status: number;
    statusText: string;
    httpVersion: string;
    headers: { name: string; value: string }[];
    content: { size: number; mimeType?: string; text?: string; encoding?: string };
  };
  /** HAR 1.2's free-text comment. */
  comment?: string;
}

export interface WaczOptions {
  /** The capture's output directory: the files are written under it. */
  dir: string;
  har: HarLog;
  pageUrl: string;
  pageTitle: string;
  /** RFC 3339 time the page was captured. */
  pageDate: string;
  /** Name and version of the software that made the archive. */
  software: string;
  /** Entries not to archive: the guard proxy's own refusals are not the site's responses. */
  exclude?: (entry: HarEntry) => boolean;
}

/** The files {@link writeWacz} writes, relative to the output directory. */
export const WACZ_FILES = [
  "archive/data.warc.gz",
  "indexes/index.cdxj",
  "pages/pages.jsonl",
  "datapackage.json",
] as const;

/** Headers that describe the wire encoding of a body that the HAR holds decoded. */
const WIRE_HEADERS = new Set(["content-encoding", "transfer-encoding", "content-length", "connection", "keep-alive"]);

export async function writeWacz(options: WaczOptions): Promise<void> {
  const { dir, har } = options;
  for (const sub of ["archive", "indexes", "pages"]) await mkdir(path.join(dir, sub), { recursive: true });
  const warcPath = path.join(dir, "archive/data.warc.gz");
  const out = createWriteStream(warcPath);
  let offset = 0;
  const index: string[] = [];
  const write = async (bytes: Uint8Array) => {
    if (!out.write(bytes)) await once(out, "drain");
    const at = offset;
    offset += bytes.length;
    return at;
  };

  const info = WARCRecord.createWARCInfo(
    { filename: "data.warc.gz", warcVersion: "WARC/1.1" },
    { software: options.software, format: "WARC File Format 1.1", isPartOf: options.pageUrl },
  );
  await write(await WARCSerializer.serialize(info, { gzip: true }));

  for (const entry of har.log.entries) {
    if (!/^https?:/.test(entry.request.url) || entry.response.status <= 0) continue;
    if (options.exclude?.(entry)) continue;
    const date = entry.startedDateTime;
    const body = responseBody(entry);
    const response = WARCRecord.create(
      {
        url: entry.request.url,
        date,
        type: "response",
        warcVersion: "WARC/1.1",
        statusline: `HTTP/1.1 ${entry.response.status} ${entry.response.statusText || reasonPhrase(entry.response.status)}`,
        httpHeaders: [
          ...entry.response.headers
            .filter((h) => !h.name.startsWith(":") && !WIRE_HEADERS.has(h.name.toLowerCase()))
            .map((h): [string, string] => [h.name, h.value]),
          ["Content-Length", String(body.length)],
        ],
      },
      [body],
    );
    const responseBytes = await WARCSerializer.serialize(response, { gzip: true });
    const responseOffset = await write(responseBytes);

    const target = new URL(entry.request.url);
    const requestBody = entry.request.postData?.text === undefined ? [] : [Buffer.from(entry.request.postData.text)];
    const requestHeaders = entry.request.headers
      .filter((h) => !h.name.startsWith(":") && h.name.toLowerCase() !== "proxy-connection")
      .map((h): [string, string] => [h.name, h.value]);
    if (!requestHeaders.some(([name]) => name.toLowerCase() === "host")) requestHeaders.unshift(["Host", target.host]);
    const request = WARCRecord.create(
      {
        url: entry.request.url,
        date,
        type: "request",
        warcVersion: "WARC/1.1",
        statusline: `${entry.request.method} ${target.pathname}${target.search} HTTP/1.1`,
        httpHeaders: requestHeaders,
        warcHeaders: { "WARC-Concurrent-To": response.warcHeaders.headers.get("WARC-Record-ID") ?? "" },
      },
      requestBody,
    );
    await write(await WARCSerializer.serialize(request, { gzip: true }));

    const mime = (entry.response.content.mimeType ?? "").split(";")[0]!.trim();
    index.push(
      `${surt(entry.request.url)} ${timestamp14(date)} ${JSON.stringify({
        url: entry.request.url,
        mime: mime === "" ? "unk" : mime,
        status: String(entry.response.status),
        digest: response.warcHeaders.headers.get("WARC-Payload-Digest") ?? "",
        length: String(responseBytes.length),
        offset: String(responseOffset),
        filename: "data.warc.gz",
      })}`,
    );
  }
  out.end();
  await once(out, "finish");

  // CDXJ lines sort by their key and timestamp (plain byte order), which is how readers search them.
  index.sort();
  await writeFile(path.join(dir, "indexes/index.cdxj"), index.map((line) => `${line}\n`).join(""));
  const pageId = createHash("sha256").update(options.pageUrl).update(options.pageDate).digest("hex").slice(0, 32);
  await writeFile(
    path.join(dir, "pages/pages.jsonl"),
    `${JSON.stringify({ format: "json-pages-1.0", id: "pages", title: "All Pages" })}\n` +
      `${JSON.stringify({ id: pageId, url: options.pageUrl, title: options.pageTitle, ts: options.pageDate })}\n`,
  );

  const resources = [];
  for (const name of WACZ_FILES.slice(0, 3)) {
    const file = path.join(dir, name);
    resources.push({
      name: path.basename(name),
      path: name,
      hash: `sha256:${createHash("sha256")
        .update(await readFile(file))
        .digest("hex")}`,
      bytes: (await stat(file)).size,
    });
  }
  const datapackage = {
    profile: "data-package",
    wacz_version: "1.1.1",
    title: options.pageTitle,
    created: options.pageDate,
    software: options.software,
    mainPageURL: options.pageUrl,
    mainPageDate: options.pageDate,
    resources,
  };
  await writeFile(path.join(dir, "datapackage.json"), `${JSON.stringify(datapackage, null, 2)}\n`);
}

function responseBody(entry: HarEntry): Buffer {
  const { text, encoding } = entry.response.content;
  if (text === undefined) return Buffer.alloc(0);
  return encoding === "base64" ? Buffer.from(text, "base64") : Buffer.from(text, "utf8");
}

/**
 * The SURT form of a URL as WACZ readers key their CDXJ lookups (ReplayWeb.page's wabac.js):
 * host labels reversed and comma-joined without a leading `www`, the port when not the
 * default, `)`, then the path and the query with its parameters sorted; lower case.
 */
export function surt(text: string): string {
  const url = new URL(text);
  const host = url.hostname.replace(/^www\d*\./, "");
  const reversed = host.startsWith("[") ? host : host.split(".").reverse().join(",");
  const params = new URLSearchParams(url.search);
  params.sort();
  const query = params.toString();
  return `${reversed}${url.port ? `:${url.port}` : ""})${url.pathname}${query ? `?${query}` : ""}`.toLowerCase();
}

/** `YYYYMMDDhhmmss` of an RFC 3339 time: the CDXJ timestamp. */
export function timestamp14(date: string): string {
  return new Date(date).toISOString().replace(/[-:T]/g, "").slice(0, 14);
}

function reasonPhrase(status: number): string {
  return (
    (
      {
        200: "OK",
        204: "No Content",
        206: "Partial Content",
        301: "Moved Permanently",
        302: "Found",
        303: "See Other",
        304: "Not Modified",
        307: "Temporary Redirect",
        308: "Permanent Redirect",
        404: "Not Found",
      } as Record<number, string>
    )[status] ?? ""
  );
}
