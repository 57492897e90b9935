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
  const missing = makeLevel(target, mode);
  if (missing === undefined) return;
  if (path.dirname(target) === target) throw missing;
  makeDirectory(path.dirname(target), mode);
  const still = makeLevel(target, mode);
  if (still !== undefined) throw still;
}

/** Makes one directory, or finds it made; the ENOENT error when its parent is missing. */
function makeLevel(target: string, mode: number): Error | undefined {
  try {
    mkdirSync(target, { mode });
    return undefined;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return e as Error;
    if (code !== "EEXIST") throw e;
    if (statSync(target).isDirectory()) return undefined;
    throw Object.assign(new Error(`${target} exists and is not a directory`), { code: "EEXIST" });
  }
}
