/**
 * Reads the files embedded in a PDF (ISO 32000-1 §7.11.4), so that a certificate document
 * (docs/protocol.md §10) can be verified from the PDF alone: the CLI and the web page hand the
 * PDF to {@link certificateFromPdf} and verify the certificate text it returns.
 *
 * The PDF is untrusted. The reader is small and strict rather than forgiving:
 *
 * - It reads every indirect object in the file, in the order written, and skips stream data
 *   by its /Length, so that nothing inside a stream or a string is taken for an object. It
 *   does not follow the cross-reference table: it needs no offsets, and a file whose
 *   cross-reference data is stale still reads the same.
 * - It collects every file specification with an embedded file (§7.11.3) from every
 *   revision of the document, including object streams (§7.5.7). An attachment that a later
 *   incremental update removed is still in the bytes, and is still returned: a second
 *   certificate cannot hide in an earlier revision.
 * - Whatever two PDF readers could read differently is refused: a dictionary with a
 *   duplicate key, an embedded file stream defined twice with different contents, a file
 *   specification whose /EF names two different streams, or whose two names disagree about
 *   being a certificate.
 * - Every size is bounded, inflation included (a small stream can inflate to gigabytes),
 *   and the work is linear in the input. Every failure is an EvidenceError with the code
 *   INVALID_DOCUMENT; nothing else escapes.
 *
 * Only what certificate documents need is supported: unencrypted files, streams without a
 * filter or with /FlateDecode, with or without a predictor. Isomorphic: no node imports.
 */
import { md5 } from "@noble/hashes/legacy.js";
import { bytesToHex } from "@noble/hashes/utils.js";
import { Inflate } from "fflate";
import { equalBytes, indexOfBytes, lastIndexOfBytes } from "./bytes.ts";
import { EvidenceError, isEvidenceError } from "./errors.ts";
import { MAX_CERTIFICATE_BYTES, MAX_DOCUMENT_BYTES } from "./limits.ts";

export interface EmbeddedFile {
  /** The file's name: the file specification's /UF, else its /F (§7.11.3, table 44). */
  name: string;
  bytes: Uint8Array;
}

/** The bounds on what one call reads. */
export const PDF_LIMITS = {
  /** The largest PDF read; a certificate document is a few hundred kilobytes. */
  documentBytes: MAX_DOCUMENT_BYTES,
  /**
   * Indirect objects, those in object streams included: a certificate document has about 40, a
   * long report a few thousand. Each costs several microseconds to read, and an object stream
   * holds thousands in a few compressed kilobytes.
   */
  objects: 20_000,
  /** Nesting of arrays and dictionaries. */
  depth: 64,
  /**
   * Values (numbers, names, strings, arrays, dictionaries…) read from the whole document: a
   * certificate document has about 600; 63 MB of nested arrays would be 30 million, and
   * gigabytes held, and a compressed object stream of a few kilobytes inflates to a million.
   */
  values: 200_000,
  /** The decoded size of one embedded file; a certificate is a few kilobytes. */
  fileBytes: 8 * 1024 * 1024,
  /** Everything inflated for one document: object streams and embedded files together. */
  inflatedBytes: 8 * 1024 * 1024,
} as const;

/** The suffix of a certificate's file name (docs/protocol.md §5). */
export const CERTIFICATE_SUFFIX = ".evidence.json";

/** Why a PDF with no certificate attached is refused: a printout of a document, most often. */
export const NO_CERTIFICATE_ATTACHED = `the PDF has no embedded *${CERTIFICATE_SUFFIX} certificate`;

const PDF_HEADER = [0x25, 0x50, 0x44, 0x46, 0x2d]; // "%PDF-"

/** True when the bytes begin with the PDF header "%PDF-" (§7.5.2). */
export function isPdf(bytes: Uint8Array): boolean {
  return bytes.length >= PDF_HEADER.length && PDF_HEADER.every((b, i) => bytes[i] === b);
}

/**
 * Every embedded file of the PDF, in the order their file specifications appear. Throws
 * INVALID_DOCUMENT when the bytes are not a PDF this reader can read unambiguously.
 */
export function extractEmbeddedFiles(pdf: Uint8Array): EmbeddedFile[] {
  return guarded(() => {
    const document = readDocumentOnce(pdf);
    return document.attachments.map((a) => ({ name: a.name, bytes: document.decode(a.stream, PDF_LIMITS.fileBytes) }));
  });
}

/**
 * The certificate a certificate document carries: its one embedded file whose name ends in
 * `.evidence.json`, as UTF-8 text. Throws INVALID_DOCUMENT when there is none, when there
 * are several (in any revision), or when it is not UTF-8. The text is not parsed here: the
 * verifier parses and checks it like any other certificate.
 */
export function certificateFromPdf(pdf: Uint8Array): { name: string; text: string } {
  const reading = readCertificateDocument(pdf);
  if ("refused" in reading) throw reading.refused;
  return reading;
}

/**
 * {@link certificateFromPdf}, read once for a verifier that must also say what a document
 * without a usable certificate is: the certificate, or why none is taken and whether the
 * document carries one at all (`attached`: an embedded file named as a certificate). Throws
 * only when the PDF itself cannot be read.
 */
export function readCertificateDocument(
  pdf: Uint8Array,
): { name: string; text: string } | { refused: EvidenceError; attached: boolean } {
  return guarded(() => {
    const document = readDocumentOnce(pdf);
    const certificates = document.attachments.filter((a) => a.isCertificate);
    if (certificates.length === 0) return { refused: invalid(NO_CERTIFICATE_ATTACHED), attached: false };
    if (certificates.length > 1) {
      const names = certificates.map((c) => JSON.stringify(c.name)).join(", ");
      return {
        refused: invalid(`the PDF has ${certificates.length} embedded certificates (${names}); a document carries one`),
        attached: true,
      };
    }
    const [certificate] = certificates as [Attachment];
    let bytes: Uint8Array;
    try {
      bytes = document.decode(certificate.stream, MAX_CERTIFICATE_BYTES);
    } catch (e) {
      // An attachment re-encoded with other filters (mutool clean -a writes ASCIIHex over
      // Flate), or larger than the reader inflates, is in a form this reader does not take:
      // could not verify, as the same form anywhere else in the document is, never a refusal.
      if (e instanceof PdfUnsupportedError || e instanceof PdfReadLimitError) throw e;
      return { refused: guardedError(e), attached: true };
    }
    try {
      // A byte order mark is no part of the text (RFC 8259 §8.1), as for a certificate file.
      return { name: certificate.name, text: new TextDecoder("utf-8", { fatal: true }).decode(bytes) };
    } catch (e) {
      return {
        refused: invalid(`the embedded certificate ${JSON.stringify(certificate.name)} is not UTF-8 text`, e),
        attached: true,
      };
    }
  });
}

/**
 * Why each PDF that could not be read could not be, by its bytes: a folder's file is asked
 * first whether it is a certificate at all (verify-evidence.ts notACertificate), then verified,
 * which would read the same bytes again, as long again.
 */
const unreadable = new WeakMap<Uint8Array, unknown>();

/** {@link readDocument}, throwing at once what it threw before for the same bytes. */
function readDocumentOnce(pdf: Uint8Array): PdfDocument {
  if (!(pdf instanceof Uint8Array)) return readDocument(pdf);
  if (unreadable.has(pdf)) throw unreadable.get(pdf);
  try {
    return readDocument(pdf);
  } catch (e) {
    unreadable.set(pdf, e);
    throw e;
  }
}

/** Runs `read`, turning anything it throws into INVALID_DOCUMENT. */
function guarded<T>(read: () => T): T {
  try {
    return read();
  } catch (e) {
    throw guardedError(e);
  }
}

/** Anything a reading threw, as INVALID_DOCUMENT. */
function guardedError(e: unknown): EvidenceError {
  if (isEvidenceError(e, "INVALID_DOCUMENT")) return e as EvidenceError;
  // A RangeError from a typed array, fflate's errors, a stack overflow: all mean bad input.
  return invalid("the PDF could not be read", e);
}

/**
 * A document with more values or objects than the reader reads (PDF_LIMITS): a large file,
 * not a damaged one (INVALID_DOCUMENT).
 */
export class PdfReadLimitError extends EvidenceError {
  constructor(count: number, what: "values" | "objects" | "cross-reference entries" | "bytes inflated") {
    super(
      "INVALID_DOCUMENT",
      what === "bytes inflated"
        ? `the PDF inflates to more than ${count} bytes`
        : `the PDF has more than ${count} ${what}`,
    );
    this.name = "PdfReadLimitError";
  }
}

/**
 * A document in a form the reader does not read (encryption, stream filters other than one
 * FlateDecode): most often a PDF tool's rewrite, not damage (INVALID_DOCUMENT).
 */
export class PdfUnsupportedError extends EvidenceError {
  constructor(message: string) {
    super("INVALID_DOCUMENT", message);
    this.name = "PdfUnsupportedError";
  }
}

function invalid(message: string, cause?: unknown): EvidenceError {
  return new EvidenceError("INVALID_DOCUMENT", message, cause === undefined ? undefined : { cause });
}

// ---------------------------------------------------------------------------------------
// Objects (§7.3)

class Name {
  readonly value: string;

  constructor(value: string) {
    this.value = value;
  }
}

class Ref {
  readonly num: number;
  readonly gen: number;

  constructor(num: number, gen: number) {
    this.num = num;
    this.gen = gen;
  }

  get key(): string {
    return `${this.num} ${this.gen}`;
  }
}

class PdfString {
  readonly bytes: Uint8Array;

  constructor(bytes: Uint8Array) {
    this.bytes = bytes;
  }
}

class Dict {
  readonly entries: Map<string, Value>;

  constructor(entries: Map<string, Value>) {
    this.entries = entries;
  }

  get(key: string): Value | undefined {
    return this.entries.get(key);
  }
}

/**
 * A real number (§7.3.3: written with a period). Kept apart from integers: where an integer is
 * required (a /Length, an offset, a predictor's /Columns), readers differ on "12.0" — one takes
 * it as 12, another ignores it or searches for the end instead — so a real is refused there.
 */
class Real {
  readonly value: number;

  constructor(value: number) {
    this.value = value;
  }

  toString(): string {
    return String(this.value);
  }
}

type Value = null | boolean | number | Real | Name | Ref | PdfString | Dict | Value[];

/** A stream object: its dictionary and its data as stored (still encoded). */
interface Stream {
  dict: Dict;
  data: Uint8Array;
}

/** One definition of an indirect object; an incremental update may define it again. */
interface Definition {
  ref: Ref;
  value: Value;
  stream?: Stream;
  /** Where a top-level object begins in the file; none for one in an object stream. */
  offset?: number;
}

/** What one cross-reference section (§7.5.4, §7.5.8) says of an object number. */
type XrefEntry =
  { kind: "free" } | { kind: "offset"; offset: number; gen: number } | { kind: "compressed"; container: number };

/** A cross-reference table with its trailer, or a cross-reference stream with its dictionary. */
interface Section {
  entries: Map<number, XrefEntry>;
  trailer?: Dict;
}

interface Attachment {
  name: string;
  isCertificate: boolean;
  stream: Stream;
}

// ---------------------------------------------------------------------------------------
// Lexical conventions (§7.2)

const WHITESPACE = new Set([0x00, 0x09, 0x0a, 0x0c, 0x0d, 0x20]);
const DELIMITERS = new Set([0x28, 0x29, 0x3c, 0x3e, 0x5b, 0x5d, 0x7b, 0x7d, 0x2f, 0x25]); // ( ) < > [ ] { } / %
const CR = 0x0d;
const LF = 0x0a;

function isRegular(byte: number | undefined): byte is number {
  return byte !== undefined && !WHITESPACE.has(byte) && !DELIMITERS.has(byte);
}

function isDigit(byte: number | undefined): boolean {
  return byte !== undefined && byte >= 0x30 && byte <= 0x39;
}

/** What is left of a document's {@link PDF_LIMITS.values}, shared by every scanner of it. */
interface ValueBudget {
  left: number;
}

/** A cursor over PDF bytes that reads tokens and objects. */
class Scanner {
  readonly bytes: Uint8Array;
  pos: number;
  readonly #budget: ValueBudget;

  constructor(bytes: Uint8Array, budget: ValueBudget, pos = 0) {
    this.bytes = bytes;
    this.#budget = budget;
    this.pos = pos;
  }

  get atEnd(): boolean {
    return this.pos >= this.bytes.length;
  }

  /** Skips white-space and comments (§7.2.3). */
  skipSpace(): void {
    const { bytes } = this;
    while (this.pos < bytes.length) {
      const b = bytes[this.pos]!;
      if (WHITESPACE.has(b)) this.pos++;
      else if (b === 0x25) {
        while (this.pos < bytes.length && bytes[this.pos] !== CR && bytes[this.pos] !== LF) this.pos++;
      } else break;
    }
  }

  /** The run of regular characters at the cursor (a keyword or a number), consumed. */
  token(): string {
    const start = this.pos;
    while (isRegular(this.bytes[this.pos])) this.pos++;
    return latin1(this.bytes.subarray(start, this.pos));
  }

  /** Consumes `keyword` when it is the next token; otherwise leaves the cursor. */
  accept(keyword: string): boolean {
    const start = this.pos;
    this.skipSpace();
    if (this.token() === keyword) return true;
    this.pos = start;
    return false;
  }

  expect(keyword: string): void {
    if (!this.accept(keyword)) throw invalid(`expected "${keyword}" at offset ${this.pos}`);
  }

  /** A non-negative integer token, or undefined (cursor unchanged) when the next token is not one. */
  integer(): number | undefined {
    const start = this.pos;
    this.skipSpace();
    if (!isDigit(this.bytes[this.pos])) {
      this.pos = start;
      return undefined;
    }
    const token = this.token();
    if (!/^\d{1,15}$/.test(token)) {
      this.pos = start;
      return undefined;
    }
    return Number(token);
  }

  value(depth = 0): Value {
    if (depth > PDF_LIMITS.depth) throw invalid(`objects nest deeper than ${PDF_LIMITS.depth} levels`);
    if (--this.#budget.left < 0) throw new PdfReadLimitError(PDF_LIMITS.values, "values");
    this.skipSpace();
    const b = this.bytes[this.pos];
    if (b === undefined) throw invalid("the PDF ends inside an object");
    if (b === 0x2f) return this.#name();
    if (b === 0x28) return this.#literalString();
    if (b === 0x3c) return this.bytes[this.pos + 1] === 0x3c ? this.#dict(depth) : this.#hexString();
    if (b === 0x5b) return this.#array(depth);
    if (isDigit(b) || b === 0x2b || b === 0x2d || b === 0x2e) return this.#numberOrRef();
    const start = this.pos;
    const token = this.token();
    if (token === "true") return true;
    if (token === "false") return false;
    if (token === "null") return null;
    throw invalid(`unexpected ${token === "" ? "character" : `"${token.slice(0, 20)}"`} at offset ${start}`);
  }

  /** §7.3.5: a solidus, then regular characters with #xx escapes. */
  #name(): Name {
    this.pos++;
    const start = this.pos;
    while (isRegular(this.bytes[this.pos])) this.pos++;
    const raw = latin1(this.bytes.subarray(start, this.pos));
    const value = raw.replace(/#([0-9A-Fa-f]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
    return new Name(value);
  }

  /** §7.3.4.2: balanced parentheses, backslash escapes, end-of-line normalised to LF. */
  #literalString(): PdfString {
    const { bytes } = this;
    const out = new ByteBuffer();
    let nesting = 1;
    this.pos++;
    for (;;) {
      const b = bytes[this.pos++];
      if (b === undefined) throw invalid("the PDF ends inside a string");
      if (b === 0x28) nesting++;
      else if (b === 0x29 && --nesting === 0) break;
      if (b === CR) {
        if (bytes[this.pos] === LF) this.pos++;
        out.push(LF);
      } else if (b === 0x5c) {
        const e = bytes[this.pos++];
        if (e === undefined) throw invalid("the PDF ends inside a string");
        const simple = ESCAPES.get(e);
        if (simple !== undefined) out.push(simple);
        else if (e >= 0x30 && e <= 0x37) {
          let code = e - 0x30;
          for (let i = 0; i < 2 && bytes[this.pos]! >= 0x30 && bytes[this.pos]! <= 0x37; i++) {
            code = code * 8 + bytes[this.pos++]! - 0x30;
          }
          out.push(code & 0xff);
        } else if (e === CR) {
          if (bytes[this.pos] === LF) this.pos++;
        } else if (e !== LF) out.push(e);
      } else out.push(b);
    }
    return new PdfString(out.bytes());
  }

  /** §7.3.4.3: hex digits and white-space between angle brackets; an odd last digit is followed by 0. */
  #hexString(): PdfString {
    const { bytes } = this;
    const out = new ByteBuffer();
    let high = -1;
    this.pos++;
    for (;;) {
      const b = bytes[this.pos++];
      if (b === undefined) throw invalid("the PDF ends inside a hex string");
      if (b === 0x3e) break;
      if (WHITESPACE.has(b)) continue;
      const digit = hexDigit(b);
      if (digit < 0) throw invalid(`a hex string has a non-hex character at offset ${this.pos - 1}`);
      if (high < 0) high = digit;
      else {
        out.push(high * 16 + digit);
        high = -1;
      }
    }
    if (high >= 0) out.push(high * 16);
    return new PdfString(out.bytes());
  }

  #array(depth: number): Value[] {
    const items: Value[] = [];
    this.pos++;
    for (;;) {
      this.skipSpace();
      if (this.bytes[this.pos] === 0x5d) {
        this.pos++;
        return items;
      }
      items.push(this.value(depth + 1));
    }
  }

  /** §7.3.7; a key given twice is refused, since readers differ on which one counts. */
  #dict(depth: number): Dict {
    const entries = new Map<string, Value>();
    this.pos += 2;
    for (;;) {
      this.skipSpace();
      if (this.bytes[this.pos] === 0x3e && this.bytes[this.pos + 1] === 0x3e) {
        this.pos += 2;
        return new Dict(entries);
      }
      if (this.bytes[this.pos] !== 0x2f) throw invalid(`a dictionary key is not a name at offset ${this.pos}`);
      const key = this.#name().value;
      if (entries.has(key)) throw invalid(`a dictionary has the key /${key} twice at offset ${this.pos}`);
      entries.set(key, this.value(depth + 1));
    }
  }

  /** A number (§7.3.3), or an indirect reference "num gen R" (§7.3.10). */
  #numberOrRef(): number | Real | Ref {
    const start = this.pos;
    const token = this.token();
    if (/^\d{1,15}$/.test(token)) {
      const after = this.pos;
      const gen = this.integer();
      if (gen !== undefined && this.accept("R")) return ref(Number(token), gen);
      this.pos = after;
      return Number(token);
    }
    if (!/^[+-]?(\d+\.?\d*|\.\d+)$/.test(token))
      throw invalid(`"${token.slice(0, 20)}" at offset ${start} is not a number`);
    const n = Number(token);
    if (!Number.isFinite(n)) throw invalid(`the number at offset ${start} is out of range`);
    return token.includes(".") ? new Real(n) : n;
  }
}

const ESCAPES = new Map([
  [0x6e, LF], // \n
  [0x72, CR], // \r
  [0x74, 0x09], // \t
  [0x62, 0x08], // \b
  [0x66, 0x0c], // \f
  [0x28, 0x28], // \(
  [0x29, 0x29], // \)
  [0x5c, 0x5c], // \\
]);

function ref(num: number, gen: number): Ref {
  if (num > 0xffffffff || gen > 0xffff) throw invalid(`object ${num} ${gen} is out of range`);
  return new Ref(num, gen);
}

function hexDigit(b: number): number {
  if (b >= 0x30 && b <= 0x39) return b - 0x30;
  if (b >= 0x41 && b <= 0x46) return b - 0x37;
  if (b >= 0x61 && b <= 0x66) return b - 0x57;
  return -1;
}

/** A growable byte array for strings and inflated data. */
class ByteBuffer {
  #buffer = new Uint8Array(64);
  length = 0;

  push(byte: number): void {
    if (this.length === this.#buffer.length) this.#grow(this.length + 1);
    this.#buffer[this.length++] = byte;
  }

  append(chunk: Uint8Array): void {
    if (this.length + chunk.length > this.#buffer.length) this.#grow(this.length + chunk.length);
    this.#buffer.set(chunk, this.length);
    this.length += chunk.length;
  }

  bytes(): Uint8Array {
    return this.#buffer.slice(0, this.length);
  }

  #grow(needed: number): void {
    const next = new Uint8Array(Math.max(needed, this.#buffer.length * 2));
    next.set(this.#buffer.subarray(0, this.length));
    this.#buffer = next;
  }
}

function latin1(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i += 8192) s += String.fromCharCode(...bytes.subarray(i, i + 8192));
  return s;
}

// ---------------------------------------------------------------------------------------
// File structure (§7.5)

class PdfDocument {
  readonly definitions = new Map<string, Definition[]>();
  readonly attachments: Attachment[] = [];
  /** What the cross-reference tables and streams say: object number and offset of each object in use. */
  readonly crossReferences: { num: number; offset: number; gen: number }[] = [];
  /** Every startxref offset, in file order. */
  readonly startxrefs: number[] = [];
  /** Every cross-reference section (a table, or a stream once read), by where it begins. */
  readonly sections = new Map<number, Section>();
  /** The table whose trailer comes next in the file. */
  lastTable: Section | undefined;
  /** Each top-level definition, by where it begins, in file order. */
  readonly definitionAt = new Map<number, Definition>();
  /** The objects read from each object stream, by where the stream begins, and their numbers. */
  readonly objectStreamContents = new Map<number, Map<number, Definition>>();
  /** Where the keyword of the last startxref the file-order reading found begins. */
  lastStartxrefAt = -1;
  /** Where the file's first object ends: just after its "endobj". */
  firstObjectEnd: number | undefined;
  /** Objects a cross-reference stream says are compressed (§7.5.8.3, type 2), and the object stream holding each. */
  readonly compressedReferences: { num: number; container: number }[] = [];
  /** Every trailer dictionary, and every cross-reference stream's: each may point at an earlier section. */
  readonly trailers: Dict[] = [];
  /** Definitions read so far, those in object streams included. */
  objectCount = 0;
  /** Values every scanner of the document may still read. */
  readonly values: ValueBudget = { left: PDF_LIMITS.values };
  #inflated = 0;
  #crossReferenceEntries = 0;
  /** Entries of the cross-reference tables read so far, counted once the file is read. */
  tableEntries = 0;
  #integerObjects: Map<string, Set<number>> | undefined;
  readonly bytes: Uint8Array;

  constructor(bytes: Uint8Array) {
    this.bytes = bytes;
  }

  /**
   * Counts `n` more cross-reference entries (tables' and streams' together), as many as a
   * document may have objects: a section lists one entry per object number up to /Size
   * (§7.5.4), and reading them one by one would cost what their bytes did not (a stream of
   * one-byte entries inflates to millions). A stream's are counted before they are read.
   */
  countCrossReferences(n: number): void {
    this.#crossReferenceEntries += n;
    if (this.#crossReferenceEntries > PDF_LIMITS.objects) {
      throw new PdfReadLimitError(PDF_LIMITS.objects, "cross-reference entries");
    }
  }

  add(definition: Definition): void {
    if (++this.objectCount > PDF_LIMITS.objects) throw new PdfReadLimitError(PDF_LIMITS.objects, "objects");
    const list = this.definitions.get(definition.ref.key);
    if (list === undefined) this.definitions.set(definition.ref.key, [definition]);
    else list.push(definition);
  }

  /**
   * The value of an indirect /Length (§7.3.8.2). It may be written after the stream, so
   * every "n g obj <integer> endobj" in the file is indexed once, on first need.
   */
  integerObject(r: Ref): number {
    if (this.#integerObjects === undefined) {
      this.#integerObjects = new Map();
      const ws = "[\\x00\\t\\n\\f\\r ]";
      const pattern = new RegExp(`(?<![0-9])(\\d{1,10})${ws}+(\\d{1,5})${ws}+obj${ws}*(\\d{1,15})${ws}+endobj`, "g");
      for (const m of latin1(this.bytes).matchAll(pattern)) {
        const key = `${Number(m[1])} ${Number(m[2])}`;
        const values = this.#integerObjects.get(key) ?? new Set();
        values.add(Number(m[3]));
        this.#integerObjects.set(key, values);
      }
    }
    const values = [...(this.#integerObjects.get(r.key) ?? [])];
    if (values.length === 0) throw invalid(`the stream length object ${r.key} R is missing or not an integer`);
    if (values.length > 1) throw invalid(`the stream length object ${r.key} R is defined with different values`);
    return values[0]!;
  }

  /**
   * The one stream an embedded-file reference points to, however often it is defined. Readers
   * differ on which definition they take, so every one must hold the same file: written alike,
   * or (a tool saving incrementally may write it again in another encoding) decoding to the
   * same bytes.
   */
  stream(r: Ref): Stream {
    const streams = (this.definitions.get(r.key) ?? []).flatMap((d) => (d.stream === undefined ? [] : [d.stream]));
    if (streams.length === 0) throw invalid(`the embedded file ${r.key} R is not a stream in this PDF`);
    const [first, ...others] = streams as [Stream, ...Stream[]];
    const rewritten = others.filter(
      (other) => !equalBytes(other.data, first.data) || !sameValue(other.dict, first.dict),
    );
    if (rewritten.length > 0) {
      const contents = this.decode(first, PDF_LIMITS.fileBytes);
      for (const other of rewritten) {
        if (!equalBytes(this.decode(other, PDF_LIMITS.fileBytes), contents)) {
          throw invalid(`the embedded file ${r.key} R is defined more than once with different contents`);
        }
      }
    }
    return first;
  }

  /** The decoded data of a stream (§7.4), at most `maxBytes` long. */
  decode(stream: Stream, maxBytes: number): Uint8Array {
    const { dict } = stream;
    const filter = dict.get("Filter");
    const filters = filter === undefined || filter === null ? [] : Array.isArray(filter) ? filter : [filter];
    const parms = dict.get("DecodeParms");
    const parmsList = parms === undefined || parms === null ? [] : Array.isArray(parms) ? parms : [parms];
    // §7.3.8.2: /DecodeParms has the shape of /Filter, a dictionary beside a name or an array as
    // long as the array. Readers differ on any other pairing (one applies it, another ignores
    // it), and on the keys that name data elsewhere or abbreviate these (/F, /DP).
    const shaped =
      parms === undefined ||
      parms === null ||
      (Array.isArray(filter)
        ? Array.isArray(parms) && parms.length === filter.length
        : filter instanceof Name && parms instanceof Dict);
    if (!shaped) throw invalid("a stream's /DecodeParms does not match its /Filter");
    for (const key of ["F", "FFilter", "FDecodeParms", "DP"]) {
      if (dict.get(key) !== undefined) throw invalid(`a stream has the key /${key}, which readers treat differently`);
    }
    const predictors = parmsList.map((p) => {
      if (p instanceof Dict) return predictorOf(p);
      if (p !== null) throw invalid("a stream has malformed /DecodeParms");
      return undefined;
    });
    let data = stream.data;
    if (filters.length > 1) throw new PdfUnsupportedError("streams with more than one filter are not supported");
    if (filters.length === 1) {
      const [only] = filters;
      if (!(only instanceof Name) || only.value !== "FlateDecode") {
        throw new PdfUnsupportedError(
          `the stream filter ${only instanceof Name ? `/${only.value}` : "given"} is not supported`,
        );
      }
      const budget = PDF_LIMITS.inflatedBytes - this.#inflated;
      data = inflateZlib(data, Math.min(maxBytes, budget), budget < maxBytes);
      this.#inflated += data.length;
      if (predictors[0] !== undefined) data = unpredict(data, predictors[0]);
    } else if (data.length > maxBytes) {
      throw invalid(`an embedded file is larger than ${maxBytes} bytes`);
    }
    checkParams(dict, data);
    return data;
  }
}

/** White space allowed after the final %%EOF: an end-of-line or a few, never padding. */
const MAX_TRAILING_SPACE = 16;

/** The end of a file from its last startxref (§7.5.5), with at most MAX_TRAILING_SPACE after %%EOF. */
const FILE_END = new RegExp(
  `^startxref[ \\t]*(?:\\r\\n|\\r|\\n)\\d{1,15}[ \\t]*(?:\\r\\n|\\r|\\n)%%EOF[\\0\\t\\n\\f\\r ]{0,${MAX_TRAILING_SPACE}}$`,
);

function readDocument(pdf: Uint8Array): PdfDocument {
  if (!(pdf instanceof Uint8Array)) throw invalid("the PDF must be given as bytes");
  if (pdf.length > PDF_LIMITS.documentBytes) throw invalid(`the PDF is larger than ${PDF_LIMITS.documentBytes} bytes`);
  if (!isPdf(pdf)) throw invalid("the file is not a PDF (it does not begin with %PDF-)");
  // §7.5.5: the last line is %%EOF. A cut-off download or appended bytes end otherwise.
  let end = pdf.length;
  while (end > 0 && WHITESPACE.has(pdf[end - 1]!)) end--;
  if (latin1(pdf.subarray(Math.max(0, end - 5), end)) !== "%%EOF") {
    throw invalid("the PDF does not end with %%EOF: it is truncated, or bytes were appended");
  }
  const document = new PdfDocument(pdf);
  const scanner = new Scanner(pdf, document.values);
  for (;;) {
    scanner.skipSpace();
    if (scanner.atEnd) break;
    const start = scanner.pos;
    if (isDigit(pdf[start])) {
      readIndirectObject(document, scanner);
      continue;
    }
    const keyword = scanner.token();
    if (keyword === "xref") {
      readCrossReferenceTable(document, scanner, start);
    } else if (keyword === "trailer") {
      const trailer = scanner.value();
      refuseEncryption(trailer);
      document.trailers.push(trailer as Dict);
      if (document.lastTable) document.lastTable.trailer = trailer as Dict;
      document.lastTable = undefined;
    } else if (keyword === "startxref") {
      document.lastStartxrefAt = start;
      const offset = scanner.integer();
      if (offset === undefined) throw invalid(`startxref without an offset at offset ${start}`);
      document.startxrefs.push(offset);
    } else throw invalid(`unexpected content at offset ${start}`);
  }
  const containers = [...document.definitions.values()].flat().filter((d) => isType(d.stream?.dict, "ObjStm"));
  for (const container of containers) readObjectStream(document, container);
  checkCrossReferences(document);
  collectAttachments(document);
  return document;
}

/**
 * Every reader but this one finds objects through the cross-reference tables (§7.5.4) and
 * streams (§7.5.8); this one reads the file from start to end. They see the same objects only
 * if each offset a table or stream gives is where the object it names begins, each object it
 * says is compressed is in an object stream this reading read, and each startxref, and each
 * trailer's /Prev and /XRefStm, points at a table or stream this reading found: otherwise a
 * table, or a whole section hidden in a stream's data and reached by /Prev, could point at an
 * attachment this reading skips. Such a document is refused, never read one way.
 */
function checkCrossReferences(document: PdfDocument): void {
  document.countCrossReferences(document.tableEntries);
  for (const definition of [...document.definitions.values()].flat()) {
    if (definition.stream && isType(definition.stream.dict, "XRef")) readCrossReferenceStream(document, definition);
  }
  for (const { num, offset, gen } of document.crossReferences) {
    const there = document.definitionAt.get(offset)?.ref;
    if (there?.num !== num || there.gen !== gen) {
      throw invalid(
        `the cross-reference table puts object ${num} at offset ${offset}, where that object does not begin`,
      );
    }
  }
  const linearization = linearizationOf(document);
  for (const [i, offset] of document.startxrefs.entries()) {
    // Annex F: a linearized file's first-page section ends with "startxref 0", which readers
    // skip; it stays there when an incremental update is appended.
    if (linearization && offset === 0 && i < document.startxrefs.length - 1) continue;
    if (!document.sections.has(offset)) {
      throw invalid(`startxref points at offset ${offset}, where no cross-reference table or stream begins`);
    }
  }
  for (const trailer of document.trailers) {
    for (const key of ["Prev", "XRefStm"]) {
      const offset = trailer.get(key);
      if (offset === undefined) continue;
      if (!isCount(offset) || !document.sections.has(offset)) {
        throw invalid(
          `a trailer's /${key} points at ${isCount(offset) ? `offset ${offset}` : "no offset"}, where no cross-reference table or stream begins`,
        );
      }
    }
  }
  for (const { num, container } of document.compressedReferences) {
    const holders = document.definitions.get(ref(container, 0).key) ?? [];
    if (!holders.some((d) => d.stream && isType(d.stream.dict, "ObjStm"))) {
      throw invalid(
        `a cross-reference stream puts object ${num} in object ${container}, which is not an object stream`,
      );
    }
  }
  // Readers find the last "startxref" bytes of the file, searching backwards, wherever they lie
  // (in a comment after the real one, say): they must be the ones this reading found.
  if (lastIndexOfBytes(document.bytes, STARTXREF) !== document.lastStartxrefAt) {
    throw invalid("the file's last startxref is not where this reading finds one (in a comment or a string)");
  }
  // And they look for it in the file's last kilobytes only (qpdf about 1 KB, poppler about
  // 30 KB): padding after it, before %%EOF or after, pushes it out of their reach, and they
  // rebuild the cross-reference by scanning the whole file, stream data included. Writers
  // end with "startxref", the offset and %%EOF, each on its line.
  const tail = latin1(document.bytes.subarray(document.lastStartxrefAt));
  if (!FILE_END.test(tail)) {
    throw invalid(
      `the file does not end with startxref, its offset and %%EOF, each on its line (${tail.length} bytes from its last startxref to its end)`,
    );
  }
  // Readers honour a linearization only while /L is the file's length (an update ends that).
  // pdf.js takes a real /L as the number it is; this reading refuses it rather than guess.
  if (linearization?.get("L") instanceof Real) throw invalid("a linearized PDF's /L is not an integer");
  if (linearization?.get("L") === document.bytes.length) checkLinearization(document);
  checkLiveObjects(document);
}

/** The file's first object when it is a linearization dictionary (Annex F). */
function linearizationOf(document: PdfDocument): Dict | undefined {
  // The file-order reading adds top-level objects in the order written: the first is first.
  const [first] = document.definitionAt.values();
  return first?.value instanceof Dict && first.value.get("Linearized") !== undefined ? first.value : undefined;
}

/** Where readers that honour linearization look for the first object's end (poppler: 1,024 bytes). */
const LINEARIZATION_SEARCH_BYTES = 1024;
/** What poppler skips (C isspace) after that "endobj"; pdf.js skips these and comments. */
const LINEARIZATION_SPACE = new Set([0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x20]);

/**
 * Readers that honour linearization (Annex F; pdf.js, poppler) start at the section found
 * after the first "endobj" bytes of the file, wherever those lie; other readers start at the
 * last startxref. Both must be where this reading starts: the first "endobj" bytes end the
 * first object, near the start, and only white space lies between them and the section the
 * last startxref names. Its /Prev leads on to the rest as for any file.
 */
function checkLinearization(document: PdfDocument): void {
  const { bytes } = document;
  const end = document.firstObjectEnd!;
  if (end > LINEARIZATION_SEARCH_BYTES || indexOfBytes(bytes, ENDOBJ) !== end - ENDOBJ.length) {
    throw invalid(
      `a linearized PDF's first "endobj" bytes are not where its first object ends, within the first ${LINEARIZATION_SEARCH_BYTES} bytes (they lie in a string, say), so readers would start elsewhere`,
    );
  }
  let at = end;
  while (at < bytes.length && LINEARIZATION_SPACE.has(bytes[at]!)) at++;
  if (at !== document.startxrefs.at(-1)) {
    throw invalid(
      "a linearized PDF's last startxref does not name the section right after its first object, where readers that honour linearization start",
    );
  }
}

/**
 * What a reader that follows the cross-reference sees (§7.5.6): from the last startxref, each
 * section and then the one its trailer's /XRefStm and /Prev name, the newest entry for a
 * number deciding. Every object reachable from the newest trailer must be one such an entry
 * gives in use, at its generation, and one this reading read there: a reference to a free,
 * missing or mismatched object makes readers rebuild the cross-reference by scanning the
 * whole file, stream data included, where objects this reading skips can hide. Objects of
 * earlier revisions no longer reachable (an update that deleted one) are not looked at.
 */
function checkLiveObjects(document: PdfDocument): void {
  const effective = new Map<number, XrefEntry>();
  const queue = [document.startxrefs.at(-1)!];
  const seen = new Set<number>();
  while (queue.length > 0) {
    const at = queue.shift()!;
    if (seen.has(at)) throw invalid(`the cross-reference sections loop at offset ${at}`);
    seen.add(at);
    const section = document.sections.get(at);
    if (section === undefined) throw invalid(`no cross-reference table or stream begins at offset ${at}`);
    for (const [num, entry] of section.entries) if (!effective.has(num)) effective.set(num, entry);
    for (const key of ["XRefStm", "Prev"]) {
      const next = section.trailer?.get(key);
      if (isCount(next)) queue.push(next);
    }
  }
  const newest = document.sections.get(document.startxrefs.at(-1)!)!.trailer;
  if (newest === undefined) throw invalid("the last cross-reference table has no trailer");
  const done = new Set<string>();
  const pending: Value[] = [newest];
  const missing = (r: Ref, why: string) =>
    invalid(`object ${r.num} ${r.gen} is referred to, but ${why} (readers would rebuild the cross-reference)`);
  while (pending.length > 0) {
    const value = pending.pop();
    if (value instanceof Dict) pending.push(...value.entries.values());
    else if (Array.isArray(value)) pending.push(...value);
    else if (value instanceof Ref && !done.has(value.key)) {
      done.add(value.key);
      const entry = effective.get(value.num);
      let definition: Definition | undefined;
      if (entry === undefined || entry.kind === "free") {
        throw missing(value, "the cross-reference does not list it in use");
      } else if (entry.kind === "offset") {
        if (entry.gen !== value.gen) throw missing(value, `the cross-reference lists generation ${entry.gen}`);
        definition = document.definitionAt.get(entry.offset);
      } else {
        const holder = effective.get(entry.container);
        const container = holder?.kind === "offset" ? document.definitionAt.get(holder.offset) : undefined;
        if (!container?.stream || !isType(container.stream.dict, "ObjStm")) {
          throw invalid(
            `a cross-reference stream puts object ${value.num} in object ${entry.container}, which is not an object stream`,
          );
        }
        if (value.gen !== 0) throw missing(value, "an object in an object stream has generation 0");
        definition = document.objectStreamContents.get(container.offset!)?.get(value.num);
      }
      if (definition === undefined || definition.ref.key !== value.key) {
        throw missing(value, "it is not where the cross-reference says");
      }
      pending.push(definition.value);
      if (definition.stream) pending.push(definition.stream.dict);
    }
  }
}

/** A cross-reference stream's entries (§7.5.8.3): type 1 gives an object's offset in the file. */
function readCrossReferenceStream(document: PdfDocument, definition: Definition): void {
  const dict = definition.stream!.dict;
  const widths = dict.get("W");
  if (!Array.isArray(widths) || widths.length !== 3 || !widths.every((w) => isCount(w) && w <= 8)) {
    throw invalid("a cross-reference stream has no valid /W");
  }
  const [typeWidth, offsetWidth, generationWidth] = widths as number[];
  const size = dict.get("Size");
  const index = dict.get("Index") ?? [0, size ?? 0];
  if (!Array.isArray(index) || index.length % 2 !== 0 || !index.every(isCount)) {
    throw invalid("a cross-reference stream has no valid /Index");
  }
  document.countCrossReferences((index as number[]).reduce((sum, n, i) => (i % 2 === 1 ? sum + n : sum), 0));
  const data = document.decode(definition.stream!, PDF_LIMITS.inflatedBytes);
  const entryWidth = typeWidth! + offsetWidth! + generationWidth!;
  const section: Section = { entries: new Map(), trailer: dict };
  document.sections.set(definition.offset!, section);
  const field = (at: number, width: number, absent: number) => {
    if (width === 0) return absent;
    let value = 0;
    for (let i = 0; i < width; i++) value = value * 256 + data[at + i]!;
    return value;
  };
  let at = 0;
  for (let i = 0; i < index.length; i += 2) {
    const [first, count] = [index[i] as number, index[i + 1] as number];
    for (let n = 0; n < count; n++, at += entryWidth) {
      if (at + entryWidth > data.length) throw invalid("a cross-reference stream is shorter than its /Index says");
      const type = field(at, typeWidth!, 1);
      const second = field(at + typeWidth!, offsetWidth!, 0);
      if (type === 0) section.entries.set(first + n, { kind: "free" });
      else if (type === 1) {
        const gen = field(at + typeWidth! + offsetWidth!, generationWidth!, 0);
        document.crossReferences.push({ num: first + n, offset: second, gen });
        section.entries.set(first + n, { kind: "offset", offset: second, gen });
      } else if (type === 2) {
        document.compressedReferences.push({ num: first + n, container: second });
        section.entries.set(first + n, { kind: "compressed", container: second });
      }
    }
  }
}

/** "num gen obj <value> [stream … endstream] endobj" (§7.3.10, §7.3.8). */
function readIndirectObject(document: PdfDocument, scanner: Scanner): void {
  const start = scanner.pos;
  const num = scanner.integer();
  const gen = scanner.integer();
  if (num === undefined || gen === undefined || !scanner.accept("obj")) {
    throw invalid(`unexpected content at offset ${start}`);
  }
  const value = scanner.value();
  const definition: Definition = { ref: ref(num, gen), value, offset: start };
  document.definitionAt.set(start, definition);
  if (value instanceof Dict && scanner.accept("stream")) {
    definition.stream = readStreamData(document, scanner, value);
    if (isType(value, "XRef")) {
      refuseEncryption(value);
      document.trailers.push(value);
    }
  }
  scanner.expect("endobj");
  document.firstObjectEnd ??= scanner.pos;
  document.add(definition);
}

function readStreamData(document: PdfDocument, scanner: Scanner, dict: Dict): Stream {
  const { bytes } = scanner;
  // The keyword "stream" is followed by CRLF or LF, then the data (§7.3.8.1).
  if (bytes[scanner.pos] === CR && bytes[scanner.pos + 1] === LF) scanner.pos += 2;
  else if (bytes[scanner.pos] === LF) scanner.pos += 1;
  else throw invalid(`"stream" is not followed by an end-of-line at offset ${scanner.pos}`);
  const declared = dict.get("Length");
  const length = declared instanceof Ref ? document.integerObject(declared) : declared;
  if (typeof length !== "number" || !Number.isSafeInteger(length) || length < 0) {
    throw invalid(`a stream at offset ${scanner.pos} has no valid /Length`);
  }
  if (length > bytes.length - scanner.pos) {
    throw invalid(`a stream at offset ${scanner.pos} declares /Length ${length}, past the end of the PDF`);
  }
  const data = bytes.subarray(scanner.pos, scanner.pos + length);
  scanner.pos += length;
  if (!scanner.accept("endstream")) {
    throw invalid(`the stream at offset ${scanner.pos - length} does not end where its /Length says`);
  }
  return { dict, data };
}

/**
 * "xref", then subsections of "first count" and entries of "offset generation n|f", up to
 * "trailer" (§7.5.4). The objects in use ("n") are kept with their offsets.
 */
function readCrossReferenceTable(document: PdfDocument, scanner: Scanner, start: number): void {
  const section: Section = { entries: new Map() };
  document.sections.set(start, section);
  document.lastTable = section;
  const tokens: string[] = [];
  for (;;) {
    scanner.skipSpace();
    const before = scanner.pos;
    const token = scanner.token();
    if (token === "trailer") {
      scanner.pos = before;
      break;
    }
    if (!/^(\d+|n|f)$/.test(token)) throw invalid(`a cross-reference table is malformed at offset ${before}`);
    // Three tokens an entry: no table lists more entries than a document may have objects.
    if (tokens.length > 3 * PDF_LIMITS.objects + 2) throw new PdfReadLimitError(PDF_LIMITS.objects, "objects");
    tokens.push(token);
  }
  for (let i = 0; i < tokens.length;) {
    const first = Number(tokens[i]);
    const count = Number(tokens[i + 1]);
    if (!/^\d+$/.test(tokens[i + 1] ?? "") || i + 2 + 3 * count > tokens.length) {
      throw invalid("a cross-reference table's subsection is malformed");
    }
    // Counted with the streams' once the file is read (checkCrossReferences).
    document.tableEntries += count;
    for (let n = 0; n < count; n++) {
      const [offset, generation, kind] = tokens.slice(i + 2 + 3 * n, i + 5 + 3 * n);
      if (!/^\d+$/.test(offset!) || !/^\d+$/.test(generation!) || (kind !== "n" && kind !== "f")) {
        throw invalid("a cross-reference table's entry is malformed");
      }
      if (kind === "n") {
        const entry = { num: first + n, offset: Number(offset), gen: Number(generation) };
        document.crossReferences.push(entry);
        section.entries.set(entry.num, { kind: "offset", offset: entry.offset, gen: entry.gen });
      } else section.entries.set(first + n, { kind: "free" });
    }
    i += 2 + 3 * count;
  }
}

/** A stream's predictor (§7.4.4.4, table 8), read from its /DecodeParms; undefined for none. */
interface Predictor {
  /** 2 for TIFF Predictor 2, 10 for the PNG predictors (each row names its own, 10 to 15). */
  kind: 2 | 10;
  /** Bytes per row, the PNG predictors' tag byte not counted. */
  rowBytes: number;
  /** Bytes per pixel, at least 1: how far back the PNG predictors' left neighbour is. */
  pixelBytes: number;
}

/** The bounds on /Columns and /Colors: wider than any image or cross-reference stream. */
const MAX_PREDICTOR_COLUMNS = 1 << 24;
const MAX_PREDICTOR_COLORS = 32;

/** The keys of /FlateDecode's parameters (§7.4.4.4, table 8); /BPC and the like are refused. */
const FLATE_PARAMETERS = new Set(["Predictor", "Colors", "BitsPerComponent", "Columns"]);

function predictorOf(parms: Dict): Predictor | undefined {
  for (const key of parms.entries.keys()) {
    if (!FLATE_PARAMETERS.has(key))
      throw invalid(`a stream's /DecodeParms has the key /${key}, which readers treat differently`);
  }
  const entry = (key: string, absent: number, allowed: (n: number) => boolean): number => {
    const value = parms.get(key);
    if (value === undefined) return absent;
    if (!isCount(value) || !allowed(value)) throw invalid(`a stream's /DecodeParms has an unsupported /${key}`);
    return value;
  };
  const predictor = entry("Predictor", 1, (n) => n === 1 || n === 2 || (n >= 10 && n <= 15));
  const colors = entry("Colors", 1, (n) => n >= 1 && n <= MAX_PREDICTOR_COLORS);
  const bits = entry("BitsPerComponent", 8, (n) => [1, 2, 4, 8, 16].includes(n));
  const columns = entry("Columns", 1, (n) => n >= 1 && n <= MAX_PREDICTOR_COLUMNS);
  if (predictor === 1) return undefined;
  // TIFF Predictor 2 on other widths works on bit fields, which readers implement unevenly.
  if (predictor === 2 && bits !== 8) throw invalid("TIFF predictors are supported only with 8 bits per component");
  return {
    kind: predictor === 2 ? 2 : 10,
    rowBytes: Math.ceil((colors * bits * columns) / 8),
    pixelBytes: Math.max(1, Math.ceil((colors * bits) / 8)),
  };
}

/**
 * Undoes a predictor (§7.4.4.4; the PNG filters of RFC 2083 §6). Readers differ on a row
 * filter type past 4 and on a short last row, so both are refused rather than read one way.
 */
function unpredict(data: Uint8Array, { kind, rowBytes, pixelBytes }: Predictor): Uint8Array {
  const stride = kind === 2 ? rowBytes : rowBytes + 1;
  if (data.length % stride !== 0) throw invalid("a predicted stream does not end on a whole row");
  const rows = data.length / stride;
  const out = new Uint8Array(rows * rowBytes);
  if (kind === 2) {
    for (let r = 0; r < rows; r++) {
      const at = r * rowBytes;
      for (let i = 0; i < rowBytes; i++) {
        out[at + i] = (data[at + i]! + (i >= pixelBytes ? out[at + i - pixelBytes]! : 0)) & 0xff;
      }
    }
    return out;
  }
  for (let r = 0; r < rows; r++) {
    const type = data[r * stride]!;
    const row = data.subarray(r * stride + 1, (r + 1) * stride);
    const at = r * rowBytes;
    const up = (i: number) => (r > 0 ? out[at - rowBytes + i]! : 0);
    const left = (i: number) => (i >= pixelBytes ? out[at + i - pixelBytes]! : 0);
    const upLeft = (i: number) => (r > 0 && i >= pixelBytes ? out[at - rowBytes + i - pixelBytes]! : 0);
    for (let i = 0; i < rowBytes; i++) {
      let prediction: number;
      if (type === 0) prediction = 0;
      else if (type === 1) prediction = left(i);
      else if (type === 2) prediction = up(i);
      else if (type === 3) prediction = (left(i) + up(i)) >> 1;
      else if (type === 4) prediction = paeth(left(i), up(i), upLeft(i));
      else throw invalid(`a predicted stream has a row of unknown PNG filter type ${type}`);
      out[at + i] = (row[i]! + prediction) & 0xff;
    }
  }
  return out;
}

/** The Paeth predictor of PNG (RFC 2083 §6.6): of left, up and up-left, the nearest to left + up - up-left. */
export function paeth(a: number, b: number, c: number): number {
  const p = a + b - c;
  const pa = Math.abs(p - a);
  const pb = Math.abs(p - b);
  const pc = Math.abs(p - c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

/** Encrypted strings and streams (§7.6) would read as noise: refuse them plainly. */
function refuseEncryption(trailer: Value): void {
  if (!(trailer instanceof Dict)) throw invalid("the trailer is not a dictionary");
  if (trailer.get("Encrypt") !== undefined) throw new PdfUnsupportedError("encrypted PDFs are not supported");
}

/**
 * The objects compressed in an object stream (§7.5.7); they all have generation 0. Each is
 * read only up to where the next begins (the offsets must increase), so that no byte is
 * parsed twice however the index points.
 */
function readObjectStream(document: PdfDocument, container: Definition): void {
  const stream = container.stream!;
  const contents = new Map<number, Definition>();
  if (container.offset !== undefined) document.objectStreamContents.set(container.offset, contents);
  const count = stream.dict.get("N");
  const first = stream.dict.get("First");
  if (!isCount(count) || !isCount(first)) throw invalid("an object stream has no valid /N or /First");
  const data = document.decode(stream, PDF_LIMITS.inflatedBytes);
  const header = new Scanner(data.subarray(0, first), document.values);
  const entries: [number, number][] = [];
  for (let i = 0; i < count; i++) {
    const num = header.integer();
    const offset = header.integer();
    const previous = entries.at(-1)?.[1] ?? -1;
    if (num === undefined || offset === undefined || first + offset >= data.length || first + offset <= previous) {
      throw invalid("an object stream's index is malformed");
    }
    entries.push([num, first + offset]);
    if (entries.length + document.objectCount > PDF_LIMITS.objects) {
      throw new PdfReadLimitError(PDF_LIMITS.objects, "objects");
    }
  }
  // The first object begins at /First, and nothing but white space lies between the index and
  // it: readers that find objects another way (poppler skips from the index to the first
  // offset) would otherwise read objects hidden in between, which this reading skips.
  header.skipSpace();
  if ((count > 0 && entries[0]![1] !== first) || !header.atEnd) {
    throw invalid("an object stream holds bytes between its index and its first object");
  }
  entries.forEach(([num, offset], i) => {
    const end = entries[i + 1]?.[1] ?? data.length;
    const definition: Definition = {
      ref: ref(num, 0),
      value: new Scanner(data.subarray(offset, end), document.values).value(),
    };
    if (!contents.has(num)) contents.set(num, definition);
    document.add(definition);
  });
}

const STARTXREF = new TextEncoder().encode("startxref");
const ENDOBJ = new TextEncoder().encode("endobj");

function isCount(value: Value | undefined): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 0;
}

function isType(dict: Dict | undefined, type: string): boolean {
  const value = dict?.get("Type");
  return value instanceof Name && value.value === type;
}

// ---------------------------------------------------------------------------------------
// Embedded files (§7.11.3, §7.11.4)

/** Finds every file specification dictionary with an /EF entry, in every object. */
function collectAttachments(document: PdfDocument): void {
  const seen = new Set<string>();
  const visit = (value: Value | undefined, depth: number): void => {
    if (depth > PDF_LIMITS.depth) return;
    if (Array.isArray(value)) value.forEach((v) => visit(v, depth + 1));
    else if (value instanceof Dict) {
      if (value.get("EF") !== undefined) {
        const attachment = attachmentOf(document, value);
        // The same specification may be written again, unchanged, by an incremental update.
        const key = `${attachment.name}\u0000${attachment.ref.key}`;
        if (!seen.has(key)) {
          seen.add(key);
          document.attachments.push(attachment);
        }
      }
      for (const v of value.entries.values()) visit(v, depth + 1);
    }
  };
  for (const list of document.definitions.values()) {
    for (const d of list) {
      visit(d.value, 0);
    }
  }
}

const PLATFORM_KEYS = ["DOS", "Mac", "Unix"];

function attachmentOf(document: PdfDocument, spec: Dict): Attachment & { ref: Ref } {
  const ef = spec.get("EF");
  if (!(ef instanceof Dict)) throw invalid("a file specification's /EF is not a dictionary");
  // §7.11.3: /DOS, /Mac and /Unix (deprecated) name a file, and embed one, for one platform;
  // readers fall back to them differently, to another name or another stream than /F and /UF.
  for (const key of PLATFORM_KEYS) {
    if (spec.get(key) !== undefined || ef.get(key) !== undefined) {
      throw invalid(`a file specification has a platform-specific /${key} entry, which readers treat differently`);
    }
  }
  const f = ef.get("F");
  const uf = ef.get("UF");
  if (f !== undefined && uf !== undefined && !(f instanceof Ref && uf instanceof Ref && f.key === uf.key)) {
    throw invalid("a file specification embeds two different files under /F and /UF");
  }
  const streamRef = f ?? uf;
  if (!(streamRef instanceof Ref)) throw invalid("a file specification's embedded file is not a stream reference");
  // Readers take a name however it is written; this reading takes only strings, so a name
  // it would not see (an indirect one) or one readers cut short (at a NUL) is refused.
  if (spec.get("UF") instanceof Ref || spec.get("F") instanceof Ref) {
    throw invalid("a file specification's name is an indirect object");
  }
  const names = ["UF", "F"].flatMap((key) => {
    const v = spec.get(key);
    return v instanceof PdfString ? [textString(v.bytes)] : [];
  });
  // eslint-disable-next-line no-control-regex
  if (names.some((n) => /[\u0000-\u001f\u007f]/.test(n)))
    throw invalid("an embedded file's name holds a control character");
  const certificateNames = names.filter((n) => n.endsWith(CERTIFICATE_SUFFIX));
  if (certificateNames.length > 0 && certificateNames.length < names.length) {
    throw invalid(`an embedded file has the names ${names.map((n) => JSON.stringify(n)).join(" and ")}`);
  }
  return {
    name: names[0] ?? "",
    isCertificate: certificateNames.length > 0,
    stream: document.stream(streamRef),
    ref: streamRef,
  };
}

/**
 * The embedded file parameters (§7.11.4.2, table 46): /Size is the decoded length and
 * /CheckSum its MD5, as 16 bytes or (as PDFKit writes it) 32 hex characters.
 */
function checkParams(dict: Dict, data: Uint8Array): void {
  const params = dict.get("Params");
  if (!(params instanceof Dict)) return;
  const size = params.get("Size");
  if (size !== undefined && size !== data.length) {
    throw invalid(`an embedded file is ${data.length} bytes long, its /Size says ${String(size)}`);
  }
  const checksum = params.get("CheckSum");
  if (!(checksum instanceof PdfString)) return;
  const digest = md5(data);
  const given = checksum.bytes;
  const matches = given.length === 16 ? equalBytes(given, digest) : latin1(given).toLowerCase() === bytesToHex(digest);
  if (!matches && (given.length === 16 || given.length === 32)) {
    throw invalid("an embedded file does not match its /CheckSum");
  }
}

/** A text string (§7.9.2.2): UTF-16BE or UTF-8 with a byte order mark, else PDFDocEncoding. */
function textString(bytes: Uint8Array): string {
  if (bytes[0] === 0xfe && bytes[1] === 0xff) return new TextDecoder("utf-16be").decode(bytes.subarray(2));
  if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) return new TextDecoder().decode(bytes.subarray(3));
  let s = "";
  for (const b of bytes) s += String.fromCodePoint(PDF_DOC_ENCODING.get(b) ?? b);
  return s;
}

/** PDFDocEncoding where it differs from ISO Latin-1 (Annex D.2); other bytes map to the same code point. */
const PDF_DOC_ENCODING = new Map<number, number>([
  [0x18, 0x02d8],
  [0x19, 0x02c7],
  [0x1a, 0x02c6],
  [0x1b, 0x02d9],
  [0x1c, 0x02dd],
  [0x1d, 0x02db],
  [0x1e, 0x02da],
  [0x1f, 0x02dc],
  [0x80, 0x2022],
  [0x81, 0x2020],
  [0x82, 0x2021],
  [0x83, 0x2026],
  [0x84, 0x2014],
  [0x85, 0x2013],
  [0x86, 0x0192],
  [0x87, 0x2044],
  [0x88, 0x2039],
  [0x89, 0x203a],
  [0x8a, 0x2212],
  [0x8b, 0x2030],
  [0x8c, 0x201e],
  [0x8d, 0x201c],
  [0x8e, 0x201d],
  [0x8f, 0x2018],
  [0x90, 0x2019],
  [0x91, 0x201a],
  [0x92, 0x2122],
  [0x93, 0xfb01],
  [0x94, 0xfb02],
  [0x95, 0x0141],
  [0x96, 0x0152],
  [0x97, 0x0160],
  [0x98, 0x0178],
  [0x99, 0x017d],
  [0x9a, 0x0131],
  [0x9b, 0x0142],
  [0x9c, 0x0153],
  [0x9d, 0x0161],
  [0x9e, 0x017e],
  [0xa0, 0x20ac],
]);

// ---------------------------------------------------------------------------------------
// FlateDecode (§7.4.4): a zlib stream (RFC 1950) around DEFLATE data (RFC 1951)

/** DEFLATE's largest expansion: a 258-byte match costs at least 2 bits (RFC 1951 §3.2.5). */
const MAX_DEFLATE_RATIO = 1032;

/**
 * Inflates a zlib stream, stopping as soon as the output passes `maxBytes` (so a bomb costs
 * no more than the limit), and checks the Adler-32 of the result (RFC 1950 §2.2).
 */
function inflateZlib(data: Uint8Array, maxBytes: number, budgetExhausted: boolean): Uint8Array {
  if (data.length < 6) throw invalid("a compressed stream is too short to be zlib data");
  const [cmf, flg] = data as unknown as [number, number];
  // RFC 1950 §2.2: CM = 8 (deflate), CINFO <= 7, the header a multiple of 31, no preset dictionary.
  if ((cmf & 0x0f) !== 8 || cmf >> 4 > 7 || ((cmf << 8) | flg) % 31 !== 0 || flg & 0x20) {
    throw invalid("a compressed stream is not zlib data");
  }
  const out = new ByteBuffer();
  const tooLarge = (): EvidenceError =>
    budgetExhausted
      ? new PdfReadLimitError(PDF_LIMITS.inflatedBytes, "bytes inflated")
      : invalid(`a compressed stream inflates to more than ${maxBytes} bytes`);
  let ended = false;
  const inflate = new Inflate((chunk, final) => {
    if (out.length + chunk.length > maxBytes) throw tooLarge();
    out.append(chunk);
    if (final) ended = true;
  });
  const deflated = data.subarray(2, data.length - 4);
  // The input goes in slices small enough that one slice cannot inflate far past the limit.
  const slice = Math.max(1024, Math.min(16 * 1024, Math.floor(maxBytes / MAX_DEFLATE_RATIO)));
  try {
    for (let i = 0; i < deflated.length; i += slice) {
      inflate.push(deflated.subarray(i, i + slice), false);
    }
    inflate.push(new Uint8Array(0), true);
  } catch (e) {
    if (isEvidenceError(e)) throw e;
    throw invalid("a compressed stream is corrupt", e);
  }
  if (!ended) throw invalid("a compressed stream is truncated");
  const result = out.bytes();
  const expected = (data[data.length - 4]! << 24) | (data[data.length - 3]! << 16) | (data[data.length - 2]! << 8);
  if ((expected | data[data.length - 1]!) >>> 0 !== adler32(result)) {
    throw invalid("a compressed stream fails its Adler-32 check");
  }
  return result;
}

/** RFC 1950 §8.2. */
function adler32(data: Uint8Array): number {
  let a = 1;
  let b = 0;
  // Reducing every 5552 bytes (zlib's NMAX) keeps both sums far inside exact integers.
  for (let i = 0; i < data.length; i += 5552) {
    const end = Math.min(i + 5552, data.length);
    for (let j = i; j < end; j++) {
      a += data[j]!;
      b += a;
    }
    a %= 65521;
    b %= 65521;
  }
  return ((b << 16) | a) >>> 0;
}

function sameValue(a: Value | undefined, b: Value | undefined): boolean {
  if (a instanceof Dict && b instanceof Dict) {
    return a.entries.size === b.entries.size && [...a.entries].every(([k, v]) => sameValue(v, b.get(k)));
  }
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((v, i) => sameValue(v, b[i]));
  if (a instanceof Name && b instanceof Name) return a.value === b.value;
  if (a instanceof Ref && b instanceof Ref) return a.key === b.key;
  if (a instanceof PdfString && b instanceof PdfString) return equalBytes(a.bytes, b.bytes);
  if (a instanceof Real && b instanceof Real) return a.value === b.value;
  return a === b;
}
