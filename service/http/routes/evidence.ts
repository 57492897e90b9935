import express, { Router, type Request } from "express";
import multer from "multer";
import {
  certificateFileName,
  DigestItemSchema,
  DigestSubmissionSchema,
  EMPTY_CONTENT_HASH,
  EVIDENCE_ID,
  EVIDENCE_PAGE,
  MAX_DIGESTS_PER_REQUEST,
  NOTICE_REANCHORED,
  NOTICE_REANCHORING,
  TEXT_LIMITS,
  SubmissionDetailsSchema,
  type SubmissionDetails,
  type Certificate,
  type EvidenceList,
  type EvidenceView,
  type IntakeResponse,
} from "../../core/index.ts";
import { hashingStorage, type StoredUpload } from "../../intake/hashing-storage.ts";
import type { Intake } from "../../intake/intake.ts";
import type { ObjectStore } from "../../objects/object-store.ts";
import type { CaptureRow, EvidenceRow, EvidenceStore } from "../../store/store.ts";
import { rateLimit, requireApiKey, type TokenBuckets } from "../auth.ts";
import { publicCors } from "../cors.ts";
import { HttpProblem } from "../problem.ts";
import {
  fileAsTextField,
  notUtf8,
  parseBody,
  REPLACEMENT_CHARACTER,
  requireType,
  strictJsonBody,
  withoutEmpty,
} from "../validation.ts";

export interface EvidenceRoutesOptions {
  store: EvidenceStore;
  objects: ObjectStore;
  intake: Intake;
  limits: { fileSizeBytes: number; filesPerRequest: number };
  /** Submissions per account: a digest request costs one unit per item. */
  submissions: TokenBuckets;
}

/** Submitting evidence (signed in) and reading it back (by its unguessable id). */
export function evidenceRoutes(options: EvidenceRoutesOptions): Router {
  const { store, intake, limits } = options;
  const router = Router({ caseSensitive: true, strict: true });
  const signedIn = requireApiKey(store);

  const upload = multer({
    storage: hashingStorage(options.objects, intake, (body, fileName) => {
      multipartDetails(body);
      checkFileName(fileName);
    }),
    // Browsers send file names as raw UTF-8 bytes; busboy's default would read them as Latin-1.
    defParamCharset: "utf8",
    // Keep the name exactly as given (with any directories): it is recorded, never used as a path.
    preservePath: true,
    limits: {
      fileSize: limits.fileSizeBytes,
      files: limits.filesPerRequest,
      fields: 10,
      fieldSize: 16 * 1024,
      fieldNameSize: 100,
      parts: limits.filesPerRequest + 10,
      headerPairs: 100,
    },
  }).array("file", limits.filesPerRequest);

  router.post(
    "/api/v1/evidence",
    signedIn,
    rateLimit(options.submissions),
    requireType("multipart/form-data"),
    upload,
    async (req, res) => {
      const files = ((req.files ?? []) as (Express.Multer.File & StoredUpload)[]).map((f) => f.stored);
      let details;
      try {
        details = multipartDetails(req.body as Record<string, unknown>);
        if (files.length === 0)
          throw new HttpProblem(400, "NO_FILE", 'send one or more files in multipart parts named "file"');
        const empty = files.findIndex((f) => f.size === 0);
        if (empty >= 0) {
          const name = files[empty]!.fileName === undefined ? "" : ` (${JSON.stringify(files[empty]!.fileName)})`;
          throw new HttpProblem(
            400,
            "EMPTY_FILE",
            `file ${empty + 1}${name} is empty (0 bytes): every empty file has the same SHA-256, so a certificate for it would prove nothing; nothing was recorded`,
          );
        }
      } catch (e) {
        await intake.discard(files);
        throw e;
      }
      const items = await intake.acceptUploads(req.account!, files, details);
      res.status(201).json({ items } satisfies IntakeResponse);
    },
  );

  router.post(
    "/api/v1/evidence/digests",
    signedIn,
    requireType("application/json"),
    ...strictJsonBody("8mb"),
    (req, _res, next) => {
      const body = req.body as { items?: unknown } | null;
      if (typeof body !== "object" || body === null || Array.isArray(body) || !Array.isArray(body.items)) {
        throw new HttpProblem(400, "INVALID_BODY", "send {items: [{contentHash, …}]}");
      }
      if (body.items.length === 0) throw new HttpProblem(400, "NO_ITEMS", "items must not be empty");
      if (body.items.length > MAX_DIGESTS_PER_REQUEST) {
        throw new HttpProblem(413, "TOO_MANY_ITEMS", `at most ${MAX_DIGESTS_PER_REQUEST} items per request`);
      }
      parseBody(DigestSubmissionSchema, body, "body");
      next();
    },
    rateLimit(options.submissions, (req) => (req.body as { items: unknown[] }).items.length),
    async (req: Request, res) => {
      const raw = (req.body as { items: unknown[] }).items;
      const digests = raw.map((item, i) => {
        if (typeof item !== "object" || item === null || Array.isArray(item)) {
          throw new HttpProblem(400, "INVALID_ITEM", `items[${i}] must be an object`);
        }
        return parseBody(
          DigestItemSchema,
          withoutEmpty(item as Record<string, unknown>),
          `items[${i}]`,
          "INVALID_ITEM",
        );
      });
      const empty = digests.findIndex((d) => d.contentHash.toLowerCase() === EMPTY_CONTENT_HASH);
      if (empty >= 0) {
        throw new HttpProblem(
          400,
          "EMPTY_FILE",
          `items[${empty}].contentHash is the SHA-256 of empty content (0 bytes): every empty file has it, so a certificate for it would prove nothing; nothing was recorded`,
        );
      }
      const items = await intake.acceptDigests(req.account!, digests);
      res.status(201).json({ items } satisfies IntakeResponse);
    },
  );

  /** The account's own evidence, newest first (for the upload page). */
  router.get("/api/v1/evidence", signedIn, async (req, res) => {
    // Plain decimal integers only: "1.5", "1e3" and " 7" are mistakes to be told, not guessed at.
    // A page larger than the largest is the largest.
    const asked = req.query.limit === undefined ? EVIDENCE_PAGE.default : decimal(req.query.limit);
    if (asked === undefined || asked < 1) {
      throw new HttpProblem(400, "INVALID_FIELD", `limit must be an integer from 1 to ${EVIDENCE_PAGE.max}`);
    }
    const limit = Math.min(asked, EVIDENCE_PAGE.max);
    const before = req.query.before === undefined ? undefined : decimal(req.query.before);
    if (req.query.before !== undefined && !(before !== undefined && before > 0)) {
      throw new HttpProblem(400, "INVALID_CURSOR", "before must be a positive integer from an earlier page's next");
    }
    const rows = await store.evidenceOfAccount(req.account!.id, limit, before);
    res.json({
      items: rows.map((r) => ({ id: r.id, status: r.status, record: r.record })),
      next: rows.length === limit ? rows[rows.length - 1]!.seq : null,
    } satisfies EvidenceList);
  });

  router.get("/api/v1/evidence/:id", publicCors, async (req, res) => {
    const id = String(req.params.id);
    const row = await find(store, id);
    if (!row) {
      const capture = await findCapture(store, id);
      if (!capture) throw notFound();
      res.json({
        id,
        status: captureStatus(capture),
        capture: {
          url: capture.url,
          status: capture.status,
          requestedAt: capture.requestedAt,
          ...(capture.error ? { error: capture.error } : {}),
        },
      } satisfies EvidenceView);
      return;
    }
    res.json(await evidenceView(store, row));
  });

  router.get("/api/v1/evidence/:id/certificate", publicCors, async (req, res) => {
    const row = await certifiedEvidence(store, String(req.params.id));
    sendCertificate(res, row.certificate, certificateFileName(row.certificate));
  });

  /** Every certificate issued for the evidence, oldest first: a superseded one stays retrievable. */
  router.get("/api/v1/evidence/:id/certificates", publicCors, async (req, res) => {
    const id = String(req.params.id);
    const row = await find(store, id);
    if (!row) {
      // A web capture not recorded yet has had no certificate.
      if (!(await findCapture(store, id))) throw notFound();
      res.json({ items: [] });
      return;
    }
    const history = await store.certificateHistory(row.id);
    res.json({ items: history.map((h, index) => ({ index, ...h.entry, certificate: h.certificate })) });
  });

  router.get("/api/v1/evidence/:id/certificates/:index", publicCors, async (req, res) => {
    const id = String(req.params.id);
    const row = await find(store, id);
    // Written as a plain decimal: "-0", "0x0" and " " are not certificate 0.
    const text = String(req.params.index);
    if (!row) {
      if (await findCapture(store, id))
        throw new HttpProblem(404, "NOT_FOUND", `the capture has no certificate ${text}`);
      throw notFound();
    }
    const index = /^(0|[1-9][0-9]{0,8})$/.test(text) ? Number(text) : -1;
    const entry = (await store.certificateHistory(row.id))[index];
    if (!entry) throw new HttpProblem(404, "NOT_FOUND", `the evidence has no certificate ${text}`);
    sendCertificate(res, entry.certificate, `${row.id}.${index}.evidence.json`);
  });

  return router;
}

/** The status view: the record, the certificate in force, its history, and what happened if unusual. */
export async function evidenceView(store: EvidenceStore, row: EvidenceRow): Promise<EvidenceView> {
  const history = await store.certificateHistory(row.id);
  const view: EvidenceView = {
    id: row.id,
    status: row.status,
    record: row.record,
    ...(row.certificate ? { certificate: row.certificate } : {}),
  };
  if (history.length > 0) view.history = history.map((h) => h.entry);
  if (row.reanchoring) {
    view.notice = NOTICE_REANCHORING;
  } else if (history.some((h) => h.entry.reason === "re-anchored")) {
    view.notice = NOTICE_REANCHORED;
  }
  return view;
}

/** A query parameter that is a plain decimal integer JavaScript holds exactly, else undefined. */
function decimal(value: unknown): number | undefined {
  if (typeof value !== "string" || !/^\d{1,16}$/.test(value)) return undefined;
  const n = Number(value);
  return Number.isSafeInteger(n) ? n : undefined;
}

/**
 * The evidence with that id and its certificate in force: 404 without the evidence, 409 before
 * it is anchored (a web capture still under way included), 409 CAPTURE_FAILED for a web
 * capture that failed and never will be.
 */
export async function certifiedEvidence(
  store: EvidenceStore,
  id: string,
): Promise<EvidenceRow & { certificate: Certificate }> {
  const row = await recordedEvidence(store, id);
  if (!row.certificate) {
    throw new HttpProblem(
      409,
      "NOT_ANCHORED",
      `the evidence is ${row.status}; its certificate is issued once it is anchored`,
      { evidenceStatus: row.status },
    );
  }
  return row as EvidenceRow & { certificate: Certificate };
}

/**
 * The evidence with that id: 404 without it; for a web capture not recorded as evidence, 409
 * CAPTURE_FAILED when it failed, 409 NOT_ANCHORED while it is under way.
 */
export async function recordedEvidence(store: EvidenceStore, id: string): Promise<EvidenceRow> {
  const row = await find(store, id);
  if (!row) {
    const capture = await findCapture(store, id);
    if (!capture) throw notFound();
    if (captureStatus(capture) === "failed") {
      throw new HttpProblem(409, "CAPTURE_FAILED", "the web capture failed; it recorded nothing to certify", {
        evidenceStatus: "failed",
      });
    }
    throw new HttpProblem(
      409,
      "NOT_ANCHORED",
      "the web page is being captured; its certificate is issued once it is anchored",
      { evidenceStatus: "capturing" },
    );
  }
  return row;
}

async function find(store: EvidenceStore, id: string): Promise<EvidenceRow | undefined> {
  return EVIDENCE_ID.test(id) ? store.evidence(id) : undefined;
}

/** A web capture by its id, the id its evidence will have once recorded. */
async function findCapture(store: EvidenceStore, id: string): Promise<CaptureRow | undefined> {
  return EVIDENCE_ID.test(id) ? store.capture(id) : undefined;
}

/** The status a capture that is not evidence yet shows: capturing (queued or under way) until it fails. */
function captureStatus(capture: CaptureRow): "capturing" | "failed" {
  return capture.status === "failed" ? "failed" : "capturing";
}

function notFound(): HttpProblem {
  return new HttpProblem(404, "NOT_FOUND", "no evidence with that id");
}

function sendCertificate(res: express.Response, certificate: Certificate, fileName: string): void {
  res
    .type("application/json")
    .set("Content-Disposition", `attachment; filename="${fileName}"`)
    .send(`${JSON.stringify(certificate, null, 2)}\n`);
}

/**
 * A multipart body's descriptive fields. The parser puts U+FFFD where bytes are not UTF-8 (a
 * name or title sent as GBK, say): such a value is refused, never recorded altered.
 */
function multipartDetails(body: Record<string, unknown>): SubmissionDetails {
  if (Object.hasOwn(body, "file")) throw fileAsTextField();
  for (const [field, value] of Object.entries(body)) {
    if (typeof value === "string" && value.includes(REPLACEMENT_CHARACTER)) throw notUtf8(`body.${field}`);
  }
  return parseBody(SubmissionDetailsSchema, withoutEmpty(body), "body");
}

/** A file name is recorded as given, or the upload is refused: never dropped without a word. */
function checkFileName(name: string | undefined): void {
  if (!name) return;
  if (name.includes(REPLACEMENT_CHARACTER)) throw notUtf8("the file name");
  if (name.length > TEXT_LIMITS.fileName) {
    throw new HttpProblem(413, "FIELD_TOO_LARGE", `the file name is longer than ${TEXT_LIMITS.fileName} characters`);
  }
  if (!name.isWellFormed()) throw new HttpProblem(400, "INVALID_FIELD", "the file name is not valid Unicode");
}
