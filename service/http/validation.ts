import { CONTENT_HASH_PATTERN, TEXT_LIMITS, type RecordDetails } from "../core/index.ts";
import { HttpProblem } from "./problem.ts";

type Details = Pick<RecordDetails, "title" | "sourceUrl" | "note">;

/** The optional descriptive fields of a submission, checked; unknown fields are refused. */
export function parseDetails(body: Record<string, unknown>, where = "body"): Details {
  const details: Details = {};
  for (const key of Object.keys(body)) {
    if (!["title", "sourceUrl", "note"].includes(key)) {
      throw new HttpProblem(400, "UNKNOWN_FIELD", `${where} has an unknown field "${key}"`);
    }
  }
  for (const key of ["title", "sourceUrl", "note"] as const) {
    const value = body[key];
    if (value === undefined || value === "") continue;
    details[key] = text(value, key, where);
  }
  if (details.sourceUrl !== undefined && !isWebUrl(details.sourceUrl)) {
    throw new HttpProblem(400, "INVALID_FIELD", `${where}.sourceUrl must be an http or https URL`);
  }
  return details;
}

/** One item of a digest submission: a content hash and what the client says of the file. */
export function parseDigestItem(item: unknown, index: number): RecordDetails & { contentHash: string } {
  const where = `items[${index}]`;
  if (typeof item !== "object" || item === null || Array.isArray(item)) {
    throw new HttpProblem(400, "INVALID_ITEM", `${where} must be an object`);
  }
  const { contentHash, fileName, size, mediaType, ...rest } = item as Record<string, unknown>;
  if (typeof contentHash !== "string" || !CONTENT_HASH_PATTERN.test(contentHash)) {
    throw new HttpProblem(400, "INVALID_CONTENT_HASH", `${where}.contentHash must be a SHA-256 as 64 hex characters`);
  }
  const parsed: RecordDetails & { contentHash: string } = {
    ...parseDetails(rest, where),
    contentHash: contentHash.toLowerCase(),
  };
  if (fileName !== undefined) parsed.fileName = text(fileName, "fileName", where);
  if (mediaType !== undefined) parsed.mediaType = text(mediaType, "mediaType", where);
  if (size !== undefined) {
    if (typeof size !== "number" || !Number.isSafeInteger(size) || size < 0) {
      throw new HttpProblem(400, "INVALID_FIELD", `${where}.size must be a non-negative integer`);
    }
    parsed.size = size;
  }
  return parsed;
}

function text(value: unknown, key: keyof typeof TEXT_LIMITS, where: string): string {
  if (typeof value !== "string") throw new HttpProblem(400, "INVALID_FIELD", `${where}.${key} must be a string`);
  if (value.length > TEXT_LIMITS[key]) {
    throw new HttpProblem(413, "FIELD_TOO_LARGE", `${where}.${key} is longer than ${TEXT_LIMITS[key]} characters`);
  }
  if (!value.isWellFormed()) throw new HttpProblem(400, "INVALID_FIELD", `${where}.${key} is not valid Unicode`);
  return value;
}

function isWebUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return url.protocol === "http:" || url.protocol === "https:";
  } catch {
    return false;
  }
}
