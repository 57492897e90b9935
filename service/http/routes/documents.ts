import { Router, type Response } from "express";
import { claimsOf, DEVELOPMENT_CHAIN_IDS, MEDIA_TYPE_CAPTURE } from "../../core/index.ts";
import { captureFactsOf } from "../../core/capture-package.ts";
import type { ObjectStore } from "../../objects/object-store.ts";
import { storedManifest } from "../../capture/capture-files.ts";
import { DEVELOPMENT_TSA_MARKER, parseTimestampToken, timestampTokenFromBase64 } from "../../core/timestamp.ts";
import type { DocumentTimestamp } from "../../document/certificate-pdf.ts";
import { isDocumentError, type DocumentRenderer } from "../../document/document-renderer.ts";
import type { EvidenceStore } from "../../store/store.ts";
import { rateLimit, type TokenBuckets } from "../auth.ts";
import { clientKey } from "../client-address.ts";
import { publicCors } from "../cors.ts";
import { HttpProblem } from "../problem.ts";
import { certifiedEvidence } from "./evidence.ts";

/**
 * GET /api/v1/evidence/:id/certificate.pdf: the certificate document (docs/protocol.md §10), A4,
 * bilingual, with the JSON certificate attached — readable by the id, like the certificate.
 * Anyone may ask, so a request takes a unit of the client address's budget (`anonymous`), as
 * an RPC call or a certificate verified does.
 */
export function documentRoutes(options: {
  store: EvidenceStore;
  objects: ObjectStore;
  renderer: DocumentRenderer;
  site: () => { publicUrl: string; chainNames: Record<number, string> };
  anonymous: TokenBuckets;
}): Router {
  const router = Router({ caseSensitive: true, strict: true });
  router.get("/api/v1/evidence/:id/certificate.pdf", publicCors, rateLimit(options.anonymous), async (req, res) => {
    const id = String(req.params.id);
    const row = await certifiedEvidence(options.store, id);
    const claims = claimsOf(row.certificate);
    const account = await options.store.accountById(row.accountId);
    const site = options.site();
    // A capture's document states what its certified manifest records of it.
    const capture =
      row.record.mediaType === MEDIA_TYPE_CAPTURE
        ? captureFactsOf((await storedManifest(options.objects, row.record.contentHash)).manifest)
        : undefined;
    const pdf = await options.renderer
      .render(
        {
          certificateJson: `${JSON.stringify(row.certificate, null, 2)}\n`,
          ...(account ? { applicant: account.name } : {}),
          ...(site.chainNames[claims.anchor.chainId] ? { chainName: site.chainNames[claims.anchor.chainId] } : {}),
          developmentChain: DEVELOPMENT_CHAIN_IDS.includes(claims.anchor.chainId),
          verifyUrl: new URL(`/verify?id=${encodeURIComponent(id)}`, site.publicUrl).href,
          serviceUrl: site.publicUrl,
          timestamps: claims.timestamps.flatMap((t) => documentTimestamp(t.token)),
          ...(capture ? { capture } : {}),
          // The document's time is the certificate's: the same certificate always gives the same document.
          generatedAt: new Date(claims.issuedAt),
        },
        clientKey(req.socket.remoteAddress),
      )
      .catch((e: unknown) => {
        throw documentProblem(e, id, res);
      });
    res.type("application/pdf").set("Content-Disposition", `attachment; filename="${id}.pdf"`).send(Buffer.from(pdf));
  });
  return router;
}

/**
 * A document not made, as a client can act on it: ask again after Retry-After, or take the
 * certificate itself, which is what a verifier checks. A document the worker refused to make
 * stays an internal error.
 */
function documentProblem(e: unknown, id: string, res: Response): unknown {
  if (!isDocumentError(e)) return e;
  if (e.retryAfterSeconds !== undefined) res.set("Retry-After", String(e.retryAfterSeconds));
  switch (e.code) {
    case "BUSY":
      return new HttpProblem(
        503,
        "SERVER_BUSY",
        `the service is making as many certificate documents as it may (${e.message}); try again in a few seconds`,
      );
    case "TIMEOUT":
    case "WORKER_FAILED":
      return new HttpProblem(
        503,
        "DOCUMENT_UNAVAILABLE",
        `${e.message}; try again later, or fetch the certificate itself at /api/v1/evidence/${id}/certificate`,
      );
    case "CLOSED":
      return new HttpProblem(503, "SHUTTING_DOWN", "the service is stopping; try again shortly");
    case "FAILED":
      return e;
  }
}

/** What a token says of itself, for the document; its verification is the verifier's. */
function documentTimestamp(token: string): DocumentTimestamp[] {
  try {
    const info = parseTimestampToken(timestampTokenFromBase64(token));
    const tsa = info.tsa ?? info.signer?.subject ?? "";
    const development =
      tsa.includes(DEVELOPMENT_TSA_MARKER) || (info.signer?.subject ?? "").includes(DEVELOPMENT_TSA_MARKER);
    return [{ tsa, time: info.genTime.toISOString(), development }];
  } catch {
    return [];
  }
}
