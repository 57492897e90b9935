import type { EvidenceStore } from "./store.ts";
import { SqliteEvidenceStore } from "./sqlite-store.ts";

/** The store the configuration names: SQLite in the data directory (one machine). */
export async function openStore(options: { dataDir: string }): Promise<EvidenceStore> {
  return SqliteEvidenceStore.open(options.dataDir);
}
