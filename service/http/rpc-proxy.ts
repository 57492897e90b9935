import express, { Router } from "express";
import { evidenceAnchorInterface, MAX_RPC_BATCH, VERIFIER_RPC_METHODS, type VerifierRpcMethod } from "../core/index.ts";
import type { Logger } from "../log.ts";
import { rateLimit, type TokenBuckets } from "./auth.ts";
import { requireType } from "./validation.ts";
import { HttpProblem, sendProblem } from "./problem.ts";
import { readLimited } from "../read-limited.ts";

/** A verification read is small; an answer larger than this is not one (1 MiB). */
const MAX_UPSTREAM_BYTES = 1024 * 1024;
const UPSTREAM_TIMEOUT_MS = 10_000;

const QUANTITY = /^0x(0|[1-9a-f][0-9a-f]{0,15})$/;
const HASH32 = /^0x[0-9a-fA-F]{64}$/;
const ADDRESS = /^0x[0-9a-fA-F]{40}$/;
const ANCHOR_OF = evidenceAnchorInterface.getFunction("anchorOf")!.selector;

/**
 * Each allowed method with the only parameters verification sends. Everything else is
 * refused before it reaches the node: an `eth_call` with a gas limit, a sender, a value
 * or a state override could make the node compute without end or answer with megabytes.
 */
function checkParams(method: VerifierRpcMethod, params: unknown, contracts: readonly string[]): string | null {
  const p = Array.isArray(params) ? params : params === undefined ? [] : null;
  if (p === null) return "params must be an array";
  const blockTag = (tag: unknown) => tag === "latest" || (typeof tag === "string" && QUANTITY.test(tag));
  switch (method) {
    case "eth_chainId":
    case "eth_blockNumber":
      return p.length === 0 ? null : `${method} takes no parameters`;
    case "eth_getCode":
      return p.length === 2 && typeof p[0] === "string" && ADDRESS.test(p[0]) && blockTag(p[1])
        ? null
        : "eth_getCode takes [address, block]";
    case "eth_getBlockByNumber":
      return p.length === 2 && blockTag(p[0]) && p[1] === false
        ? null
        : "eth_getBlockByNumber takes [block, false] (no transaction bodies)";
    case "eth_getTransactionReceipt":
      return p.length === 1 && typeof p[0] === "string" && HASH32.test(p[0])
        ? null
        : "eth_getTransactionReceipt takes [hash]";
    case "eth_call": {
      if (p.length !== 2 || !blockTag(p[1])) return "eth_call takes [{to, data}, block] (no state override)";
      const call = p[0] as Record<string, unknown> | null;
      if (typeof call !== "object" || call === null || Array.isArray(call)) return "eth_call takes [{to, data}, block]";
      const keys = Object.keys(call);
      if (keys.some((k) => k !== "to" && k !== "data")) return "eth_call takes only to and data (no gas, from, value)";
      const to = typeof call.to === "string" ? call.to.toLowerCase() : undefined;
      if (!contracts.some((c) => c.toLowerCase() === to)) {
        return contracts.length === 1
          ? `eth_call only to the anchor contract ${contracts[0]}`
          : `eth_call only to the anchor contracts ${contracts.join(", ")}`;
      }
      if (typeof call.data !== "string" || !new RegExp(`^${ANCHOR_OF}[0-9a-fA-F]{64}$`).test(call.data)) {
        return "eth_call only of anchorOf(bytes32)";
      }
      return null;
    }
  }
}

/**
 * POST /rpc: a read-only JSON-RPC proxy to the chain for verifiers that have no node of
 * their own. Only the reads verification makes pass, each with its parameters checked;
 * anything else — sending transactions, node administration, unbounded calls — is
 * refused with a JSON-RPC error. The node's answer is read up to 1 MiB, never more.
 */
export function rpcProxy(options: {
  chainUrl: string;
  /** The registries whose anchors may be read: the service's own and the earlier ones it trusts. */
  contracts: readonly string[];
  anonymous: TokenBuckets;
  log: Logger;
}): Router {
  const router = Router({ caseSensitive: true, strict: true });
  const allowed = new Set<string>(VERIFIER_RPC_METHODS);
  let lastLogged = 0;

  router.post(
    "/rpc",
    requireType("application/json"),
    // Any JSON value: one that is not a call is answered as JSON-RPC answers it (-32600), not as unreadable.
    express.json({ limit: "64kb", strict: false }),
    // Refused before the rate limit is charged: a refused request costs nothing.
    (req, _res, next) => {
      const calls: unknown = req.body;
      if (Array.isArray(calls) && (calls.length === 0 || calls.length > MAX_RPC_BATCH)) {
        throw new HttpProblem(400, "INVALID_RPC_BATCH", `send 1 to ${MAX_RPC_BATCH} JSON-RPC calls`);
      }
      next();
    },
    rateLimit(options.anonymous, (req) => (Array.isArray(req.body) ? req.body.length : 1)),
    async (req, res) => {
      const body: unknown = req.body;
      const calls = Array.isArray(body) ? body : [body];
      const ids = new Set<unknown>();
      const refused = calls.map((call) => {
        const refusedCall = refusal(call, allowed, options.contracts);
        if (refusedCall !== null) return refusedCall;
        const id = (call as { id: unknown }).id;
        if (ids.has(id)) return errorFor(call, -32600, "each call of a batch needs its own id");
        ids.add(id);
        return null;
      });
      const forward = calls.filter((_, i) => refused[i] === null);
      let answers: unknown[] = [];
      if (forward.length > 0) {
        try {
          answers = await forwardCalls(options.chainUrl, forward);
        } catch (e) {
          const now = Date.now();
          if (now - lastLogged > 10_000) {
            lastLogged = now;
            options.log.warn(`the RPC proxy could not read the chain: ${(e as Error).message}`);
          }
          // Answered here rather than thrown: the error handler would log every failure again.
          sendProblem(res, new HttpProblem(502, "CHAIN_UNREACHABLE", "the chain node did not answer"));
          return;
        }
      }
      const byId = new Map<unknown, unknown>();
      for (const a of answers) byId.set((a as { id?: unknown })?.id, a);
      // Answers go back in the order of the calls, matched by id (a node may reorder a batch).
      const results = calls.map(
        (call, i) =>
          refused[i] ?? byId.get((call as { id?: unknown }).id) ?? errorFor(call, -32603, "no answer from the node"),
      );
      res.json(Array.isArray(body) ? results : results[0]);
    },
  );
  return router;
}

async function forwardCalls(url: string, calls: unknown[]): Promise<unknown[]> {
  const upstream = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(calls),
    signal: AbortSignal.timeout(UPSTREAM_TIMEOUT_MS),
  });
  if (!upstream.body) throw new Error(`the node answered ${upstream.status} with no body`);
  const bytes = await readLimited(upstream, MAX_UPSTREAM_BYTES);
  if (!bytes) throw new Error(`the node's answer exceeded ${MAX_UPSTREAM_BYTES} bytes`);
  const answers: unknown = JSON.parse(Buffer.from(bytes).toString("utf8"));
  if (!Array.isArray(answers)) throw new Error("the node answered a batch with something that is not a batch");
  return answers;
}

function refusal(call: unknown, allowed: Set<string>, contracts: readonly string[]): unknown {
  if (typeof call !== "object" || call === null || (call as { jsonrpc?: unknown }).jsonrpc !== "2.0") {
    return errorFor(call, -32600, "invalid JSON-RPC request");
  }
  const { method, params, id } = call as { method?: unknown; params?: unknown; id?: unknown };
  // An id the node might read otherwise (2.5, 1e400, beyond 2^53) would lose its answer.
  if (!Number.isSafeInteger(id) && (typeof id !== "string" || id.length > 100))
    return errorFor(call, -32600, "a call needs an integer or string id");
  if (typeof method !== "string" || !allowed.has(method)) {
    return errorFor(call, -32601, `method not allowed here; allowed: ${[...allowed].join(", ")}`);
  }
  const problem = checkParams(method as VerifierRpcMethod, params, contracts);
  return problem === null ? null : errorFor(call, -32602, problem);
}

function errorFor(call: unknown, code: number, message: string) {
  const id = typeof call === "object" && call !== null ? ((call as { id?: unknown }).id ?? null) : null;
  return { jsonrpc: "2.0", id, error: { code, message } };
}
