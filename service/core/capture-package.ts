import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex, concatBytes } from "@noble/hashes/utils.js";
import { Inflate } from "fflate";
import * as v from "valibot";
import { equalBytes } from "./bytes.ts";
import { JsonTooDeepError, parseJson } from "./json.ts";
import { EvidenceError, isEvidenceError } from "./errors.ts";
import { canonicalize } from "./jcs.ts";
import { crc32, createSha256 } from "./stream-hash.ts";

/**
 * Reading a capture package (docs/protocol.md §9) without trusting it: the same code in the service, the
 * CLI and the verification page. The ZIP comes from whoever hands it to a court, so every
 * structure in it is attacker-controlled: the reader walks the central directory itself
 * (APPNOTE.TXT 6.3.x §4.3) instead of trusting a library's map of names, and refuses what a
 * forger or a zip bomb would need — duplicate names (two readers would see two different
 * files), names that climb out of a directory, overlapping entries, declared sizes beyond the
 * limits or beyond what deflate can produce, encryption, ZIP64, CRC-32 mismatches.
 *
 * The package is read by ranges, never whole: a capture with a long video can be larger than a
 * verifier may hold in memory, and it is verified all the same, one chunk at a time.
 */

/**
 * A file name as file systems may have changed it: composed (NFC; macOS writes names
 * decomposed) and lower-cased (a case-insensitive file system may change the case). Names
 * equal so collide when extracted, and are the same name to a reader looking for one.
 */
export function foldedName(name: string): string {
  return name.normalize("NFC").toLowerCase();
}

/** Bytes read by range: a file on disk, a file in the browser, or bytes in memory. */
export interface ByteSource {
  readonly size: number;
  /** The `length` bytes at `offset`; both lie within `size`. Fails with EvidenceError UNREADABLE. */
  read(offset: number, length: number): Promise<Uint8Array>;
}

/** Bytes in memory as a source. */
export function bytesSource(bytes: Uint8Array): ByteSource {
  return { size: bytes.length, read: (offset, length) => Promise.resolve(bytes.subarray(offset, offset + length)) };
}

/** How much of an entry is read at a time: memory stays bounded whatever the package's size. */
const READ_CHUNK = 1024 * 1024;
/**
 * Compressed bytes handed to the inflater at a time: deflate expands at most 1032:1, so one
 * push produces at most 16.5 MiB (fflate's growing buffer holds up to about three times that
 * for a moment), even from a stream that lies about its size.
 */
const INFLATE_CHUNK = 16 * 1024;
/** A screenshot larger than this is checked but not kept for showing beside the verdict. */
const MAX_SHOWN_SCREENSHOT_BYTES = 64 * 1024 * 1024;

/**
 * A Blob as a source: a file the browser was given, or a file on disk (Node's `fs.openAsBlob`),
 * read by ranges. A file changed after it was opened fails to read, never reads as other bytes.
 */
export function blobSource(blob: Blob): ByteSource {
  return guarded({
    size: blob.size,
    read: async (offset, length) => new Uint8Array(await blob.slice(offset, offset + length).arrayBuffer()),
  });
}

/**
 * A source whose failed reads are EvidenceError UNREADABLE, whatever the source threw: a file
 * changed, removed or unreadable since it was opened says nothing of a package, so a verifier
 * says it could not verify, never that the package is damaged.
 */
export function guarded(source: ByteSource): ByteSource {
  if (GUARDED.has(source)) return source;
  const safe: ByteSource = {
    size: source.size,
    read: async (offset, length) => {
      try {
        return await source.read(offset, length);
      } catch (cause) {
        if (isEvidenceError(cause, "UNREADABLE")) throw cause;
        const why = cause instanceof Error ? `${cause.name}: ${cause.message}` : String(cause);
        throw new EvidenceError("UNREADABLE", `reading it failed (${why})`, { cause });
      }
    },
  };
  GUARDED.add(safe);
  return safe;
}

const GUARDED = new WeakSet<ByteSource>();

/**
 * A source's bytes, a chunk at a time (through its guard), each chunk after the first also
 * holding the `overlap` bytes before it: what is searched for across a chunk's edge is found.
 */
export async function* chunksOf(source: ByteSource, overlap = 0): AsyncGenerator<Uint8Array> {
  const safe = guarded(source);
  for (let at = 0; at < safe.size; at += READ_CHUNK) {
    const from = Math.max(0, at - overlap);
    yield await safe.read(from, Math.min(at + READ_CHUNK, safe.size) - from);
  }
}

/** SHA-256 of a source, read a chunk at a time. */
export async function sha256OfSource(source: ByteSource): Promise<string> {
  const hash = createSha256();
  for await (const chunk of chunksOf(source)) hash.update(chunk);
  return hash.digestHex();
}

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

/** APPNOTE 6.3, the version this reading implements, as "version needed to extract" writes it. */
const MAX_VERSION_NEEDED = 63;

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
    json = parseJson(new TextDecoder("utf-8", { fatal: true }).decode(bytes), "manifest.json");
  } catch (cause) {
    const why = cause instanceof JsonTooDeepError ? cause.message : "manifest.json is not UTF-8 JSON";
    throw new EvidenceError("INVALID_PACKAGE", why, { cause });
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
  /** General purpose bit flags: bit 3 says a data descriptor follows the data (in the directory or the local header). */
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
 * `problems` by name, so a verifier can say which artifact was altered. Memory stays bounded
 * by the manifest, the certificate and the screenshot kept for showing, whatever the size of
 * the package.
 */
export async function readCapturePackage(
  zip: Uint8Array | ByteSource,
  limits: PackageLimits = DEFAULT_PACKAGE_LIMITS,
): Promise<CapturePackage> {
  const source = zip instanceof Uint8Array ? bytesSource(zip) : guarded(zip);
  const entries = await centralDirectory(source, limits);
  const byName = new Map(entries.filter((e) => !e.name.endsWith("/")).map((e) => [e.name, e]));

  const manifestEntry = byName.get(MANIFEST_FILE);
  if (!manifestEntry) throw invalid(`the package has no ${MANIFEST_FILE}`);
  if (manifestEntry.size > limits.maxDocumentBytes)
    throw invalid(`${MANIFEST_FILE} is larger than ${limits.maxDocumentBytes} bytes`);
  const problems: string[] = [];
  const manifestBytes = await extract(source, manifestEntry, problems);
  const manifest = parseCaptureManifest(manifestBytes);
  const manifestText = new TextDecoder().decode(manifestBytes);
  if (canonicalize(JSON.parse(manifestText)) !== manifestText) {
    problems.push(`${MANIFEST_FILE} is not in canonical form (RFC 8785)`);
  }

  let screenshot: Uint8Array | undefined;
  const artifacts: PackageArtifact[] = [];
  for (const expected of manifest.artifacts) {
    const base = {
      name: expected.name,
      mediaType: expected.mediaType,
      expectedSha256: expected.sha256,
      expectedSize: expected.size,
    };
    const entry = byName.get(expected.name);
    if (!entry) {
      problems.push(`${expected.name} is listed in ${MANIFEST_FILE} but missing from the package`);
      artifacts.push({ ...base, ok: false });
      continue;
    }
    const shown = expected.name === "screenshot.png" && entry.size <= MAX_SHOWN_SCREENSHOT_BYTES;
    const kept: Uint8Array[] = [];
    const hash = createSha256();
    const actualSize = await inflateEntry(source, entry, problems, (chunk) => {
      hash.update(chunk);
      if (shown) kept.push(chunk.slice());
    });
    const actualSha256 = hash.digestHex();
    const ok = actualSha256 === expected.sha256 && actualSize === expected.size;
    if (!ok) {
      problems.push(
        `${expected.name} was altered: SHA-256 ${actualSha256} (${actualSize} bytes), the manifest says ${expected.sha256} (${expected.size} bytes)`,
      );
    }
    if (ok && shown) screenshot = kept.length === 1 ? kept[0] : concatBytes(...kept);
    artifacts.push({ ...base, actualSha256, actualSize, ok });
  }

  let certificateText: string | undefined;
  const certificateEntry = byName.get(CERTIFICATE_FILE_IN_PACKAGE);
  if (certificateEntry) {
    if (certificateEntry.size > limits.maxDocumentBytes) throw invalid(`${CERTIFICATE_FILE_IN_PACKAGE} is too large`);
    const bytes = await extract(source, certificateEntry, problems);
    try {
      certificateText = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
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

function view(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/**
 * The end of central directory record (APPNOTE §4.3.16), searched backwards past a comment,
 * in the file's last bytes (`tail`, which ends where the file does): its offset in `tail`.
 */
function endOfCentralDirectory(tail: Uint8Array): number {
  const at22 = view(tail);
  const last = tail.length - 22;
  for (let at = last; at >= 0 && at >= last - 0xffff; at--) {
    if (at22.getUint32(at, true) === 0x06054b50 && at + 22 + at22.getUint16(at + 20, true) === tail.length) return at;
  }
  throw invalid("not a ZIP file (no end of central directory record)");
}

async function centralDirectory(source: ByteSource, limits: PackageLimits): Promise<Entry[]> {
  if (source.size < 22) throw invalid("not a ZIP file (too short)");
  const tailLength = Math.min(source.size, 22 + 0xffff);
  const tailStart = source.size - tailLength;
  const tail = await source.read(tailStart, tailLength);
  const end = endOfCentralDirectory(tail);
  const eocd = tailStart + end;
  const record = view(tail);
  const disk = record.getUint16(end + 4, true);
  const cdDisk = record.getUint16(end + 6, true);
  const onDisk = record.getUint16(end + 8, true);
  const count = record.getUint16(end + 10, true);
  const cdSize = record.getUint32(end + 12, true);
  const cdOffset = record.getUint32(end + 16, true);
  if (disk !== 0 || cdDisk !== 0 || onDisk !== count) throw invalid("multi-disk ZIP files are not packages");
  if (count === 0xffff || cdOffset === 0xffffffff || cdSize === 0xffffffff) throw invalid("ZIP64 is not supported");
  if (count > limits.maxEntries) throw invalid(`more than ${limits.maxEntries} entries`);
  if (cdOffset + cdSize > eocd) throw invalid("the central directory lies outside the file");
  // One reading for every reader: ZIP tools differ in where they look for the end record and
  // whether they read the directory or walk the local headers, so a package whose bytes
  // could be read two ways (a second end record in the comment, entries no directory lists,
  // bytes between records) is refused, never judged by one reading.
  if (cdOffset + cdSize !== eocd) throw invalid("bytes lie between the central directory and its end record");
  if (containsSignature(tail.subarray(end + 22))) throw invalid("the ZIP comment holds another ZIP record");
  // A package's directory is a few hundred bytes an entry; it is read whole, so it is bounded.
  if (cdSize > limits.maxDocumentBytes)
    throw invalid(`the central directory is larger than ${limits.maxDocumentBytes} bytes`);
  const directory = await source.read(cdOffset, cdSize);
  const cd = view(directory);

  const decoder = new TextDecoder("utf-8", { fatal: true });
  const entries: Entry[] = [];
  const seen = new Set<string>();
  const files = new Set<string>();
  let total = 0;
  let at = 0;
  for (let i = 0; i < count; i++) {
    if (at + 46 > cdSize || cd.getUint32(at, true) !== 0x02014b50) throw invalid("a damaged central directory");
    const versionNeeded = cd.getUint8(at + 6);
    const flags = cd.getUint16(at + 8, true);
    const method = cd.getUint16(at + 10, true);
    const crc = cd.getUint32(at + 16, true);
    const compressedSize = cd.getUint32(at + 20, true);
    const size = cd.getUint32(at + 24, true);
    const nameLength = cd.getUint16(at + 28, true);
    const extraLength = cd.getUint16(at + 30, true);
    const commentLength = cd.getUint16(at + 32, true);
    const localOffset = cd.getUint32(at + 42, true);
    if (at + 46 + nameLength > cdSize) throw invalid("a damaged central directory");
    const nameBytes = directory.subarray(at + 46, at + 46 + nameLength);
    let name: string;
    try {
      name = decoder.decode(nameBytes);
    } catch {
      throw invalid("an entry name is not UTF-8");
    }
    at += 46 + nameLength + extraLength + commentLength;

    const isDirectory = name.endsWith("/");
    if (!isSafeEntryName(isDirectory ? name.slice(0, -1) : name))
      throw invalid(`unsafe entry name ${JSON.stringify(name)}`);
    // Names equal after case folding collide on case-insensitive file systems when extracted;
    // a directory entry collides with a file of its name ("screenshot.png/" and
    // "screenshot.png": unzip makes the directory and cannot write the file).
    const key = foldedName(isDirectory ? name.slice(0, -1) : name);
    if (seen.has(key)) throw invalid(`duplicate entry name ${JSON.stringify(name)}`);
    seen.add(key);
    // A directory entry is passed over, so it must hold nothing a reader could be shown: no
    // bytes, and no more than the two bytes of an empty deflate stream.
    if (isDirectory && (size !== 0 || compressedSize > 2)) {
      throw invalid(`the directory entry ${JSON.stringify(name)} holds data`);
    }
    if (flags & 0x0001) throw invalid(`${name} is encrypted`);
    // Readers refuse an entry that needs a later version of the format than they know
    // (Python's zipfile past 6.3): one reader would show it, another none.
    if (versionNeeded > MAX_VERSION_NEEDED) throw invalid(`${name} needs ZIP version ${versionNeeded / 10} to extract`);
    if (method !== 0 && method !== 8) throw invalid(`${name} uses compression method ${method}`);
    if (method === 0 && compressedSize !== size) throw invalid(`${name}: a stored entry with two sizes`);
    if (method === 8 && size > compressedSize * MAX_DEFLATE_RATIO + 1024) {
      throw invalid(`${name} claims a compression ratio deflate cannot produce (a zip bomb)`);
    }
    total += size;
    if (total > limits.maxTotalBytes)
      throw invalid(`the entries hold more than ${limits.maxTotalBytes} bytes (a zip bomb)`);

    // The local header (APPNOTE §4.3.7) must agree on the name; its data follows it.
    if (localOffset + 30 > cdOffset) throw invalid(`${name}: no local header where the central directory points`);
    const local = await source.read(localOffset, Math.min(30 + nameLength, cdOffset - localOffset));
    const header = view(local);
    if (header.getUint32(0, true) !== 0x04034b50) {
      throw invalid(`${name}: no local header where the central directory points`);
    }
    const localNameLength = header.getUint16(26, true);
    const localExtraLength = header.getUint16(28, true);
    if (localNameLength !== nameLength || !equalBytes(local.subarray(30), nameBytes)) {
      throw invalid(`${name}: the local header names another file`);
    }
    // Readers that walk the local headers (streaming ones) take the method and sizes from
    // there: they must say what the directory says. With a data descriptor (flag 3) the
    // header's CRC and sizes may be zeros, the descriptor's then following the data. Sizes of
    // 0xFFFFFFFF are in the header's ZIP64 extra field (APPNOTE 4.5.3: both of them, there),
    // which some writers add to every entry, even a small one.
    const localFlags = header.getUint16(6, true);
    const described = (localFlags & 0x0008) !== 0;
    const agrees = (stated: number, value: number) => stated === value || (described && stated === 0);
    let localCompressed = header.getUint32(18, true);
    let localSize = header.getUint32(22, true);
    if ((localCompressed === 0xffffffff || localSize === 0xffffffff) && cdOffset - localOffset >= 30 + nameLength) {
      const extra = await source.read(
        localOffset + 30 + nameLength,
        Math.min(localExtraLength, cdOffset - localOffset - 30 - nameLength),
      );
      // Only a field that says 0xFFFFFFFF is taken from there; the other is what it says.
      const zip64 = zip64Sizes(extra);
      if (zip64 !== undefined && localSize === 0xffffffff) localSize = zip64[0];
      if (zip64 !== undefined && localCompressed === 0xffffffff) localCompressed = zip64[1];
    }
    if (
      header.getUint8(4) > MAX_VERSION_NEEDED ||
      header.getUint16(8, true) !== method ||
      (localFlags & 0x0001) !== 0 ||
      !agrees(header.getUint32(14, true), crc) ||
      !agrees(localCompressed, compressedSize) ||
      !agrees(localSize, size)
    ) {
      throw invalid(`${name}: the local header and the central directory describe it differently`);
    }
    const dataStart = localOffset + 30 + localNameLength + localExtraLength;
    if (dataStart + compressedSize > cdOffset) throw invalid(`${name}: its data runs past the central directory`);
    entries.push({
      name,
      flags: flags | (localFlags & 0x0008),
      method,
      crc,
      compressedSize,
      size,
      localOffset,
      dataStart,
    });
    if (!isDirectory) files.add(key);
  }

  if (at !== cdSize) throw invalid("the central directory holds more than its entries");
  // A file's folders are not files: "a" and "a/b" cannot both be extracted.
  for (const entry of entries) {
    const segments = entry.name.replace(/\/$/, "").split("/");
    for (let depth = 1; depth < segments.length; depth++) {
      const folder = segments.slice(0, depth).join("/");
      if (files.has(foldedName(folder))) {
        throw invalid(`${JSON.stringify(folder)} is both a file and a folder of ${JSON.stringify(entry.name)}`);
      }
    }
  }

  // The entries, each followed by its data descriptor when it has one, fill the file from its
  // first byte to the central directory: nothing hides between them, and none shares bytes
  // with another (overlapping files are how the densest zip bombs are built).
  let next = 0;
  let previous: Entry | undefined;
  for (const entry of [...entries].sort((a, b) => a.localOffset - b.localOffset)) {
    if (previous && entry.localOffset < next) throw invalid(`${entry.name} overlaps ${previous.name}`);
    if (entry.localOffset !== next) throw invalid(`bytes no entry covers lie before ${entry.name}`);
    next = entry.dataStart + entry.compressedSize;
    if (entry.flags & 0x0008) next += await dataDescriptorLength(source, next);
    previous = entry;
  }
  if (next !== cdOffset) throw invalid("bytes no entry covers lie before the central directory");
  return entries;
}

/** A data descriptor (APPNOTE §4.3.9): CRC-32 and both sizes, with or without its signature. */
async function dataDescriptorLength(source: ByteSource, at: number): Promise<number> {
  if (at + 4 > source.size) return 12;
  return view(await source.read(at, 4)).getUint32(0, true) === 0x08074b50 ? 16 : 12;
}

/** Whether the bytes hold the signature of a ZIP record ("PK" and a record type). */
function containsSignature(bytes: Uint8Array): boolean {
  for (let i = 0; i + 3 < bytes.length; i++) {
    if (bytes[i] === 0x50 && bytes[i + 1] === 0x4b && bytes[i + 2]! <= 0x08 && bytes[i + 3]! <= 0x08) return true;
  }
  return false;
}

/** The whole of a small entry (the manifest, the certificate), as `inflateEntry` reads it. */
async function extract(source: ByteSource, entry: Entry, problems: string[]): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  await inflateEntry(source, entry, problems, (chunk) => chunks.push(chunk.slice()));
  return chunks.length === 1 ? chunks[0]! : concatBytes(...chunks);
}

/**
 * Hands an entry's bytes to `onChunk`, a chunk at a time, and returns how many there were.
 * Never more than the declared size: a stream that inflates further stops there, and the lie
 * shows as an altered file. A CRC-32 or length that disagrees with the directory is reported,
 * not thrown: the SHA-256 comparison then names the altered file, which is what a verifier
 * needs. Deflate data that cannot be inflated, or that ends before the entry's compressed
 * bytes do, is a damaged package (the bytes after it are bytes no reader extracts). A read
 * that fails is thrown as it is (UNREADABLE): it says nothing of the package.
 */
async function inflateEntry(
  source: ByteSource,
  entry: Entry,
  problems: string[],
  onChunk: (chunk: Uint8Array) => void,
): Promise<number> {
  let length = 0;
  let crc = 0;
  let overflow = false;
  const take = (chunk: Uint8Array) => {
    const room = entry.size - length;
    if (chunk.length > room) overflow = true;
    const kept = chunk.length > room ? chunk.subarray(0, room) : chunk;
    if (kept.length === 0) return;
    crc = crc32(kept, crc);
    length += kept.length;
    onChunk(kept);
  };
  const inflater = entry.method === 8 ? new Inflate((chunk) => take(chunk)) : undefined;
  const damaged = (why: string, cause?: unknown) =>
    new EvidenceError("INVALID_PACKAGE", `${entry.name}: ${why}`, { cause });
  const push = (piece: Uint8Array, final: boolean) => {
    try {
      inflater!.push(piece, final);
    } catch (cause) {
      throw damaged("damaged deflate data", cause);
    }
  };
  const early = earlyDescriptors(entry);
  const end = entry.dataStart + entry.compressedSize;
  // The next chunk is read while this one is hashed, so that the disk and the CPU work at
  // once; a read left pending when the entry stops early is never awaited, and its failure
  // is not an unhandled rejection.
  const readAt = (at: number) => {
    const read = source.read(at, Math.min(READ_CHUNK, end - at));
    read.catch(() => undefined);
    return read;
  };
  let next = entry.dataStart < end ? readAt(entry.dataStart) : undefined;
  for (let at = entry.dataStart; at < end && !overflow; at += READ_CHUNK) {
    const data = await next!;
    next = at + READ_CHUNK < end ? readAt(at + READ_CHUNK) : undefined;
    if (!inflater) {
      if (entry.flags & 0x0008) early.scan(data);
      take(data);
      continue;
    }
    for (let i = 0; i < data.length && !overflow; i += INFLATE_CHUNK) {
      const piece = data.subarray(i, i + INFLATE_CHUNK);
      const last = at + i + piece.length === end;
      push(piece, last);
      if (!last && deflateEnded(inflater)) throw damaged("bytes follow the end of its deflate data");
    }
  }
  if (inflater && entry.compressedSize === 0) push(new Uint8Array(0), true);
  if (inflater && !overflow && trailingBytes(inflater) > 0) throw damaged("bytes follow the end of its deflate data");
  if (overflow || length !== entry.size || crc !== entry.crc) {
    problems.push(`${entry.name}: its CRC-32 or length does not match the ZIP directory`);
  }
  return length;
}

/**
 * The uncompressed and compressed sizes a local header's ZIP64 extra field (id 0x0001) gives,
 * in that order; undefined when it has none, or sizes no package can have.
 */
function zip64Sizes(extra: Uint8Array): [number, number] | undefined {
  const fields = new DataView(extra.buffer, extra.byteOffset, extra.byteLength);
  for (let at = 0; at + 4 <= extra.length;) {
    const id = fields.getUint16(at, true);
    const length = fields.getUint16(at + 2, true);
    if (id === 0x0001 && length >= 16 && at + 4 + 16 <= extra.length) {
      const size = fields.getBigUint64(at + 4, true);
      const compressed = fields.getBigUint64(at + 12, true);
      if (size > BigInt(Number.MAX_SAFE_INTEGER) || compressed > BigInt(Number.MAX_SAFE_INTEGER)) return undefined;
      return [Number(size), Number(compressed)];
    }
    at += 4 + length;
  }
  return undefined;
}

/**
 * A stored entry followed by a data descriptor has no size a reader of a stream can know: it
 * reads until a descriptor signature (PK 07 08) whose compressed size is the bytes read so far
 * (libarchive). Bytes of the data that look so would end the entry there for such a reader,
 * and what follows would be read as other entries: a package holding them is refused. By
 * chance they occur with odds of 2^-64 a byte.
 */
function earlyDescriptors(entry: Entry): { scan(chunk: Uint8Array): void } {
  // A descriptor is the signature and at most 20 bytes: the last 23 bytes are looked at again.
  const KEEP = 23;
  let carry = new Uint8Array(0);
  let carryStart = 0;
  return {
    scan(chunk: Uint8Array) {
      const window = carry.length === 0 ? chunk : concatBytes(carry, chunk);
      const view = new DataView(window.buffer, window.byteOffset, window.byteLength);
      for (let q = window.indexOf(0x50); q >= 0 && q + 12 <= window.length; q = window.indexOf(0x50, q + 1)) {
        if (window[q + 1] !== 0x4b || window[q + 2] !== 0x07 || window[q + 3] !== 0x08) continue;
        const position = carryStart + q;
        const size32 = view.getUint32(q + 8, true);
        const size64 = q + 16 <= window.length ? view.getBigUint64(q + 8, true) : undefined;
        if (size32 === position || size64 === BigInt(position)) {
          throw new EvidenceError(
            "INVALID_PACKAGE",
            `${entry.name}: its data holds a data descriptor for its first ${position} bytes, where readers of a stream would end it`,
          );
        }
      }
      const kept = Math.min(KEEP, window.length);
      carry = window.slice(window.length - kept);
      carryStart += window.length - kept;
    },
  };
}

/**
 * What fflate's streaming inflater (0.8) knows of where its stream ended, read from its state:
 * `s.f` is set once the final block has begun and `s.l` cleared once a block is done, the
 * condition under which fflate itself stops reading; `p` holds the input not consumed, from
 * the byte holding bit `s.p` on. Past the end, more pushes would only be copied again and
 * again (time quadratic in their length), so the reader stops at the end and refuses what
 * follows. test/capture/package.test.ts pins this reading.
 */
interface InflaterState {
  s: { f?: number; l?: unknown; p?: number };
  p: Uint8Array;
}

function deflateEnded(inflater: Inflate): boolean {
  const { s } = inflater as unknown as InflaterState;
  return Boolean(s.f) && !s.l;
}

/** Bytes pushed after the end of the stream, once it has ended (0 before). */
function trailingBytes(inflater: Inflate): number {
  if (!deflateEnded(inflater)) return 0;
  const { s, p } = inflater as unknown as InflaterState;
  return Math.max(0, p.length - (s.p ? 1 : 0));
}
