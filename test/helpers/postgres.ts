import { execFile, execFileSync } from "node:child_process";
import { chownSync, existsSync, readdirSync, readFileSync, rmSync } from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import pg from "pg";
import { freePort, tempDir } from "./processes.ts";

const run = promisify(execFile);

/** Where Debian puts the server binaries: /usr/lib/postgresql/<major>/bin (newest first). */
function serverBinDir(): string {
  const debian = "/usr/lib/postgresql";
  const majors = existsSync(debian)
    ? readdirSync(debian)
        .filter((v) => existsSync(path.join(debian, v, "bin", "initdb")))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  if (majors[0] !== undefined) return path.join(debian, majors[0], "bin");
  for (const dir of (process.env.PATH ?? "").split(path.delimiter)) {
    if (dir && existsSync(path.join(dir, "initdb")) && existsSync(path.join(dir, "pg_ctl"))) return dir;
  }
  throw new Error(
    "PostgreSQL's server programs (initdb, pg_ctl) were not found in /usr/lib/postgresql/*/bin or on the PATH: " +
      "run `npm run setup` (it installs Debian's postgresql package), or install PostgreSQL 13 or newer",
  );
}

/**
 * PostgreSQL refuses to run as root. As root (CI), the server runs as the `postgres` system
 * user that Debian's package creates; otherwise as the current user.
 */
function asServerUser(): { wrap: (bin: string, args: string[]) => [string, string[]]; uid?: number; gid?: number } {
  if (process.getuid?.() !== 0) return { wrap: (bin, args) => [bin, args] };
  let ids: string[];
  try {
    ids = execFileSync("id", ["postgres"], { encoding: "utf8" }).match(/\d+/g) ?? [];
  } catch {
    throw new Error("running as root, and there is no `postgres` user to run PostgreSQL as: run `npm run setup`");
  }
  return {
    // util-linux's runuser lives in /usr/sbin, which a non-login PATH may leave out.
    wrap: (bin, args) => [
      ["/usr/sbin/runuser", "/sbin/runuser"].find((p) => existsSync(p)) ?? "runuser",
      ["-u", "postgres", "--", bin, ...args],
    ],
    uid: Number(ids[0]),
    gid: Number(ids[1]),
  };
}

export interface PostgresServer {
  port: number;
  /** `postgres://postgres@127.0.0.1:<port>/<database>`. */
  url(database?: string): string;
  /** A new, empty database; returns its URL. */
  createDatabase(): Promise<string>;
  /**
   * A new, empty schema in the `postgres` database; returns a URL whose connections work in
   * it (`options=-c search_path=…`). Much cheaper than a database: one per test.
   */
  createSchema(): Promise<string>;
  /** The server's log so far (for failure messages). */
  log(): string;
  /** Stops the server abruptly (`-m immediate`, as a crash would), keeping its data. */
  crash(): Promise<void>;
  /** Starts it again on the same port, after {@link crash}. */
  restart(): Promise<void>;
  /** Stops the server (`pg_ctl stop -m fast`) and removes its directory. */
  stop(): Promise<void>;
}

let databases = 0;

/**
 * A throwaway PostgreSQL server for one test file: its own directory, a free loopback
 * port, its socket in that directory, fsync on (commits are really durable, as in
 * production). Trust authentication, on loopback only.
 */
export async function startPostgres(
  options: {
    settings?: Record<string, string>;
    /** Where the tables go (e.g. a small file system); the write-ahead log stays in the server's own directory. */
    dataParent?: string;
  } = {},
): Promise<PostgresServer> {
  const bin = serverBinDir();
  const user = asServerUser();
  const dir = tempDir("postgres");
  if (user.uid !== undefined) chownSync(dir, user.uid, user.gid!);
  if (user.uid !== undefined && options.dataParent) chownSync(options.dataParent, user.uid, user.gid!);
  const data = path.join(options.dataParent ?? dir, "data");
  const logFile = path.join(dir, "server.log");
  const exec = async (program: string, args: string[]) => {
    const [file, argv] = user.wrap(path.join(bin, program), args);
    return run(file, argv, { cwd: dir });
  };
  // --no-sync: initdb's own flush is skipped (the directory is thrown away after); the
  // server itself runs with fsync on.
  await exec("initdb", [
    "-D",
    data,
    "-A",
    "trust",
    "-U",
    "postgres",
    "-E",
    "UTF8",
    "--locale=C",
    "--no-sync",
    ...(options.dataParent ? ["-X", path.join(dir, "wal")] : []),
  ]);

  const settings: Record<string, string> = {
    listen_addresses: "127.0.0.1",
    unix_socket_directories: dir,
    fsync: "on",
    synchronous_commit: "on",
    max_connections: "200",
    ...options.settings,
  };
  const start = (port: number) => {
    const flags = [`-p ${port}`, ...Object.entries(settings).map(([k, v]) => `-c ${k}=${v}`)].join(" ");
    return exec("pg_ctl", ["-D", data, "-l", logFile, "-o", flags, "-w", "-t", "60", "start"]);
  };
  let port = 0;
  for (let attempt = 0; ; attempt++) {
    port = await freePort();
    try {
      await start(port);
      break;
    } catch (e) {
      // The port may have been taken between the probe and the start: try another.
      if (attempt >= 2) {
        rmSync(dir, { recursive: true, force: true });
        throw new Error(`PostgreSQL did not start: ${(e as Error).message}\n${readLog(logFile)}`);
      }
    }
  }

  const stopSync = () => {
    const [file, argv] = user.wrap(path.join(bin, "pg_ctl"), ["-D", data, "-m", "immediate", "-w", "stop"]);
    try {
      execFileSync(file, argv, { stdio: "ignore" });
    } catch {
      // already stopped
    }
    rmSync(dir, { recursive: true, force: true });
    if (options.dataParent) rmSync(data, { recursive: true, force: true });
  };
  // A test run that ends abruptly still stops its server.
  process.once("exit", stopSync);

  const url = (database = "postgres") => `postgres://postgres@127.0.0.1:${port}/${database}`;
  let stopped = false;
  return {
    port,
    url,
    async createDatabase() {
      const name = `evidence_${process.pid}_${++databases}`;
      const admin = new pg.Client({ connectionString: url() });
      await admin.connect();
      try {
        await admin.query(`CREATE DATABASE ${name}`);
      } finally {
        await admin.end();
      }
      return url(name);
    },
    async createSchema() {
      const name = `evidence_${process.pid}_${++databases}`;
      const admin = new pg.Client({ connectionString: url() });
      await admin.connect();
      try {
        await admin.query(`CREATE SCHEMA ${name}`);
      } finally {
        await admin.end();
      }
      return `${url()}?options=${encodeURIComponent(`-c search_path=${name}`)}`;
    },
    log: () => readLog(logFile),
    async crash() {
      await exec("pg_ctl", ["-D", data, "-m", "immediate", "-w", "stop"]);
    },
    async restart() {
      await start(port);
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      process.off("exit", stopSync);
      await exec("pg_ctl", ["-D", data, "-m", "fast", "-w", "stop"]).catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
      if (options.dataParent) rmSync(data, { recursive: true, force: true });
    },
  };
}

function readLog(file: string): string {
  try {
    return readFileSync(file, "utf8");
  } catch {
    return "";
  }
}
