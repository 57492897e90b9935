import express, { Router, type Request } from "express";
import multer from "multer";
import {
  buildRecord,
  certificateFileName,
  EVIDENCE_ID,
  type EvidenceRecord,
  type RecordDetails,
} from "../core/index.ts";
import { hashingStorage, type HashedFile } from "../intake/hashing-storage.ts";
import type { ObjectStore } from "../intake/object-store.ts";
import { newEvidence, type EvidenceRow, type EvidenceStore } from "../store/evidence-store.ts";
import { rateLimit, requireApiKey } from "./auth.ts";
import { HttpProblem } from "./problem.ts";
import { parseDetails, parseDigestItem } from "./validation.ts";

export interface EvidenceRoutesOptions {
  store: EvidenceStore;
  objects: ObjectStore;
  limits: { fileSizeBytes: number; filesPerRequest: number; digestsPerRequest: number; requestsPerMinute: number };
  /** Called after evidence is committed, to wake the batcher. */
  onIntake: () => void;
}

export function evidenceRoutes(options: EvidenceRoutesOptions): Router {
  const { store, objects, limits } = options;
  const router = Router();
  const auth = [requireApiKey(store), rateLimit(limits.requestsPerMinute)];

  const upload = multer({
    storage: hashingStorage(objects),
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

  router.post("/api/v1/evidence", ...auth, requireType("multipart/form-data"), upload, async (req, res) => {
    const files = (req.files ?? []) as (Express.Multer.File & HashedFile)[];
    if (files.length === 0)
      throw new HttpProblem(400, "NO_FILE", 'send one or more files in multipart parts named "file"');
    const details = parseDetails(req.body as Record<string, unknown>);
    const submittedAt = new Date();
    const items = files.map((file) =>
      newEvidence(
        buildRecord({
          ...details,
          ...fileDetails(file),
          contentHash: file.contentHash,
          size: file.size,
          submitter: req.account!.id,
          submittedAt,
        }),
        true,
      ),
    );
    await store.commitEvidence(req.account!.id, items);
    options.onIntake();
    res.status(201).json({ items: items.map((i) => intakeItem(i.record)) });
  });

  router.post(
    "/api/v1/evidence/digests",
    ...auth,
    requireType("application/json"),
    express.json({ limit: "8mb", strict: true }),
    async (req: Request, res) => {
      const body = req.body as { items?: unknown };
      if (typeof body !== "object" || body === null || Array.isArray(body) || !Array.isArray(body.items)) {
        throw new HttpProblem(400, "INVALID_BODY", "send {items: [{contentHash, …}]}");
      }
      if (body.items.length === 0) throw new HttpProblem(400, "NO_ITEMS", "items must not be empty");
      if (body.items.length > limits.digestsPerRequest) {
        throw new HttpProblem(413, "TOO_MANY_ITEMS", `at most ${limits.digestsPerRequest} items per request`);
      }
      const submittedAt = new Date();
      const items = body.items.map((item, index) =>
        newEvidence(buildRecord({ ...parseDigestItem(item, index), submitter: req.account!.id, submittedAt }), false),
      );
      await store.commitEvidence(req.account!.id, items);
      options.onIntake();
      res.status(201).json({ items: items.map((i) => intakeItem(i.record)) });
    },
  );

  /** The account's own evidence, newest first (for the upload page). */
  router.get("/api/v1/evidence", ...auth, (req, res) => {
    const limit = Math.min(Math.max(Number(req.query.limit ?? 50) || 50, 1), 500);
    const before = req.query.before === undefined ? undefined : Number(req.query.before);
    if (before !== undefined && !Number.isSafeInteger(before))
      throw new HttpProblem(400, "INVALID_CURSOR", "before must be an integer");
    const rows = store.evidenceOfAccount(req.account!.id, limit, before);
    res.json({
      items: rows.map((r) => ({ id: r.id, status: r.status, record: r.record })),
      next: rows.length === limit ? rows[rows.length - 1]!.seq : null,
    });
  });

  router.get("/api/v1/evidence/:id", (req, res) => {
    res.json(statusView(find(store, req.params.id!)));
  });

  router.get("/api/v1/evidence/:id/certificate", (req, res) => {
    const row = find(store, req.params.id!);
    if (!row.certificate) {
      throw new HttpProblem(
        409,
        "NOT_ANCHORED",
        `the evidence is ${row.status}; its certificate is issued once it is anchored`,
        {
          status: row.status,
        },
      );
    }
    res
      .type("application/json")
      .set("Content-Disposition", `attachment; filename="${certificateFileName(row.certificate)}"`)
      .send(`${JSON.stringify(row.certificate, null, 2)}\n`);
  });

  return router;
}

function intakeItem(record: EvidenceRecord) {
  return { id: record.id, contentHash: record.contentHash, size: record.size, status: "pending", record };
}

function statusView(row: EvidenceRow) {
  return {
    id: row.id,
    status: row.status,
    record: row.record,
    ...(row.certificate ? { certificate: row.certificate } : {}),
  };
}

function find(store: EvidenceStore, id: string): EvidenceRow {
  const row = EVIDENCE_ID.test(id) ? store.evidence(id) : undefined;
  if (!row) throw new HttpProblem(404, "NOT_FOUND", "no evidence with that id");
  return row;
}

/** What the upload says about the file itself: its name (as given) and media type. */
function fileDetails(file: Express.Multer.File): RecordDetails {
  const details: RecordDetails = {};
  const name = file.originalname;
  if (name && name.length <= 1024 && name.isWellFormed()) details.fileName = name;
  if (/^[a-z0-9][a-z0-9!#$&^_.+-]{0,126}\/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}$/i.test(file.mimetype)) {
    details.mediaType = file.mimetype.toLowerCase();
  }
  return details;
}

function requireType(type: string) {
  return (req: Request, _res: unknown, next: (err?: unknown) => void) => {
    if (!req.is(type)) return next(new HttpProblem(415, "UNSUPPORTED_MEDIA_TYPE", `send ${type}`));
    next();
  };
}
