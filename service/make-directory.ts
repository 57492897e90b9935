import { mkdirSync, statSync } from "node:fs";
import path from "node:path";

/**
 * `mkdir -p`: makes `dir` and any missing parents, each with `mode`. Node's own recursive
 * mkdir never returns for a directory a file system refuses to make while its parent exists
 * (`/proc/x`: ENOENT again and again); this makes each level once, and such a refusal is an
 * error that names it.
 */
export function makeDirectory(dir: string, mode = 0o700): void {
  const target = path.resolve(dir);
  try {
    mkdirSync(target, { mode });
    return;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "EEXIST") {
      if (statSync(target).isDirectory()) return;
      throw Object.assign(new Error(`${target} exists and is not a directory`), { code: "EEXIST" });
    }
    if (code !== "ENOENT" || path.dirname(target) === target) throw e;
  }
  makeDirectory(path.dirname(target), mode);
  try {
    mkdirSync(target, { mode });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "EEXIST" || !statSync(target).isDirectory()) throw e;
  }
}
