import { pipeline, Transform } from "node:stream";
import type { Request } from "express";
import type { StorageEngine } from "multer";
import type { ObjectStore } from "../objects/object-store.ts";
import type { Intake, UploadedFile } from "./intake.ts";
import { mediaTypeOf, SNIFF_BYTES } from "./media-type.ts";

/** What the storage engine adds to each multer file. */
export interface StoredUpload {
  stored: UploadedFile;
}

/**
 * A multer storage engine that hashes each file while it streams into the object store,
 * and recognises its media type from its first bytes. Before a file is written, the
 * fields sent ahead of it and its name are checked (`checkFields`), so a request refused for
 * them stores nothing. A file of a request that fails later is removed again, unless other
 * evidence refers to the same content.
 */
export function hashingStorage(
  objects: ObjectStore,
  intake: Intake,
  checkFields: (body: Record<string, unknown>, fileName: string | undefined) => void,
): StorageEngine {
  return {
    _handleFile(
      req: Request,
      file: Express.Multer.File,
      callback: (error?: unknown, info?: Partial<Express.Multer.File>) => void,
    ) {
      try {
        checkFields((req.body ?? {}) as Record<string, unknown>, file.originalname);
      } catch (e) {
        file.stream.resume();
        return callback(e);
      }
      let head = new Uint8Array(0);
      const tap = new Transform({
        transform(chunk: Buffer, _encoding, done) {
          if (head.length < SNIFF_BYTES) {
            const next = new Uint8Array(Math.min(SNIFF_BYTES, head.length + chunk.length));
            next.set(head);
            next.set(chunk.subarray(0, next.length - head.length), head.length);
            head = next;
          }
          done(null, chunk);
        },
      });
      // pipeline, not pipe: an error of the upload (a truncated body) reaches the store's
      // pipeline through `tap` instead of being thrown from it unhandled.
      objects.put(pipeline(file.stream, tap, () => undefined)).then(
        async (object) => {
          const name = file.originalname;
          const stored: UploadedFile = {
            ...object,
            ...(name ? { fileName: name } : {}),
            mediaType: await mediaTypeOf(head, name, file.mimetype),
          };
          callback(null, { stored, size: object.size } as Partial<Express.Multer.File>);
        },
        (error: unknown) => callback(error),
      );
    },
    _removeFile(_req: Request, file: Express.Multer.File, callback: (error: Error | null) => void) {
      const { stored } = file as Express.Multer.File & Partial<StoredUpload>;
      if (!stored) return callback(null);
      intake.discard([stored]).then(
        () => callback(null),
        () => callback(null),
      );
    },
  };
}
