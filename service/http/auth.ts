import type { RequestHandler } from "express";
import { authenticate } from "../accounts.ts";
import type { Account, EvidenceStore } from "../store/evidence-store.ts";
import { HttpProblem } from "./problem.ts";

declare module "express-serve-static-core" {
  interface Request {
    account?: Account;
  }
}

/** Requires `Authorization: Bearer <api key>`; sets `req.account`. */
export function requireApiKey(store: EvidenceStore): RequestHandler {
  return (req, _res, next) => {
    const header = req.get("authorization") ?? "";
    const match = /^Bearer ([^\s]+)$/i.exec(header);
    if (!match) return next(new HttpProblem(401, "UNAUTHENTICATED", "send Authorization: Bearer <api key>"));
    const account = authenticate(store, match[1]!);
    if (!account) return next(new HttpProblem(401, "INVALID_API_KEY", "the API key is not valid"));
    req.account = account;
    next();
  };
}

/**
 * Per-account rate limit: a token bucket of `perMinute` tokens refilled continuously.
 * Over the limit: 429 with Retry-After in seconds.
 */
export function rateLimit(perMinute: number): RequestHandler {
  const buckets = new Map<string, { tokens: number; at: number }>();
  const rate = perMinute / 60_000;
  return (req, res, next) => {
    const key = req.account?.id ?? req.ip ?? "anonymous";
    const now = Date.now();
    const bucket = buckets.get(key) ?? { tokens: perMinute, at: now };
    bucket.tokens = Math.min(perMinute, bucket.tokens + (now - bucket.at) * rate);
    bucket.at = now;
    buckets.set(key, bucket);
    if (bucket.tokens < 1) {
      const retryAfter = Math.ceil((1 - bucket.tokens) / rate / 1000);
      res.set("Retry-After", String(retryAfter));
      return next(new HttpProblem(429, "RATE_LIMITED", `too many requests; retry after ${retryAfter} s`));
    }
    bucket.tokens -= 1;
    next();
  };
}
