import { existsSync } from "node:fs";
import path from "node:path";
import { firstLineOf } from "../../core/errors.ts";
import type { ObjectStore } from "../../objects/object-store.ts";
import type { CopyReport } from "../../store/copy-store.ts";
import { defineCommand } from "../command.ts";
import { EXIT, UsageError } from "../exit.ts";

export const storeCopy = defineCommand({
  name: "store copy",
  summary: "copy one machine's store into PostgreSQL and shared object storage",
  summaryZh: "将单机的存储复制到 PostgreSQL 和共享对象存储",
  usage: `Usage: evidence store copy --to-database URL (--to-objects-dir DIR | --to-object-store URL)
                          [--from DIR] [--from-objects-dir DIR | --from-object-store URL] [--json]

Copies the store of a stopped service — the SQLite database of its data directory
(--from, default $DATA_DIR or ./data) and its evidence files — into a new PostgreSQL
database and the object storage replicas share (docs/deployment.md). The files are read
from the data directory, unless the service ran with OBJECTS_DIR or OBJECT_STORE_URL:
then give the same value with --from-objects-dir or --from-object-store.

  --to-database URL        postgres://… — the replicas' DATABASE_URL; it must hold no rows yet
  --to-objects-dir DIR     the replicas' OBJECTS_DIR (a shared directory), or
  --to-object-store URL    the replicas' OBJECT_STORE_URL (s3://bucket/prefix?…)
  --from-objects-dir DIR   the OBJECTS_DIR the service ran with, or
  --from-object-store URL  the OBJECT_STORE_URL it ran with
  --json                   print what was copied as JSON

Every row keeps its key: certificates already handed out are served again unchanged and
items waiting for a batch keep their place. The rows are read back and compared before they
are committed; on any failure the database is left as it was. Files already in the target
are not copied again, so a failed copy can simply be run again. Run it as the user the
replicas run as: the files it writes are readable by their owner only.

When the files are where the replicas will keep them (the source and target the same
directory, or the same bucket and prefix), nothing is copied, written or removed there:
each file is checked against its hash where it is.

The data directory keeps its store, brought up to this version's schema as a start would;
once the copy is committed it also holds a file MOVED, and the service refuses to start on
it again (remove MOVED to run it there again, the move abandoned).

Only a store that anchors on an external chain can be copied: the embedded development
chain cannot serve replicas.`,
  options: {
    from: { type: "string" },
    "from-objects-dir": { type: "string" },
    "from-object-store": { type: "string" },
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
    const fromDir = values["from-objects-dir"] === undefined ? undefined : path.resolve(values["from-objects-dir"]);
    const fromUrl = values["from-object-store"];
    if (fromDir !== undefined && fromUrl !== undefined) {
      throw new UsageError("give at most one of --from-objects-dir and --from-object-store");
    }
    if (fromDir !== undefined && !existsSync(path.join(fromDir, "objects"))) {
      throw new UsageError(
        `${fromDir} holds no evidence files (no objects directory): give the OBJECTS_DIR the service ran with`,
      );
    }
    const dataDir = path.resolve(values.from ?? process.env.DATA_DIR ?? "data");
    if (!existsSync(path.join(dataDir, "evidence.db"))) {
      throw new UsageError(`${dataDir} holds no store (no evidence.db): give the service's data directory with --from`);
    }

    const [{ DataDirInUseError, lockDataDir }, { openObjectStore }, { CopyRefusedError, copyStore }, { movedAway }] =
      await Promise.all([
        import("../../data-dir-lock.ts"),
        import("../../objects/open-object-store.ts"),
        import("../../store/copy-store.ts"),
        import("../../store/moved.ts"),
      ]);
    const moved = movedAway(dataDir);
    if (moved !== undefined) {
      throw new Error(`${dataDir} was copied already: ${moved}`);
    }
    // The service must not write while its store is copied: its lock is taken for the copy.
    let lock: { release(): void };
    try {
      lock = lockDataDir(dataDir);
    } catch (e) {
      if (e instanceof DataDirInUseError) {
        throw new Error(`${dataDir} is in use by a running service (pid ${e.pid}): stop it first, then copy`, {
          cause: e,
        });
      }
      throw e;
    }
    // Stopped while copying, the copy has committed nothing: the database rolls back what it
    // was given when the connection goes, and the files already copied are kept for the next
    // run. Once the COMMIT is sent, a stop waits until it is done and the directory marked.
    let phase: "copying" | "committing" | "committed" = "copying";
    let stopAfterCommit: NodeJS.Signals | undefined;
    const exitCode = (signal: NodeJS.Signals) => (signal === "SIGINT" ? 130 : 143);
    const stop = (signal: NodeJS.Signals) => {
      if (phase === "committing") {
        stopAfterCommit = signal;
        process.stderr.write(`evidence store copy: ${signal}: stopping once the commit under way is done\n`);
        return;
      }
      lock.release();
      process.stderr.write(
        phase === "copying"
          ? `evidence store copy: stopped by ${signal}; nothing was committed. Run the same command again.\n`
          : `evidence store copy: stopped by ${signal}; the copy is committed and ${dataDir} marked MOVED.\n`,
      );
      process.exit(exitCode(signal));
    };
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
    const stores: ObjectStore[] = [];
    // Each store is opened as the service opens it from OBJECTS_DIR or OBJECT_STORE_URL.
    const open = async (objects: { dir: string | undefined; url: string | undefined }, option: string) => {
      try {
        const store = await openObjectStore({ dataDir, objects });
        stores.push(store);
        return store;
      } catch (e) {
        throw new Error(firstLineOf(e).replace("OBJECT_STORE_URL", option), { cause: e });
      }
    };
    try {
      const source = await open({ dir: fromDir, url: fromUrl }, "--from-object-store");
      const target = await open({ dir: objectsDir, url: objectsUrl }, "--to-object-store");
      let report: CopyReport;
      try {
        report = await copyStore({
          dataDir,
          databaseUrl,
          source,
          target,
          progress: (line) => process.stderr.write(`${line}\n`),
          phase: (now) => (phase = now),
        });
      } catch (e) {
        // Files missing from the data directory are most often files kept elsewhere.
        const defaultSource = fromDir === undefined && fromUrl === undefined;
        if (defaultSource && e instanceof CopyRefusedError && e.message.includes(source.where)) {
          throw new CopyRefusedError(
            `${e.message}. If the service ran with OBJECTS_DIR or OBJECT_STORE_URL, its files are there: ` +
              "give that setting with --from-objects-dir or --from-object-store",
            { cause: e },
          );
        }
        throw e;
      }
      if (stopAfterCommit) {
        process.stderr.write(
          `evidence store copy: stopped by ${stopAfterCommit}; the copy is committed and ${dataDir} marked MOVED.\n`,
        );
        return exitCode(stopAfterCommit);
      }
      if (values.json) {
        console.log(JSON.stringify(report));
        return EXIT.ok;
      }
      console.log(
        summary(report, dataDir, source.where, objectsDir !== undefined ? "OBJECTS_DIR" : "OBJECT_STORE_URL"),
      );
      return EXIT.ok;
    } finally {
      for (const store of stores) (store as { destroy?: () => void }).destroy?.();
      process.off("SIGINT", stop);
      process.off("SIGTERM", stop);
      lock.release();
    }
  },
});

function summary(report: CopyReport, dataDir: string, sourceObjects: string, objectsSetting: string): string {
  const rows = Object.fromEntries(report.tables.map((t) => [t.name, t.rows]));
  const { items, certified, waiting } = report.evidence;
  const key = path.join(dataDir, "keys", "issuer.key");
  const files = report.files.inPlace
    ? `no file copied: the ${report.files.present} files stay in ${sourceObjects}, the replicas' object storage too, ` +
      "each checked there against its hash."
    : `${report.files.copied} files copied (${report.files.bytes} bytes), ${report.files.present} already there.`;
  const lines = [
    `Copied ${items} evidence items (${certified} certified, ${waiting} waiting for a batch), ` +
      `${rows.accounts ?? 0} accounts and ${rows.captures ?? 0} captures; ${files}`,
    `${dataDir} now holds a file MOVED: the service will not start there again.`,
    "",
    `Start the replicas with DATABASE_URL, ${objectsSetting}, DEV_ACCOUNT=false and every other setting this`,
    "machine ran with (its chain, TSA, batch and capture settings, PUBLIC_URL), and:",
    `  - the issuing key it used (ISSUER_KEYSTORE${existsSync(key) ? `, or ${key}` : ""});`,
  ];
  if (report.issuer) {
    lines.push(
      `  - ISSUER_NAME="${report.issuer.name}" and CERTIFICATE_VERSION=${report.issuer.certificateVersion}, ` +
        `as in its newest certificate (issuer ${report.issuer.address}).`,
    );
  }
  const dataDirObjects = path.join(dataDir, "objects");
  if (report.files.inPlace) {
    lines.push(`Keep ${dataDir} until the replicas serve its certificates; ${sourceObjects} is theirs now.`);
  } else if (sourceObjects !== dataDirObjects) {
    lines.push(`Keep ${dataDir} and ${sourceObjects} until the replicas serve its certificates.`);
  } else {
    lines.push(`Keep ${dataDir} until the replicas serve its certificates.`);
  }
  return lines.join("\n");
}
