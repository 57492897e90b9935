import express, { type Express, type RequestHandler } from "express";
import { JsonRpcAnchorReader, type AnchorReader } from "../core/index.ts";
import type { ObjectStore } from "../intake/object-store.ts";
import type { EvidenceStore } from "../store/evidence-store.ts";
import { evidenceRoutes } from "./evidence-routes.ts";
import { HttpProblem, problemHandler } from "./problem.ts";
import { rpcProxy } from "./rpc-proxy.ts";
import { verifyRoutes } from "./verify-routes.ts";

export interface AppDependencies {
  store: EvidenceStore;
  objects: ObjectStore;
  /** Reads the chain for verification (cached). */
  chain: AnchorReader;
  chainUrl: string;
  chainId: number;
  contract: string;
  limits: { fileSizeBytes: number; filesPerRequest: number; digestsPerRequest: number; requestsPerMinute: number };
  anchoring: () => { reachable: boolean; lastError: string | null; lastAnchoredAt: string | null };
  onIntake: () => void;
  log: (message: string) => void;
  /** The web pages, mounted before the 404 handler. */
  web?: express.Router;
}

export function createApp(deps: AppDependencies): Express {
  const app = express();
  app.disable("x-powered-by");
  app.set("trust proxy", false);
  app.use(securityHeaders);
  app.use(cors);

  app.get("/healthz", async (_req, res) => {
    // Asked live, not through the verifier's cache: health must notice an outage now.
    const reachable = await new JsonRpcAnchorReader(deps.chainUrl, { timeoutMs: 2_000 }).chainId().then(
      (id) => id === deps.chainId,
      () => false,
    );
    const anchoring = deps.anchoring();
    const status = reachable && anchoring.reachable ? "ok" : "degraded";
    res.status(200).json({
      status,
      chain: { chainId: deps.chainId, contract: deps.contract, reachable },
      anchoring,
      evidence: deps.store.counts(),
    });
  });

  app.use(evidenceRoutes({ store: deps.store, objects: deps.objects, limits: deps.limits, onIntake: deps.onIntake }));
  app.use(verifyRoutes(deps.chain, deps.limits));
  app.use(rpcProxy(() => deps.chainUrl));
  if (deps.web) app.use(deps.web);

  app.use((req, _res, next) => next(new HttpProblem(404, "NOT_FOUND", `no route for ${req.method} ${req.path}`)));
  app.use(problemHandler(deps.log));
  return app;
}

const securityHeaders: RequestHandler = (_req, res, next) => {
  res.set({
    "Content-Security-Policy":
      "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; connect-src 'self' http: https:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
  });
  next();
};

/**
 * CORS: reading a certificate, verifying and the read-only RPC proxy are public, so any
 * origin may call them (no cookies are used, so nothing rides along). Submitting stays
 * same-origin: other sites' pages get no CORS grant for it.
 */
const PUBLIC = /^\/(api\/v1\/verify|api\/v1\/evidence\/[^/]+(\/certificate)?|rpc|healthz)$/;
const cors: RequestHandler = (req, res, next) => {
  const isPublic = PUBLIC.test(req.path) && !(req.path === "/api/v1/evidence/digests");
  if (isPublic) {
    res.set("Access-Control-Allow-Origin", "*");
    if (req.method === "OPTIONS") {
      res.set({
        "Access-Control-Allow-Methods": "GET, POST",
        "Access-Control-Allow-Headers": "content-type",
        "Access-Control-Max-Age": "600",
      });
      return void res.status(204).end();
    }
  }
  next();
};
