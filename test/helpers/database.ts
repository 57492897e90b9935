import path from "node:path";
import { DatabaseSync, type SQLInputValue } from "node:sqlite";
import {
  certificateOfLeaf,
  fromHex32,
  MerkleTree,
  type BatchStatement,
  type EvidenceRecord,
  type Hex32,
} from "../../service/core/index.ts";

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

/** A version 2 batch statement as stored (batch_certificates), and the batch's items in tree order. */
export interface StoredStatement {
  statement: string;
  signature: string;
}
export interface StoredLeaf {
  id: string;
  record: string;
  leaf_hash: Hex32;
}

/**
 * Every item's certificate from a version 2 batch statement, rebuilt here from the stored
 * parts with the whole tree (not the store's 256-leaf blocks), as JSON text: what an outside
 * observer derives from the database, to compare with what the service serves.
 */
export function certificatesOfStatement(stored: StoredStatement, leaves: readonly StoredLeaf[]): Map<string, string> {
  const tree = MerkleTree.fromLeafHashes(leaves.map((l) => fromHex32(l.leaf_hash)));
  const signed = { statement: JSON.parse(stored.statement) as BatchStatement, signature: stored.signature };
  return new Map(
    leaves.map((l, i) => [
      l.id,
      JSON.stringify(
        certificateOfLeaf(
          { record: JSON.parse(l.record) as EvidenceRecord, leafHash: l.leaf_hash },
          i,
          tree.inclusionProof(i),
          signed,
        ),
      ),
    ]),
  );
}

/**
 * The certificates issued, newest per evidence item: what the service serves now. Version 1
 * certificates are stored one per item; version 2 ones as their batch's statement.
 */
export function currentCertificates(dataDir: string): Map<string, string> {
  const issued = new Map<string, { at: string; certificate: string }>();
  const offer = (id: string, at: string, certificate: string) => {
    const known = issued.get(id);
    if (!known || known.at <= at) issued.set(id, { at, certificate });
  };
  for (const r of readDatabase<{ evidence_id: string; certificate: string; issued_at: string }>(
    dataDir,
    "SELECT evidence_id, certificate, issued_at FROM issued_certificates ORDER BY seq",
  )) {
    offer(r.evidence_id, r.issued_at, r.certificate);
  }
  for (const s of readDatabase<StoredStatement & { batch_id: number; issued_at: string }>(
    dataDir,
    "SELECT batch_id, statement, signature, issued_at FROM batch_certificates ORDER BY seq",
  )) {
    const leaves = readDatabase<StoredLeaf>(
      dataDir,
      "SELECT id, record, leaf_hash FROM evidence WHERE batch_id = ? ORDER BY leaf_index",
      s.batch_id,
    );
    for (const [id, certificate] of certificatesOfStatement(s, leaves)) offer(id, s.issued_at, certificate);
  }
  return new Map([...issued].map(([id, { certificate }]) => [id, certificate]));
}
