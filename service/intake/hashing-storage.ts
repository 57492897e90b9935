import type { Request } from "express";
import type { StorageEngine } from "multer";
import type { ObjectStore } from "./object-store.ts";

/** What the storage engine adds to each multer file. */
export interface HashedFile {
  contentHash: string;
  size: number;
  path: string;
}

/**
 * A multer storage engine that hashes each file while it streams to the object store.
 * Objects are content-addressed and may be shared by several evidence items, so removing
 * a file of a failed request leaves the object in place: an object no row refers to is
 * harmless, while deleting one a committed row refers to would lose evidence.
 */
export function hashingStorage(objects: ObjectStore): StorageEngine {
  return {
    _handleFile(
      _req: Request,
      file: Express.Multer.File,
      callback: (error?: unknown, info?: Partial<Express.Multer.File>) => void,
    ) {
      objects.put(file.stream).then(
        (stored) => callback(null, { ...stored } as Partial<Express.Multer.File>),
        (error: unknown) => callback(error),
      );
    },
    _removeFile(_req: Request, _file: Express.Multer.File, callback: (error: Error | null) => void) {
      callback(null);
    },
  };
}
