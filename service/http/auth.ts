import type { Request, RequestHandler } from "express";
import { authenticate } from "../store/accounts.ts";
import type { Account, EvidenceStore } from "../store/store.ts";
import { HttpProblem } from "./problem.ts";
import { clientKey } from "./client-address.ts";

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
    authenticate(store, match[1]!).then((account) => {
      if (!account) return next(new HttpProblem(401, "INVALID_API_KEY", "the API key is not valid"));
      req.account = account;
      next();
    }, next);
  };
}

/**
 * Token buckets: `perMinute` units per key, refilled continuously. A request costs what it
 * asks of the service — a digest submission one unit per item, a bulk verification one per
 * certificate — so many small requests and one large one are limited alike.
 */
export class TokenBuckets {
  readonly #perMinute: number;
  readonly #rate: number;
  readonly #buckets = new Map<string, { tokens: number; at: number }>();
  readonly #maxKeys: number;

  constructor(perMinute: number, options: { maxKeys?: number } = {}) {
    this.#perMinute = perMinute;
    this.#rate = perMinute / 60_000;
    this.#maxKeys = options.maxKeys ?? 100_000;
  }

  /**
   * Takes `cost` units for `key`, or says in how many seconds they will be there. A request
   * charged in parts has taken `paid` units already: it is judged as one request of both.
   */
  take(key: string, cost = 1, now = Date.now(), paid = 0): { ok: true } | { ok: false; retryAfter: number } {
    let bucket = this.#buckets.get(key);
    if (!bucket) {
      bucket = { tokens: this.#perMinute, at: now };
      if (this.#buckets.size >= this.#maxKeys) this.#buckets.delete(this.#buckets.keys().next().value as string);
      this.#buckets.set(key, bucket);
    }
    bucket.tokens = Math.min(this.#perMinute, bucket.tokens + (now - bucket.at) * this.#rate);
    bucket.at = now;
    // A request larger than the whole bucket is admitted when the bucket is full: it then
    // leaves the bucket in debt, so the next requests wait until it is paid back.
    const needed = Math.min(cost + paid, this.#perMinute) - paid;
    if (bucket.tokens < needed) {
      return { ok: false, retryAfter: Math.max(1, Math.ceil((needed - bucket.tokens) / this.#rate / 1000)) };
    }
    bucket.tokens -= cost;
    return { ok: true };
  }
}

/**
 * Rate limit by account (signed-in routes) or by client address (anonymous ones). `cost(req)`
 * is what the request costs in all, as far as is known where this runs: a request that passes
 * several rate limits on the same buckets (a body paid for before it is read, then as read,
 * then its items once counted) pays at each only what it has not paid yet, and is judged as
 * one request. Over the limit: 429 with Retry-After in seconds.
 */
export function rateLimit(buckets: TokenBuckets, cost: (req: Request) => number = () => 1): RequestHandler {
  return (req, res, next) => {
    const charged = chargedBy(buckets);
    const paid = charged.get(req) ?? 0;
    const more = cost(req) - paid;
    if (more <= 0) return next();
    const key = req.account ? `account:${req.account.id}` : `ip:${clientKey(req.socket.remoteAddress)}`;
    const taken = buckets.take(key, more, Date.now(), paid);
    if (!taken.ok) {
      res.set("Retry-After", String(taken.retryAfter));
      return next(new HttpProblem(429, "RATE_LIMITED", `too many requests; retry after ${taken.retryAfter} s`));
    }
    charged.set(req, paid + more);
    next();
  };
}

/** What each request has been charged so far, per set of buckets. */
const ledgers = new WeakMap<TokenBuckets, WeakMap<Request, number>>();

function chargedBy(buckets: TokenBuckets): WeakMap<Request, number> {
  let charged = ledgers.get(buckets);
  if (!charged) {
    charged = new WeakMap();
    ledgers.set(buckets, charged);
  }
  return charged;
}
