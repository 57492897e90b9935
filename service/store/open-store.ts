import type { EvidenceStore } from "./store.ts";
import { SqliteEvidenceStore } from "./sqlite-store.ts";

/**
 * The store the configuration names: PostgreSQL when DATABASE_URL is set (several
 * replicas share it), else SQLite in the data directory (one machine). The PostgreSQL
 * engine and its client are loaded only when asked for.
 */
export async function openStore(options: {
  dataDir: string;
  databaseUrl?: string | undefined;
}): Promise<EvidenceStore> {
  if (options.databaseUrl !== undefined) {
    const { PostgresEvidenceStore } = await import("./postgres-store.ts");
    return PostgresEvidenceStore.open(options.databaseUrl);
  }
  return SqliteEvidenceStore.open(options.dataDir);
}
