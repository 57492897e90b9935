import { createHash, randomUUID } from "node:crypto";
import { createWriteStream, mkdirSync, openAsBlob, rm, statfsSync, type WriteStream } from "node:fs";
import path from "node:path";
import { Router, type Request } from "express";
import multer from "multer";
import {
  beginsAsJson,
  blobSource,
  CERTIFICATE_TYPE,
  duplicateKeys,
  parseJson,
  isPdf,
  isZip,
  langOf,
  malformedResult,
  OutageReader,
  typedDigest,
  MAX_CERTIFICATE_BYTES,
  MAX_CERTIFICATES_PER_VERIFY,
  MAX_DOCUMENT_BYTES,
  verificationJson,
  type EvidenceInput,
  type EvidenceOptions,
  type ChainReader,
  type Lang,
  type VerificationJson,
  type VerificationResult,
} from "../../core/index.ts";
import { rateLimit, type TokenBuckets } from "../auth.ts";
import { budgetedText } from "../budgeted-text.ts";
import type { ByteBudget } from "../byte-budget.ts";
import { bodyDeadline, contentLengthLimit } from "../connection-limits.ts";
import { inOrder } from "../../in-order.ts";
import { HttpProblem } from "../problem.ts";
import { ConcurrencyLimit } from "../concurrency-limit.ts";
import { fileAsTextField, notUtf8, REPLACEMENT_CHARACTER, refuseContentEncoding } from "../validation.ts";

/**
 * POST /api/v1/verify: public. A certificate as JSON `{certificate, sha256?}`, many as
 * `{certificates: [...]}` (up to 1,000), or multipart with a `certificate` part (the JSON
 * certificate, its PDF document or a capture package) and an optional `file`, which is
 * hashed as it streams and never stored. Answers the verdict of docs/protocol.md §8, in the language
 * asked for (`?lang=zh`, or Accept-Language).
 *
 * Anonymous, so what it costs is charged to the client's address before it is spent, whatever
 * the answer: what is read whole and parsed (a JSON body, a multipart body's certificate and
 * fields) one unit per 8 KiB begun, before it is parsed (a JSON body that says its length pays
 * for it before it is read, any other body one unit then); a list one unit per certificate
 * beyond that.
 */
export type Verify = (
  input: EvidenceInput,
  options?: Pick<EvidenceOptions, "fileDigest" | "digestGiven" | "packageFile" | "unreadPackage"> & {
    /** How this request reads the chain: given the verifier's reader, the one to use. */
    readThrough?: (chain: ChainReader) => ChainReader;
  },
) => Promise<VerificationResult>;

export function verifyRoutes(
  verify: Verify,
  options: {
    fileSizeBytes: number;
    anonymous: TokenBuckets;
    /** Memory all verify requests may hold for bodies at once. */
    buffers: ByteBudget;
    /** Where a capture package too large to hold in memory is written to be read, within its budget of disk. */
    spool?: { dir: string; budget: ByteBudget; diskReserveBytes: number };
    /** How many capture packages are read at once (default 4); more wait their turn. */
    packageReads?: number;
    /** A JSON body must arrive whole within this, else 408 and its connection is closed. */
    jsonBodyTimeoutMs: number;
  },
): Router {
  const router = Router({ caseSensitive: true, strict: true });
  // Capture packages are read a few at a time: each read holds tens of megabytes for a moment.
  const packageReads = new ConcurrencyLimit(options.packageReads ?? 4);
  const upload = multer({
    storage: {
      _handleFile(req, file, cb) {
        const hash = createHash("sha256");
        const chunks: Buffer[] = [];
        let size = 0;
        const keep = file.fieldname === "certificate";
        // A file that is a capture package is compared as a package, so its bytes are kept too
        // (as long as a package may be); any other file is only hashed. Its first four bytes
        // decide, however the body is cut into chunks; what was kept before is given back. A
        // package too large to hold in memory is written to the spool directory, within its
        // budget, and read from there by ranges; one that does not fit there either is said to
        // be one, so that it is not judged by its hash.
        let keepPackage = true;
        let packageTooLarge = false;
        let spool: { file: string; out: WriteStream; failed: boolean } | undefined;
        const res = req.res!;
        let sinceDiskChecked = 0;
        const startSpool = (earlier: number): boolean => {
          if (!options.spool) return false;
          // Made again if something removed it while the service runs (if it cannot be, the
          // write below fails, and the package is said to be unread).
          try {
            mkdirSync(options.spool.dir, { recursive: true, mode: 0o700 });
          } catch {
            // the write stream's error says the rest
          }
          if (!diskLeaves(options.spool.dir, earlier, options.spool.diskReserveBytes)) return false;
          if (!options.spool.budget.tryTake(res, earlier)) return false;
          const spoolPath = path.join(options.spool.dir, `${randomUUID()}.zip`);
          const out = createWriteStream(spoolPath, { flags: "wx", mode: 0o600 });
          const written = { file: spoolPath, out, failed: false };
          spool = written;
          // Whatever ends the write stream (written, failed, destroyed) lets a paused upload go on.
          out.once("close", () => file.stream.resume());
          // Removed once the answer is done or the connection is gone, whatever happened: after
          // the stream has closed (an open still under way would create the file after its removal),
          // and never throwing (an exception here would end the process).
          res.once("close", () => {
            const remove = () => rm(spoolPath, { force: true }, () => undefined);
            if (out.closed) remove();
            else out.once("close", remove).destroy();
          });
          // A disk that fails is a package not read, not a request held: the upload goes on, hashed.
          out.on("error", () => (written.failed = true));
          for (const chunk of chunks) out.write(chunk);
          // What was held in memory is on its way to disk: the upload waits until it is written.
          if (out.writableNeedDrain) {
            file.stream.pause();
            out.once("drain", () => file.stream.resume());
          }
          return true;
        };
        const spoolChunk = (chunk: Buffer) => {
          if (!spool || spool.failed) return;
          sinceDiskChecked += chunk.length;
          const diskFull =
            sinceDiskChecked >= DISK_CHECK_EVERY &&
            !diskLeaves(options.spool!.dir, (sinceDiskChecked = 0), options.spool!.diskReserveBytes);
          if (diskFull || !options.spool!.budget.tryTake(res, chunk.length)) {
            spool.failed = true;
            spool.out.destroy();
            return;
          }
          if (!spool.out.write(chunk)) {
            file.stream.pause();
            spool.out.once("drain", () => file.stream.resume());
          }
        };
        let kept = 0;
        /** The part's first four bytes, which tell a ZIP, however the body is cut into chunks. */
        const head: number[] = [];
        const dropPackage = () => {
          keepPackage = false;
          chunks.length = 0;
          options.buffers.giveBack(res, kept);
          kept = 0;
        };
        // A JSON certificate is a few kilobytes; its PDF document or a capture package may be larger.
        let limit = MAX_DOCUMENT_BYTES;
        file.stream.on("data", (chunk: Buffer) => {
          if (keep && size === 0 && beginsAsJson(chunk)) limit = MAX_CERTIFICATE_BYTES;
          if (head.length < 4) {
            head.push(...chunk.subarray(0, 4 - head.length));
            if (!keep && head.length === 4 && !isZip(Uint8Array.from(head))) dropPackage();
          }
          size += chunk.length;
          if (!keep) {
            hash.update(chunk);
            if (spool) return spoolChunk(chunk);
            if (!keepPackage) return;
            // Held in memory up to a few MiB when a package can be written to disk beyond that
            // (so that large uploads hold little of the memory budget), else up to 64 MiB.
            const moveToDisk = () => {
              if (!startSpool(size - chunk.length)) return false;
              dropPackage();
              spoolChunk(chunk);
              return true;
            };
            if (size > (options.spool ? SPOOL_AFTER_BYTES : MAX_DOCUMENT_BYTES)) {
              if (moveToDisk()) return;
              if (size > MAX_DOCUMENT_BYTES) {
                packageTooLarge = true;
                return dropPackage();
              }
            }
            try {
              options.buffers.take(res, chunk.length);
              chunks.push(chunk);
              kept += chunk.length;
            } catch (e) {
              // No memory to spare: to disk if there is room, else busy, giving back at once what it held.
              if (moveToDisk()) return;
              dropPackage();
              file.stream.destroy(e as Error);
            }
            return;
          }
          if (size > limit) {
            file.stream.destroy(
              new HttpProblem(
                413,
                "CERTIFICATE_TOO_LARGE",
                `the certificate is larger than ${limit} bytes${
                  limit === MAX_DOCUMENT_BYTES && head.length === 4 && isZip(Uint8Array.from(head))
                    ? ": send a capture package this large as the file, with its certificate (the JSON or its PDF) as the certificate"
                    : ""
                }`,
              ),
            );
            return;
          }
          try {
            options.buffers.take(res, chunk.length);
            chunks.push(chunk);
          } catch (e) {
            // Busy: what it held is given back now, not once the rest of the body has been read.
            options.buffers.giveBack(res, size - chunk.length);
            chunks.length = 0;
            file.stream.destroy(e as Error);
          }
        });
        file.stream.on("error", (e) => cb(e));
        file.stream.on("end", () => {
          const done = () =>
            cb(null, {
              size,
              buffer: keep || (keepPackage && head.length === 4) ? Buffer.concat(chunks) : undefined,
              sha256: keep ? undefined : hash.digest("hex"),
              ...(spool && !spool.failed ? { spooled: spool.file } : {}),
              packageTooLarge: packageTooLarge || (spool?.failed ?? false),
            } as never);
          if (!spool || spool.failed) return done();
          // Read once all of it is written ("close" follows "finish", or an error).
          spool.out.once("close", done);
          spool.out.end();
        });
      },
      _removeFile(_req, _file, cb) {
        cb(null);
      },
    },
    limits: { fileSize: options.fileSizeBytes, files: 2, fields: 3, fieldSize: MAX_CERTIFICATE_BYTES, parts: 5 },
  }).fields([
    { name: "certificate", maxCount: 1 },
    { name: "file", maxCount: 1 },
  ]);

  // Each body is paid for before it is read, so that a client out of units is refused on its
  // headers rather than after sending megabytes: a JSON body that says its length all of it,
  // any other one unit (the rest once it has been read, below).
  const payOnHeaders = rateLimit(options.anonymous, (req) => {
    const declared = Number(req.get("content-length"));
    return req.is("application/json") && Number.isSafeInteger(declared) ? unitsOf(declared) : 1;
  });
  // A JSON body is read as text and parsed here, so a duplicate key anywhere in it is refused
  // (JSON.parse would keep the last of two, hiding what another reader would see). It is
  // refused at once when it says it is too large, must arrive whole within its deadline, and
  // holds memory only for what has arrived: requests that declare large bodies and send
  // nothing must not hold the memory every verification shares.
  const readJson = Router().use(
    contentLengthLimit(JSON_LIMIT),
    payOnHeaders,
    bodyDeadline(options.jsonBodyTimeoutMs),
    budgetedText({ limit: JSON_LIMIT, budget: options.buffers }),
  );
  const readMultipart = Router().use(payOnHeaders, upload);
  router.post(
    "/api/v1/verify",
    (req, res, next) => {
      if (req.is("multipart/form-data")) {
        refuseContentEncoding(req);
        readMultipart(req, res, next);
      } else if (req.is("application/json")) {
        readJson(req, res, next);
      } else next(new HttpProblem(415, "UNSUPPORTED_MEDIA_TYPE", "send application/json or multipart/form-data"));
    },
    // Parsing is paid for before it is done, refused or not: a large body costs its sender
    // what it costs the service (JSON.parse and the duplicate-key scan hold the event loop
    // for seconds on the largest JSON body).
    rateLimit(options.anonymous, unitsReadWhole),
    (req, _res, next) => {
      const files = (req.files ?? {}) as Record<string, unknown[]>;
      if (req.is("multipart/form-data")) {
        refuseUnreadFields(req.body as Record<string, unknown>, files);
        // A text field is read as UTF-8 with U+FFFD where its bytes are not: a certificate
        // whose record held U+FFFD would verify with other bytes there. Its file part is read
        // as its bytes.
        const { certificate } = req.body as { certificate?: unknown };
        if (typeof certificate === "string" && certificate.includes(REPLACEMENT_CHARACTER)) {
          throw notUtf8("the certificate field", "send the certificate as a file part (curl -F certificate=@FILE)");
        }
      }
      if (typeof req.body === "string") {
        const parsed = parseBody(req.body);
        req.body = parsed.body;
        malformedCertificates.set(req, parsed.malformed);
      } else req.body ??= {};
      const body = req.body as Record<string, unknown>;
      const list = body.certificates;
      // What would otherwise be left unread is refused, not passed over in silence.
      if (list !== undefined && (body.certificate !== undefined || body.sha256 !== undefined)) {
        throw new HttpProblem(400, "INVALID_BODY", "send certificates alone, or one certificate with its sha256");
      }
      if (files.file !== undefined && body.sha256 !== undefined) {
        throw new HttpProblem(400, "INVALID_BODY", "send the file or its sha256, not both");
      }
      if (list !== undefined && !Array.isArray(list)) {
        throw new HttpProblem(
          400,
          "INVALID_BODY",
          `certificates must be a list (a JSON array) of 1 to ${MAX_CERTIFICATES_PER_VERIFY} certificates`,
        );
      }
      if (Array.isArray(list) && list.length === 0) {
        throw new HttpProblem(400, "INVALID_BODY", `send 1 to ${MAX_CERTIFICATES_PER_VERIFY} certificates`);
      }
      if (Array.isArray(list) && list.length > MAX_CERTIFICATES_PER_VERIFY) {
        throw new HttpProblem(413, "TOO_MANY_ITEMS", `send 1 to ${MAX_CERTIFICATES_PER_VERIFY} certificates`);
      }
      next();
    },
    // The chain reads are paid for too: one certificate's anchor, or each distinct anchor a
    // list's certificates name, beside a unit for each of its certificates (what the body's
    // size paid counts).
    rateLimit(options.anonymous, (req) => {
      const list = (req.body as { certificates?: unknown }).certificates;
      if (!Array.isArray(list)) return unitsReadWhole(req) + (certificateGiven(req) ? CHAIN_READS_PER_ANCHOR : 0);
      return list.length + CHAIN_READS_PER_ANCHOR * anchorsNamed(list);
    }),
    async (req: Request, res) => {
      const lang = requestLang(req);
      const body = req.body as Record<string, unknown>;
      if (Array.isArray(body.certificates)) {
        // Several at once, so a batch's chain reads are shared and a slow node is waited for
        // in parallel; once the node has failed to answer, the rest are not sent to it again.
        const outage = new OutageReader();
        const work = async (certificate: unknown, i: number): Promise<VerificationJson> => {
          const malformed = malformedCertificates.get(req)?.get(i);
          const result = malformed
            ? malformedResult(malformed)
            : await verify({ kind: "certificate", certificate }, { readThrough: (c) => outage.over(c) });
          return verificationJson(result, lang);
        };
        const results: VerificationJson[] = [];
        for await (const [, result] of inOrder(body.certificates, work, 16)) {
          // A client gone before its answer gets no more of the list verified: leaving the
          // loop stops the rest from starting.
          if (req.socket.destroyed) return;
          results.push(result);
        }
        res.json({ results });
        return;
      }
      const input = await verificationInput(req);
      if ("malformed" in input) {
        res.json(verificationJson(malformedResult(input.malformed), lang));
        return;
      }
      const { evidence, options: given } = input;
      const readsPackage = given.packageFile !== undefined || (evidence.kind === "bytes" && isZip(evidence.bytes));
      const result = readsPackage
        ? await packageReads.run(() => verify(evidence, given))
        : await verify(evidence, given);
      res.json(verificationJson(result, lang));
    },
  );
  return router;
}

/**
 * How much of a capture package given as the file is held in memory before it is written to
 * the spool directory instead, when there is one: a few large uploads must not hold the memory
 * budget every PDF and package to verify shares.
 */
const SPOOL_AFTER_BYTES = 8 * 1024 * 1024;

/** How often, in bytes written, a spooled package checks that the disk keeps its reserve. */
const DISK_CHECK_EVERY = 64 * 1024 ** 2;

/** Whether the file system of `dir` keeps `reserve` bytes free once `bytes` more are written. */
function diskLeaves(dir: string, bytes: number, reserve: number): boolean {
  try {
    const { bavail, bsize } = statfsSync(dir);
    return bavail * bsize - bytes >= reserve;
  } catch {
    return false;
  }
}

/** The largest JSON body: 1,000 certificates of a few kilobytes each. */
const JSON_LIMIT = 16 * 1024 * 1024;

/**
 * The bytes read whole that cost a unit of the anonymous rate limit: about a certificate with
 * its time-stamp token, so a list of real certificates costs about as much by its size as by
 * its count. The worst JSON for its size (an object of a million short keys) takes about 2 ms
 * to parse and scan per 8 KiB, a certificate's verification about 1 ms; a 30 MB PDF document
 * costs about 3,700 units, within a minute's default budget (6,000).
 */
const BYTES_PER_UNIT = 8 * 1024;

/**
 * What reading a PDF document costs at least, in units: its streams are compressed, so its
 * size says little of the work (a few kilobytes can inflate to the most the reader reads,
 * PDF_LIMITS: about 0.2 s). As much as a body of 1 MiB.
 */
const PDF_UNITS = 128;

/**
 * The chain reads a certificate's anchor may cost the service's node, in units, as `/rpc`
 * charges each call: the newest block, the contract's code, the anchor, its block and its
 * transaction's receipt. A batch read once is remembered, but a certificate naming an anchor
 * nobody made is read afresh each time.
 */
const CHAIN_READS_PER_ANCHOR = 5;

/** The distinct anchors (transaction, block and root) a list's certificates name; one naming none reads no chain. */
function anchorsNamed(list: unknown[]): number {
  const anchors = new Set<string>();
  for (const item of list) {
    const c = certificateNamedBy(item);
    const certificate = (typeof c === "object" && c !== null ? c : {}) as {
      anchor?: unknown;
      proof?: { root?: unknown };
      batch?: { anchor?: unknown; root?: unknown };
    };
    const anchor = certificate.batch?.anchor ?? certificate.anchor;
    if (typeof anchor !== "object" || anchor === null) continue;
    anchors.add(JSON.stringify([anchor, certificate.batch?.root ?? certificate.proof?.root ?? null]));
  }
  return anchors.size;
}

/**
 * What a list's item verifies as: a certificate given as its JSON text is parsed (it reads the
 * chain as any other), and a status answer's certificate is taken from it.
 */
function certificateNamedBy(item: unknown): unknown {
  let c = item;
  if (typeof c === "string") {
    try {
      c = JSON.parse(c);
    } catch {
      return undefined;
    }
  }
  const wrapped = (c as { certificate?: unknown } | null)?.certificate;
  return typeof wrapped === "object" && wrapped !== null ? wrapped : c;
}

/** Whether a request for one certificate's verification gives one (else it is refused, reading nothing). */
function certificateGiven(req: Request): boolean {
  const files = (req.files ?? {}) as Record<string, unknown[]>;
  return (req.body as { certificate?: unknown }).certificate !== undefined || files.certificate !== undefined;
}

/** The units a body's parts read whole cost: by their size, and a PDF certificate document at least {@link PDF_UNITS}. */
function unitsReadWhole(req: Request): number {
  const units = unitsOf(bytesReadWhole(req));
  const certificate = ((req.files ?? {}) as Record<string, { buffer?: Buffer }[]>).certificate?.[0]?.buffer;
  return certificate !== undefined && isPdf(certificate) ? Math.max(units, PDF_UNITS) : units;
}

/** The units `bytes` read whole cost: one per 8 KiB begun, at least one. */
function unitsOf(bytes: number): number {
  return Math.max(1, Math.ceil(bytes / BYTES_PER_UNIT));
}

/** The bytes of a body that are read whole and parsed: a JSON body, or a multipart body's certificate and fields. */
function bytesReadWhole(req: Request): number {
  if (typeof req.body === "string") return Buffer.byteLength(req.body);
  const files = (req.files ?? {}) as Record<string, { size: number }[]>;
  let bytes = files.certificate?.[0]?.size ?? 0;
  for (const value of Object.values((req.body ?? {}) as Record<string, unknown>)) {
    if (typeof value === "string") bytes += Buffer.byteLength(value);
  }
  return bytes;
}

/**
 * Refuses a multipart text field that would not be read as sent (what is left unread is
 * refused, not passed over in silence): a file sent as text (curl's `-F file=<name` for
 * `-F file=@name`) would leave the file uncompared and the verdict valid; an unknown field,
 * or one given twice, would be dropped or taken for another.
 */
function refuseUnreadFields(fields: Record<string, unknown>, files: Record<string, unknown[]>): void {
  for (const [name, value] of Object.entries(fields)) {
    if (name === "file") throw fileAsTextField();
    if (name !== "certificate" && name !== "sha256") {
      throw new HttpProblem(
        400,
        "UNKNOWN_FIELD",
        `the body has an unknown field "${name}": send certificate, and file or sha256`,
      );
    }
    if (name === "certificate" && files.certificate !== undefined) {
      throw new HttpProblem(
        400,
        "DUPLICATE_FIELD",
        "the certificate came twice, as a file and as a text field: send it once",
      );
    }
    // Sent twice (or as name[…]), the field is no longer a string.
    if (typeof value !== "string")
      throw new HttpProblem(400, "DUPLICATE_FIELD", `send ${name} once, as one text field`);
  }
}

/**
 * The certificates of each JSON body that hold a duplicate key, and why (by index; -1 for
 * `certificate`). Kept beside the body, not in it: a body may have a key of any name.
 */
const malformedCertificates = new WeakMap<Request, Map<number, string>>();

/**
 * A duplicate key inside a certificate makes that certificate malformed: a verdict (a failed
 * format check) for it alone, not a bad request. One anywhere else in the body is a bad request.
 */
function parseBody(text: string): { body: Record<string, unknown>; malformed: Map<number, string> } {
  let value: unknown;
  try {
    value = parseJson(text, "the request body");
  } catch (e) {
    throw new HttpProblem(400, "INVALID_JSON", (e as Error).message);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new HttpProblem(400, "INVALID_BODY", "send {certificate} or {certificates: [...]}");
  }
  const body = value as Record<string, unknown>;
  const malformed = new Map<number, string>();
  for (const { key, at } of duplicateKeys(text)) {
    // A prefix test only: `at` may be megabytes long, and there may be a duplicate per 6 bytes.
    const place = /^(?:certificate|certificates\[(\d+)\])(?=\.|$)/.exec(at);
    if (!place)
      throw new HttpProblem(400, "INVALID_BODY", `the request has the key "${key}" twice${at ? ` in ${at}` : ""}`);
    const index = place[1] === undefined ? -1 : Number(place[1]);
    if (!malformed.has(index)) {
      const inside = at.slice(place[0].length + 1);
      malformed.set(index, `certificate has the key "${key}" twice${inside ? ` in ${inside}` : ""}`);
    }
  }
  // Beside a certificate, a member that is not read is refused, not passed over: the file's
  // hash under another name ("SHA256", "file") would otherwise be answered "valid, no file
  // compared". (A body without one is answered NO_CERTIFICATE, saying what to send.)
  const names = Object.keys(body);
  const holdsCertificates = names.includes("certificate") || names.includes("certificates");
  for (const name of holdsCertificates ? names : []) {
    if (name !== "certificate" && name !== "certificates" && name !== "sha256") {
      throw new HttpProblem(
        400,
        "UNKNOWN_FIELD",
        `the body has an unknown member ${JSON.stringify(name.length > 64 ? `${name.slice(0, 64)}…` : name)}: send {certificate, sha256?} or {certificates: [...]}`,
      );
    }
  }
  return { body, malformed };
}

function requestLang(req: Request): Lang {
  const asked = typeof req.query.lang === "string" ? req.query.lang : req.get("accept-language");
  return langOf(asked);
}

async function verificationInput(req: Request): Promise<
  | {
      evidence: EvidenceInput;
      options: Pick<EvidenceOptions, "fileDigest" | "digestGiven" | "packageFile" | "unreadPackage">;
    }
  | { malformed: string; options: object }
> {
  const body = req.body as Record<string, unknown>;
  const files = (req.files ?? {}) as Record<
    string,
    { buffer?: Buffer; sha256?: string; size: number; spooled?: string; packageTooLarge?: boolean }[]
  >;
  const upload = files.certificate?.[0]?.buffer;
  let evidence: EvidenceInput;
  const malformed = malformedCertificates.get(req)?.get(-1);
  if (upload !== undefined) {
    evidence = { kind: "bytes", bytes: new Uint8Array(upload.buffer, upload.byteOffset, upload.byteLength) };
  } else if (malformed !== undefined) return { malformed, options: {} };
  else if (body.certificate !== undefined) evidence = { kind: "certificate", certificate: body.certificate };
  else if (body.type === CERTIFICATE_TYPE) {
    throw new HttpProblem(400, "NO_CERTIFICATE", 'send the certificate as {"certificate": …}: this body is one itself');
  } else throw new HttpProblem(400, "NO_CERTIFICATE", "send the certificate");
  const file = files.file?.[0];
  const packageFile = file?.buffer;
  let fileDigest = file?.sha256;
  if (file?.spooled && fileDigest) {
    return { evidence, options: { packageFile: blobSource(await openAsBlob(file.spooled)), fileDigest } };
  }
  if (file?.packageTooLarge && fileDigest) {
    return { evidence, options: { fileDigest, unreadPackage: { size: file.size } } };
  }
  if (packageFile !== undefined) {
    // The package's own digest goes with it, hashed as it streamed: for a ZIP certified as it is.
    const bytes = new Uint8Array(packageFile.buffer, packageFile.byteOffset, packageFile.byteLength);
    return { evidence, options: { packageFile: bytes, ...(fileDigest ? { fileDigest } : {}) } };
  }
  // (A file beside a sha256 has been refused.)
  if (body.sha256 !== undefined) {
    fileDigest = typeof body.sha256 === "string" ? typedDigest(body.sha256) : undefined;
    if (fileDigest === undefined) {
      throw new HttpProblem(
        400,
        "INVALID_CONTENT_HASH",
        "sha256 must be 64 hex characters (0x before them, or the line sha256sum prints, will do)",
      );
    }
  }
  return {
    evidence,
    options: fileDigest ? { fileDigest, ...(body.sha256 !== undefined ? { digestGiven: true } : {}) } : {},
  };
}
