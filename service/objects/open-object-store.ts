import type { ObjectStore } from "./object-store.ts";
import { FileObjectStore } from "./file-object-store.ts";

/** The object store the configuration names: a directory (OBJECTS_DIR, or the data directory). */
export async function openObjectStore(options: { dataDir: string; objects: { dir: string | undefined; url: string | undefined } }): Promise<ObjectStore> {
  return FileObjectStore.open(options.objects.dir ?? options.dataDir);
}
