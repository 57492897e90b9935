import { createHash } from "node:crypto";
import express, { Router, type Request } from "express";
import multer from "multer";
import { CONTENT_HASH_PATTERN, MAX_CERTIFICATE_BYTES, verifyCertificate, type AnchorReader } from "../core/index.ts";
import { HttpProblem } from "./problem.ts";

/**
 * POST /api/v1/verify: public. A certificate as JSON `{certificate, sha256?}`, or
 * multipart with a `certificate` part (file or field) and an optional `file`, which is
 * hashed as it streams and never stored.
 */
export function verifyRoutes(chain: AnchorReader, limits: { fileSizeBytes: number }): Router {
  const router = Router();
  const upload = multer({
    storage: {
      _handleFile(_req, file, cb) {
        const hash = createHash("sha256");
        const chunks: Buffer[] = [];
        let size = 0;
        const keep = file.fieldname === "certificate";
        file.stream.on("data", (chunk: Buffer) => {
          size += chunk.length;
          if (!keep) hash.update(chunk);
          else if (size <= MAX_CERTIFICATE_BYTES) chunks.push(chunk);
          else file.stream.destroy(new HttpProblem(413, "CERTIFICATE_TOO_LARGE", "the certificate is too large"));
        });
        file.stream.on("error", (e) => cb(e));
        file.stream.on("end", () =>
          cb(null, {
            size,
            buffer: keep ? Buffer.concat(chunks) : undefined,
            sha256: keep ? undefined : hash.digest("hex"),
          } as never),
        );
      },
      _removeFile(_req, _file, cb) {
        cb(null);
      },
    },
    limits: { fileSize: limits.fileSizeBytes, files: 2, fields: 3, fieldSize: MAX_CERTIFICATE_BYTES, parts: 5 },
  }).fields([
    { name: "certificate", maxCount: 1 },
    { name: "file", maxCount: 1 },
  ]);

  const json = express.json({ limit: MAX_CERTIFICATE_BYTES + 4096 });
  router.post(
    "/api/v1/verify",
    (req, res, next) => {
      if (req.is("multipart/form-data")) upload(req, res, next);
      else if (req.is("application/json")) json(req, res, next);
      else next(new HttpProblem(415, "UNSUPPORTED_MEDIA_TYPE", "send application/json or multipart/form-data"));
    },
    async (req: Request, res) => {
      const { certificate, fileDigest } = verificationInput(req);
      const result = await verifyCertificate(certificate, { chain, ...(fileDigest ? { fileDigest } : {}) });
      res.json({ valid: result.valid, anchoredAt: result.anchoredAt, checks: result.checks });
    },
  );
  return router;
}

function verificationInput(req: Request): { certificate: unknown; fileDigest?: string } {
  const body = (req.body ?? {}) as Record<string, unknown>;
  if (typeof body !== "object" || Array.isArray(body)) throw new HttpProblem(400, "INVALID_BODY", "send {certificate}");
  const files = (req.files ?? {}) as Record<string, { buffer?: Buffer; sha256?: string }[]>;
  const certificate = files.certificate?.[0]?.buffer?.toString("utf8") ?? body.certificate;
  if (certificate === undefined) throw new HttpProblem(400, "NO_CERTIFICATE", "send the certificate");
  let fileDigest = files.file?.[0]?.sha256;
  if (fileDigest === undefined && body.sha256 !== undefined) {
    if (typeof body.sha256 !== "string" || !CONTENT_HASH_PATTERN.test(body.sha256)) {
      throw new HttpProblem(400, "INVALID_CONTENT_HASH", "sha256 must be 64 hex characters");
    }
    fileDigest = body.sha256.toLowerCase();
  }
  return fileDigest ? { certificate, fileDigest } : { certificate };
}
