import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { Readable } from "node:stream";
import { Zip, ZipDeflate, ZipPassThrough, type ZipInputFile } from "fflate";
import { CERTIFICATE_FILE_IN_PACKAGE, MANIFEST_FILE, parseCaptureManifest } from "../core/capture-package.ts";

/**
 * The capture package (docs/protocol.md §9): a ZIP with `manifest.json` (its exact stored bytes) at the
 * root, every artifact the manifest lists under its name, and `certificate.evidence.json` once
 * anchored. Because the WACZ files (`archive/`, `indexes/`, `pages/`, `datapackage.json`) are
 * among the artifacts, the same ZIP opens as a WACZ in ReplayWeb.page.
 *
 * Written as a stream: each artifact is read chunk by chunk and each chunk is compressed and
 * handed on before the next is read, so memory stays bounded whatever the package's size.
 * Already-compressed files (PNG, MP4, gzip) are stored, the rest deflated. Every artifact is
 * hashed on the way through and the stream fails if a file no longer matches the manifest,
 * so a package never carries an artifact its manifest does not vouch for.
 *
 * fflate writes no ZIP64 records: a package holds at most 4 GiB per entry, far above the
 * capture limits.
 */

export interface PackageInput {
  /** The exact bytes of manifest.json. */
  manifestBytes: Uint8Array;
  /** Opens an artifact by its manifest name. */
  artifacts: (name: string) => Readable | Promise<Readable>;
  /** The certificate, once the capture is anchored. */
  certificateJson?: string | Uint8Array;
}

const STORED = new Set([".png", ".jpg", ".jpeg", ".gif", ".webp", ".mp4", ".webm", ".gz", ".zip", ".woff2"]);

export function packageStream(input: PackageInput): Readable {
  return Readable.from(zipChunks(input), { objectMode: false });
}

/** {@link packageStream} of a capture's output directory. */
export async function packageDirectory(dir: string, certificateJson?: string | Uint8Array): Promise<Readable> {
  const manifestBytes = new Uint8Array(await readFile(path.join(dir, MANIFEST_FILE)));
  return packageStream({
    manifestBytes,
    // Names come from the manifest, which parseCaptureManifest has checked for traversal.
    artifacts: (name) => createReadStream(path.join(dir, ...name.split("/"))),
    ...(certificateJson === undefined ? {} : { certificateJson }),
  });
}

async function* zipChunks(input: PackageInput): AsyncGenerator<Uint8Array> {
  const manifest = parseCaptureManifest(input.manifestBytes);
  const ready: Uint8Array[] = [];
  let failure: Error | null = null;
  const zip = new Zip((error, chunk) => {
    if (error) failure = error;
    else ready.push(chunk);
  });
  const mtime = new Date(manifest.finishedAt);
  function* drain(): Generator<Uint8Array> {
    if (failure) throw failure;
    while (ready.length > 0) yield ready.shift()!;
  }
  function entry(name: string): ZipInputFile & { push(chunk: Uint8Array, final?: boolean): void } {
    const file = STORED.has(path.extname(name).toLowerCase())
      ? new ZipPassThrough(name)
      : new ZipDeflate(name, { level: 6 });
    file.mtime = mtime;
    zip.add(file);
    return file;
  }

  const manifestEntry = entry(MANIFEST_FILE);
  manifestEntry.push(input.manifestBytes, true);
  yield* drain();

  for (const artifact of manifest.artifacts) {
    const file = entry(artifact.name);
    const hash = createHash("sha256");
    let size = 0;
    for await (const chunk of await input.artifacts(artifact.name)) {
      const bytes = chunk as Uint8Array;
      hash.update(bytes);
      size += bytes.length;
      file.push(bytes);
      yield* drain();
    }
    file.push(new Uint8Array(0), true);
    const sha256 = hash.digest("hex");
    if (size !== artifact.size || sha256 !== artifact.sha256) {
      throw new Error(`${artifact.name} no longer matches manifest.json (size ${size}, sha256 ${sha256})`);
    }
    yield* drain();
  }

  if (input.certificateJson !== undefined) {
    const bytes =
      typeof input.certificateJson === "string"
        ? new TextEncoder().encode(input.certificateJson)
        : input.certificateJson;
    entry(CERTIFICATE_FILE_IN_PACKAGE).push(bytes, true);
    yield* drain();
  }
  zip.end();
  yield* drain();
}
