import type { RequestHandler } from "express";

/**
 * CORS for the public routes only — reading a certificate, verifying, the read-only RPC
 * proxy, health — so any origin's page may call them (no cookies are used, so nothing
 * rides along). It is attached to those routes themselves, never matched against the
 * path, so a path spelled in another case cannot borrow it. Submitting stays same-origin.
 */
export const publicCors: RequestHandler = (req, res, next) => {
  res.set("Access-Control-Allow-Origin", "*");
  if (req.method === "OPTIONS") {
    res.set({
      "Access-Control-Allow-Methods": "GET, POST",
      "Access-Control-Allow-Headers": "content-type",
      "Access-Control-Max-Age": "600",
    });
    res.status(204).end();
    return;
  }
  next();
};

/** The public paths, for their preflight requests. */
export const PUBLIC_PATHS = [
  "/api/v1/verify",
  "/rpc",
  "/healthz",
  "/api/v1/evidence/:id",
  "/api/v1/evidence/:id/certificate",
  "/api/v1/evidence/:id/certificates",
  "/api/v1/evidence/:id/certificates/:index",
  "/api/v1/evidence/:id/certificate.pdf",
  "/api/v1/evidence/:id/package",
  "/api/v1/evidence/:id/screenshot",
  "/api/v1/checkpoints",
  "/api/v1/site",
];
