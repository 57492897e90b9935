import { EvidenceError } from "./errors.ts";
import { MAX_JSON_DEPTH } from "./limits.ts";

/**
 * Parses untrusted JSON text and refuses duplicate keys in any object. JSON.parse keeps
 * the last of two equal keys while other readers keep the first: a certificate with two
 * `contentHash` fields would show one record to a reader and another to the verifier
 * (RFC 8259 §4 leaves duplicate names undefined; RFC 8785 §3.1 refuses them).
 *
 * Throws INVALID_JSON for text that is not JSON, DUPLICATE_KEY naming the first duplicate.
 */
export function parseJsonText(text: string, what = "the text"): unknown {
  const value = parseJson(text, what);
  const duplicate = firstDuplicateKey(text);
  if (duplicate !== null) {
    const where = duplicate.at ? ` in ${duplicate.at}` : "";
    throw new EvidenceError("DUPLICATE_KEY", `${what} has the key "${duplicate.key}" twice${where}`);
  }
  return value;
}

/**
 * JSON.parse of untrusted text, refusing first text that nests arrays and objects deeper than
 * {@link MAX_JSON_DEPTH}: 16 MB of `[[[…]]]` is valid JSON that takes JSON.parse and any walk
 * of it gigabytes, while nothing these formats carry nests past a handful of levels.
 * Throws INVALID_JSON.
 */
export function parseJson(text: string, what = "the text"): unknown {
  if (nestsDeeperThan(text, MAX_JSON_DEPTH)) throw new JsonTooDeepError(what);
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw new EvidenceError("INVALID_JSON", `${what} is not valid JSON`, { cause: e });
  }
}

/** Text refused for nesting deeper than {@link MAX_JSON_DEPTH} (INVALID_JSON): `what` names it. */
export class JsonTooDeepError extends EvidenceError {
  constructor(what: string) {
    super("INVALID_JSON", `${what} nests arrays and objects deeper than ${MAX_JSON_DEPTH} levels`);
    this.name = "JsonTooDeepError";
  }
}

/** Whether `text` opens more than `limit` arrays and objects one inside another (strings skipped); for any text, JSON or not. */
export function nestsDeeperThan(text: string, limit: number): boolean {
  // Text that opens no more than `limit` arrays and objects in all cannot nest deeper: a
  // certificate opens about fifteen, counted by the engine's own search.
  let opened = 0;
  for (const open of ["[", "{"]) {
    for (let i = text.indexOf(open); i >= 0 && opened <= limit; i = text.indexOf(open, i + 1)) opened++;
  }
  if (opened <= limit) return false;
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      // A string: to its closing quote, past escaped characters.
      for (i++; i < text.length; i++) {
        const d = text.charCodeAt(i);
        if (d === 0x5c) i++;
        else if (d === 0x22) break;
      }
    } else if (c === 0x5b || c === 0x7b) {
      if (++depth > limit) return true;
    } else if (c === 0x5d || c === 0x7d) {
      depth--;
    }
  }
  return false;
}

interface Frame {
  /**
   * The keys seen so far in an object (a list while short: cheaper than hashing each key for a
   * set), null for an array.
   */
  keys: string[] | Set<string> | null;
  /** In an object, the key being read is next (true) or its value (false). */
  expectKey: boolean;
  /** In an object, the last key read; in an array, the index of the next value. */
  lastKey: string;
  index: number;
  /** The frame's path, written out at its first duplicate. */
  path?: string;
}

/**
 * The first key that appears twice in one object of `text`, which must already be known
 * to be valid JSON (JSON.parse accepted it). Iterative, so a deeply nested input cannot
 * exhaust the call stack. Keys are compared decoded: "a" and "\u0061" are the same key.
 */
/** `at` is the path of the object holding the key twice; empty for the top-level object. */
export function firstDuplicateKey(text: string): { key: string; at: string } | null {
  for (const duplicate of duplicateKeys(text)) return duplicate;
  return null;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const BOM = 0xfeff;

/**
 * Every key that appears again in its object of `text` (valid JSON), in the order of the text.
 * One pass of character codes; a path is written out only for a duplicate.
 */
export function* duplicateKeys(text: string): Generator<{ key: string; at: string }> {
  const stack: Frame[] = [];
  const n = text.length;
  // A byte-order mark before the text (body parsers strip it; JSON.parse refuses it).
  let i = n > 0 && text.charCodeAt(0) === BOM ? 1 : 0;
  while (i < n) {
    const c = text.charCodeAt(i);
    // Whitespace, commas and colons: 0x20 0x09 0x0a 0x0d 0x2c 0x3a.
    if (c === 0x20 || c === 0x0a || c === 0x2c || c === 0x3a || c === 0x09 || c === 0x0d) {
      i++;
      continue;
    }
    const top = stack.length > 0 ? stack[stack.length - 1]! : undefined;
    if (c === QUOTE) {
      const end = stringEnd(text, i);
      if (top !== undefined && top.keys !== null && top.expectKey) {
        // A key without escapes is its own text; only escaped keys need decoding.
        const raw = text.slice(i + 1, end - 1);
        const key = raw.includes("\\") ? (JSON.parse(text.slice(i, end)) as string) : raw;
        if (seen(top, key)) yield { key, at: (top.path ??= pathOf(stack, stack.length - 1)) };
        top.expectKey = false;
        top.lastKey = key;
      } else if (top !== undefined) {
        advance(top);
      }
      i = end;
      continue;
    }
    if (c === 0x7b || c === 0x5b) {
      if (top !== undefined) advance(top);
      stack.push({ keys: c === 0x7b ? [] : null, expectKey: c === 0x7b, lastKey: "", index: 0 });
      i++;
      continue;
    }
    if (c === 0x7d || c === 0x5d) {
      stack.pop();
      i++;
      continue;
    }
    // A number, true, false or null: on to the next delimiter.
    for (i++; i < n; i++) {
      const d = text.charCodeAt(i);
      if (d === 0x2c || d === 0x5d || d === 0x7d || d === 0x20 || d === 0x0a || d === 0x0d || d === 0x09) break;
    }
    if (top !== undefined) advance(top);
  }
}

/** The path of the object at `depth` of the stack, e.g. `proof.path[2]`; empty for the top level. */
function pathOf(stack: readonly Frame[], depth: number): string {
  let path = "";
  for (let d = 1; d <= depth; d++) {
    const parent = stack[d - 1]!;
    // The parent has advanced past this value: an array's index is one on.
    path =
      parent.keys !== null ? (path ? `${path}.${parent.lastKey}` : parent.lastKey) : `${path}[${parent.index - 1}]`;
  }
  return path;
}

/** Whether `frame` (an object) had `key` already; it has now. */
function seen(frame: Frame, key: string): boolean {
  const keys = frame.keys!;
  if (Array.isArray(keys)) {
    if (keys.includes(key)) return true;
    keys.push(key);
    if (keys.length > 16) frame.keys = new Set(keys);
    return false;
  }
  if (keys.has(key)) return true;
  keys.add(key);
  return false;
}

/** A value was read in `frame`: an object expects its next key, an array its next index. */
function advance(frame: Frame): void {
  if (frame.keys !== null) frame.expectKey = true;
  else frame.index++;
}

/** The index just past the closing quote of the string that opens at `start`. */
function stringEnd(text: string, start: number): number {
  let i = start + 1;
  for (;;) {
    const q = text.indexOf('"', i);
    if (q < 0) return text.length;
    let backslashes = 0;
    for (let j = q - 1; j > start && text.charCodeAt(j) === BACKSLASH; j--) backslashes++;
    if (backslashes % 2 === 0) return q + 1;
    i = q + 1;
  }
}
