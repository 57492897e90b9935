import { existsSync } from "node:fs";
import path from "node:path";
import { defineCommand } from "../command.ts";
import { EXIT, UsageError } from "../exit.ts";

export const storeCopy = defineCommand({
  name: "store copy",
  summary: "copy one machine's store into PostgreSQL and shared object storage",
  usage: `Usage: evidence store copy --to-database URL (--to-objects-dir DIR | --to-object-store URL)
                          [--from DIR] [--json]

Copies the store of a stopped service — the SQLite database of its data directory
(--from, default $DATA_DIR or ./data) and the evidence files kept there — into a new
PostgreSQL database and the object storage replicas share (docs/deployment.md).

  --to-database URL      postgres://… — the replicas' DATABASE_URL; it must hold no rows yet
  --to-objects-dir DIR   the replicas' OBJECTS_DIR (a shared directory), or
  --to-object-store URL  the replicas' OBJECT_STORE_URL (s3://bucket/prefix?…)
  --json                 print what was copied as JSON

Every row keeps its key: certificates already handed out are served again unchanged and
items waiting for a batch keep their place. The rows are read back and compared before they
are committed; on any failure the database is left as it was. Files already in the target
are not copied again, so a failed copy can simply be run again. The data directory is not
changed, except that its schema is brought up to this version's, as a start would.

Only a store that anchors on an external chain can be copied: the embedded development
chain cannot serve replicas.`,
  options: {
    from: { type: "string" },
    "to-database": { type: "string" },
    "to-objects-dir": { type: "string" },
    "to-object-store": { type: "string" },
    json: { type: "boolean" },
  },
  async run({ values, positionals }) {
    if (positionals.length > 0) throw new UsageError(`unexpected ${positionals.map((p) => `"${p}"`).join(" ")}`);
    const databaseUrl = values["to-database"];
    if (databaseUrl === undefined) throw new UsageError("--to-database is required");
    if (!/^postgres(ql)?:\/\//.test(databaseUrl)) throw new UsageError("--to-database must be a postgres:// URL");
    const objectsDir = values["to-objects-dir"];
    const objectsUrl = values["to-object-store"];
    if ((objectsDir === undefined) === (objectsUrl === undefined)) {
      throw new UsageError("give one of --to-objects-dir and --to-object-store");
    }
    const dataDir = path.resolve(values.from ?? process.env.DATA_DIR ?? "data");
    if (!existsSync(path.join(dataDir, "evidence.db"))) {
      throw new UsageError(`${dataDir} holds no store (no evidence.db): give the service's data directory with --from`);
    }

    const [{ lockDataDir }, { FileObjectStore }, { openObjectStore }, { copyStore }] = await Promise.all([
      import("../../data-dir-lock.ts"),
      import("../../objects/file-object-store.ts"),
      import("../../objects/open-object-store.ts"),
      import("../../store/copy-store.ts"),
    ]);
    // The service must not write while its store is copied: its lock is taken for the copy.
    const lock = lockDataDir(dataDir);
    try {
      const source = await FileObjectStore.open(dataDir);
      const target = await openObjectStore({ dataDir, objects: { dir: objectsDir, url: objectsUrl } });
      try {
        const report = await copyStore({
          dataDir,
          databaseUrl,
          source,
          target,
          progress: (line) => process.stderr.write(`${line}\n`),
        });
        if (values.json) {
          console.log(JSON.stringify(report));
          return EXIT.ok;
        }
        const rows = Object.fromEntries(report.tables.map((t) => [t.name, t.rows]));
        console.log(
          `Copied ${rows.evidence ?? 0} evidence items in ${rows.batches ?? 0} batches, ` +
            `${(rows.issued_certificates ?? 0) + (rows.batch_certificates ?? 0)} issued certificate rows, ` +
            `${rows.accounts ?? 0} accounts and ${rows.captures ?? 0} captures; ` +
            `${report.files.copied} files copied (${report.files.bytes} bytes), ${report.files.present} already there.

Each replica now needs, besides DATABASE_URL and ${objectsDir !== undefined ? "OBJECTS_DIR" : "OBJECT_STORE_URL"}:
  - the issuing key this machine used (ISSUER_KEYSTORE, or ${path.join(dataDir, "keys", "issuer.key")});
  - the same chain settings (CHAIN_RPC_URL, ANCHOR_CONTRACT, and TSA_URLS if set).
Keep ${dataDir} until the replicas serve its certificates.`,
        );
        return EXIT.ok;
      } finally {
        (target as { destroy?: () => void }).destroy?.();
      }
    } finally {
      lock.release();
    }
  },
});
