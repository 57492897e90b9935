import path from "node:path";
import { DatabaseSync, type SQLInputValue } from "node:sqlite";

/**
 * Reads a service's SQLite database directly, read-only, as an outside observer would:
 * what is durably on disk, whatever the service's own code says.
 */
export function readDatabase<T = Record<string, unknown>>(
  dataDir: string,
  sql: string,
  ...params: SQLInputValue[]
): T[] {
  const db = new DatabaseSync(path.join(dataDir, "evidence.db"), { readOnly: true });
  try {
    return db.prepare(sql).all(...params) as T[];
  } finally {
    db.close();
  }
}

/** The certificates issued, newest per evidence item: what the service serves now. */
export function currentCertificates(dataDir: string): Map<string, string> {
  const rows = readDatabase<{ evidence_id: string; certificate: string }>(
    dataDir,
    "SELECT evidence_id, certificate FROM issued_certificates ORDER BY seq",
  );
  return new Map(rows.map((r) => [r.evidence_id, r.certificate]));
}
