import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex } from "@noble/hashes/utils.js";
import { inflateSync } from "fflate";
import * as v from "valibot";
import { EvidenceError } from "./errors.ts";
import { canonicalize } from "./jcs.ts";

/**
 * Reading a capture package (docs/protocol.md §9) without trusting it: the same code in the service, the
 * CLI and the verification page. The ZIP comes from whoever hands it to a court, so every
 * structure in it is attacker-controlled: the reader walks the central directory itself
 * (APPNOTE.TXT 6.3.x §4.3) instead of trusting a library's map of names, and refuses what a
 * forger or a zip bomb would need — duplicate names (two readers would see two different
 * files), names that climb out of a directory, overlapping entries, declared sizes beyond the
 * limits or beyond what deflate can produce, encryption, ZIP64, CRC-32 mismatches.
 */

export const MANIFEST_FILE = "manifest.json";
export const CERTIFICATE_FILE_IN_PACKAGE = "certificate.evidence.json";
export const CAPTURE_MANIFEST_TYPE = "evidence-anchor-capture";

export interface PackageLimits {
  /** Entries in the ZIP. */
  maxEntries: number;
  /** Uncompressed bytes of all entries together, as declared. */
  maxTotalBytes: number;
  /** Uncompressed bytes of manifest.json and of the certificate. */
  maxDocumentBytes: number;
}

export const DEFAULT_PACKAGE_LIMITS: PackageLimits = {
  maxEntries: 4096,
  maxTotalBytes: 1024 * 1024 * 1024,
  maxDocumentBytes: 16 * 1024 * 1024,
};

/**
 * Deflate cannot expand data by more than 1032:1 (RFC 1951: a 258-byte match in at most two
 * bits); a larger declared ratio is a lie about the size.
 */
const MAX_DEFLATE_RATIO = 1032;

/**
 * A name an archive may hold: a relative path of at most 255 characters, `/`-separated, with
 * no empty, `.` or `..` segment, no backslash, no drive letter, no control characters.
 */
export function isSafeEntryName(name: string): boolean {
  if (name.length === 0 || name.length > 255) return false;
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f\\:]/.test(name)) return false;
  return name.split("/").every((segment) => segment !== "" && segment !== "." && segment !== "..");
}

const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z$/;

const ArtifactSchema = v.strictObject({
  name: v.pipe(
    v.string(),
    v.check(isSafeEntryName, "artifact names are relative paths without '..', '.', '\\' or empty segments"),
    v.check((n) => n !== MANIFEST_FILE && n !== CERTIFICATE_FILE_IN_PACKAGE, "artifact name is reserved"),
  ),
  mediaType: v.pipe(v.string(), v.minLength(1), v.maxLength(255)),
  size: v.pipe(v.number(), v.safeInteger(), v.minValue(0)),
  sha256: v.pipe(v.string(), v.regex(/^[0-9a-f]{64}$/, "sha256 is 64 lowercase hex characters")),
});

/** The shape of manifest.json that verification depends on; other members are free to grow. */
export const CaptureManifestSchema = v.looseObject({
  type: v.literal(CAPTURE_MANIFEST_TYPE),
  version: v.literal(1),
  url: v.pipe(v.string(), v.minLength(1), v.maxLength(4096)),
  finalUrl: v.pipe(v.string(), v.minLength(1)),
  startedAt: v.pipe(v.string(), v.regex(RFC3339, "times are RFC 3339 UTC")),
  finishedAt: v.pipe(v.string(), v.regex(RFC3339, "times are RFC 3339 UTC")),
  artifacts: v.pipe(
    v.array(ArtifactSchema),
    v.minLength(1),
    v.maxLength(DEFAULT_PACKAGE_LIMITS.maxEntries),
    v.check(
      (list) => list.every((a, i) => i === 0 || list[i - 1]!.name < a.name),
      "artifacts are sorted by name, each name once",
    ),
  ),
});

export type CaptureManifestJson = v.InferOutput<typeof CaptureManifestSchema>;

/** What a capture's manifest states of it, as verifiers and the certificate document show it. */
export interface CaptureFacts {
  url: string;
  /** Where the page ended up, after redirects. */
  finalUrl: string;
  /** The main document's HTTP status, when the manifest records one: a 404 page is evidence of a 404. */
  status?: number;
  title: string;
  startedAt: string;
  finishedAt: string;
}

export function captureFactsOf(manifest: CaptureManifestJson): CaptureFacts {
  const { status } = (manifest.observed ?? {}) as { status?: unknown };
  const known = typeof status === "number" && Number.isInteger(status) && status >= 100 && status <= 599;
  return {
    url: manifest.url,
    finalUrl: manifest.finalUrl,
    ...(known ? { status } : {}),
    title: typeof manifest.title === "string" ? manifest.title : "",
    startedAt: manifest.startedAt,
    finishedAt: manifest.finishedAt,
  };
}

/** Parses and checks manifest.json's bytes; throws INVALID_PACKAGE with the first reason. */
export function parseCaptureManifest(bytes: Uint8Array): CaptureManifestJson {
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch (cause) {
    throw new EvidenceError("INVALID_PACKAGE", "manifest.json is not UTF-8 JSON", { cause });
  }
  const parsed = v.safeParse(CaptureManifestSchema, json);
  if (!parsed.success) {
    const issue = parsed.issues[0];
    const where = issue.path?.map((p) => String(p.key)).join(".") ?? "";
    throw new EvidenceError("INVALID_PACKAGE", `manifest.json: ${where ? `${where}: ` : ""}${issue.message}`);
  }
  return parsed.output;
}

export interface PackageArtifact {
  name: string;
  mediaType: string;
  expectedSha256: string;
  expectedSize: number;
  /** Absent when the package does not hold the artifact. */
  actualSha256?: string;
  actualSize?: number;
  ok: boolean;
}

export interface CapturePackage {
  manifest: CaptureManifestJson;
  /** The exact bytes of manifest.json: what the certificate's contentHash is about. */
  manifestBytes: Uint8Array;
  manifestSha256: string;
  artifacts: PackageArtifact[];
  certificateText?: string;
  /** The full-page screenshot's bytes, when present and unaltered: for a verifier to show beside its verdict. */
  screenshot?: Uint8Array;
  /** Everything that is wrong but does not stop reading, in words: "screenshot.png was altered: …". */
  problems: string[];
  /** No problems: every artifact present and unaltered, nothing unlisted. */
  ok: boolean;
}

interface Entry {
  name: string;
  /** General purpose bit flags: bit 3 says a data descriptor follows the data. */
  flags: number;
  method: number;
  crc: number;
  compressedSize: number;
  size: number;
  localOffset: number;
  dataStart: number;
}

/**
 * Reads a capture package and checks every artifact against the manifest. Structural faults
 * (not a ZIP, unsafe or duplicate names, zip bombs, a missing or malformed manifest) throw
 * INVALID_PACKAGE; content faults (an altered, missing or unlisted file) are listed in
 * `problems` by name, so a verifier can say which artifact was altered.
 */
export function readCapturePackage(zip: Uint8Array, limits: PackageLimits = DEFAULT_PACKAGE_LIMITS): CapturePackage {
  const entries = centralDirectory(zip, limits);
  const byName = new Map(entries.filter((e) => !e.name.endsWith("/")).map((e) => [e.name, e]));

  const manifestEntry = byName.get(MANIFEST_FILE);
  if (!manifestEntry) throw invalid(`the package has no ${MANIFEST_FILE}`);
  if (manifestEntry.size > limits.maxDocumentBytes)
    throw invalid(`${MANIFEST_FILE} is larger than ${limits.maxDocumentBytes} bytes`);
  const problems: string[] = [];
  const manifestBytes = extract(zip, manifestEntry, problems);
  const manifest = parseCaptureManifest(manifestBytes);
  const manifestText = new TextDecoder().decode(manifestBytes);
  if (canonicalize(JSON.parse(manifestText)) !== manifestText) {
    problems.push(`${MANIFEST_FILE} is not in canonical form (RFC 8785)`);
  }

  let screenshot: Uint8Array | undefined;
  const artifacts: PackageArtifact[] = manifest.artifacts.map((expected) => {
    const base = {
      name: expected.name,
      mediaType: expected.mediaType,
      expectedSha256: expected.sha256,
      expectedSize: expected.size,
    };
    const entry = byName.get(expected.name);
    if (!entry) {
      problems.push(`${expected.name} is listed in ${MANIFEST_FILE} but missing from the package`);
      return { ...base, ok: false };
    }
    const bytes = extract(zip, entry, problems);
    const actualSha256 = bytesToHex(sha256(bytes));
    const ok = actualSha256 === expected.sha256 && bytes.length === expected.size;
    if (!ok) {
      problems.push(
        `${expected.name} was altered: SHA-256 ${actualSha256} (${bytes.length} bytes), the manifest says ${expected.sha256} (${expected.size} bytes)`,
      );
    }
    if (ok && expected.name === "screenshot.png") screenshot = bytes;
    return { ...base, actualSha256, actualSize: bytes.length, ok };
  });

  let certificateText: string | undefined;
  const certificateEntry = byName.get(CERTIFICATE_FILE_IN_PACKAGE);
  if (certificateEntry) {
    if (certificateEntry.size > limits.maxDocumentBytes) throw invalid(`${CERTIFICATE_FILE_IN_PACKAGE} is too large`);
    try {
      certificateText = new TextDecoder("utf-8", { fatal: true }).decode(extract(zip, certificateEntry, problems));
    } catch (cause) {
      throw new EvidenceError("INVALID_PACKAGE", `${CERTIFICATE_FILE_IN_PACKAGE} is not UTF-8`, { cause });
    }
  }

  const listed = new Set([MANIFEST_FILE, CERTIFICATE_FILE_IN_PACKAGE, ...manifest.artifacts.map((a) => a.name)]);
  for (const name of byName.keys()) {
    if (!listed.has(name)) problems.push(`${name} is in the package but not listed in ${MANIFEST_FILE}`);
  }
  const manifestSha256 = bytesToHex(sha256(manifestBytes));
  return {
    manifest,
    manifestBytes,
    manifestSha256,
    artifacts,
    ...(certificateText === undefined ? {} : { certificateText }),
    ...(screenshot === undefined ? {} : { screenshot }),
    problems,
    ok: problems.length === 0,
  };
}

function invalid(message: string): EvidenceError {
  return new EvidenceError("INVALID_PACKAGE", message);
}

/** The end of central directory record (APPNOTE §4.3.16), searched backwards past a comment. */
function endOfCentralDirectory(zip: Uint8Array, view: DataView): number {
  const last = zip.length - 22;
  for (let at = last; at >= 0 && at >= last - 0xffff; at--) {
    if (view.getUint32(at, true) === 0x06054b50 && at + 22 + view.getUint16(at + 20, true) === zip.length) return at;
  }
  throw invalid("not a ZIP file (no end of central directory record)");
}

function centralDirectory(zip: Uint8Array, limits: PackageLimits): Entry[] {
  const view = new DataView(zip.buffer, zip.byteOffset, zip.byteLength);
  if (zip.length < 22) throw invalid("not a ZIP file (too short)");
  const eocd = endOfCentralDirectory(zip, view);
  const disk = view.getUint16(eocd + 4, true);
  const cdDisk = view.getUint16(eocd + 6, true);
  const onDisk = view.getUint16(eocd + 8, true);
  const count = view.getUint16(eocd + 10, true);
  const cdSize = view.getUint32(eocd + 12, true);
  const cdOffset = view.getUint32(eocd + 16, true);
  if (disk !== 0 || cdDisk !== 0 || onDisk !== count) throw invalid("multi-disk ZIP files are not packages");
  if (count === 0xffff || cdOffset === 0xffffffff || cdSize === 0xffffffff) throw invalid("ZIP64 is not supported");
  if (count > limits.maxEntries) throw invalid(`more than ${limits.maxEntries} entries`);
  if (cdOffset + cdSize > eocd) throw invalid("the central directory lies outside the file");
  // One reading for every reader: ZIP tools differ in where they look for the end record and
  // whether they read the directory or walk the local headers, so a package whose bytes
  // could be read two ways (a second end record in the comment, entries no directory lists,
  // bytes between records) is refused, never judged by one reading.
  if (cdOffset + cdSize !== eocd) throw invalid("bytes lie between the central directory and its end record");
  if (containsSignature(zip.subarray(eocd + 22))) throw invalid("the ZIP comment holds another ZIP record");

  const decoder = new TextDecoder("utf-8", { fatal: true });
  const entries: Entry[] = [];
  const seen = new Set<string>();
  let total = 0;
  let at = cdOffset;
  for (let i = 0; i < count; i++) {
    if (at + 46 > cdOffset + cdSize || view.getUint32(at, true) !== 0x02014b50)
      throw invalid("a damaged central directory");
    const flags = view.getUint16(at + 8, true);
    const method = view.getUint16(at + 10, true);
    const crc = view.getUint32(at + 16, true);
    const compressedSize = view.getUint32(at + 20, true);
    const size = view.getUint32(at + 24, true);
    const nameLength = view.getUint16(at + 28, true);
    const extraLength = view.getUint16(at + 30, true);
    const commentLength = view.getUint16(at + 32, true);
    const localOffset = view.getUint32(at + 42, true);
    if (at + 46 + nameLength > cdOffset + cdSize) throw invalid("a damaged central directory");
    let name: string;
    try {
      name = decoder.decode(zip.subarray(at + 46, at + 46 + nameLength));
    } catch {
      throw invalid("an entry name is not UTF-8");
    }
    at += 46 + nameLength + extraLength + commentLength;

    const directory = name.endsWith("/");
    if (!isSafeEntryName(directory ? name.slice(0, -1) : name))
      throw invalid(`unsafe entry name ${JSON.stringify(name)}`);
    // Names equal after case folding collide on case-insensitive file systems when extracted.
    const key = name.normalize("NFC").toLowerCase();
    if (seen.has(key)) throw invalid(`duplicate entry name ${JSON.stringify(name)}`);
    seen.add(key);
    if (flags & 0x0001) throw invalid(`${name} is encrypted`);
    if (method !== 0 && method !== 8) throw invalid(`${name} uses compression method ${method}`);
    if (method === 0 && compressedSize !== size) throw invalid(`${name}: a stored entry with two sizes`);
    if (method === 8 && size > compressedSize * MAX_DEFLATE_RATIO + 1024) {
      throw invalid(`${name} claims a compression ratio deflate cannot produce (a zip bomb)`);
    }
    total += size;
    if (total > limits.maxTotalBytes)
      throw invalid(`the entries hold more than ${limits.maxTotalBytes} bytes (a zip bomb)`);

    // The local header (APPNOTE §4.3.7) must agree on the name; its data follows it.
    if (localOffset + 30 > cdOffset || view.getUint32(localOffset, true) !== 0x04034b50) {
      throw invalid(`${name}: no local header where the central directory points`);
    }
    const localNameLength = view.getUint16(localOffset + 26, true);
    const localExtraLength = view.getUint16(localOffset + 28, true);
    const localName = zip.subarray(localOffset + 30, localOffset + 30 + localNameLength);
    if (localNameLength !== nameLength || decoder.decode(localName) !== name) {
      throw invalid(`${name}: the local header names another file`);
    }
    const dataStart = localOffset + 30 + localNameLength + localExtraLength;
    if (dataStart + compressedSize > cdOffset) throw invalid(`${name}: its data runs past the central directory`);
    entries.push({ name, flags, method, crc, compressedSize, size, localOffset, dataStart });
  }

  if (at !== cdOffset + cdSize) throw invalid("the central directory holds more than its entries");

  // The entries, each followed by its data descriptor when it has one, fill the file from its
  // first byte to the central directory: nothing hides between them, and none shares bytes
  // with another (overlapping files are how the densest zip bombs are built).
  let next = 0;
  let previous: Entry | undefined;
  for (const entry of [...entries].sort((a, b) => a.localOffset - b.localOffset)) {
    if (previous && entry.localOffset < next) throw invalid(`${entry.name} overlaps ${previous.name}`);
    if (entry.localOffset !== next) throw invalid(`bytes no entry covers lie before ${entry.name}`);
    next = entry.dataStart + entry.compressedSize;
    if (entry.flags & 0x0008) next += dataDescriptorLength(view, next);
    previous = entry;
  }
  if (next !== cdOffset) throw invalid("bytes no entry covers lie before the central directory");
  return entries;
}

/** A data descriptor (APPNOTE §4.3.9): CRC-32 and both sizes, with or without its signature. */
function dataDescriptorLength(view: DataView, at: number): number {
  return at + 4 <= view.byteLength && view.getUint32(at, true) === 0x08074b50 ? 16 : 12;
}

/** Whether the bytes hold the signature of a ZIP record ("PK" and a record type). */
function containsSignature(bytes: Uint8Array): boolean {
  for (let i = 0; i + 3 < bytes.length; i++) {
    if (bytes[i] === 0x50 && bytes[i + 1] === 0x4b && bytes[i + 2]! <= 0x08 && bytes[i + 3]! <= 0x08) return true;
  }
  return false;
}

/**
 * The bytes of an entry. A CRC-32 or length that disagrees with the directory is reported, not
 * thrown: the SHA-256 comparison then names the altered file, which is what a verifier needs.
 */
function extract(zip: Uint8Array, entry: Entry, problems: string[]): Uint8Array {
  const data = zip.subarray(entry.dataStart, entry.dataStart + entry.compressedSize);
  let bytes: Uint8Array;
  if (entry.method === 0) bytes = data;
  else {
    try {
      // The output buffer has the declared size: inflation never allocates more, whatever the stream holds.
      bytes = inflateSync(data, { out: new Uint8Array(entry.size) });
    } catch (cause) {
      throw new EvidenceError("INVALID_PACKAGE", `${entry.name}: damaged deflate data`, { cause });
    }
  }
  if (bytes.length !== entry.size || crc32(bytes) !== entry.crc) {
    problems.push(`${entry.name}: its CRC-32 or length does not match the ZIP directory`);
  }
  return bytes;
}

let CRC_TABLE: Uint32Array | undefined;

/** CRC-32 as ZIP uses it (ISO 3309, reflected polynomial 0xEDB88320). */
function crc32(bytes: Uint8Array): number {
  if (!CRC_TABLE) {
    CRC_TABLE = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      CRC_TABLE[n] = c >>> 0;
    }
  }
  let crc = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) crc = CRC_TABLE[(crc ^ bytes[i]!) & 0xff]! ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}
