import { Router } from "express";
import type { EvidenceStore } from "../../store/store.ts";
import { publicCors } from "../cors.ts";

/**
 * GET /api/v1/checkpoints: the chain's block hashes as time-stamped by the TSAs, newest
 * first (`?limit`, at most 1,000). Each token stamps SHA-256 of the block hash's 32 bytes.
 */
export function checkpointRoutes(store: EvidenceStore): Router {
  const router = Router({ caseSensitive: true, strict: true });
  router.get("/api/v1/checkpoints", publicCors, async (req, res) => {
    const limit = Math.min(Math.max(Number(req.query.limit ?? 100) || 100, 1), 1_000);
    res.json({ items: await store.checkpoints(limit) });
  });
  return router;
}
