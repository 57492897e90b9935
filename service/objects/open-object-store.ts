import { createHash } from "node:crypto";
import { hostname } from "node:os";
import path from "node:path";
import { ConfigError } from "../config.ts";
import type { ObjectStore } from "./object-store.ts";
import { FileObjectStore } from "./file-object-store.ts";

/**
 * The object store the configuration names: an S3-compatible bucket (OBJECT_STORE_URL),
 * else a directory (OBJECTS_DIR, shared by replicas, or the data directory). The S3
 * client is loaded only when asked for.
 */
export async function openObjectStore(options: {
  dataDir: string;
  objects: { dir: string | undefined; url: string | undefined };
  limits?: { fileSizeBytes: number };
}): Promise<ObjectStore> {
  if (options.objects.url !== undefined) {
    const { MAX_OBJECT_BYTES, S3ObjectStore } = await import("./s3-object-store.ts");
    if (options.limits && options.limits.fileSizeBytes > MAX_OBJECT_BYTES) {
      throw new ConfigError(
        `MAX_FILE_BYTES must be at most ${MAX_OBJECT_BYTES} with OBJECT_STORE_URL (one PutObject per file)`,
      );
    }
    return S3ObjectStore.open(options.objects.url, { tmpDir: path.join(options.dataDir, "tmp") });
  }
  if (options.objects.dir === undefined) return FileObjectStore.open(options.dataDir);
  return FileObjectStore.open(options.objects.dir, { replica: replicaName(options.dataDir) });
}

/**
 * A name for this replica that stays the same across its restarts: its host and data
 * directory (two services on one host never share a data directory).
 */
export function replicaName(dataDir: string): string {
  const host =
    hostname()
      .replace(/[^A-Za-z0-9.-]/g, "_")
      .slice(0, 64) || "host";
  return `${host}-${createHash("sha256").update(path.resolve(dataDir)).digest("hex").slice(0, 12)}`;
}
