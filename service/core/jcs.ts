import { utf8ToBytes } from "@noble/hashes/utils.js";
import { EvidenceError } from "./errors.ts";

/** A JSON value that {@link canonicalize} accepts. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/**
 * RFC 8785 (JSON Canonicalization Scheme) for the values this project commits to:
 * strings, safe integers, booleans, null, arrays and plain objects.
 * https://www.rfc-editor.org/rfc/rfc8785
 *
 * - Object keys are sorted by their UTF-16 code units (section 3.2.3), which is what
 *   JavaScript's default string comparison does.
 * - Strings are serialized as ECMAScript's JSON.stringify writes them (section 3.2.2.2);
 *   strings with lone surrogates are not valid Unicode and are rejected.
 * - Numbers: only safe integers, whose ECMAScript form is exact and has no exponent.
 *   Floats would canonicalize, but they have no place in evidence records, and refusing
 *   them keeps every implementation of this format trivially in agreement.
 *
 * Throws NOT_CANONICALIZABLE for anything else (undefined, floats, unsafe integers,
 * bigint, functions, symbols, class instances, cycles).
 */
export function canonicalize(value: unknown): string {
  return serialize(value, [], new Set());
}

/** UTF-8 bytes of {@link canonicalize}: what gets hashed and signed. */
export function canonicalBytes(value: unknown): Uint8Array {
  return utf8ToBytes(canonicalize(value));
}

/**
 * `path` holds the keys and indexes from the root to `value`; it is only turned into text
 * when something fails, so the common case allocates no path strings.
 */
function serialize(value: unknown, path: (string | number)[], seen: Set<object>): string {
  switch (typeof value) {
    case "string":
      if (!value.isWellFormed()) fail(path, "a string with a lone surrogate");
      return JSON.stringify(value);
    case "number":
      if (!Number.isSafeInteger(value)) fail(path, `the number ${value} (only safe integers are allowed)`);
      return Object.is(value, -0) ? "0" : String(value);
    case "boolean":
      return value ? "true" : "false";
    case "object": {
      if (value === null) return "null";
      if (seen.has(value)) fail(path, "a cyclic structure");
      seen.add(value);
      let out: string;
      if (Array.isArray(value)) {
        out = "[";
        for (let i = 0; i < value.length; i++) {
          path.push(i);
          out += (i === 0 ? "" : ",") + serialize(value[i], path, seen);
          path.pop();
        }
        out += "]";
      } else {
        const proto: unknown = Object.getPrototypeOf(value);
        if (proto !== Object.prototype && proto !== null) fail(path, "an object that is not a plain object");
        const keys = Object.keys(value).sort();
        out = "{";
        for (let i = 0; i < keys.length; i++) {
          const key = keys[i]!;
          if (!key.isWellFormed()) fail(path, "a key with a lone surrogate");
          path.push(key);
          out += `${i === 0 ? "" : ","}${JSON.stringify(key)}:${serialize((value as Record<string, unknown>)[key], path, seen)}`;
          path.pop();
        }
        out += "}";
      }
      seen.delete(value);
      return out;
    }
    default:
      return fail(path, `a value of type ${typeof value}`);
  }
}

function fail(path: readonly (string | number)[], what: string): never {
  const at = path.map((step) => (typeof step === "number" ? `[${step}]` : `.${step}`)).join("");
  throw new EvidenceError("NOT_CANONICALIZABLE", `cannot canonicalize ${what} at $${at}`);
}
