import { closeSync, openSync, readFileSync, rmSync, writeSync } from "node:fs";
import path from "node:path";
import { isAlive } from "./process-alive.ts";

export class DataDirInUseError extends Error {
  override name = "DataDirInUseError";
  readonly dataDir: string;
  readonly pid: number;

  constructor(dataDir: string, pid: number) {
    super(
      `${dataDir} is in use by another Evidence Anchor service (pid ${pid}); stop it first, or set another DATA_DIR`,
    );
    this.dataDir = dataDir;
    this.pid = pid;
  }
}

/**
 * One service per data directory: two would each run an anchorer, and race for the same
 * batches and the same chain node. The lock is a file holding the owner's pid, created
 * exclusively; a lock whose process is gone (a crash) is taken over.
 */
export function lockDataDir(dataDir: string): { release(): void } {
  const file = path.join(dataDir, "service.lock");
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fd = openSync(file, "wx", 0o600);
      writeSync(fd, `${process.pid}\n`);
      closeSync(fd);
      return {
        release() {
          if (ownerOf(file) === process.pid) rmSync(file, { force: true });
        },
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
      const owner = ownerOf(file);
      if (owner !== undefined && owner !== process.pid && isAlive(owner)) throw new DataDirInUseError(dataDir, owner);
      rmSync(file, { force: true });
    }
  }
  throw new Error(`could not lock ${dataDir}`);
}

function ownerOf(file: string): number | undefined {
  try {
    const pid = Number(readFileSync(file, "utf8").trim());
    return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}
