import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { Interface } from "ethers";
import { EVIDENCE_ANCHOR_ABI, JsonRpcChainReader } from "../../service/core/index.ts";
import { anvilBinary } from "../../service/chain/local-chain.ts";
import { isAlive } from "../../service/process-alive.ts";

const ROOT = path.resolve(import.meta.dirname, "../..");
const CLI = path.join(ROOT, "scripts/evidence.ts");

/**
 * A port that was free a moment ago, on loopback, and outside the kernel's ephemeral range:
 * a port from that range can be taken as the source port of any outgoing connection on the
 * machine between this check and the moment the test binds it. Never the same port twice in
 * one test process.
 */
export async function freePort(): Promise<number> {
  const [low, high] = ephemeralRange();
  // Below the ephemeral range when there is room there, otherwise above it.
  const [from, to] = low - 10_000 >= 1024 ? [low - 10_000, low] : [high + 1, 65_536];
  for (let tries = 0; to - from >= 100 && tries < 1_000; tries++) {
    const port = from + Math.floor(Math.random() * (to - from));
    if (handedOut.has(port)) continue;
    handedOut.add(port); // before binding: two calls at once never get the same port
    const server = createServer().listen(port, "127.0.0.1");
    // `once` rejects when 'error' comes first: a port in use, try another.
    const error = await once(server, "listening").then(
      () => undefined,
      (e: NodeJS.ErrnoException) => e,
    );
    if (error?.code === "EADDRINUSE") continue;
    if (error) throw error;
    return release(server);
  }
  // No room outside the ephemeral range on this machine: a port the kernel picks.
  const server = createServer().listen(0, "127.0.0.1");
  await once(server, "listening");
  return release(server);
}

/** Closes a listening server and gives back the port it held. */
async function release(server: ReturnType<typeof createServer>): Promise<number> {
  const { port } = server.address() as { port: number };
  server.close();
  await once(server, "close");
  return port;
}

const handedOut = new Set<number>();

/** `net.ipv4.ip_local_port_range`: the ports the kernel gives outgoing connections. */
function ephemeralRange(): [number, number] {
  try {
    const [low, high] = readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/).map(Number);
    if (Number.isInteger(low) && Number.isInteger(high)) return [low!, high!];
  } catch {
    // Not Linux: assume the IANA dynamic range.
  }
  return [49_152, 65_535];
}

export function tempDir(prefix: string): string {
  return mkdtempSync(path.join(tmpdir(), `evidence-${prefix}-`));
}

/**
 * Polls `probe` until it returns a value; for state that only an API can show (no event to
 * await). A probe that throws counts as "not yet", but its last error is kept and named on
 * timeout, so a wait that can never succeed says why.
 */
export async function until<T>(probe: () => Promise<T | undefined>, what: string, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    const value = await probe().catch((e: unknown) => {
      lastError = e;
      return undefined;
    });
    if (value !== undefined) return value;
    if (Date.now() > deadline) {
      const reason =
        lastError === undefined
          ? ""
          : `; the last error a probe threw: ${lastError instanceof Error ? lastError.message : String(lastError)}`;
      throw new Error(`timed out waiting for ${what}${reason}`, { cause: lastError });
    }
    await delay(100);
  }
}

export interface ChainNode {
  url: string;
  port: number;
  chainId: number;
  stop(): Promise<void>;
}

/** A standalone Anvil node over JSON-RPC on loopback. */
export async function startChainNode(
  options: { chainId?: number; port?: number; args?: string[] } = {},
): Promise<ChainNode> {
  const port = options.port ?? (await freePort());
  const chainId = options.chainId ?? 31337;
  const child = spawn(
    anvilBinary(),
    ["--host", "127.0.0.1", "--port", String(port), "--chain-id", String(chainId), "--silent", ...(options.args ?? [])],
    { stdio: "ignore" },
  );
  const url = `http://127.0.0.1:${port}`;
  await until(() => new JsonRpcChainReader(url, { timeoutMs: 500 }).chainId(), `the chain node at ${url}`, 30_000);
  return {
    url,
    port,
    chainId,
    async stop() {
      if (child.exitCode !== null) return;
      child.kill("SIGTERM");
      await once(child, "exit");
    },
  };
}

export interface ServiceProcess {
  url: string;
  dataDir: string;
  /** The development account's key, printed at first start. */
  apiKey: string | undefined;
  child: ChildProcess;
  output: () => string;
  /** Crash: SIGKILL, no chance to clean up. */
  kill9(): Promise<void>;
  /** Graceful stop: SIGTERM; the embedded chain is stopped too and saves its state. */
  stop(): Promise<void>;
}

/** Runs `evidence serve` as a real process and waits for it to listen. */
export async function startServiceProcess(dataDir: string, env: Record<string, string> = {}): Promise<ServiceProcess> {
  const child = spawn(process.execPath, [CLI, "serve"], {
    cwd: ROOT,
    env: {
      ...process.env,
      DATA_DIR: dataDir,
      PORT: "0",
      BATCH_MAX_WAIT_MS: "200",
      LOCAL_CHAIN_BLOCK_TIME: "0",
      // The embedded chain's own port, unless the test names one: never the shared default 8545.
      LOCAL_CHAIN_PORT: String(await freePort()),
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout!.on("data", (d: Buffer) => (output += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (output += d.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    const onData = () => {
      // The service prints this line last, after the development key.
      const match = /serving on (https?:\/\/\S+)\n/.exec(output);
      if (match) {
        child.stdout!.off("data", onData);
        resolve(match[1]!);
      }
    };
    child.stdout!.on("data", onData);
    child.once("exit", (code) => reject(new Error(`the service exited with ${code}:\n${output}`)));
  });
  const apiKey = /API key[^\n]*\n\n {2}(\S+)/.exec(output)?.[1];
  const exited = once(child, "exit");
  return {
    url,
    dataDir,
    apiKey,
    child,
    output: () => output,
    async kill9() {
      child.kill("SIGKILL");
      await exited;
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill("SIGTERM");
      await exited;
    },
  };
}

/** Stops the embedded chain a data directory's service left running (after a kill -9), and removes the directory. */
export async function cleanUpDataDir(dataDir: string): Promise<void> {
  const pidFile = path.join(dataDir, "chain", "anvil.pid");
  if (existsSync(pidFile)) {
    const pid = Number(readFileSync(pidFile, "utf8"));
    try {
      process.kill(pid, "SIGTERM");
      await until(async () => (isAlive(pid) ? undefined : true), "the chain to stop", 10_000);
    } catch {
      // already gone
    }
  }
  rmSync(dataDir, { recursive: true, force: true });
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the `evidence` CLI as a subprocess. */
export function runCli(
  args: string[],
  env: Record<string, string> = {},
  options: { outputClosed?: boolean; cwd?: string; stdout?: string } = {},
): Promise<CliResult> {
  return runScript(CLI, args, env, options);
}

/**
 * Runs one of the project's node scripts as a subprocess, from the repository root. With
 * `outputClosed`, the reading end of its stdout is closed at once, as by `| head` that has
 * read all it wanted: every write the script makes fails (EPIPE). `cwd` runs it elsewhere;
 * `stdout` names a file its output goes to instead (`/dev/full`: every write fails, ENOSPC).
 */
export async function runScript(
  script: string,
  args: string[],
  env: Record<string, string> = {},
  options: { outputClosed?: boolean; cwd?: string; stdout?: string } = {},
): Promise<CliResult> {
  const outFd = options.stdout === undefined ? undefined : openSync(options.stdout, "w");
  const child = spawn(process.execPath, [script, ...args], {
    cwd: options.cwd ?? ROOT,
    env: { ...process.env, ...env },
    stdio: ["ignore", outFd ?? "pipe", "pipe"],
  });
  if (outFd !== undefined) closeSync(outFd);
  let stdout = "";
  let stderr = "";
  if (options.outputClosed) child.stdout?.destroy();
  child.stdout?.on("data", (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
  const [code] = (await once(child, "exit")) as [number | null];
  return { code, stdout, stderr };
}

/** HTTP helpers against a running service. */
export function api(baseUrl: string, apiKey?: string) {
  const auth: Record<string, string> = apiKey ? { authorization: `Bearer ${apiKey}` } : {};
  return {
    async get(route: string) {
      const res = await fetch(`${baseUrl}${route}`, { headers: auth });
      return { status: res.status, type: res.headers.get("content-type"), body: (await res.json()) as any };
    },
    async postJson(route: string, body: unknown, headers: Record<string, string> = {}) {
      const res = await fetch(`${baseUrl}${route}`, {
        method: "POST",
        headers: { ...auth, "content-type": "application/json", ...headers },
        body: typeof body === "string" ? body : JSON.stringify(body),
      });
      return {
        status: res.status,
        type: res.headers.get("content-type"),
        headers: res.headers,
        body: (await res.json()) as any,
      };
    },
    async postForm(route: string, form: FormData) {
      const res = await fetch(`${baseUrl}${route}`, { method: "POST", headers: auth, body: form });
      return { status: res.status, type: res.headers.get("content-type"), body: (await res.json()) as any };
    },
    /** Waits until nothing is pending or being anchored. */
    async settled(timeoutMs = 60_000): Promise<void> {
      let last: unknown;
      try {
        await until(
          async () => {
            const { body } = await this.get("/healthz");
            last = body;
            return body.evidence.pending === 0 && body.evidence.anchoring === 0 ? true : undefined;
          },
          "every item to be anchored",
          timeoutMs,
        );
      } catch (e) {
        (e as Error).message += `; /healthz last answered ${JSON.stringify(last)}`;
        throw e;
      }
    },
    /** Waits until the evidence is anchored and returns its certificate. */
    async anchored(id: string, timeoutMs = 60_000): Promise<any> {
      return until(
        async () => {
          const { body } = await this.get(`/api/v1/evidence/${id}`);
          return body.status === "anchored" ? body.certificate : undefined;
        },
        `evidence ${id} to be anchored`,
        timeoutMs,
      );
    },
  };
}

const ANCHORED_TOPIC = new Interface(EVIDENCE_ANCHOR_ABI).getEvent("Anchored")!.topicHash;

/** The Anchored events `contract` emitted (for one root, if given), read from the chain itself. */
export async function anchoredLogs(
  chainUrl: string,
  contract: string,
  root?: string,
): Promise<{ root: string; transactionHash: string }[]> {
  const logs = (await new JsonRpcChainReader(chainUrl).request("eth_getLogs", [
    {
      address: contract,
      topics: root ? [ANCHORED_TOPIC, root] : [ANCHORED_TOPIC],
      fromBlock: "0x0",
      toBlock: "latest",
    },
  ])) as { topics: string[]; transactionHash: string }[];
  return logs.map((l) => ({ root: l.topics[1]!, transactionHash: l.transactionHash }));
}
