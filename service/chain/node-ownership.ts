import { spawnSync } from "node:child_process";
import { once } from "node:events";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { connect, createServer, type Server } from "node:net";

/**
 * Exclusive ownership of a chain directory by one service instance, held as a listening
 * socket in Linux's abstract socket namespace (unix(7)) named after the directory's device
 * and inode. The kernel lets one socket at a time hold a name and frees it when its holder
 * exits, however it exits: there is no stale lock to guess about after a kill -9, and no
 * window in which two instances both believe they own the directory.
 *
 * A second instance learns the holder's pid by connecting: the holder writes it and closes.
 */
export class DirectoryLock {
  readonly #server: Server;

  private constructor(server: Server) {
    this.#server = server;
  }

  /** Takes the lock, or throws {@link LockHeldError} naming the holder's pid. */
  static async acquire(dir: string): Promise<DirectoryLock> {
    const name = lockName(dir);
    const server = createServer((socket) => socket.end(`${process.pid}\n`));
    server.listen(name);
    try {
      await once(server, "listening");
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EADDRINUSE") throw e;
      throw new LockHeldError(dir, await holderOf(name));
    }
    server.unref();
    return new DirectoryLock(server);
  }

  async release(): Promise<void> {
    if (!this.#server.listening) return;
    this.#server.close();
    await once(this.#server, "close");
  }
}

export class LockHeldError extends Error {
  readonly holder: number | undefined;

  constructor(dir: string, holder: number | undefined) {
    super(
      `the chain in ${dir} is run by another instance of the service${holder === undefined ? "" : ` (pid ${holder})`}; ` +
        "stop it first, or give this instance its own DATA_DIR",
    );
    this.name = "LockHeldError";
    this.holder = holder;
  }
}

function lockName(dir: string): string {
  const { dev, ino } = statSync(dir);
  return `\0evidence-anchor/chain/${dev}/${ino}`;
}

async function holderOf(name: string): Promise<number | undefined> {
  return new Promise((resolve) => {
    const socket = connect(name);
    let text = "";
    const done = () => {
      socket.destroy();
      const pid = Number(text.trim());
      resolve(Number.isSafeInteger(pid) && pid > 0 ? pid : undefined);
    };
    socket.setTimeout(1_000, done);
    socket.on("data", (d: Buffer) => (text += d.toString()));
    socket.on("end", done);
    socket.on("error", done);
  });
}

/** The argument vector of process `pid` (from /proc), or undefined when it is gone or hidden. */
export function commandLine(pid: number): string[] | undefined {
  try {
    const raw = readFileSync(`/proc/${pid}/cmdline`, "utf8");
    return raw.length === 0 ? undefined : raw.replace(/\0$/, "").split("\0");
  } catch {
    return undefined;
  }
}

/** The pids of this pid namespace's processes whose argument vector satisfies `test` (from /proc). */
export function processesWhere(test: (argv: string[]) => boolean): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const argv = commandLine(Number(entry));
    if (argv && test(argv)) pids.push(Number(entry));
  }
  return pids;
}

/** Whether `argv` holds `flag` immediately followed by `value`. */
export function hasArgument(argv: readonly string[], flag: string, value: string): boolean {
  return argv.some((arg, i) => (arg === flag && argv[i + 1] === value) || arg === `${flag}=${value}`);
}

/**
 * The `unshare(1)` flags that start a process in a network namespace of its own, if this
 * machine allows it: as root directly, otherwise inside a user namespace
 * (user_namespaces(7)). Undefined when neither works (e.g. a container whose seccomp
 * profile forbids it).
 */
export function networkNamespaceFlags(): string[] | undefined {
  const flags = process.getuid?.() === 0 ? ["--net"] : ["--net", "--map-root-user"];
  const probe = spawnSync("unshare", [...flags, "--", "true"], { stdio: "ignore", timeout: 5_000 });
  return probe.status === 0 ? flags : undefined;
}
