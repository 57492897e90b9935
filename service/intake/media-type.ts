import { fileTypeFromBuffer } from "file-type";
import mime from "mime-types";
import { MEDIA_TYPE_CAPTURE } from "../core/api.ts";

/** How many leading bytes are read to recognise a file's type by its magic bytes. */
export const SNIFF_BYTES = 4100;

/** A media type as HTTP and records write it: `type/subtype`, lowercase, no parameters. */
const MEDIA_TYPE = /^[a-z0-9][a-z0-9!#$&^_.+-]{0,126}\/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}$/;

export function isMediaType(value: string | undefined): value is string {
  return value !== undefined && MEDIA_TYPE.test(value);
}

/**
 * A file's media type: from its magic bytes where they say it (PNG, JPEG, GIF, WebP, PDF,
 * MP4, ZIP, …), else from its name (HTML, plain text, JSON, …), else the type the client
 * declared, else `application/octet-stream`. Magic bytes win over the name: a screenshot
 * saved as `page.txt` is still a PNG.
 */
export async function mediaTypeOf(head: Uint8Array, fileName: string | undefined, declared?: string): Promise<string> {
  const sniffed = head.length > 0 ? await fileTypeFromBuffer(head).catch(() => undefined) : undefined;
  if (sniffed) return sniffed.mime;
  const byName = fileName ? mime.lookup(fileName) : false;
  if (byName) return byName;
  const normalized = declared?.toLowerCase();
  // The capture type is the service's own (a record of it is shown as a capture it made):
  // never taken from a client.
  const taken = normalized !== "application/octet-stream" && normalized !== MEDIA_TYPE_CAPTURE;
  if (isMediaType(normalized) && taken) return normalized;
  return looksLikeText(head) ? "text/plain" : "application/octet-stream";
}

/** UTF-8 without control characters other than tab, newline and carriage return. */
function looksLikeText(head: Uint8Array): boolean {
  if (head.length === 0) return false;
  try {
    new TextDecoder("utf-8", { fatal: true }).decode(head.subarray(0, Math.min(head.length, 1024)));
  } catch {
    return false;
  }
  return !head.subarray(0, 1024).some((b) => b < 0x20 && b !== 0x09 && b !== 0x0a && b !== 0x0d);
}
