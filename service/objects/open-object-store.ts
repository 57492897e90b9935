import path from "node:path";
import { ConfigError } from "../config.ts";
import type { ObjectStore } from "./object-store.ts";
import { FileObjectStore } from "./file-object-store.ts";

/**
 * The object store the configuration names: an S3-compatible bucket (OBJECT_STORE_URL),
 * else a directory (OBJECTS_DIR, or the data directory). The S3 client is loaded only
 * when asked for.
 */
export async function openObjectStore(options: {
  dataDir: string;
  objects: { dir: string | undefined; url: string | undefined };
  limits?: { fileSizeBytes: number };
}): Promise<ObjectStore> {
  if (options.objects.url !== undefined) {
    const { MAX_OBJECT_BYTES, S3ObjectStore } = await import("./s3-object-store.ts");
    if (options.limits && options.limits.fileSizeBytes > MAX_OBJECT_BYTES) {
      throw new ConfigError(`MAX_FILE_BYTES must be at most ${MAX_OBJECT_BYTES} with OBJECT_STORE_URL (one PutObject per file)`);
    }
    return S3ObjectStore.open(options.objects.url, { tmpDir: path.join(options.dataDir, "tmp") });
  }
  return FileObjectStore.open(options.objects.dir ?? options.dataDir);
}
