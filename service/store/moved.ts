import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";

/**
 * The file `evidence store copy` leaves in a data directory once its store is the replicas':
 * a service started there again would take submissions the replicas never see and anchor
 * beside them. Kept apart from the copy, which loads the PostgreSQL client, so that a start
 * on SQLite can read it without loading that.
 */
export const MOVED_FILE = "MOVED";

/** Marks `dataDir` as moved to `where` (a database named without its password). */
export function markMoved(dataDir: string, where: string): void {
  const file = path.join(dataDir, MOVED_FILE);
  writeFileSync(
    file,
    `This data directory's store was copied by "evidence store copy" at ${new Date().toISOString()}\n` +
      `to ${where}; its service runs there now.\n` +
      `Remove ${file} only to run the service here again, the move abandoned.\n`,
    { mode: 0o600 },
  );
}

/** What the mark says, on one line, if the data directory's store was copied away. */
export function movedAway(dataDir: string): string | undefined {
  let text: string;
  try {
    text = readFileSync(path.join(dataDir, MOVED_FILE), "utf8");
  } catch {
    return undefined;
  }
  return text.trim().replace(/\n/g, " ");
}
