import { mkdirSync, rmSync } from "node:fs";
import express, { type Express, type RequestHandler, type Router } from "express";
import type { Logger } from "../log.ts";
import { EVIDENCE_ID, MAX_DOCUMENT_BYTES, type OperatorHealth, type PublicHealth } from "../core/index.ts";
import type { Intake } from "../intake/intake.ts";
import type { ObjectStore } from "../objects/object-store.ts";
import type { EvidenceStore } from "../store/store.ts";
import { TokenBuckets } from "./auth.ts";
import { bodyDeadline, contentLengthLimit, minimumUploadRate, unreadBodyDeadline } from "./connection-limits.ts";
import { PUBLIC_PATHS, publicCors } from "./cors.ts";
import { ByteBudget } from "./byte-budget.ts";
import { HttpProblem, problemHandler } from "./problem.ts";
import { requestLog } from "./request-log.ts";
import { evidenceRoutes } from "./routes/evidence.ts";
import { captureRoutes } from "./routes/captures.ts";
import type { CaptureService } from "../capture/capture-service.ts";
import type { DocumentRenderer } from "../document/document-renderer.ts";
import { documentRoutes } from "./routes/documents.ts";
import { verifyRoutes, type Verify } from "./routes/verify.ts";
import { rpcProxy } from "./rpc-proxy.ts";

export interface AppDependencies {
  store: EvidenceStore;
  objects: ObjectStore;
  intake: Intake;
  /** Verifies with the service's chain reader (cached) and time-stamp trust list. */
  verify: Verify;
  chainUrl: string;
  limits: {
    fileSizeBytes: number;
    filesPerRequest: number;
    /** Submission units per account per minute (a digest is one unit). */
    submissionsPerMinute: number;
    /** Requests (or certificates, or RPC calls) per client address per minute on anonymous routes. */
    anonymousPerMinute: number;
    /** The whole body of an /rpc request must arrive within this. */
    rpcBodyTimeoutMs: number;
    /** An upload (evidence, or a certificate to verify) that sends less than 16 KiB in this long is cut with 408 (default 30 s). */
    uploadRateWindowMs?: number;
    /** Memory the verify route may hold for bodies, all requests together (default 256 MiB). */
    verifyBufferBytes?: number;
    /** The part of it the requests of one client address may hold (default all of it). */
    verifyBufferBytesPerAddress?: number;
    /** A JSON body (certificates to verify, digests, a capture request) must arrive whole within this (default 60 s). */
    jsonBodyTimeoutMs?: number;
  };
  /**
   * Where the verify route writes a capture package too large to hold in memory, and how many
   * bytes it may write there, all requests together. The directory is emptied when the app is
   * made. Without it, such a package beside a capture's certificate could not be verified.
   */
  verifySpool?: {
    dir: string;
    bytes: number;
    /** What the requests of one client address may write there together (default all of `bytes`). */
    bytesPerAddress?: number;
    /** Free disk the spool leaves to evidence on the same file system (default 1 GiB). */
    diskReserveBytes?: number;
  };
  /** The operators' view of health, or the public one (status and chain only). */
  health: { (view: "operator"): Promise<OperatorHealth>; (view: "public"): Promise<PublicHealth> };
  /** What the pages are told: the public address for QR codes, chain names. */
  site: () => {
    publicUrl: string;
    chainNames: Record<number, string>;
    developmentChainIds: readonly number[];
    chainId: number;
    contract: string;
    /** Every registry of `chainId` the service trusts: its own first, then earlier ones. */
    contracts: string[];
  };
  /** Operators see the whole health model with `Authorization: Bearer <token>`. */
  healthToken: string | undefined;
  log: Logger;
  /** Web captures, when the service offers them. */
  captures?: CaptureService;
  /** Makes the certificate documents (`GET /api/v1/evidence/:id/certificate.pdf`), when the service offers them. */
  renderer?: DocumentRenderer;
  /** More routes (checkpoints, the web pages), mounted before the 404 handler. */
  routers?: Router[];
}

/** The HTTP service: security headers, the API, the pages, problem+json for every error. */
export function createApp(deps: AppDependencies): Express {
  const app = express();
  app.disable("x-powered-by");
  app.set("trust proxy", false);
  app.set("case sensitive routing", true);
  app.set("strict routing", true);
  app.use(securityHeaders);
  app.use(requestLog(deps.log));
  app.use(unreadBodyDeadline());
  app.options(PUBLIC_PATHS, (req, res, next) => {
    // `/api/v1/evidence/digests` has the shape of an evidence path but is no evidence: no grant.
    const id = req.params.id;
    if (typeof id === "string" && !EVIDENCE_ID.test(id)) return next();
    publicCors(req, res, next);
  });

  const anonymous = new TokenBuckets(deps.limits.anonymousPerMinute);
  const submissions = new TokenBuckets(deps.limits.submissionsPerMinute);

  // Anyone may ask, as often as they like: callers within a second share one answer, so
  // asking costs the service at most one chain probe a second.
  const publicView = sharedForAMoment(() => deps.health("public"), 1_000);
  app.get("/healthz", publicCors, async (req, res) => {
    res.json(
      isOperator(req.get("authorization"), req.socket.remoteAddress, req.headers, deps.healthToken)
        ? await deps.health("operator")
        : await publicView(),
    );
  });

  app.get("/api/v1/site", publicCors, (_req, res) => {
    res.json(deps.site());
  });

  app.use("/rpc", contentLengthLimit(64 * 1024), bodyDeadline(deps.limits.rpcBodyTimeoutMs));
  app.use("/rpc", publicCors);
  app.use(rpcProxy({ chainUrl: deps.chainUrl, contracts: deps.site().contracts, anonymous, log: deps.log }));

  const jsonBodyTimeoutMs = deps.limits.jsonBodyTimeoutMs ?? 60_000;
  const uploadRate = minimumUploadRate(16 * 1024, deps.limits.uploadRateWindowMs);
  app.use("/api/v1/verify", contentLengthLimit(MAX_DOCUMENT_BYTES + deps.limits.fileSizeBytes), uploadRate, publicCors);
  const buffers = new ByteBudget(deps.limits.verifyBufferBytes ?? 256 * 1024 * 1024, {
    perAddress: deps.limits.verifyBufferBytesPerAddress,
  });
  const spool = deps.verifySpool && {
    dir: deps.verifySpool.dir,
    budget: new ByteBudget(deps.verifySpool.bytes, { perAddress: deps.verifySpool.bytesPerAddress }),
    diskReserveBytes: deps.verifySpool.diskReserveBytes ?? SPOOL_DISK_RESERVE_BYTES,
  };
  if (spool) {
    // What a process that stopped mid-request left there is no one's.
    rmSync(spool.dir, { recursive: true, force: true });
    mkdirSync(spool.dir, { recursive: true, mode: 0o700 });
  }
  app.use(
    verifyRoutes(deps.verify, {
      fileSizeBytes: deps.limits.fileSizeBytes,
      anonymous,
      buffers,
      ...(spool ? { spool } : {}),
      jsonBodyTimeoutMs,
    }),
  );

  app.use("/api/v1/evidence/digests", contentLengthLimit(8 * 1024 * 1024), bodyDeadline(jsonBodyTimeoutMs));
  // An upload may be large, but it must keep moving: 16 KiB/s over each 30 s at least.
  app.use("/api/v1/evidence", uploadRate);
  app.use(
    evidenceRoutes({
      store: deps.store,
      objects: deps.objects,
      intake: deps.intake,
      limits: deps.limits,
      submissions,
    }),
  );
  app.use(
    captureRoutes({
      store: deps.store,
      objects: deps.objects,
      captures: deps.captures,
      submissions,
      jsonBodyTimeoutMs,
    }),
  );
  if (deps.renderer) {
    app.use(
      documentRoutes({ store: deps.store, objects: deps.objects, renderer: deps.renderer, site: deps.site, anonymous }),
    );
  }
  for (const router of deps.routers ?? []) app.use(router);

  app.use((req, res, next) => {
    const allowed = routeMethods(app.router.stack as unknown as RouterLayer[], req.path);
    // A route of this method that passed the request on (an asset that does not exist) is a 404 too.
    if (allowed.size === 0 || allowed.has(req.method)) {
      return next(new HttpProblem(404, "NOT_FOUND", `no route for ${req.method} ${req.path}`));
    }
    const allow = [...allowed].sort().join(", ");
    res.set("Allow", allow);
    next(new HttpProblem(405, "METHOD_NOT_ALLOWED", `${req.path} answers ${allow}, not ${req.method}`));
  });
  app.use(problemHandler(deps.log));
  return app;
}

/**
 * Free disk a verification's spool never takes: evidence uploads and the database usually
 * share the data directory's file system, and what was acknowledged must have room.
 */
const SPOOL_DISK_RESERVE_BYTES = 1024 ** 3;

/** `compute`'s answer, shared by every caller until it is `maxAgeMs` old (a failure is not kept). */
function sharedForAMoment<T>(compute: () => Promise<T>, maxAgeMs: number): () => Promise<T> {
  let last: { at: number; value: Promise<T> } | undefined;
  return () => {
    const now = performance.now();
    if (last && now - last.at < maxAgeMs) return last.value;
    const value = compute();
    const entry = { at: now, value };
    last = entry;
    value.catch(() => {
      if (last === entry) last = undefined;
    });
    return value;
  };
}

/** The part of a router's layer (router 2) the methods of a path are read from. */
interface RouterLayer {
  /** router 2.3 answers what it matched; earlier versions true, keeping the matched part in `path`. */
  match(path: string): { path: string } | boolean;
  path?: string;
  route?: { methods: Record<string, boolean> };
  handle: { stack?: RouterLayer[] };
}

/**
 * The methods the routes of `stack` answer at `path`, routers mounted inside it included: what
 * a 405 names in `Allow` (HEAD wherever GET is, as Express answers it). Matching between
 * requests is safe: router 2.3 keeps no request state on a layer, and earlier versions keep
 * only what the next request's own match writes again before reading it.
 */
function routeMethods(stack: readonly RouterLayer[], path: string): Set<string> {
  const methods = new Set<string>();
  for (const layer of stack) {
    const matched = layer.match(path);
    if (!matched) continue;
    const consumed = typeof matched === "object" ? matched.path : (layer.path ?? "");
    if (layer.route) {
      for (const [method, on] of Object.entries(layer.route.methods)) {
        if (on && method !== "_all") methods.add(method.toUpperCase());
      }
    } else if (layer.handle.stack) {
      for (const m of routeMethods(layer.handle.stack, path.slice(consumed.length) || "/")) methods.add(m);
    }
  }
  if (methods.has("GET")) methods.add("HEAD");
  return methods;
}

/**
 * The operator's view of health: with the configured token, or — when none is configured —
 * from this machine directly (loopback, and no proxy in between that would forward a
 * remote client's request).
 */
function isOperator(
  authorization: string | undefined,
  remoteAddress: string | undefined,
  headers: Record<string, unknown>,
  token: string | undefined,
): boolean {
  if (token !== undefined) return authorization === `Bearer ${token}`;
  const loopback = remoteAddress === "127.0.0.1" || remoteAddress === "::1" || remoteAddress === "::ffff:127.0.0.1";
  const forwarded =
    headers["x-forwarded-for"] !== undefined || headers.forwarded !== undefined || headers["x-real-ip"] !== undefined;
  return loopback && !forwarded;
}

export const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data: blob:",
  "connect-src 'self' http: https:",
  "worker-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
  "form-action 'self'",
].join("; ");

const securityHeaders: RequestHandler = (_req, res, next) => {
  res.set({
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
  });
  next();
};
