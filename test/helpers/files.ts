import { existsSync, readdirSync, type Dirent } from "node:fs";
import path from "node:path";

/** Every file under `dir` (recursively), as paths relative to it, sorted; none if it does not exist. */
export function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return (readdirSync(dir, { recursive: true, withFileTypes: true }) as Dirent[])
    .filter((e) => e.isFile())
    .map((e) => path.relative(dir, path.join(e.parentPath, e.name)))
    .sort();
}
