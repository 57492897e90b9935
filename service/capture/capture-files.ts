import { parseCaptureManifest, type CaptureManifestJson } from "../core/capture-package.ts";
import type { ObjectStore } from "../objects/object-store.ts";
import type { EvidenceStore } from "../store/store.ts";

/** A capture's manifest as stored (its certified bytes) and read; it is checked as it is read. */
export async function storedManifest(
  objects: ObjectStore,
  contentHash: string,
): Promise<{ bytes: Uint8Array; manifest: CaptureManifestJson }> {
  const stream = await objects.get(contentHash);
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  const bytes = new Uint8Array(Buffer.concat(chunks));
  return { bytes, manifest: parseCaptureManifest(bytes) };
}

/** Captures read per round when their files are listed. */
const ROUND = 100;

/**
 * Lists the files of captures recorded before the store listed them, read from their
 * manifests: until then, a failed upload of the same bytes as one of them would find it
 * unreferenced and remove it. Runs at start, before any request is taken. A capture whose
 * manifest cannot be read is left for the next start, and said in the log.
 */
export async function listCaptureFiles(
  store: EvidenceStore,
  objects: ObjectStore,
  log: { info(line: string): void; error(line: string, cause: unknown): void },
): Promise<number> {
  let listed = 0;
  const unreadable = new Set<string>();
  for (;;) {
    const captures = (await store.capturesWithoutFiles(ROUND + unreadable.size)).filter((c) => !unreadable.has(c.id));
    if (captures.length === 0) break;
    for (const capture of captures) {
      let manifest: CaptureManifestJson;
      try {
        manifest = (await storedManifest(objects, capture.contentHash)).manifest;
      } catch (e) {
        unreadable.add(capture.id);
        log.error(`the manifest of capture ${capture.id} cannot be read`, e);
        continue;
      }
      await store.addCaptureFiles(
        capture.id,
        manifest.artifacts.map((a) => a.sha256),
      );
      listed++;
    }
  }
  if (listed > 0) {
    log.info(`listed the files of ${listed} ${listed === 1 ? "capture" : "captures"} recorded by an earlier version`);
  }
  return listed;
}
