/**
 * A strict checker of ASN.1 encodings (ITU-T X.690), so that a time-stamp token has one
 * reading for every conforming verifier (docs/protocol.md §6.2). asn1js reads BER and
 * tolerates more than BER allows; this walker states, without a schema, the rules of X.690
 * that hold for any value:
 *
 * - BER (§8), for the whole token, which RFC 5652 lets be BER: identifier octets in the
 *   lowest tag-number form (§8.1.2); definite lengths, or indefinite ones for constructed
 *   values only, ended by exactly 00 00 (§8.1.3, §8.1.5); each universal type in a form
 *   X.690 allows it (SEQUENCE and SET constructed; BOOLEAN, INTEGER, NULL, OBJECT IDENTIFIER
 *   primitive; a constructed string made of segments of its own type, §8.6.4, §8.7.3,
 *   §8.23.6); BOOLEAN one octet (§8.2.1), INTEGER and ENUMERATED in the fewest octets
 *   (§8.3.2), NULL empty (§8.8.2), OBJECT IDENTIFIER subidentifiers in the fewest octets
 *   (§8.19.2), BIT STRING's unused-bit count 0–7 and 0 when empty (§8.6.2).
 * - DER (§10, §11), for what must be DER — the TSTInfo (RFC 3161 §2.4.2) and the signed
 *   attributes (RFC 5652 §5.4) — in addition: definite lengths in the fewest octets
 *   (§10.1); strings primitive (§10.2); BOOLEAN TRUE as FF (§11.1); BIT STRING unused bits
 *   zero (§11.2.1); the components of a SET in ascending order of their encodings (§11.6);
 *   UTCTime and GeneralizedTime in their DER form (§11.7, §11.8).
 *
 * A SET is checked as a SET OF (§11.6); a SET type with components of distinct tags
 * (§10.3) orders its components the same way unless they mix primitive and constructed
 * context tags, which no SET in a time-stamp token does (the SETs there are the SET OFs of
 * names, attributes and attribute values). Rules that need the schema — DEFAULT values left
 * out (§11.5), named bit lists without trailing zeros (§11.2.2) — are for the caller. REAL
 * (§11.3) and the character repertoires of the string types are not checked: no field of a
 * time-stamp token is a REAL, and a repertoire is a value constraint, not an encoding rule.
 *
 * Isomorphic: no imports.
 */

export type EncodingRules = "BER" | "DER";

export interface EncodingOptions {
  /**
   * Which SETs must be in DER order (X.690 §11.6): `all` (the default), or only the
   * `outermost` value when it is a SET.
   */
  setOrder?: "all" | "outermost";
}

/** Tokens nest about 15 deep; anything much deeper is not a time-stamp token. */
const MAX_DEPTH = 64;

/** Universal types that are always primitive: BOOLEAN, INTEGER, NULL, OID, REAL, ENUMERATED, RELATIVE-OID, TIME, DATE … OID-IRI. */
const PRIMITIVE = new Set([1, 2, 5, 6, 9, 10, 13, 14, 31, 32, 33, 34, 35, 36]);
/** Universal types that are always constructed: EXTERNAL, EMBEDDED PDV, SEQUENCE, SET, CHARACTER STRING. */
const CONSTRUCTED = new Set([8, 11, 16, 17, 29]);
/** String types (and the times, which are VisibleStrings): primitive in DER, either form in BER. */
const STRINGS = new Set([3, 4, 7, 12, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 30]);

const SET = 17;

class EncodingError extends Error {}

/** One value: its identifier, where its contents lie, and its encoding's extent. */
interface Tlv {
  tagClass: number;
  constructed: boolean;
  tagNumber: number;
  start: number;
  contentStart: number;
  contentEnd: number;
  end: number;
}

/**
 * Why `bytes` is not exactly one value encoded under `rules`, or null when it is. A reason
 * names the byte offset of the value at fault.
 */
export function encodingProblem(bytes: Uint8Array, rules: EncodingRules, options: EncodingOptions = {}): string | null {
  try {
    const tlv = readValue(bytes, 0, bytes.length, rules, options, 0);
    if (tlv.end !== bytes.length) return `${bytes.length - tlv.end} bytes follow the value`;
    return null;
  } catch (e) {
    if (e instanceof EncodingError) return e.message;
    throw e;
  }
}

function fail(at: number, message: string): never {
  throw new EncodingError(`at byte ${at}: ${message}`);
}

function readValue(
  b: Uint8Array,
  at: number,
  limit: number,
  rules: EncodingRules,
  options: EncodingOptions,
  depth: number,
): Tlv {
  if (depth > MAX_DEPTH) fail(at, "nested too deeply");
  let p = at;
  if (p >= limit) fail(at, "a value is cut off");
  const first = b[p++]!;
  const tagClass = first >> 6;
  const constructed = (first & 0x20) !== 0;
  let tagNumber = first & 0x1f;
  if (tagNumber === 0x1f) {
    // §8.1.2.4: high tag-number form, base 128, no leading 0x80, only for numbers above 30.
    if (p >= limit) fail(at, "a tag is cut off");
    if (b[p] === 0x80) fail(at, "a tag number has a leading zero group");
    tagNumber = 0;
    let byte: number;
    do {
      if (p >= limit) fail(at, "a tag is cut off");
      byte = b[p++]!;
      tagNumber = tagNumber * 128 + (byte & 0x7f);
      if (tagNumber > 0xffffffff) fail(at, "a tag number is too large");
    } while (byte & 0x80);
    if (tagNumber < 31) fail(at, `tag number ${tagNumber} in the high tag-number form`);
  }

  if (p >= limit) fail(at, "a length is cut off");
  const lengthByte = b[p++]!;
  let indefinite = false;
  let length = 0;
  if (lengthByte === 0x80) {
    if (rules === "DER") fail(at, "an indefinite length");
    if (!constructed) fail(at, "an indefinite length on a primitive value");
    indefinite = true;
  } else if (lengthByte & 0x80) {
    const count = lengthByte & 0x7f;
    if (count === 0x7f) fail(at, "the reserved length octet FF");
    if (count > 4) fail(at, `a length of ${count} octets`);
    if (p + count > limit) fail(at, "a length is cut off");
    for (let i = 0; i < count; i++) length = length * 256 + b[p++]!;
    if (rules === "DER" && (b[p - count] === 0 || length < 0x80)) fail(at, "a length not in the fewest octets");
  } else {
    length = lengthByte;
  }
  const contentStart = p;
  if (!indefinite && contentStart + length > limit) fail(at, "a length runs past the enclosing value");

  const tlv: Tlv = { tagClass, constructed, tagNumber, start: at, contentStart, contentEnd: 0, end: 0 };
  if (tagClass === 0) checkForm(tlv, rules);

  if (!constructed) {
    tlv.contentEnd = tlv.end = contentStart + length;
    if (tagClass === 0) checkPrimitiveContents(b, tlv, rules);
    return tlv;
  }

  const children: Tlv[] = [];
  p = contentStart;
  const end = indefinite ? limit : contentStart + length;
  for (;;) {
    if (indefinite) {
      if (p + 2 <= limit && b[p] === 0 && b[p + 1] === 0) {
        tlv.contentEnd = p;
        tlv.end = p + 2;
        break;
      }
      if (p >= limit) fail(at, "an indefinite length without end-of-contents");
    } else if (p === end) {
      tlv.contentEnd = tlv.end = end;
      break;
    }
    const child = readValue(b, p, end, rules, options, depth + 1);
    children.push(child);
    p = child.end;
  }
  if (tagClass === 0) checkConstructedContents(b, tlv, children, rules, options, depth);
  return tlv;
}

/** The primitive/constructed form a universal type may take (§8.1.2.5 and each type's clause). */
function checkForm(tlv: Tlv, rules: EncodingRules): void {
  const { tagNumber: tag, constructed, start } = tlv;
  // End-of-contents (00 00) is read as the end of an indefinite length, never as a value.
  if (tag === 0) fail(start, "an end-of-contents where a value belongs");
  if (PRIMITIVE.has(tag)) {
    if (constructed) fail(start, `a constructed universal ${tag}`);
  } else if (CONSTRUCTED.has(tag)) {
    if (!constructed) fail(start, `a primitive universal ${tag}`);
  } else if (STRINGS.has(tag)) {
    if (constructed && rules === "DER") fail(start, `a constructed string (universal ${tag})`);
  } else {
    fail(start, `the reserved universal tag ${tag}`);
  }
}

function checkPrimitiveContents(b: Uint8Array, tlv: Tlv, rules: EncodingRules): void {
  const { start, contentStart: s, contentEnd: e } = tlv;
  const n = e - s;
  switch (tlv.tagNumber) {
    case 1: // BOOLEAN
      if (n !== 1) fail(start, "a BOOLEAN not of one octet");
      if (rules === "DER" && b[s] !== 0x00 && b[s] !== 0xff) fail(start, "a BOOLEAN TRUE other than FF");
      break;
    case 2: // INTEGER
    case 10: // ENUMERATED
      if (n === 0) fail(start, "an empty INTEGER");
      if (!isMinimalInteger(b.subarray(s, e))) fail(start, "an INTEGER not in the fewest octets");
      break;
    case 3: // BIT STRING
      if (n === 0) fail(start, "a BIT STRING without its unused-bits octet");
      if (b[s]! > 7) fail(start, "a BIT STRING with more than 7 unused bits");
      if (n === 1 && b[s] !== 0) fail(start, "an empty BIT STRING with unused bits");
      if (rules === "DER" && n > 1 && (b[e - 1]! & ((1 << b[s]!) - 1)) !== 0) {
        fail(start, "a BIT STRING whose unused bits are not zero");
      }
      break;
    case 5: // NULL
      if (n !== 0) fail(start, "a NULL with contents");
      break;
    case 6: // OBJECT IDENTIFIER
    case 13: // RELATIVE-OID
      if (n === 0) fail(start, "an empty OBJECT IDENTIFIER");
      if (b[e - 1]! & 0x80) fail(start, "an OBJECT IDENTIFIER whose last subidentifier is cut off");
      for (let i = s; i < e; i++) {
        if (b[i] === 0x80 && (i === s || !(b[i - 1]! & 0x80))) {
          fail(start, "an OBJECT IDENTIFIER subidentifier not in the fewest octets");
        }
      }
      break;
    case 23: // UTCTime
      if (rules === "DER") checkTime(b.subarray(s, e), start, false);
      break;
    case 24: // GeneralizedTime
      if (rules === "DER") checkTime(b.subarray(s, e), start, true);
      break;
  }
}

/** Whether an INTEGER's contents are one octet at least and in the fewest (X.690 §8.3.2): no redundant leading 00 or FF. */
export function isMinimalInteger(contents: Uint8Array): boolean {
  const [first, second] = contents;
  return (
    first !== undefined &&
    !(second !== undefined && ((first === 0x00 && second < 0x80) || (first === 0xff && second >= 0x80)))
  );
}

function checkConstructedContents(
  b: Uint8Array,
  tlv: Tlv,
  children: Tlv[],
  rules: EncodingRules,
  options: EncodingOptions,
  depth: number,
): void {
  const tag = tlv.tagNumber;
  if (STRINGS.has(tag)) {
    // §8.6.4, §8.7.3, §8.23.6: the segments of a constructed string are of its own type
    // (UTCTime and GeneralizedTime are VisibleStrings); a BIT STRING's unused bits are in
    // its last segment only.
    for (const [i, child] of children.entries()) {
      const segmentTag = tag === 23 || tag === 24 ? 26 : tag;
      if (child.tagClass !== 0 || (child.tagNumber !== tag && child.tagNumber !== segmentTag)) {
        fail(child.start, `a segment of another type inside a constructed string (universal ${tag})`);
      }
      if (tag === 3 && !child.constructed && i < children.length - 1 && b[child.contentStart] !== 0) {
        fail(child.start, "a BIT STRING segment other than the last with unused bits");
      }
    }
  }
  if (tag === SET && rules === "DER" && (options.setOrder !== "outermost" || depth === 0)) {
    for (let i = 1; i < children.length; i++) {
      const previous = b.subarray(children[i - 1]!.start, children[i - 1]!.end);
      const current = b.subarray(children[i]!.start, children[i]!.end);
      if (compareEncodings(previous, current) > 0) fail(children[i]!.start, "a SET OF not in DER order");
    }
  }
}

/** §11.6: encodings compared as octet strings, the shorter padded at its end with zeros. */
export function compareEncodings(x: Uint8Array, y: Uint8Array): number {
  const n = Math.max(x.length, y.length);
  for (let i = 0; i < n; i++) {
    const d = (x[i] ?? 0) - (y[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

const DIGITS = /^[0-9]+$/;

/**
 * X.690 §11.7 (GeneralizedTime) and §11.8 (UTCTime) with RFC 5280 §4.1.2.5: a UTC time
 * ending in Z, seconds present, a fraction of seconds only when not zero, with "." and no
 * trailing zeros; and a real calendar date and time of day (no leap second: no verifier
 * here can represent one).
 */
function checkTime(bytes: Uint8Array, at: number, generalized: boolean): void {
  // The longest form is 15 digits, "." and a fraction; anything much longer is no time at all.
  const text = bytes.length > 64 ? "" : String.fromCharCode(...bytes);
  const match = generalized
    ? /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(?:\.(\d*))?Z$/.exec(text)
    : /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(text);
  const type = generalized ? "GeneralizedTime" : "UTCTime";
  if (!match) fail(at, `a ${type} not of the form ${generalized ? "YYYYMMDDHHMMSS[.f]Z" : "YYMMDDHHMMSSZ"}`);
  const fraction = match[7];
  if (fraction !== undefined && (!DIGITS.test(fraction) || fraction.endsWith("0"))) {
    fail(at, `a ${type} whose fraction of seconds is empty or ends in 0`);
  }
  const [year, month, day, hour, minute, second] = match.slice(1, 7).map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const fullYear = generalized ? year : year < 50 ? 2000 + year : 1900 + year;
  const leap = fullYear % 4 === 0 && (fullYear % 100 !== 0 || fullYear % 400 === 0);
  const daysInMonth = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1] ?? 0;
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth || hour > 23 || minute > 59 || second > 59) {
    fail(at, `a ${type} that is not a date and time: ${text}`);
  }
}
