import { expect } from "chai";
import { execFileSync } from "node:child_process";
import { createReadStream, openAsBlob, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { Readable } from "node:stream";
import { buffer } from "node:stream/consumers";
import { crc32 } from "node:zlib";
import { build } from "esbuild";
import { deflateSync, strToU8, zipSync, type Zippable } from "fflate";
import { AddressPolicy } from "../../service/capture/address-policy.ts";
import { capturePage, type CaptureResult } from "../../service/capture/capture.ts";
import { packageDirectory, packageStream } from "../../service/capture/package.ts";
import { blobSource, readCapturePackage, type CapturePackage } from "../../service/core/capture-package.ts";
import { JsonRpcChainReader, verdictExplanation, verifyEvidence } from "../../service/core/index.ts";
import { canonicalize } from "../../service/core/jcs.ts";
import { EvidenceError } from "../../service/core/errors.ts";
import { serve, solidPng, startSite, type Site } from "../helpers/capture-sites.ts";
import { sha256Hex } from "../helpers/hash.ts";
import { tempDir } from "../helpers/processes.ts";

const CERTIFICATE = '{"type":"evidence-anchor-certificate","version":2}';

/** Every entry of a package as a name → bytes map (what an attacker would rebuild from). */
function unpack(result: CaptureResult): Zippable {
  const files: Zippable = { "manifest.json": result.manifestBytes };
  for (const artifact of result.manifest.artifacts) {
    files[artifact.name] = new Uint8Array(readFileSync(path.join(result.dir, artifact.name)));
  }
  return files;
}

async function expectInvalid(zip: Uint8Array, pattern: RegExp, limits?: Parameters<typeof readCapturePackage>[1]) {
  let error: unknown;
  try {
    await readCapturePackage(zip, limits);
  } catch (e) {
    error = e;
  }
  expect(error).to.be.instanceOf(EvidenceError);
  expect((error as EvidenceError).code).to.equal("INVALID_PACKAGE");
  expect((error as EvidenceError).message).to.match(pattern);
}

/**
 * A ZIP of stored entries written byte by byte (APPNOTE §4.3), for archives no ZIP library
 * would write: duplicate names, names with `..`, entries that overlap.
 */
function handMadeZip(entries: { name: string; data: Uint8Array; offset?: number }[], body?: Uint8Array): Uint8Array {
  const parts: Buffer[] = [];
  const offsets: number[] = [];
  let at = 0;
  if (body) {
    parts.push(Buffer.from(body));
    at = body.length;
  } else {
    for (const entry of entries) {
      offsets.push(at);
      const local = localHeader(entry.name, entry.data);
      parts.push(local, Buffer.from(entry.data));
      at += local.length + entry.data.length;
    }
  }
  const cdStart = at;
  for (const [i, entry] of entries.entries()) {
    const name = Buffer.from(entry.name);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(0x0800, 8);
    central.writeUInt32LE(crc(entry.data), 16);
    central.writeUInt32LE(entry.data.length, 20);
    central.writeUInt32LE(entry.data.length, 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt32LE(entry.offset ?? offsets[i]!, 42);
    parts.push(central, name);
    at += 46 + name.length;
  }
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(at - cdStart, 12);
  end.writeUInt32LE(cdStart, 16);
  parts.push(end);
  return new Uint8Array(Buffer.concat(parts));
}

function localHeader(name: string, data: Uint8Array): Buffer {
  const nameBytes = Buffer.from(name);
  const local = Buffer.alloc(30);
  local.writeUInt32LE(0x04034b50, 0);
  local.writeUInt16LE(20, 4);
  local.writeUInt16LE(0x0800, 6);
  local.writeUInt32LE(crc(data), 14);
  local.writeUInt32LE(data.length, 18);
  local.writeUInt32LE(data.length, 22);
  local.writeUInt16LE(nameBytes.length, 26);
  return Buffer.concat([local, nameBytes]);
}

/** zlib's CRC-32 is the one ZIP uses. */
function crc(data: Uint8Array): number {
  return crc32(data);
}

describe("capture packages", function () {
  this.timeout(60_000);
  let root: string;
  let site: Site;
  let result: CaptureResult;
  let zip: Uint8Array;

  before(async () => {
    root = tempDir("package");
    site = await startSite({
      "/": serve(
        "text/html; charset=utf-8",
        `<!doctype html><meta charset="utf-8"><title>证据</title><h1>证据页面</h1><img src="/a.png">`,
      ),
      "/a.png": serve("image/png", solidPng(64, 64, [10, 120, 10])),
    });
    result = await capturePage(
      { url: `http://127.0.0.1:${site.port}/` },
      { outDir: path.join(root, "capture"), policy: new AddressPolicy({ allow: "127.0.0.1/32" }) },
    );
    zip = new Uint8Array(await buffer(await packageDirectory(result.dir, CERTIFICATE)));
  });

  after(async () => {
    await site?.close();
    rmSync(root, { recursive: true, force: true });
  });

  describe("packageStream", () => {
    it("writes a ZIP that standard tools read, PNG stored and text deflated", () => {
      const file = path.join(root, "package.zip");
      writeFileSync(file, zip);
      expect(execFileSync("unzip", ["-tq", file], { encoding: "utf8" })).to.match(/No errors detected/);
      // Python's zipfile, an independent reader: 0 is stored, 8 is deflated.
      const methods = JSON.parse(
        execFileSync(
          "python3",
          [
            "-c",
            "import json,sys,zipfile; print(json.dumps({i.filename: i.compress_type for i in zipfile.ZipFile(sys.argv[1]).infolist()}))",
            file,
          ],
          { encoding: "utf8" },
        ),
      );
      const method = (name: string) => ({ 0: "none", 8: "deflated" })[methods[name] as 0 | 8];
      expect(method("screenshot.png")).to.equal("none");
      expect(method("page.html")).to.equal("deflated");
      expect(method("archive/data.warc.gz")).to.equal("none");
    });

    it("puts manifest.json's exact bytes, every artifact and the certificate at their names", () => {
      const listing = execFileSync("zipinfo", ["-1", path.join(root, "package.zip")], { encoding: "utf8" })
        .trim()
        .split("\n");
      expect(listing).to.deep.equal([
        "manifest.json",
        ...result.manifest.artifacts.map((a) => a.name),
        "certificate.evidence.json",
      ]);
      expect(execFileSync("unzip", ["-p", path.join(root, "package.zip"), "manifest.json"])).to.deep.equal(
        Buffer.from(result.manifestBytes),
      );
    });

    it("fails the stream when an artifact no longer matches the manifest", async () => {
      const stream = packageStream({
        manifestBytes: result.manifestBytes,
        artifacts: (name) =>
          name === "page.html"
            ? Readable.from([Buffer.from("<p>altered</p>")])
            : createReadStream(path.join(result.dir, name)),
      });
      let error: unknown;
      await buffer(stream).catch((e: unknown) => (error = e));
      expect(String(error)).to.match(/page\.html no longer matches manifest\.json/);
    });

    it("rejects manifest bytes that are not a capture manifest", () => {
      return buffer(packageStream({ manifestBytes: strToU8("{}"), artifacts: () => Readable.from([]) })).then(
        () => expect.fail("should have failed"),
        (e: unknown) => expect((e as EvidenceError).code).to.equal("INVALID_PACKAGE"),
      );
    });
  });

  describe("readCapturePackage", () => {
    let read: CapturePackage;
    before(async () => {
      read = await readCapturePackage(zip);
    });

    it("verifies every artifact of an untouched package", () => {
      expect(read.problems).to.deep.equal([]);
      expect(read.ok).to.equal(true);
      expect(read.artifacts.map((a) => a.name)).to.deep.equal(result.manifest.artifacts.map((a) => a.name));
      for (const artifact of read.artifacts) {
        expect(artifact.ok, artifact.name).to.equal(true);
        expect(artifact.actualSha256).to.equal(artifact.expectedSha256);
      }
    });

    it("returns the manifest, its exact bytes, their SHA-256 and the certificate's text", () => {
      expect(read.manifestBytes).to.deep.equal(result.manifestBytes);
      expect(read.manifestSha256).to.equal(result.manifestSha256);
      expect(read.manifestSha256).to.equal(sha256Hex(result.manifestBytes));
      expect(read.manifest.url).to.equal(result.manifest.url);
      expect(read.certificateText).to.equal(CERTIFICATE);
    });

    it("names the artifact whose bytes were altered in a rebuilt package", async () => {
      const files = unpack(result);
      const png = Uint8Array.from(files["screenshot.png"] as Uint8Array);
      png[png.length - 20]! ^= 0x01;
      files["screenshot.png"] = png;
      const tampered = await readCapturePackage(zipSync(files));
      expect(tampered.ok).to.equal(false);
      expect(tampered.artifacts.filter((a) => !a.ok).map((a) => a.name)).to.deep.equal(["screenshot.png"]);
      expect(tampered.problems).to.have.length(1);
      expect(tampered.problems[0]).to.match(/^screenshot\.png was altered/);
    });

    it("names the artifact when one byte of it is flipped inside the ZIP", async () => {
      const copy = Uint8Array.from(zip);
      // The PNG is stored, so its signature appears in the archive as is; flip a byte after it.
      const at = Buffer.from(copy).indexOf(Buffer.from("89504e470d0a1a0a", "hex"));
      expect(at).to.be.greaterThan(0);
      copy[at + 100]! ^= 0xff;
      const tampered = await readCapturePackage(copy);
      expect(tampered.artifacts.filter((a) => !a.ok).map((a) => a.name)).to.deep.equal(["screenshot.png"]);
      expect(tampered.problems.join("\n")).to.match(/screenshot\.png was altered/);
    });

    it("reports a missing artifact and an unlisted file by name", async () => {
      const files = unpack(result);
      delete files["page.html"];
      files["extra.txt"] = strToU8("not in the manifest");
      const tampered = await readCapturePackage(zipSync(files));
      const missing = tampered.artifacts.find((a) => a.name === "page.html")!;
      expect(missing.ok).to.equal(false);
      expect(missing).to.not.have.property("actualSha256");
      expect(tampered.problems).to.include("page.html is listed in manifest.json but missing from the package");
      expect(tampered.problems).to.include("extra.txt is in the package but not listed in manifest.json");
    });

    it("gives a different manifest hash for an altered manifest", async () => {
      const files = unpack(result);
      const manifest = JSON.parse(new TextDecoder().decode(result.manifestBytes));
      manifest.finalUrl = "http://example.com/other";
      files["manifest.json"] = strToU8(canonicalize(manifest));
      const tampered = await readCapturePackage(zipSync(files));
      expect(tampered.manifestSha256).to.not.equal(result.manifestSha256);
      expect(tampered.manifest.finalUrl).to.equal("http://example.com/other");
    });

    it("reads the package by ranges of at most 1 MiB past its directory, each byte once: memory stays bounded whatever its size", async () => {
      const files = unpack(result);
      const film = new Uint8Array(5 * 1024 * 1024 + 17).map((_, i) => (i * 2654435761) >>> 24);
      const manifest = JSON.parse(new TextDecoder().decode(result.manifestBytes));
      manifest.artifacts = [
        ...manifest.artifacts,
        { name: "video.mp4", mediaType: "video/mp4", size: film.length, sha256: sha256Hex(film) },
      ].sort((a: { name: string }, b: { name: string }) => (a.name < b.name ? -1 : 1));
      files["manifest.json"] = strToU8(canonicalize(manifest));
      files["video.mp4"] = [film, { level: 6 }];
      const zip = zipSync(files);
      const reads: [number, number][] = [];
      const counted = {
        size: zip.length,
        read: async (offset: number, length: number) => {
          reads.push([offset, length]);
          return zip.slice(offset, offset + length);
        },
      };
      const read = await readCapturePackage(counted);
      expect([read.ok, read.problems]).to.deep.equal([true, []]);
      // The end record's search reads the last 64 KiB once; everything else at most 1 MiB at a time.
      const [tail, ...rest] = reads;
      expect(tail).to.deep.equal([Math.max(0, zip.length - 22 - 0xffff), Math.min(zip.length, 22 + 0xffff)]);
      expect(Math.max(...rest.map(([, length]) => length))).to.be.at.most(1024 * 1024);
      const dataRead = rest.reduce((sum, [, length]) => sum + length, 0);
      expect(dataRead, "bytes read besides the tail").to.be.below(zip.length + 64 * 1024);
    });

    it("says a package changed on disk after it was opened could not be read, never judging other bytes", async () => {
      const dir = tempDir("package-changed");
      try {
        const file = path.join(dir, "capture.zip");
        writeFileSync(file, zip);
        const source = blobSource(await openAsBlob(file));
        writeFileSync(file, Buffer.concat([Buffer.from(zip), Buffer.from("appended")]));
        let error: unknown;
        await readCapturePackage(source).catch((e: unknown) => (error = e));
        expect((error as EvidenceError)?.code).to.equal("UNREADABLE");
        const result = await verifyEvidence(
          { kind: "package", package: source },
          { chain: new JsonRpcChainReader("http://127.0.0.1:9") },
        );
        expect([result.verdict, result.checks[0]!.status, result.checks[0]!.reason.code]).to.deep.equal([
          "indeterminate",
          "error",
          "format.unreadable",
        ]);
        // What to do is about the file, not the chain node.
        expect(verdictExplanation(result, "en")).to.match(/Check that the file can be read and is not being changed/);
        expect(verdictExplanation(result, "en")).not.to.match(/node/);
        // Whatever a source throws (an I/O error midway through an entry, here) is said the same way.
        let reads = 0;
        const failing = {
          size: zip.length,
          read: async (offset: number, length: number) => {
            if (++reads === 5) throw new TypeError("EIO: i/o error, read");
            return zip.slice(offset, offset + length);
          },
        };
        const midway = await verifyEvidence(
          { kind: "package", package: failing },
          { chain: new JsonRpcChainReader("http://127.0.0.1:9") },
        );
        expect([midway.verdict, midway.checks[0]!.reason]).to.deep.equal([
          "indeterminate",
          { code: "format.unreadable", message: "reading it failed (TypeError: EIO: i/o error, read)" },
        ]);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it("reports a manifest that is not in canonical form", async () => {
      const files = unpack(result);
      files["manifest.json"] = strToU8(
        JSON.stringify(JSON.parse(new TextDecoder().decode(result.manifestBytes)), null, 1),
      );
      expect((await readCapturePackage(zipSync(files))).problems).to.include(
        "manifest.json is not in canonical form (RFC 8785)",
      );
    });
  });

  describe("readCapturePackage on hostile archives", () => {
    const manifestOf = () => result.manifestBytes;

    it("rejects bytes that are not a ZIP", async () => {
      await expectInvalid(strToU8("PK not really a zip file at all"), /not a ZIP file/);
    });

    it("rejects a package without manifest.json", async () => {
      await expectInvalid(zipSync({ "screenshot.png": solidPng(1, 1, [0, 0, 0]) }), /no manifest\.json/);
    });

    it("rejects a manifest nested deeper than the JSON limit, saying so, and one that is not UTF-8 JSON, saying that", async () => {
      const deep = `{"a":${"[".repeat(70)}${"]".repeat(70)}}`;
      await expectInvalid(
        zipSync({ "manifest.json": strToU8(deep) }),
        /^manifest\.json nests arrays and objects deeper than 64 levels$/,
      );
      await expectInvalid(
        zipSync({ "manifest.json": new Uint8Array([0x7b, 0xff, 0x7d]) }),
        /^manifest\.json is not UTF-8 JSON$/,
      );
    });

    it("rejects a manifest of another type or version", async () => {
      const manifest = JSON.parse(new TextDecoder().decode(manifestOf()));
      await expectInvalid(
        zipSync({ "manifest.json": strToU8(JSON.stringify({ ...manifest, version: 2 })) }),
        /version/,
      );
      await expectInvalid(zipSync({ "manifest.json": strToU8(JSON.stringify({ ...manifest, type: "x" })) }), /type/);
    });

    it("rejects a manifest whose artifact names climb out of the package", async () => {
      const manifest = JSON.parse(new TextDecoder().decode(manifestOf()));
      manifest.artifacts = [{ name: "../../etc/cron.d/x", mediaType: "text/plain", size: 1, sha256: "0".repeat(64) }];
      await expectInvalid(
        zipSync({ "manifest.json": strToU8(JSON.stringify(manifest)) }),
        /artifact names are relative paths/,
      );
    });

    for (const name of ["../evil.txt", "/etc/passwd", "a/../../b", "a\\b", "C:/x", "a//b", "./a", "a\u0000b"]) {
      it(`rejects an entry named ${JSON.stringify(name)}`, async () => {
        await expectInvalid(
          handMadeZip([
            { name: "manifest.json", data: manifestOf() },
            { name, data: strToU8("x") },
          ]),
          /unsafe entry name/,
        );
      });
    }

    it("rejects two entries with the same name", async () => {
      await expectInvalid(
        handMadeZip([
          { name: "manifest.json", data: manifestOf() },
          { name: "manifest.json", data: strToU8("{}") },
        ]),
        /duplicate entry name "manifest\.json"/,
      );
    });

    it("rejects a folder entry that holds data, which readers that pass folders over never show", async () => {
      await expectInvalid(
        handMadeZip([
          { name: "manifest.json", data: manifestOf() },
          { name: "hidden/", data: strToU8("a file some readers extract and others skip") },
        ]),
        /the directory entry "hidden\/" holds data/,
      );
    });

    it("rejects a folder entry named like a file, which unzip makes instead of the file", async () => {
      const genuine = Object.entries(unpack(result)).map(([name, data]) => ({ name, data: data as Uint8Array }));
      await expectInvalid(
        handMadeZip([{ name: "screenshot.png/", data: new Uint8Array() }, ...genuine]),
        /duplicate entry name "screenshot\.png"/,
      );
    });

    it("rejects a name that is both a file and a folder of another entry", async () => {
      await expectInvalid(
        handMadeZip([
          { name: "manifest.json", data: manifestOf() },
          { name: "page.html", data: strToU8("<p>one</p>") },
          { name: "page.html/index.html", data: strToU8("<p>another</p>") },
        ]),
        /"page\.html" is both a file and a folder of "page\.html\/index\.html"/,
      );
    });

    it("reads a genuine package re-zipped with empty folder entries, as zip -r writes them, as unchanged", async () => {
      const genuine = Object.entries(unpack(result)).map(([name, data]) => ({ name, data: data as Uint8Array }));
      const folders = [...new Set(genuine.flatMap((f) => (f.name.includes("/") ? [f.name.split("/")[0]!] : [])))];
      expect(folders, "the package has folders").to.not.deep.equal([]);
      const read = await readCapturePackage(
        handMadeZip([...folders.map((f) => ({ name: `${f}/`, data: new Uint8Array() })), ...genuine]),
      );
      expect(read.problems).to.deep.equal([]);
    });

    /**
     * The genuine package re-zipped, stored, with every local header as Info-ZIP writes one
     * when it reads a stream (and Python's zipfile with force_zip64): version 4.5, both sizes
     * 0xFFFFFFFF, and the real ones in a ZIP64 extra field; the directory has the real sizes.
     */
    function rezippedWithZip64(): Buffer {
      const entries = Object.entries(unpack(result)).map(([name, data]) => ({ name, data: data as Uint8Array }));
      const parts: Buffer[] = [];
      const offsets: number[] = [];
      let at = 0;
      for (const { name, data } of entries) {
        offsets.push(at);
        const local = localHeader(name, data);
        local.writeUInt16LE(45, 4);
        local.writeUInt32LE(0xffffffff, 18);
        local.writeUInt32LE(0xffffffff, 22);
        local.writeUInt16LE(20, 28);
        const extra = Buffer.alloc(20);
        extra.writeUInt16LE(0x0001, 0);
        extra.writeUInt16LE(16, 2);
        extra.writeBigUInt64LE(BigInt(data.length), 4);
        extra.writeBigUInt64LE(BigInt(data.length), 12);
        parts.push(local, extra, Buffer.from(data));
        at += local.length + extra.length + data.length;
      }
      return Buffer.from(
        handMadeZip(
          entries.map((e, i) => ({ ...e, offset: offsets[i]! })),
          Buffer.concat(parts),
        ),
      );
    }

    it("reads a genuine package re-zipped with ZIP64 local headers (as Info-ZIP writes a stream), as unchanged", async () => {
      const bytes = rezippedWithZip64();
      expect(bytes.readUInt32LE(18), "the first local header's compressed size").to.equal(0xffffffff);
      const file = path.join(root, "zip64.zip");
      writeFileSync(file, bytes);
      expect(execFileSync("unzip", ["-tq", file], { encoding: "utf8" }), "unzip reads it").to.match(
        /No errors detected/,
      );
      const read = await readCapturePackage(new Uint8Array(bytes));
      expect(read.problems).to.deep.equal([]);
      expect(read.manifestSha256).to.equal(result.manifestSha256);
    });

    it("rejects a local header that gives one size in full and the other as 0xFFFFFFFF, whatever its ZIP64 extra field says (streaming readers take the one in full)", async () => {
      const bytes = rezippedWithZip64();
      bytes.writeUInt32LE(Number(bytes.readBigUInt64LE(30 + bytes.readUInt16LE(26) + 12)) + 1000, 18);
      await expectInvalid(new Uint8Array(bytes), /the local header and the central directory describe it differently/);
    });

    it("rejects a ZIP64 extra field in a local header that gives other sizes than the directory", async () => {
      const bytes = rezippedWithZip64();
      // The first entry's extra field: its uncompressed size, one more.
      const extra = 30 + bytes.readUInt16LE(26);
      expect(bytes.readUInt16LE(extra), "a ZIP64 extra field").to.equal(0x0001);
      bytes.writeBigUInt64LE(bytes.readBigUInt64LE(extra + 4) + 1n, extra + 4);
      await expectInvalid(new Uint8Array(bytes), /the local header and the central directory describe it differently/);
    });

    it("rejects two names that differ only in case", async () => {
      await expectInvalid(
        zipSync({ "manifest.json": manifestOf(), "page.html": strToU8("a"), "PAGE.html": strToU8("b") }),
        /duplicate entry name/,
      );
    });

    it("rejects entries that share bytes (an overlapping-file zip bomb)", async () => {
      // Entry "outer" is stored; its data is a whole local header and data of entry "inner".
      const innerLocal = localHeader("inner.txt", strToU8("boom"));
      const innerBytes = Buffer.concat([innerLocal, Buffer.from("boom")]);
      const manifestLocal = localHeader("manifest.json", manifestOf());
      const outerLocal = localHeader("outer.bin", innerBytes);
      const body = Buffer.concat([manifestLocal, Buffer.from(manifestOf()), outerLocal, innerBytes]);
      const outerOffset = manifestLocal.length + manifestOf().length;
      await expectInvalid(
        handMadeZip(
          [
            { name: "manifest.json", data: manifestOf(), offset: 0 },
            { name: "outer.bin", data: innerBytes, offset: outerOffset },
            { name: "inner.txt", data: strToU8("boom"), offset: outerOffset + outerLocal.length },
          ],
          body,
        ),
        /overlaps/,
      );
    });

    it("rejects a second end record hidden in the ZIP comment (tools that find it read other files)", async () => {
      const hidden = Buffer.alloc(22);
      hidden.writeUInt32LE(0x06054b50, 0);
      hidden.writeUInt16LE(5, 20); // its own comment would run past the end: only the real one ends the file
      const withComment = Buffer.concat([Buffer.from(zip.subarray(0, zip.length - 2)), Buffer.from([22, 0]), hidden]);
      expect((await readCapturePackage(zip)).ok, "the package itself").to.equal(true);
      await expectInvalid(new Uint8Array(withComment), /the ZIP comment holds another ZIP record/);
    });

    it("rejects an entry no directory lists, before the listed ones (tools that walk local headers read it)", async () => {
      const rogue = Buffer.concat([
        localHeader("screenshot.png", strToU8("a red square")),
        Buffer.from("a red square"),
      ]);
      const manifest = Buffer.concat([localHeader("manifest.json", manifestOf()), Buffer.from(manifestOf())]);
      await expectInvalid(
        handMadeZip(
          [{ name: "manifest.json", data: manifestOf(), offset: rogue.length }],
          Buffer.concat([rogue, manifest]),
        ),
        /bytes no entry covers lie before manifest\.json/,
      );
    });

    it("rejects bytes between the last entry and the central directory", async () => {
      const manifest = Buffer.concat([localHeader("manifest.json", manifestOf()), Buffer.from(manifestOf())]);
      await expectInvalid(
        handMadeZip(
          [{ name: "manifest.json", data: manifestOf(), offset: 0 }],
          Buffer.concat([manifest, Buffer.from("hidden")]),
        ),
        /bytes no entry covers lie before the central directory/,
      );
    });

    it("rejects entries that together inflate beyond the limit (a zip bomb)", async () => {
      const zeros = new Uint8Array(8 * 1024 * 1024);
      await expectInvalid(
        zipSync({ "manifest.json": manifestOf(), "bomb.bin": zeros }, { level: 9 }),
        /more than 1048576 bytes/,
        {
          maxEntries: 100,
          maxTotalBytes: 1024 * 1024,
          maxDocumentBytes: 1024 * 1024,
        },
      );
    });

    it("rejects an entry that claims more than deflate can expand to", async () => {
      const small = zipSync({ "manifest.json": manifestOf(), "bomb.bin": new Uint8Array(1000) }, { level: 9 });
      const bytes = Buffer.from(small);
      // Patch bomb.bin's uncompressed size in the central directory to 1 GiB − 1.
      const name = bytes.lastIndexOf(Buffer.from("bomb.bin"));
      bytes.writeUInt32LE(0x3fffffff, name - 46 + 24);
      await expectInvalid(new Uint8Array(bytes), /compression ratio deflate cannot produce/);
    });

    /** A package of page.html, stored and followed by a data descriptor (flag bit 3), as a stream writes it. */
    function withDataDescriptor(page: Uint8Array): Uint8Array {
      const manifest = JSON.parse(new TextDecoder().decode(manifestOf()));
      manifest.artifacts = [{ name: "page.html", mediaType: "text/html", size: page.length, sha256: sha256Hex(page) }];
      const manifestBytes = strToU8(canonicalize(manifest));
      const descriptor = Buffer.alloc(16);
      descriptor.writeUInt32LE(0x08074b50, 0);
      descriptor.writeUInt32LE(crc(page), 4);
      descriptor.writeUInt32LE(page.length, 8);
      descriptor.writeUInt32LE(page.length, 12);
      const first = Buffer.concat([localHeader("manifest.json", manifestBytes), Buffer.from(manifestBytes)]);
      const second = localHeader("page.html", page);
      second.writeUInt16LE(second.readUInt16LE(6) | 0x0008, 6);
      const zip = Buffer.from(
        handMadeZip(
          [
            { name: "manifest.json", data: manifestBytes, offset: 0 },
            { name: "page.html", data: page, offset: first.length },
          ],
          Buffer.concat([first, second, Buffer.from(page), descriptor]),
        ),
      );
      const central = zip.lastIndexOf(Buffer.from("page.html")) - 46;
      zip.writeUInt16LE(zip.readUInt16LE(central + 8) | 0x0008, central + 8);
      return new Uint8Array(zip);
    }

    it("rejects a stored entry followed by a data descriptor whose data holds a descriptor for its first bytes (readers of a stream end the entry there)", async () => {
      const early = Buffer.alloc(16);
      early.writeUInt32LE(0x08074b50, 0);
      early.writeUInt32LE(6, 8);
      early.writeUInt32LE(6, 12);
      const page = Buffer.concat([Buffer.from("<html>"), early, Buffer.from("then other entries")]);
      const plain = Buffer.concat([Buffer.from("<html>"), Buffer.alloc(16, 0x20), Buffer.from("then other entries")]);
      expect((await readCapturePackage(withDataDescriptor(plain))).problems, "the same without it").to.deep.equal([]);
      await expectInvalid(
        withDataDescriptor(page),
        /page\.html: its data holds a data descriptor for its first 6 bytes, where readers of a stream would end it/,
      );
    });

    it("never allocates beyond a declared size that is too small: the lie shows as an altered file", async () => {
      const big = strToU8("x".repeat(100_000));
      const manifest = JSON.parse(new TextDecoder().decode(manifestOf()));
      manifest.artifacts = [{ name: "big.txt", mediaType: "text/plain", size: big.length, sha256: sha256Hex(big) }];
      const bytes = Buffer.from(zipSync({ "manifest.json": strToU8(canonicalize(manifest)), "big.txt": big }));
      const name = bytes.lastIndexOf(Buffer.from("big.txt"));
      bytes.writeUInt32LE(1000, name - 46 + 24); // declared uncompressed size, in the directory
      const local = bytes.readUInt32LE(name - 46 + 42);
      bytes.writeUInt32LE(1000, local + 22); // and in the local header, which must agree
      const read = await readCapturePackage(new Uint8Array(bytes));
      expect(read.artifacts[0]).to.include({ ok: false, actualSize: 1000 });
      expect(read.problems.join("\n")).to.match(/big\.txt: its CRC-32 or length does not match/);
    });

    it("rejects bytes hidden after the end of an entry's deflate data, a few or megabytes of them", async () => {
      for (const junk of [3, 5 * 1024 * 1024]) {
        const bytes = Buffer.from(zipSync({ "manifest.json": manifestOf() }, { level: 9 }));
        const cdOffset = bytes.readUInt32LE(bytes.length - 22 + 16);
        const hidden = Buffer.concat([bytes.subarray(0, cdOffset), Buffer.alloc(junk, 0x5a), bytes.subarray(cdOffset)]);
        // manifest.json's compressed size in the directory, and where the directory begins.
        const central = cdOffset + junk;
        hidden.writeUInt32LE(hidden.readUInt32LE(central + 20) + junk, central + 20);
        hidden.writeUInt32LE(hidden.readUInt32LE(18) + junk, 18); // and in its local header, at offset 0
        hidden.writeUInt32LE(central, hidden.length - 22 + 16);
        await expectInvalid(new Uint8Array(hidden), /^manifest\.json: bytes follow the end of its deflate data$/);
      }
    });

    /** Where `name`'s central directory entry and local header begin in the genuine package. */
    function entryAt(name: string): { central: number; local: number } {
      const bytes = Buffer.from(zip);
      const end = bytes.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
      let at = bytes.readUInt32LE(end + 16);
      for (;;) {
        const nameLength = bytes.readUInt16LE(at + 28);
        if (bytes.toString("utf8", at + 46, at + 46 + nameLength) === name) {
          return { central: at, local: bytes.readUInt32LE(at + 42) };
        }
        at += 46 + nameLength + bytes.readUInt16LE(at + 30) + bytes.readUInt16LE(at + 32);
      }
    }

    /** The genuine package with `patch` applied to a copy of its bytes. */
    function patched(patch: (bytes: Buffer) => void): Uint8Array {
      const bytes = Buffer.from(zip);
      patch(bytes);
      return new Uint8Array(bytes);
    }

    it("rejects an entry that needs a ZIP version past 6.3 to extract, which Python's zipfile refuses to open", async () => {
      const { central, local } = entryAt("screenshot.png");
      await expectInvalid(
        patched((b) => b.writeUInt16LE(0xffff, central + 6)),
        /screenshot\.png needs ZIP version 25\.5 to extract/,
      );
      await expectInvalid(
        patched((b) => b.writeUInt16LE(64, local + 4)),
        /screenshot\.png: the local header and the central directory describe it differently/,
      );
    });

    it("rejects a local header whose method or sizes differ from the directory's (readers that walk local headers read other bytes)", async () => {
      const { local } = entryAt("page.html");
      const differently = /page\.html: the local header and the central directory describe it differently/;
      await expectInvalid(
        patched((b) => b.writeUInt16LE(0, local + 8)),
        differently,
      );
      for (const field of [14, 18, 22]) {
        await expectInvalid(
          patched((b) => b.writeUInt32LE(b.readUInt32LE(local + field) + 1, local + field)),
          differently,
        );
      }
      await expectInvalid(
        patched((b) => b.writeUInt16LE(b.readUInt16LE(local + 6) | 1, local + 6)),
        differently,
      );
    });

    it("rejects damaged deflate data", async () => {
      const bytes = Buffer.from(zipSync({ "manifest.json": manifestOf() }, { level: 9 }));
      const deflated = deflateSync(manifestOf(), { level: 9 });
      const at = bytes.indexOf(Buffer.from(deflated.subarray(0, 8)));
      bytes.fill(0xff, at, at + 16);
      await expectInvalid(new Uint8Array(bytes), /damaged deflate data/);
    });
  });

  describe("service/core/capture-package.ts", () => {
    it("bundles for the browser with no node: built-ins", async () => {
      const bundle = await build({
        entryPoints: [new URL("../../service/core/capture-package.ts", import.meta.url).pathname],
        bundle: true,
        platform: "browser",
        format: "esm",
        write: false,
        logLevel: "silent",
      });
      expect(bundle.errors).to.deep.equal([]);
      expect(bundle.outputFiles[0]!.text).not.to.match(/from\s*["']node:/);
    });
  });
});
