import express, { Router } from "express";
import { VERIFIER_RPC_METHODS } from "../core/index.ts";
import { HttpProblem } from "./problem.ts";

const ALLOWED = new Set<string>(VERIFIER_RPC_METHODS);
const MAX_BATCH = 20;

/**
 * POST /rpc: a read-only JSON-RPC proxy to the chain for verifiers that have no node of
 * their own. Only the read methods verification needs pass; anything else — sending
 * transactions, node administration — is refused with a JSON-RPC error.
 */
export function rpcProxy(chainUrl: () => string): Router {
  const router = Router();
  router.post("/rpc", express.json({ limit: "64kb" }), async (req, res) => {
    const body: unknown = req.body;
    const calls = Array.isArray(body) ? body : [body];
    if (calls.length === 0 || calls.length > MAX_BATCH) {
      throw new HttpProblem(400, "INVALID_RPC_BATCH", `send 1 to ${MAX_BATCH} JSON-RPC calls`);
    }
    const refused = calls.map((call) => refusal(call));
    const forward = calls.filter((_, i) => refused[i] === null);
    let answers: unknown[] = [];
    if (forward.length > 0) {
      let upstream: Response;
      try {
        upstream = await fetch(chainUrl(), {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify(forward),
          signal: AbortSignal.timeout(10_000),
        });
        answers = (await upstream.json()) as unknown[];
      } catch {
        throw new HttpProblem(502, "CHAIN_UNREACHABLE", "the chain node did not answer");
      }
      if (!Array.isArray(answers)) throw new HttpProblem(502, "CHAIN_UNREACHABLE", "the chain node answered badly");
    }
    let next = 0;
    const results = calls.map((call, i) => refused[i] ?? answers[next++] ?? errorFor(call, -32603, "no answer"));
    res.json(Array.isArray(body) ? results : results[0]);
  });
  return router;
}

function refusal(call: unknown): unknown {
  if (typeof call !== "object" || call === null || (call as { jsonrpc?: unknown }).jsonrpc !== "2.0") {
    return errorFor(call, -32600, "invalid JSON-RPC request");
  }
  const method = (call as { method?: unknown }).method;
  if (typeof method !== "string" || !ALLOWED.has(method)) {
    return errorFor(call, -32601, `method not allowed here; allowed: ${[...ALLOWED].join(", ")}`);
  }
  return null;
}

function errorFor(call: unknown, code: number, message: string) {
  const id = typeof call === "object" && call !== null ? ((call as { id?: unknown }).id ?? null) : null;
  return { jsonrpc: "2.0", id, error: { code, message } };
}
