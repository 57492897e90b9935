import { isUtf8 } from "node:buffer";
import express, { type Request, type RequestHandler } from "express";
import * as v from "valibot";
import { firstDuplicateKey, JsonTooDeepError, MAX_JSON_DEPTH, nestsDeeperThan, type ErrorCode } from "../core/index.ts";
import { HttpProblem } from "./problem.ts";

/** A request whose body's bytes the JSON parser kept. */
type RawBodied = Request & { rawBody?: Buffer };

/**
 * A JSON body, parsed strictly: valid UTF-8 (the parser would put U+FFFD for other bytes,
 * and that would be recorded), and no key twice (JSON.parse keeps the last of two, and a
 * field given twice must not be taken as one of them without a word): 400 INVALID_BODY.
 * Any JSON value parses (`null` is JSON); one that is not an object is the route's schema's
 * to refuse (400 INVALID_BODY), not a parse error.
 */
export function strictJsonBody(limit: string): RequestHandler[] {
  return [
    // UTF-8 only, as budgeted-text.ts takes it: the nesting check below reads the raw bytes,
    // which in UTF-16 would hide brackets from it.
    (req, _res, next) => next(charsetProblem(req)),
    express.json({
      limit,
      strict: false,
      verify: (req, _res, raw) => {
        // Refused before it is parsed: deep nesting costs JSON.parse gigabytes (core/json.ts).
        if (nestsDeeperThan(raw.toString("latin1"), MAX_JSON_DEPTH)) {
          throw new HttpProblem(400, "INVALID_JSON", new JsonTooDeepError("the body").message);
        }
        (req as RawBodied).rawBody = raw;
      },
    }),
    (req, _res, next) => {
      const raw = (req as RawBodied).rawBody ?? Buffer.alloc(0);
      if (!isUtf8(raw)) throw new HttpProblem(400, "INVALID_BODY", "the body is not valid UTF-8");
      const duplicate = firstDuplicateKey(raw.toString("utf8"));
      if (duplicate) {
        throw new HttpProblem(
          400,
          "INVALID_BODY",
          `the body has the key "${duplicate.key}" twice${duplicate.at ? ` in ${duplicate.at}` : ""}`,
        );
      }
      next();
    },
  ];
}

/**
 * Checks a request body against a schema from core/api.ts; a problem names the first
 * field that is wrong, with a code by what is wrong with it: an unknown field, a bad
 * content hash, a field too long (413), or another bad field.
 */
export function parseBody<S extends v.GenericSchema>(
  schema: S,
  value: unknown,
  where: string,
  notAnObject: ErrorCode = "INVALID_BODY",
): v.InferOutput<S> {
  const result = v.safeParse(schema, value, { abortEarly: true });
  if (result.success) return result.output;
  const issue = result.issues[0]!;
  const keys = (issue.path ?? []).map((p) => p.key as string | number);
  const at = keys.reduce<string>((out, k) => (typeof k === "number" ? `${out}[${k}]` : `${out}.${k}`), where);
  const field = keys.at(-1);
  // Where the issue's last key is a member name, the object that lacks or has it.
  const parent = at.slice(0, at.length - String(field).length - 1);
  // The schema reads an array as an object without members, and would call the first
  // member it needs missing: the sender is told what the value must be instead.
  const isObjectIssue = issue.type === "strict_object" || issue.type === "object";
  if (
    isObjectIssue &&
    issue.received === "undefined" &&
    typeof field === "string" &&
    Array.isArray(valueAt(value, keys.slice(0, -1)))
  ) {
    throw new HttpProblem(400, keys.length === 1 ? notAnObject : "INVALID_FIELD", `${parent} must be a JSON object`);
  }
  if (isObjectIssue && issue.expected === "never") {
    throw new HttpProblem(400, "UNKNOWN_FIELD", `${parent} has an unknown field "${String(field)}"`);
  }
  if (isObjectIssue && issue.received !== "undefined") {
    throw new HttpProblem(400, keys.length === 0 ? notAnObject : "INVALID_FIELD", `${at} must be a JSON object`);
  }
  const message = issue.received === "undefined" && issue.kind === "schema" ? "is missing" : issue.message;
  const code: ErrorCode =
    field === "contentHash"
      ? "INVALID_CONTENT_HASH"
      : issue.type === "max_length" && keys.length > 0 && typeof field === "string"
        ? "FIELD_TOO_LARGE"
        : "INVALID_FIELD";
  throw new HttpProblem(code === "FIELD_TOO_LARGE" ? 413 : 400, code, `${at} ${message}`);
}

/** The member of `value` at `keys` (undefined where there is none). */
function valueAt(value: unknown, keys: (string | number)[]): unknown {
  let at = value;
  for (const key of keys) {
    if (typeof at !== "object" || at === null || !Object.hasOwn(at, key)) return undefined;
    at = (at as Record<string | number, unknown>)[key];
  }
  return at;
}

/** Drops fields sent empty: an empty form field means "not given". */
export function withoutEmpty(body: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(body).filter(([, value]) => value !== "" && value !== undefined));
}

/**
 * Refuses a body that is not of `type` (415 UNSUPPORTED_MEDIA_TYPE). A multipart body must
 * also come without Content-Encoding: its files are hashed as their bytes arrive, so a
 * compressed body would be read as something else or certified as its compressed form.
 * (The JSON parsers decode gzip, deflate and br themselves.)
 */
export function requireType(type: string): RequestHandler {
  return (req, _res, next) => {
    if (!req.is(type)) return next(new HttpProblem(415, "UNSUPPORTED_MEDIA_TYPE", `send ${type}`));
    if (type.startsWith("multipart/")) refuseContentEncoding(req);
    next();
  };
}

/** 415 UNSUPPORTED_ENCODING for a body sent with a Content-Encoding other than identity. */
export function refuseContentEncoding(req: Request): void {
  const encoding = (req.get("content-encoding") ?? "identity").trim().toLowerCase();
  if (encoding !== "identity" && encoding !== "") {
    throw new HttpProblem(
      415,
      "UNSUPPORTED_ENCODING",
      `files are hashed as they arrive: send the multipart body without Content-Encoding (got "${encoding}")`,
    );
  }
}

/**
 * 415 UNSUPPORTED_ENCODING for a body whose Content-Type names a charset other than UTF-8
 * (RFC 8259 §8.1: JSON exchanged between systems that are not part of a closed ecosystem is
 * UTF-8); undefined for UTF-8 or none.
 */
export function charsetProblem(req: Request): HttpProblem | undefined {
  const charset = /;\s*charset\s*=\s*"?([^";\s]*)/i.exec(req.get("content-type") ?? "")?.[1]?.toLowerCase();
  if (charset === undefined || charset === "utf-8" || charset === "utf8") return undefined;
  return new HttpProblem(415, "UNSUPPORTED_ENCODING", `send the body in UTF-8, not "${charset}"`);
}

/**
 * A multipart field named "file" that came as text: curl's `-F file=<name` for `-F file=@name`,
 * or a part without a file name. Refused with its own code on every route that takes files,
 * so the sender is told how to send it rather than that nothing came.
 */
export function fileAsTextField(): HttpProblem {
  return new HttpProblem(
    400,
    "FILE_AS_TEXT_FIELD",
    'the file came as a text field: send it as a file part, with a file name (curl -F "file=@NAME", not "file=<NAME")',
  );
}

/** What a multipart parser puts where a field's bytes are not UTF-8. */
export const REPLACEMENT_CHARACTER = "\uFFFD";

/**
 * A multipart field that holds U+FFFD: the parser read bytes that are not UTF-8 as it. Such a
 * value is refused, never taken altered (`advice` says what to send instead).
 */
export function notUtf8(what: string, advice = "send UTF-8"): HttpProblem {
  return new HttpProblem(
    400,
    "INVALID_FIELD",
    `${what} is not UTF-8 text (it holds U+FFFD, the mark of bytes that are not): ${advice}`,
  );
}
