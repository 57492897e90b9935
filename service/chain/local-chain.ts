import { spawn } from "node:child_process";
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { JsonRpcChainReader } from "../core/index.ts";

export interface LocalChain {
  url: string;
  chainId: number;
  pid: number;
  /** Stops the node with SIGTERM, which makes it write its state file. */
  stop(): Promise<void>;
}

export interface LocalChainOptions {
  dataDir: string;
  port: number;
  /** Seconds between blocks; 0 mines a block for every transaction. */
  blockTime: number;
  chainId?: number;
}

/**
 * The embedded chain: an Anvil node whose state lives in `<dataDir>/chain/state.json`,
 * saved every second and on SIGTERM, and reloaded on start, so certificates issued
 * before a restart still verify after it.
 *
 * The node runs in its own process group and outlives a crash of the service; a
 * restarted service finds it through its pid file and keeps using it.
 */
export async function startLocalChain(options: LocalChainOptions): Promise<LocalChain> {
  const dir = path.join(options.dataDir, "chain");
  mkdirSync(dir, { recursive: true });
  const url = `http://127.0.0.1:${options.port}`;
  const pidFile = path.join(dir, "anvil.pid");

  const running = readPid(pidFile);
  if (running !== undefined && isAlive(running)) {
    const chainId = await chainIdAt(url);
    if (chainId !== undefined) return handle(url, chainId, running, pidFile);
    // A process with that pid that does not answer is not ours: start a new node.
  }

  const log = openSync(path.join(dir, "anvil.log"), "a");
  const args = [
    "--host",
    "127.0.0.1",
    "--port",
    String(options.port),
    "--chain-id",
    String(options.chainId ?? 31337),
    "--state",
    path.join(dir, "state.json"),
    "--state-interval",
    "1",
    ...(options.blockTime > 0 ? ["--block-time", String(options.blockTime)] : []),
  ];
  const child = spawn(anvilBinary(), args, { detached: true, stdio: ["ignore", log, log] });
  closeSync(log);
  child.unref();
  const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
  const spawnError = new Promise<Error>((resolve) => child.once("error", resolve));
  if (child.pid === undefined) throw await spawnError;
  writeFileSync(pidFile, String(child.pid));

  // Wait until the node answers; fail fast if it exits first (a port in use, a bad state file).
  for (let attempt = 0; attempt < 300; attempt++) {
    const chainId = await chainIdAt(url);
    if (chainId !== undefined) return handle(url, chainId, child.pid, pidFile);
    const early = await Promise.race([exited.then((code) => ({ code })), delay(100).then(() => undefined)]);
    if (early) {
      rmSync(pidFile, { force: true });
      throw new Error(`the local chain exited with code ${early.code}; see ${path.join(dir, "anvil.log")}`);
    }
  }
  process.kill(-child.pid, "SIGTERM");
  throw new Error(`the local chain did not answer at ${url} within 30 s`);
}

function handle(url: string, chainId: number, pid: number, pidFile: string): LocalChain {
  return {
    url,
    chainId,
    pid,
    async stop() {
      if (!isAlive(pid)) return;
      process.kill(pid, "SIGTERM");
      for (let i = 0; i < 200 && isAlive(pid); i++) await delay(50);
      rmSync(pidFile, { force: true });
    },
  };
}

async function chainIdAt(url: string): Promise<number | undefined> {
  try {
    return await new JsonRpcChainReader(url, { timeoutMs: 1_000 }).chainId();
  } catch {
    return undefined;
  }
}

function readPid(file: string): number | undefined {
  if (!existsSync(file)) return undefined;
  const pid = Number(readFileSync(file, "utf8").trim());
  return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
}

/** Whether process `pid` is running (a zombie does not count). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    // A zombie (exited, not yet reaped) still answers signal 0; /proc tells.
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return !/^\d+ \(.*\) Z/.test(stat);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** The Anvil binary shipped in the platform package of `@foundry-rs/anvil`. */
export function anvilBinary(): string {
  const require = createRequire(import.meta.url);
  const arch = { x64: "amd64", arm64: "arm64" }[process.arch as string] ?? process.arch;
  const pkg = require.resolve(`@foundry-rs/anvil-${process.platform}-${arch}/package.json`);
  return path.join(path.dirname(pkg), "bin", process.platform === "win32" ? "anvil.exe" : "anvil");
}
