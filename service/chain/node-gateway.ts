import { once } from "node:events";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { NodeIpc } from "./node-ipc.ts";

/**
 * The JSON-RPC methods the gateway passes to the embedded chain: what the service, its
 * verifiers and ordinary Ethereum tooling read and send. Everything else is refused —
 * above all Anvil's administrative methods (`anvil_*`, `evm_*`, `hardhat_*`), which rewrite
 * balances, code, storage, time and history, and which Anvil itself cannot switch off.
 */
export const GATEWAY_METHODS: readonly string[] = [
  "eth_blockNumber",
  "eth_call",
  "eth_chainId",
  "eth_estimateGas",
  "eth_feeHistory",
  "eth_gasPrice",
  "eth_getBalance",
  "eth_getBlockByHash",
  "eth_getBlockByNumber",
  "eth_getBlockReceipts",
  "eth_getBlockTransactionCountByHash",
  "eth_getBlockTransactionCountByNumber",
  "eth_getCode",
  "eth_getFilterChanges",
  "eth_getFilterLogs",
  "eth_getLogs",
  "eth_getStorageAt",
  "eth_getTransactionByBlockHashAndIndex",
  "eth_getTransactionByBlockNumberAndIndex",
  "eth_getTransactionByHash",
  "eth_getTransactionCount",
  "eth_getTransactionReceipt",
  "eth_maxPriorityFeePerGas",
  "eth_newBlockFilter",
  "eth_newFilter",
  "eth_sendRawTransaction",
  "eth_syncing",
  "eth_uninstallFilter",
  "net_listening",
  "net_version",
  "web3_clientVersion",
];

/** Methods whose first parameter is a call object executed by the EVM: their gas is capped. */
const CALL_METHODS = new Set(["eth_call", "eth_estimateGas"]);

/** The gas a call may use when the caller asks for more: Anvil's default block gas limit. */
export const DEFAULT_CALL_GAS_CAP = 30_000_000n;

const MAX_BODY_BYTES = 2 * 1024 * 1024;
const MAX_BATCH = 1_000;

type JsonRpcCall = { jsonrpc: "2.0"; id?: unknown; method: string; params?: unknown };
type JsonRpcError = { jsonrpc: "2.0"; id: unknown; error: { code: number; message: string } };

/**
 * Screens one JSON-RPC call for the chain node: a refusal (a JSON-RPC error object to
 * answer with), or the call to forward — with the gas of an `eth_call`/`eth_estimateGas`
 * lowered to `gasCap`.
 *
 * Why the cap: Anvil runs `eth_call` with whatever gas the caller names (it disables the
 * block gas limit for calls, anvil 1.7.1 `Backend::build_call_env`), and runs it while
 * holding a read lock on its state; a loop given 2^64-1 gas runs for ever, and the miner
 * and `anvil_dumpState` wait behind it. No Anvil flag bounds it (`--gas-limit` does not).
 * Capping as geth's `--rpc.gascap` does makes such a call end with "out of gas".
 */
export function screenCall(
  call: unknown,
  gasCap: bigint = DEFAULT_CALL_GAS_CAP,
): { refusal: JsonRpcError } | { call: JsonRpcCall } {
  if (typeof call !== "object" || call === null || Array.isArray(call)) {
    return { refusal: rpcError(null, -32600, "invalid JSON-RPC request") };
  }
  const { jsonrpc, id, method, params } = call as Partial<JsonRpcCall>;
  if (jsonrpc !== "2.0" || typeof method !== "string") {
    return { refusal: rpcError(id ?? null, -32600, "invalid JSON-RPC request") };
  }
  if (!GATEWAY_METHODS.includes(method)) {
    return { refusal: rpcError(id ?? null, -32601, `method ${method} is not available on this node`) };
  }
  if (!CALL_METHODS.has(method)) return { call: call as JsonRpcCall };
  if (!Array.isArray(params) || params.length < 1 || params.length > 2) {
    return { refusal: rpcError(id ?? null, -32602, `${method} takes a call object and a block tag`) };
  }
  const [request, ...rest] = params as [unknown, ...unknown[]];
  if (typeof request !== "object" || request === null || Array.isArray(request)) {
    return { refusal: rpcError(id ?? null, -32602, `${method} takes a call object`) };
  }
  const gas = (request as { gas?: unknown }).gas;
  if (gas === undefined || gas === null) return { call: call as JsonRpcCall };
  if (typeof gas !== "string" || !/^0x[0-9a-f]{1,64}$/i.test(gas)) {
    return { refusal: rpcError(id ?? null, -32602, "gas must be a hex quantity") };
  }
  if (BigInt(gas) <= gasCap) return { call: call as JsonRpcCall };
  const capped = { ...(request as object), gas: `0x${gasCap.toString(16)}` };
  return { call: { ...(call as JsonRpcCall), params: [capped, ...rest] } };
}

export interface NodeGateway {
  url: string;
  close(): Promise<void>;
}

/**
 * The embedded chain's HTTP endpoint when the node itself runs without a reachable network
 * (see `LocalChain`): a JSON-RPC endpoint on 127.0.0.1 that forwards screened calls to the
 * node's control socket.
 *
 * It answers programs, not web pages: a request naming another Host (a DNS-rebinding page,
 * whose own name the browser sends) or carrying an Origin (any page's fetch) is refused,
 * there are no CORS headers, and no WebSocket upgrade — Anvil accepts all three.
 */
export async function startGateway(options: { port: number; ipc: NodeIpc; gasCap?: bigint }): Promise<NodeGateway> {
  const hosts = new Set([`127.0.0.1:${options.port}`, `localhost:${options.port}`]);
  const server: Server = createServer((req, res) => {
    void handle(req, res, hosts, options.ipc, options.gasCap ?? DEFAULT_CALL_GAS_CAP);
  });
  // No 'upgrade' listener, and upgrade requests get a 400 below: no WebSocket.
  server.listen(options.port, "127.0.0.1");
  try {
    await once(server, "listening");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "EADDRINUSE") {
      throw new PortInUseError(options.port);
    }
    throw e;
  }
  return {
    url: `http://127.0.0.1:${options.port}`,
    async close() {
      if (!server.listening) return;
      server.close();
      server.closeAllConnections();
      await once(server, "close");
    },
  };
}

export class PortInUseError extends Error {
  readonly port: number;

  constructor(port: number) {
    super(`port ${port} on 127.0.0.1 is in use by another program; free it or set LOCAL_CHAIN_PORT to another port`);
    this.name = "PortInUseError";
    this.port = port;
  }
}

async function handle(
  req: IncomingMessage,
  res: ServerResponse,
  hosts: Set<string>,
  ipc: NodeIpc,
  gasCap: bigint,
): Promise<void> {
  const refuse = (status: number, code: number, message: string) => {
    res.writeHead(status, { "content-type": "application/json", connection: "close" });
    res.end(JSON.stringify(rpcError(null, code, message)));
    req.resume();
  };
  if (!hosts.has(req.headers.host ?? "")) return refuse(403, -32600, "this endpoint answers for 127.0.0.1 only");
  if (req.headers.origin !== undefined) return refuse(403, -32600, "this endpoint does not answer web pages");
  if (req.headers.upgrade !== undefined) return refuse(400, -32600, "no WebSocket here");
  if (req.method !== "POST" || (req.url ?? "/") !== "/") return refuse(405, -32600, "POST / only");
  if (!/^application\/json\b/i.test(req.headers["content-type"] ?? "")) {
    return refuse(415, -32600, "the body must be application/json");
  }

  let body: unknown;
  try {
    body = JSON.parse(await readBody(req));
  } catch (e) {
    return refuse(e instanceof RangeError ? 413 : 400, -32700, e instanceof RangeError ? e.message : "parse error");
  }
  const batch = Array.isArray(body);
  const calls = batch ? (body as unknown[]) : [body];
  if (calls.length === 0 || calls.length > MAX_BATCH) {
    return refuse(400, -32600, `send 1 to ${MAX_BATCH} JSON-RPC calls`);
  }
  const screened = calls.map((call) => screenCall(call, gasCap));
  const forward = screened.flatMap((s) => ("call" in s ? [s.call] : []));

  let answers: unknown[] = [];
  if (forward.length > 0) {
    try {
      const answer = await ipc.exchange(JSON.stringify(batch ? forward : forward[0]), 60_000);
      answers = batch ? (answer as unknown[]) : [answer];
      if (!Array.isArray(answers)) throw new Error("the node answered a batch with something else");
    } catch {
      res.writeHead(503, { "content-type": "application/json" });
      res.end(JSON.stringify(rpcError(null, -32603, "the chain node is not available")));
      return;
    }
  }
  let next = 0;
  const results = screened.map((s) =>
    "refusal" in s ? s.refusal : (answers[next++] ?? rpcError(s.call.id ?? null, -32603, "no answer")),
  );
  res.writeHead(200, { "content-type": "application/json" });
  res.end(JSON.stringify(batch ? results : results[0]));
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new RangeError(`the body is larger than ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString("utf8");
}

function rpcError(id: unknown, code: number, message: string): JsonRpcError {
  return { jsonrpc: "2.0", id, error: { code, message } };
}
