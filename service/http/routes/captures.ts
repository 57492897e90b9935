import { PassThrough } from "node:stream";
import express, { Router } from "express";
import { parseCaptureManifest } from "../../core/capture-package.ts";
import {
  CaptureRequestSchema,
  EVIDENCE_ID,
  MEDIA_TYPE_CAPTURE,
  type CaptureList,
  type ErrorCode,
} from "../../core/index.ts";
import { storedManifest } from "../../capture/capture-files.ts";
import type { CaptureService } from "../../capture/capture-service.ts";
import { isCaptureError } from "../../capture/errors.ts";
import { packageStream } from "../../capture/package.ts";
import type { ObjectStore } from "../../objects/object-store.ts";
import type { EvidenceStore } from "../../store/store.ts";
import { rateLimit, requireApiKey, type TokenBuckets } from "../auth.ts";
import { publicCors } from "../cors.ts";
import { bodyDeadline } from "../connection-limits.ts";
import { HttpProblem } from "../problem.ts";
import { parseBody, requireType, strictJsonBody } from "../validation.ts";
import { recordedEvidence } from "./evidence.ts";

/** A capture costs far more than a submission: it counts as this many units of the account's budget. */
const CAPTURE_COST = 50;

/** Captures listed by GET /api/v1/captures: the newest. */
const CAPTURE_LIST_LIMIT = 100;

/**
 * POST /api/v1/captures: the service records a web page itself (docs/protocol.md §9) → 202; its
 * progress and certificate through the evidence routes. GET /api/v1/evidence/:id/package:
 * the capture's package (ZIP), streamed from the object store, with the certificate once
 * anchored.
 */
export function captureRoutes(options: {
  store: EvidenceStore;
  objects: ObjectStore;
  captures: CaptureService | undefined;
  submissions: TokenBuckets;
  /** The request's JSON must arrive whole within this, or it is answered 408. */
  jsonBodyTimeoutMs: number;
}): Router {
  const router = Router({ caseSensitive: true, strict: true });

  router.post(
    "/api/v1/captures",
    requireApiKey(options.store),
    rateLimit(options.submissions, () => CAPTURE_COST),
    requireType("application/json"),
    bodyDeadline(options.jsonBodyTimeoutMs),
    ...strictJsonBody("64kb"),
    async (req, res) => {
      const request = parseBody(CaptureRequestSchema, req.body, "body");
      if (!options.captures)
        throw new HttpProblem(503, "CAPTURE_UNAVAILABLE", "web capture is not enabled on this service");
      try {
        const accepted = await options.captures.request(req.account!, request);
        res.status(202).location(`/api/v1/evidence/${accepted.id}`).json(accepted);
      } catch (e) {
        throw captureProblem(e, res);
      }
    },
  );

  /** The account's captures that are not (yet) evidence: queued, capturing, or failed with why. */
  router.get("/api/v1/captures", requireApiKey(options.store), async (req, res) => {
    const rows = await options.store.capturesOfAccount(req.account!.id, CAPTURE_LIST_LIMIT);
    res.json({
      items: rows.map((row) => ({
        id: row.id,
        url: row.url,
        status: row.status as CaptureList["items"][number]["status"],
        requestedAt: row.requestedAt,
        ...(row.error ? { error: row.error } : {}),
      })),
    } satisfies CaptureList);
  });

  /**
   * Removes a failed capture from the account's list: it recorded nothing, so nothing of the
   * evidence goes with it. Any other capture is left as it is (409).
   */
  router.delete("/api/v1/captures/:id", requireApiKey(options.store), async (req, res) => {
    const id = String(req.params.id);
    const outcome = EVIDENCE_ID.test(id) ? await options.store.dismissCapture(req.account!.id, id) : undefined;
    if (outcome === undefined) throw new HttpProblem(404, "NOT_FOUND", "the account has no capture with that id");
    if (outcome !== "dismissed") {
      throw new HttpProblem(
        409,
        "CAPTURE_NOT_FAILED",
        `only a failed capture can be dismissed; this one is ${outcome}`,
      );
    }
    res.status(204).end();
  });

  router.get("/api/v1/evidence/:id/package", publicCors, async (req, res) => {
    const row = await recordedEvidence(options.store, String(req.params.id));
    const id = row.id;
    if (row.record.mediaType !== MEDIA_TYPE_CAPTURE)
      throw new HttpProblem(404, "NOT_FOUND", "that evidence is not a web capture");
    const { bytes: manifestBytes, manifest } = await storedManifest(options.objects, row.record.contentHash);
    // Every file is looked for before the answer starts: a file gone missing is an internal
    // error (500, logged), never a 200 whose ZIP breaks off part way.
    for (const artifact of manifest.artifacts) await requireObject(options.objects, artifact.sha256, id);
    const certificateJson = row.certificate ? `${JSON.stringify(row.certificate, null, 2)}\n` : undefined;
    const zip = packageStream({
      manifestBytes,
      artifacts: (name) => streamOf(options.objects, manifestBytes, name),
      ...(certificateJson ? { certificateJson } : {}),
    });
    res.type("application/zip").set("Content-Disposition", `attachment; filename="${id}.zip"`);
    zip.on("error", (e) => res.destroy(e));
    zip.pipe(res);
  });

  /** The capture's full-page screenshot, for the pages' preview (readable by the id, like the package). */
  router.get("/api/v1/evidence/:id/screenshot", publicCors, async (req, res) => {
    const id = String(req.params.id);
    const row = EVIDENCE_ID.test(id) ? await options.store.evidence(id) : undefined;
    if (!row || row.record.mediaType !== MEDIA_TYPE_CAPTURE)
      throw new HttpProblem(404, "NOT_FOUND", "no web capture with that id");
    const { manifest } = await storedManifest(options.objects, row.record.contentHash);
    const screenshot = manifest.artifacts.find((a) => a.name === "screenshot.png");
    if (!screenshot) throw new HttpProblem(404, "NOT_FOUND", "the capture has no screenshot");
    await requireObject(options.objects, screenshot.sha256, id);
    const stream = await options.objects.get(screenshot.sha256);
    stream.on("error", (e) => res.destroy(e));
    res.type("image/png").set("Cache-Control", "private, max-age=86400");
    stream.pipe(res);
  });

  return router;
}

async function requireObject(objects: ObjectStore, contentHash: string, evidenceId: string): Promise<void> {
  if (!(await objects.has(contentHash))) {
    throw new Error(`the file ${contentHash} of capture ${evidenceId} is missing from the object store`);
  }
}

/** An artifact's bytes from the object store, found by its hash in the manifest. */
function streamOf(objects: ObjectStore, manifestBytes: Uint8Array, name: string) {
  const entry = parseCaptureManifest(manifestBytes).artifacts.find((a) => a.name === name);
  if (!entry) throw new Error(`${name} is not in the manifest`);
  // packageStream pulls each artifact in turn; the object is opened as it is asked for.
  const out = new PassThrough();
  objects.get(entry.sha256).then(
    (source) => source.on("error", (e) => out.destroy(e)).pipe(out),
    (e: unknown) => out.destroy(e as Error),
  );
  return out;
}

function captureProblem(e: unknown, res: express.Response): unknown {
  if (!isCaptureError(e)) return e;
  const map: Partial<Record<string, [number, ErrorCode]>> = {
    URL_REFUSED: [400, "URL_REFUSED"],
    ADDRESS_REFUSED: [400, "ADDRESS_REFUSED"],
    INVALID_REQUEST: [400, "INVALID_FIELD"],
    HOST_NOT_FOUND: [400, "ADDRESS_REFUSED"],
    BUSY: [429, "CAPTURE_BUSY"],
    BROWSER_UNAVAILABLE: [503, "CAPTURE_UNAVAILABLE"],
  };
  const [status, code] = map[e.code] ?? [503, "CAPTURE_UNAVAILABLE"];
  if (e.retryAfterSeconds !== undefined) res.set("Retry-After", String(e.retryAfterSeconds));
  return new HttpProblem(status, code, e.message);
}
