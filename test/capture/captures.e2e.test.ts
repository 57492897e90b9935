import { expect } from "chai";
import { readdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import path from "node:path";
import { DatabaseSync } from "node:sqlite";
import { strToU8, unzipSync, zipSync } from "fflate";
import { Poppler } from "../helpers/certificate-document.ts";
import { readDatabase } from "../helpers/database.ts";
import { canonicalize } from "../../service/core/jcs.ts";
import { sha256Hex } from "../helpers/hash.ts";
import { gate, noisePng, redirect, serve, solidPng, startSite, type Site } from "../helpers/capture-sites.ts";
import {
  api,
  cleanUpDataDir,
  freePort,
  runCli,
  startServiceProcess,
  tempDir,
  until,
  type ServiceProcess,
} from "../helpers/processes.ts";

const PAGE = `<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><title>侵权商品页</title></head>
<body><h1>某品牌运动鞋 限时特价</h1><p>这是一张被盗用的商品图片：</p><img src="/product.png" width="200" height="120"></body></html>`;

describe("web captures through the service (real service, Chromium, a loopback site)", function () {
  this.timeout(180_000);
  let site: Site;
  let slow: ReturnType<typeof gate>;
  let service: ServiceProcess;
  let dataDir: string;
  let work: string;
  let chainUrl: string;
  /**
   * What makes a page's capture larger than a verifier may hold in memory (64 MiB), as a long
   * video does: a 40 MiB image of noise, which no compression shrinks, recorded in the HAR and the WARC.
   */
  let filmPng: Buffer;
  /** The development account's key, printed at the first start. */
  let apiKey: string;
  /** The capture recorded by the first test (its package is saved as capture.zip). */
  let recordedId: string;

  before(async () => {
    filmPng = noisePng(4096, 3413);
    slow = gate(serve("text/html; charset=utf-8", PAGE));
    site = await startSite({
      "/shop/item": serve("text/html; charset=utf-8", PAGE),
      "/product.png": serve("image/png", solidPng(200, 120, [200, 30, 30])),
      "/slow": slow.route,
      "/to-private": redirect("http://10.1.2.3/"),
      "/film": serve(
        "text/html; charset=utf-8",
        '<!doctype html><title>盗播影片</title><img src="/film.png" width="400" height="333">',
      ),
      "/film.png": serve("image/png", filmPng),
    });
    dataDir = tempDir("captures");
    work = tempDir("captures-work");
    const chainPort = await freePort();
    chainUrl = `http://127.0.0.1:${chainPort}`;
    service = await startServiceProcess(dataDir, {
      LOCAL_CHAIN_PORT: String(chainPort),
      CAPTURE_ALLOW: "127.0.0.1/32",
    });
    apiKey = service.apiKey!;
  });

  after(async () => {
    slow?.open();
    await service?.stop();
    await site?.close();
    await cleanUpDataDir(dataDir);
    await cleanUpDataDir(work);
  });

  const pageUrl = () => `http://127.0.0.1:${site.port}/shop/item`;
  const zipAt = (name: string) => path.join(work, name);
  /** `evidence verify ARGS --json` against the chain: its exit code, its verdict and its checks by id. */
  async function verified(...args: string[]) {
    const res = await runCli(["verify", ...args, "--rpc", chainUrl, "--json"]);
    const json = JSON.parse(res.stdout);
    return { code: res.code, json, check: (id: string) => json.checks.find((x: any) => x.id === id) };
  }
  /** `evidence verify CERTIFICATE --file FILE --json`. */
  const verifiedWithFile = (certificate: string, file: string) => verified(certificate, "--file", file);

  it("captures a page (202), reports progress, anchors its record, and serves a package that verifies", async () => {
    const client = api(service.url, apiKey);
    const accepted = await client.postJson("/api/v1/captures", { url: pageUrl(), title: "侵权页面" });
    expect(accepted.status).to.equal(202);
    expect(accepted.body.status).to.equal("capturing");
    const seen = new Set<string>();
    const view = await until(
      async () => {
        const { body } = await api(service.url).get(`/api/v1/evidence/${accepted.body.id}`);
        seen.add(body.status);
        return body.status === "anchored" ? body : undefined;
      },
      "the capture to be anchored",
      120_000,
    );
    expect(seen.has("capturing") || seen.has("pending") || seen.has("anchoring")).to.equal(true);
    expect(view.record).to.include({
      mediaType: "application/vnd.evidence-anchor.capture+json",
      sourceUrl: pageUrl(),
      title: "侵权页面",
      fileName: "manifest.json",
    });

    const res = await fetch(`${service.url}/api/v1/evidence/${accepted.body.id}/package`);
    expect(res.headers.get("content-type")).to.equal("application/zip");
    const zip = new Uint8Array(await res.arrayBuffer());
    const files = unzipSync(zip);
    expect(Object.keys(files)).to.include.members([
      "manifest.json",
      "screenshot.png",
      "page.mhtml",
      "page.html",
      "network.har",
      "certificate.evidence.json",
    ]);
    const manifest = JSON.parse(new TextDecoder().decode(files["manifest.json"]!));
    expect(manifest).to.include({ type: "evidence-anchor-capture", url: pageUrl(), title: "侵权商品页" });
    expect(new TextDecoder().decode(files["page.html"]!)).to.include("某品牌运动鞋");
    const packagePath = path.join(work, "capture.zip");
    writeFileSync(packagePath, zip);
    recordedId = accepted.body.id;

    const verified = await runCli(["verify", packagePath, "--rpc", chainUrl, "--json"]);
    expect(verified.code, verified.stdout).to.equal(0);
    const json = JSON.parse(verified.stdout);
    expect(json.checks.slice(0, 3).map((c: any) => [c.id, c.status])).to.deep.equal([
      ["format", "passed"],
      ["package", "passed"],
      ["content", "passed"],
    ]);
    // What the certified manifest states of the capture, HTTP status included (a 404 page is evidence of a 404).
    expect(json.capture).to.include({ url: pageUrl(), finalUrl: pageUrl(), status: 200, title: "侵权商品页" });
    expect(json.id).to.equal(accepted.body.id);
    const text = await runCli(["verify", packagePath, "--rpc", chainUrl, "--lang", "en"]);
    expect(text.stdout).to.match(
      new RegExp(`\\n  captured URL +${pageUrl()}\\n  HTTP status +200\\n  page title +侵权商品页\\n  captured at `),
    );

    // The page verifies it too, as the service does.
    const form = new FormData();
    form.append("certificate", new Blob([zip]), "capture.zip");
    const byService = await api(service.url).postForm("/api/v1/verify", form);
    expect(byService.body.verdict).to.equal("valid");
  });

  it("keeps a recorded capture's files when an upload of the same bytes fails, whoever sends it; a file gone missing is a 500, not a broken package", async () => {
    const files = unzipSync(readFileSync(zipAt("capture.zip")));
    const created = await runCli(["accounts", "create", "--name", "另一个账户", "--json"], { DATA_DIR: dataDir });
    expect(created.code, created.stderr).to.equal(0);
    const other = api(service.url, JSON.parse(created.stdout).apiKey);
    for (const name of ["screenshot.png", "page.html", "network.har"]) {
      // The file is stored as it arrives; the field after it makes the request fail, and its files be discarded.
      const form = new FormData();
      form.append("file", new Blob([files[name]!]), name);
      form.append("unexpected", "1");
      const refused = await other.postForm("/api/v1/evidence", form);
      expect(refused.status, name).to.equal(400);
    }
    const res = await fetch(`${service.url}/api/v1/evidence/${recordedId}/package`);
    expect(res.status).to.equal(200);
    const again = new Uint8Array(await res.arrayBuffer());
    const packagePath = zipAt("capture-again.zip");
    writeFileSync(packagePath, again);
    expect(Object.keys(unzipSync(again))).to.include.members(["screenshot.png", "page.html", "network.har"]);
    const verified = await runCli(["verify", packagePath, "--rpc", chainUrl, "--json"]);
    expect(verified.code, verified.stdout).to.equal(0);
    const screenshot = await fetch(`${service.url}/api/v1/evidence/${recordedId}/screenshot`);
    expect(screenshot.status).to.equal(200);
    expect(Buffer.from(await screenshot.arrayBuffer()).equals(Buffer.from(files["screenshot.png"]!))).to.equal(true);

    // A file that did go missing (a damaged disk) is an internal error, answered before any
    // byte of the package: never a 200 whose ZIP breaks off part way.
    for (const name of ["page.html", "screenshot.png"]) {
      const hash = sha256Hex(files[name]!);
      const file = path.join(dataDir, "objects", hash.slice(0, 2), hash);
      renameSync(file, `${file}.away`);
      try {
        for (const route of ["package", "screenshot"]) {
          const broken = await fetch(`${service.url}/api/v1/evidence/${recordedId}/${route}`);
          const expected = route === "package" || name === "screenshot.png" ? 500 : 200;
          expect(broken.status, `${route} without ${name}`).to.equal(expected);
          if (expected === 500) expect(((await broken.json()) as { code: string }).code).to.equal("INTERNAL");
          else await broken.arrayBuffer();
        }
      } finally {
        renameSync(`${file}.away`, file);
      }
    }
  });

  it("lists at start the files of a capture recorded before the store listed them, and keeps them from then on", async () => {
    await service.stop();
    const db = new DatabaseSync(path.join(dataDir, "evidence.db"));
    // As a capture recorded by a version that did not list its files.
    db.prepare("DELETE FROM capture_files WHERE evidence_id = ?").run(recordedId);
    db.close();
    service = await startServiceProcess(dataDir, {
      LOCAL_CHAIN_PORT: new URL(chainUrl).port,
      CAPTURE_ALLOW: "127.0.0.1/32",
    });
    expect(service.output()).to.include("listed the files of 1 capture recorded by an earlier version");
    const files = unzipSync(readFileSync(zipAt("capture.zip")));
    const form = new FormData();
    form.append("file", new Blob([files["screenshot.png"]!]), "screenshot.png");
    form.append("unexpected", "1");
    expect((await api(service.url, apiKey).postForm("/api/v1/evidence", form)).status).to.equal(400);
    const screenshot = await fetch(`${service.url}/api/v1/evidence/${recordedId}/screenshot`);
    expect(screenshot.status).to.equal(200);
    await screenshot.arrayBuffer();
  });

  it("compares a file handed over beside a package with the capture: the manifest, a file it lists, or neither", async () => {
    const packagePath = path.join(work, "capture.zip");
    const files = unzipSync(readFileSync(packagePath));
    const screenshot = path.join(work, "screenshot-from-package.png");
    writeFileSync(screenshot, files["screenshot.png"]!);
    const manifest = path.join(work, "manifest-from-package.json");
    writeFileSync(manifest, files["manifest.json"]!);
    const unrelated = path.join(work, "unrelated.png");
    writeFileSync(unrelated, solidPng(7, 7, [1, 2, 3]));
    const cases = [
      { file: undefined, exit: 0, verdict: "valid", fileCompared: false, content: ["passed", "content.package"] },
      { file: manifest, exit: 0, verdict: "valid", fileCompared: true, content: ["passed", "content.match"] },
      { file: screenshot, exit: 0, verdict: "valid", fileCompared: true, content: ["passed", "content.package-file"] },
      {
        file: unrelated,
        exit: 1,
        verdict: "invalid",
        fileCompared: true,
        content: ["failed", "content.not-in-package"],
      },
    ];
    for (const c of cases) {
      const res = await runCli([
        "verify",
        packagePath,
        ...(c.file ? ["--file", c.file] : []),
        "--rpc",
        chainUrl,
        "--json",
      ]);
      const json = JSON.parse(res.stdout);
      const content = json.checks.find((check: any) => check.id === "content");
      expect([res.code, json.verdict, json.fileCompared, content.status, content.reason?.code], c.file).to.deep.equal([
        c.exit,
        c.verdict,
        c.fileCompared,
        ...c.content,
      ]);
      if (c.file === screenshot) expect(content.detail).to.include("screenshot.png");
    }
    const explained = await runCli(["verify", packagePath, "--file", unrelated, "--rpc", chainUrl]);
    expect(explained.stdout).to.include("the file you supplied is not part of this capture");
    // The page's words say which: the package's manifest, not "the file you supplied".
    const zh = await runCli(["verify", packagePath, "--rpc", chainUrl, "--lang", "zh"]);
    expect(zh.stdout).to.include("取证包中的 manifest.json 与存证内容完全一致").and.not.include("您提供的文件");
  });

  it("says a package whose manifest is not the certified one does not match its certificate, blaming no file and showing none of its facts", async () => {
    const files = unzipSync(readFileSync(path.join(work, "capture.zip")));
    const manifest = new TextDecoder().decode(files["manifest.json"]!);
    files["manifest.json"] = strToU8(manifest.replace("/shop/item", "/shop/itex"));
    const altered = path.join(work, "altered-manifest.zip");
    writeFileSync(altered, zipSync(files));

    const { code, json, check } = await verified(altered);
    expect([code, json.verdict, check("package").status, check("content").reason.code]).to.deep.equal([
      1,
      "invalid",
      "passed",
      "content.package-mismatch",
    ]);
    expect(json, "the altered manifest's URL and times are not shown as the capture's").not.to.have.property("capture");
    const en = await runCli(["verify", altered, "--rpc", chainUrl, "--lang", "en"]);
    expect(en.stdout).to.include("INVALID — the package does not match the certificate");
    expect(en.stdout).to.include("the package's manifest.json is not the content it certifies");
    expect(en.stdout).not.to.include("the file you supplied");
    expect(en.stdout).not.to.include("/shop/itex");
    const zh = await runCli(["verify", altered, "--rpc", chainUrl, "--lang", "zh"]);
    expect(zh.stdout).to.include("无效——取证包与证书不一致").and.not.include("您提供的文件");
  });

  it("calls a package built around a manifest uploaded as an ordinary file invalid, a capture the service never made, and shows none of its facts", async () => {
    // A forger's own manifest (another URL, another screenshot), hashes kept consistent and in
    // canonical form, submitted as a file: its certificate is genuine, for an uploaded file.
    const files = unzipSync(readFileSync(path.join(work, "capture.zip")));
    const forgedPng = solidPng(200, 120, [30, 30, 200]);
    const manifest = JSON.parse(new TextDecoder().decode(files["manifest.json"]!));
    manifest.url = manifest.finalUrl = "https://victim-shop.example/item/123";
    const shot = manifest.artifacts.find((a: any) => a.name === "screenshot.png");
    Object.assign(shot, { sha256: sha256Hex(forgedPng), size: forgedPng.length });
    const manifestBytes = strToU8(canonicalize(manifest));
    const form = new FormData();
    form.append("file", new Blob([manifestBytes], { type: "application/json" }), "manifest.json");
    const submitted = await api(service.url, apiKey).postForm("/api/v1/evidence", form);
    expect(submitted.status, JSON.stringify(submitted.body)).to.equal(201);
    const id = submitted.body.items[0].id;
    const certificate = await until(async () => {
      const res = await fetch(`${service.url}/api/v1/evidence/${id}/certificate`);
      return res.status === 200 ? new Uint8Array(await res.arrayBuffer()) : undefined;
    }, "the upload's certificate");
    const forged = path.join(work, "forged-capture.zip");
    writeFileSync(
      forged,
      zipSync({
        ...files,
        "manifest.json": manifestBytes,
        "screenshot.png": forgedPng,
        "certificate.evidence.json": certificate,
      }),
    );

    const { code, json, check } = await verified(forged);
    expect([code, json.verdict, check("package").status, check("package").reason.code]).to.deep.equal([
      1,
      "invalid",
      "failed",
      "package.not-a-capture",
    ]);
    expect(["format", "leaf", "inclusion", "anchor", "signature"].map((id) => check(id).status)).to.deep.equal(
      Array(5).fill("passed"),
    );
    expect(json, "the forger's URL and times are not shown as a capture's").not.to.have.property("capture");
    const en = await runCli(["verify", forged, "--rpc", chainUrl, "--lang", "en"]);
    expect(en.stdout.split("\n").slice(0, 2)).to.deep.equal([
      "== INVALID ==",
      "This is not a capture the service made: the certificate is of a file its submitter uploaded (the manifest.json), so the URL, times and screenshot in the package are the submitter's own claims and prove nothing.",
    ]);
    expect(en.stdout).not.to.include("victim-shop");
    const zh = await runCli(["verify", forged, "--rpc", chainUrl, "--lang", "zh"]);
    expect(zh.stdout).to.include("这不是本服务进行的网页取证").and.not.include("victim-shop");
    // The service's verifier (and the page's, the same core) says the same.
    const upload = new FormData();
    upload.append("certificate", new Blob([readFileSync(forged)]), "forged-capture.zip");
    const byService = await api(service.url).postForm("/api/v1/verify", upload);
    expect([byService.body.verdict, byService.body.capture]).to.deep.equal(["invalid", undefined]);
  });

  it("calls a genuine package with a damaged certificate invalid for its certificate, never 'not a capture'", async () => {
    const files = unzipSync(readFileSync(path.join(work, "capture.zip")));
    const damaged = JSON.parse(new TextDecoder().decode(files["certificate.evidence.json"]!));
    damaged.proof.leafIndex = "zero";
    files["certificate.evidence.json"] = strToU8(JSON.stringify(damaged));
    const broken = path.join(work, "damaged-certificate.zip");
    writeFileSync(broken, zipSync(files));
    const { json, check } = await verified(broken);
    expect([json.verdict, check("format").status, check("package").status, check("package").reason.code]).to.deep.equal(
      ["invalid", "failed", "passed", "package.ok"],
    );
  });

  it("names the artifact that was altered in a package, and calls it invalid", async () => {
    const files = unzipSync(readFileSync(path.join(work, "capture.zip")));
    files["page.html"] = strToU8(new TextDecoder().decode(files["page.html"]!).replace("限时特价", "正常价格"));
    const tampered = path.join(work, "tampered.zip");
    writeFileSync(tampered, zipSync(files));
    const res = await runCli(["verify", tampered, "--rpc", chainUrl, "--json"]);
    expect(res.code).to.equal(1);
    const pkg = JSON.parse(res.stdout).checks.find((c: any) => c.id === "package");
    expect(pkg.status).to.equal("failed");
    expect(pkg.detail).to.match(/^page\.html was altered/);
    // Said of the package's files, not of the certificate, which is untouched.
    const said = await runCli(["verify", tampered, "--rpc", chainUrl, "--lang", "en"]);
    expect(said.stdout.split("\n")[1]).to.equal(
      "Files in the capture package were altered (see Capture package): the package proves nothing. None of the certificate's own checks failed.",
    );
  });

  it("verifies a capture's certificate with its package handed over as the file: the package is compared, not the ZIP's hash", async () => {
    const files = unzipSync(readFileSync(path.join(work, "capture.zip")));
    const certificatePath = path.join(work, "capture.evidence.json");
    writeFileSync(certificatePath, files["certificate.evidence.json"]!);
    const id = JSON.parse(new TextDecoder().decode(files["certificate.evidence.json"]!)).record.id;
    const cases = [
      { zip: "capture.zip", exit: 0, verdict: "valid", package: "passed", content: ["passed", "content.package"] },
      { zip: "tampered.zip", exit: 1, verdict: "invalid", package: "failed", content: ["passed", "content.package"] },
      {
        zip: "altered-manifest.zip",
        exit: 1,
        verdict: "invalid",
        package: "passed",
        content: ["failed", "content.package-mismatch"],
      },
    ];
    for (const c of cases) {
      const { code, json, check } = await verifiedWithFile(certificatePath, zipAt(c.zip));
      expect(
        [
          code,
          json.verdict,
          json.fileCompared,
          check("package")?.status,
          check("content").status,
          check("content").reason.code,
        ],
        c.zip,
      ).to.deep.equal([c.exit, c.verdict, true, c.package, ...c.content]);
    }
    const said = await runCli([
      "verify",
      certificatePath,
      "--file",
      zipAt("capture.zip"),
      "--rpc",
      chainUrl,
      "--lang",
      "en",
    ]);
    expect(said.stdout.split("\n")[0]).to.equal("== VALID — the capture package matches the certificate ==");

    // The same package in both places: its manifest is the file compared.
    const twice = await verifiedWithFile(zipAt("capture.zip"), zipAt("capture.zip"));
    expect([twice.code, twice.json.verdict, twice.json.fileCompared]).to.deep.equal([0, "valid", true]);
    // A package of a capture not anchored yet holds no certificate: could not verify, not invalid.
    const unanchored = unzipSync(readFileSync(zipAt("capture.zip")));
    delete unanchored["certificate.evidence.json"];
    writeFileSync(zipAt("unanchored.zip"), zipSync(unanchored));
    const early = await runCli(["verify", zipAt("unanchored.zip"), "--rpc", chainUrl, "--lang", "en"]);
    expect([early.code, early.stdout.split("\n").slice(0, 2)]).to.deep.equal([
      3,
      [
        "== COULD NOT VERIFY ==",
        "This capture package holds no certificate yet: it is issued once the capture is anchored. Download the package again once it is, or use its certificate.",
      ],
    ]);

    // Its certificate taken out of an altered package: the alteration is still said, INVALID.
    const strippedAltered = unzipSync(readFileSync(zipAt("tampered.zip")));
    delete strippedAltered["certificate.evidence.json"];
    writeFileSync(zipAt("stripped-altered.zip"), zipSync(strippedAltered));
    const stripped = await runCli(["verify", zipAt("stripped-altered.zip"), "--rpc", chainUrl, "--json"]);
    expect([stripped.code, JSON.parse(stripped.stdout).verdict]).to.deep.equal([1, "invalid"]);
    // The certificate as the API's body wraps it, with the package as the file: the package is compared.
    const wrapped = zipAt("wrapped.json");
    writeFileSync(wrapped, JSON.stringify({ certificate: JSON.parse(readFileSync(certificatePath, "utf8")) }));
    const unwrapped = await verifiedWithFile(wrapped, zipAt("capture.zip"));
    expect([unwrapped.code, unwrapped.json.verdict, unwrapped.json.fileCompared]).to.deep.equal([0, "valid", true]);
    // Wrapped with a statement beside it that the certificate does not cover: INVALID, the package or not.
    const beside = zipAt("beside.json");
    writeFileSync(
      beside,
      JSON.stringify({ capturedAt: "2020-01-01", certificate: JSON.parse(readFileSync(certificatePath, "utf8")) }),
    );
    const besides = await verifiedWithFile(beside, zipAt("capture.zip"));
    expect([besides.code, besides.json.verdict, besides.check("format").status]).to.deep.equal([
      1,
      "invalid",
      "failed",
    ]);

    // A package in the certificate's place is checked as a package, whatever is handed over beside it.
    const both = await verifiedWithFile(zipAt("tampered.zip"), zipAt("capture.zip"));
    expect([both.code, both.json.verdict, both.check("package").status]).to.deep.equal([1, "invalid", "failed"]);

    // A package submitted as an ordinary file is certified as its bytes: handed over, it is compared as one.
    const form = new FormData();
    form.append("file", new Blob([readFileSync(zipAt("capture.zip"))]), "capture.zip");
    const submitted = await api(service.url, apiKey).postForm("/api/v1/evidence", form);
    const ordinaryPath = path.join(work, "ordinary.evidence.json");
    writeFileSync(ordinaryPath, JSON.stringify(await api(service.url).anchored(submitted.body.items[0].id)));
    const asBytes = await verifiedWithFile(ordinaryPath, zipAt("capture.zip"));
    expect([asBytes.code, asBytes.json.verdict, asBytes.check("content").reason.code]).to.deep.equal([
      0,
      "valid",
      "content.match",
    ]);

    // The service too, with the certificate's PDF document: the package is kept to be read, not only hashed.
    const pdf = await fetch(`${service.url}/api/v1/evidence/${id}/certificate.pdf`);
    expect(pdf.status).to.equal(200);
    // The document states the capture as its certified manifest records it.
    const poppler = new Poppler();
    try {
      const printed = poppler.text(new Uint8Array(await pdf.clone().arrayBuffer())).replace(/\s+/g, "");
      expect(printed).to.include(`取证网址CapturedURL${pageUrl()}`).and.to.include("HTTP状态HTTPstatus200");
    } finally {
      poppler.remove();
    }
    for (const [zip, verdict] of [
      ["capture.zip", "valid"],
      ["tampered.zip", "invalid"],
    ] as const) {
      const form = new FormData();
      form.append("certificate", new Blob([new Uint8Array(await pdf.clone().arrayBuffer())]), `${id}.pdf`);
      form.append("file", new Blob([readFileSync(path.join(work, zip))]), zip);
      const byService = await api(service.url).postForm("/api/v1/verify", form);
      expect([byService.body.verdict, byService.body.fileCompared], zip).to.deep.equal([verdict, true]);
    }
  });

  it("verifies a capture larger than 64 MiB on the CLI and through the API, reading it by ranges, from the file or from the API's spool on disk", async () => {
    const accepted = await api(service.url, apiKey).postJson("/api/v1/captures", {
      url: `http://127.0.0.1:${site.port}/film`,
    });
    expect(accepted.status, JSON.stringify(accepted.body)).to.equal(202);
    const certificate = await api(service.url).anchored(accepted.body.id, 120_000);
    const certificatePath = zipAt("film.evidence.json");
    writeFileSync(certificatePath, JSON.stringify(certificate));
    const res = await fetch(`${service.url}/api/v1/evidence/${accepted.body.id}/package`);
    const film = Buffer.from(await res.arrayBuffer());
    expect(film.length).to.be.greaterThan(64 * 1024 * 1024);
    writeFileSync(zipAt("film.zip"), film);
    // One byte of the film altered, where the package holds it as it is.
    const altered = Buffer.from(film);
    const at = altered.indexOf(filmPng.subarray(1_000_000, 1_000_032));
    expect(at, "the film's bytes are stored in the package").to.be.greaterThan(0);
    altered[at]! ^= 0xff;
    writeFileSync(zipAt("film-altered.zip"), altered);

    // The package as the certificate, and as the file beside its certificate.
    const alone = await runCli(["verify", zipAt("film.zip"), "--rpc", chainUrl, "--json"]);
    const aloneJson = JSON.parse(alone.stdout);
    const packageCheck = aloneJson.checks.find((c: any) => c.id === "package");
    expect([alone.code, aloneJson.verdict, packageCheck.status]).to.deep.equal([0, "valid", "passed"]);
    const beside = await verifiedWithFile(certificatePath, zipAt("film-altered.zip"));
    expect([beside.code, beside.json.verdict, beside.json.fileCompared, beside.check("package").status]).to.deep.equal([
      1,
      "invalid",
      true,
      "failed",
    ]);
    expect(beside.check("package").reason.problems.join("\n")).to.match(/^archive\/data\.warc\.gz was altered/m);

    // The API holds at most 64 MiB of a package in memory: a larger one is written to its spool
    // directory and read from there, as the CLI reads it from the file.
    const form = new FormData();
    form.append("certificate", new Blob([JSON.stringify(certificate)]), "film.evidence.json");
    form.append("file", new Blob([film]), "film.zip");
    const byService = await api(service.url).postForm("/api/v1/verify", form);
    const packageByService = byService.body.checks.find((c: any) => c.id === "package");
    expect([
      byService.status,
      byService.body.verdict,
      byService.body.fileCompared,
      packageByService.status,
    ]).to.deep.equal([200, "valid", true, "passed"]);
    // Nothing left on disk once answered.
    await until(
      async () => (readdirSync(path.join(dataDir, "verify-spool")).length === 0 ? true : undefined),
      "the spooled package to be removed",
    );
  });

  it("lists the account's captures that are not evidence — a failed one with why — and not the recorded one", async () => {
    const client = api(service.url, apiKey);
    const accepted = await client.postJson("/api/v1/captures", { url: `http://127.0.0.1:${site.port}/to-private` });
    expect(accepted.status).to.equal(202);
    const failed = await until(
      async () => {
        const { body } = await client.get("/api/v1/captures");
        const item = body.items.find((i: { id: string }) => i.id === accepted.body.id);
        return item?.status === "failed" ? item : undefined;
      },
      "the capture to fail",
      120_000,
    );
    expect(failed).to.include({ url: `http://127.0.0.1:${site.port}/to-private` });
    expect(failed.error.code).to.equal("ADDRESS_REFUSED");
    const certificate = await api(service.url).get(`/api/v1/evidence/${accepted.body.id}/certificate`);
    expect([certificate.status, certificate.body.code, certificate.body.evidenceStatus]).to.deep.equal([
      409,
      "CAPTURE_FAILED",
      "failed",
    ]);
    expect(certificate.body.detail).to.match(/the web capture failed/);
    // Its package is answered the same way: it failed, it is not unknown.
    const pkg = await api(service.url).get(`/api/v1/evidence/${accepted.body.id}/package`);
    expect([pkg.status, pkg.body.code]).to.deep.equal([409, "CAPTURE_FAILED"]);
    const { body } = await client.get("/api/v1/captures");
    const evidence = await client.get("/api/v1/evidence");
    const recorded = evidence.body.items.map((i: { id: string }) => i.id);
    expect(body.items.filter((i: { id: string }) => recorded.includes(i.id))).to.deep.equal([]);
    // The CLI says why in one line, exit 1; not as if the service had refused a request.
    const cli = await runCli(
      ["capture", `http://127.0.0.1:${site.port}/to-private`, "--wait", "--server", service.url],
      {
        EVIDENCE_API_KEY: apiKey,
      },
    );
    expect(cli.code).to.equal(1);
    expect(cli.stderr.trim().split("\n").at(-1)).to.match(
      /^evidence capture: the capture failed: the page, or a page it led to, is at an address that cannot be captured \(private, local or unknown\) \(.*10\.1\.2\.3/,
    );
    const anonymous = await api(service.url).get("/api/v1/captures");
    expect([anonymous.status, anonymous.body.code]).to.deep.equal([401, "UNAUTHENTICATED"]);
  });

  it("removes a failed capture from the list on DELETE (204), and refuses to remove evidence (409)", async () => {
    const client = api(service.url, apiKey);
    const accepted = await client.postJson("/api/v1/captures", { url: `http://127.0.0.1:${site.port}/to-private` });
    await until(
      async () => {
        const { body } = await client.get("/api/v1/captures");
        return body.items.find((i: { id: string }) => i.id === accepted.body.id)?.status === "failed"
          ? true
          : undefined;
      },
      "the capture to fail",
      120_000,
    );
    const remove = (id: string, signedIn = true) =>
      fetch(`${service.url}/api/v1/captures/${id}`, {
        method: "DELETE",
        headers: signedIn ? { authorization: `Bearer ${apiKey}` } : {},
      });
    const anonymous = await remove(accepted.body.id, false);
    expect([anonymous.status, ((await anonymous.json()) as { code: string }).code]).to.deep.equal([
      401,
      "UNAUTHENTICATED",
    ]);
    const removed = await remove(accepted.body.id);
    expect([removed.status, await removed.text()]).to.deep.equal([204, ""]);
    const { body } = await client.get("/api/v1/captures");
    expect(body.items.map((i: { id: string }) => i.id)).to.not.include(accepted.body.id);
    for (const id of [accepted.body.id, "not-an-id", "A".repeat(22)]) {
      const again = await remove(id);
      expect([again.status, ((await again.json()) as { code: string }).code], id).to.deep.equal([404, "NOT_FOUND"]);
    }
    // A recorded capture is evidence: never removed.
    const recorded = await client.postJson("/api/v1/captures", { url: pageUrl() });
    await until(
      async () => {
        const { body } = await client.get(`/api/v1/evidence/${recorded.body.id}`);
        return body.record ? true : undefined;
      },
      "the capture to be recorded",
      120_000,
    );
    const refused = await remove(recorded.body.id);
    expect([refused.status, ((await refused.json()) as { code: string }).code]).to.deep.equal([
      409,
      "CAPTURE_NOT_FAILED",
    ]);
    expect((await client.get(`/api/v1/evidence/${recorded.body.id}`)).status).to.equal(200);
  });

  it("refuses private and loopback addresses without an allow-list, and other schemes, before anything is recorded", async () => {
    const strict = await startServiceProcess(tempDir("captures-strict"), {
      LOCAL_CHAIN_PORT: String(await freePort()),
    });
    try {
      const client = api(strict.url, strict.apiKey);
      for (const [url, code] of [
        [pageUrl(), "ADDRESS_REFUSED"],
        ["http://169.254.169.254/latest/meta-data/", "ADDRESS_REFUSED"],
        ["http://10.1.2.3/", "ADDRESS_REFUSED"],
        ["http://localhost/", "ADDRESS_REFUSED"],
      ] as const) {
        const res = await client.postJson("/api/v1/captures", { url });
        expect([res.status, res.body.code], url).to.deep.equal([400, code]);
      }
      // For a name, its address is not told: the answers would map the service's own network.
      const named = await client.postJson("/api/v1/captures", { url: "http://localhost/" });
      expect(named.body.detail).to.equal("localhost resolves to an address captures may not reach");
      const scheme = await client.postJson("/api/v1/captures", { url: "file:///etc/passwd" });
      expect([scheme.status, scheme.body.code]).to.deep.equal([400, "INVALID_FIELD"]);
      // A key given twice is refused, not taken as the last of the two (as the digests route does).
      const twice = await client.postJson(
        "/api/v1/captures",
        `{"url": "http://10.1.2.3/a", "url": "http://10.1.2.3/b"}`,
      );
      expect([twice.status, twice.body.code, twice.body.detail]).to.deep.equal([
        400,
        "INVALID_BODY",
        'the body has the key "url" twice',
      ]);
      // The viewport's bounds are docs/capture.md's, 200–3840 × 200–2160: checked before the address.
      for (const [viewport, code] of [
        [{ width: 199, height: 800 }, "INVALID_FIELD"],
        [{ width: 800, height: 2161 }, "INVALID_FIELD"],
        [{ width: 200, height: 200 }, "ADDRESS_REFUSED"],
        [{ width: 3840, height: 2160 }, "ADDRESS_REFUSED"],
      ] as const) {
        const res = await client.postJson("/api/v1/captures", { url: pageUrl(), viewport });
        expect([res.status, res.body.code], JSON.stringify(viewport)).to.deep.equal([400, code]);
      }
      expect(readDatabase(strict.dataDir, "SELECT id FROM captures")).to.deep.equal([]);
    } finally {
      await strict.stop();
      await cleanUpDataDir(strict.dataDir);
    }
  });

  it("answers 503 CAPTURE_UNAVAILABLE with one clear line when Chromium is missing, and the rest keeps working", async () => {
    const without = await startServiceProcess(tempDir("captures-nochromium"), {
      LOCAL_CHAIN_PORT: String(await freePort()),
      CAPTURE_ALLOW: "127.0.0.1/32",
      CHROMIUM_PATH: "/nonexistent/chromium",
    });
    try {
      const client = api(without.url, without.apiKey);
      const res = await client.postJson("/api/v1/captures", { url: pageUrl() });
      expect([res.status, res.body.code]).to.deep.equal([503, "CAPTURE_UNAVAILABLE"]);
      expect(res.body.detail).to.equal("web capture is not available here: no Chromium at /nonexistent/chromium");
      const digests = await client.postJson("/api/v1/evidence/digests", { items: [{ contentHash: "a".repeat(64) }] });
      expect(digests.status).to.equal(201);
    } finally {
      await without.stop();
      await cleanUpDataDir(without.dataDir);
    }
  });

  it("runs captures interrupted by a crash again after the restart, recording each once; one that only waited was not tried", async () => {
    const client = api(service.url, apiKey);
    // Two browsers (CAPTURE_CONCURRENCY 2): two captures run, held by the page, and a third waits.
    const ids: string[] = [];
    for (const n of [1, 2, 3]) {
      ids.push(
        (await client.postJson("/api/v1/captures", { url: `http://127.0.0.1:${site.port}/slow?n=${n}` })).body.id,
      );
      if (n < 3) await site.requested("/slow", n); // the browser is waiting for the page: the capture is under way
    }
    const listed = await until(
      async () => {
        const { body } = await client.get("/api/v1/captures");
        const statuses = ids.map((id) => body.items.find((i: { id: string }) => i.id === id)?.status);
        return statuses.join() === "capturing,capturing,queued" ? statuses : undefined;
      },
      "two captures running and one waiting",
      60_000,
    );
    expect(listed).to.deep.equal(["capturing", "capturing", "queued"]);
    // Not evidence yet, running or waiting: no certificate, document or history, and the answer says why.
    for (const id of [ids[0]!, ids[2]!]) {
      for (const route of ["certificate", "certificate.pdf"]) {
        const res = await api(service.url).get(`/api/v1/evidence/${id}/${route}`);
        expect([res.status, res.body.code, res.body.evidenceStatus], route).to.deep.equal([
          409,
          "NOT_ANCHORED",
          "capturing",
        ]);
      }
      expect((await api(service.url).get(`/api/v1/evidence/${id}/certificates`)).body).to.deep.equal({ items: [] });
      const first = await api(service.url).get(`/api/v1/evidence/${id}/certificates/0`);
      expect([first.status, first.body.detail]).to.deep.equal([404, "the capture has no certificate 0"]);
    }
    const accepted = { body: { id: ids[0]! } };
    await service.kill9();
    const status = readDatabase<{ status: string }>(
      dataDir,
      "SELECT status FROM captures WHERE id = ?",
      accepted.body.id,
    )[0];
    expect(status?.status, "interrupted while capturing").to.equal("capturing");
    slow.open();
    service = await startServiceProcess(dataDir, {
      LOCAL_CHAIN_PORT: new URL(chainUrl).port,
      CAPTURE_ALLOW: "127.0.0.1/32",
    });
    const view = await until(
      async () => {
        const { body } = await api(service.url).get(`/api/v1/evidence/${accepted.body.id}`);
        return body.status === "anchored" || body.status === "failed" ? body : undefined;
      },
      "the resumed capture to end",
      120_000,
    );
    expect(view.status).to.equal("anchored");
    for (const id of ids) await api(service.url).anchored(id, 120_000);
    expect(readDatabase(dataDir, "SELECT id FROM evidence WHERE id = ?", accepted.body.id)).to.have.length(1);
    const attempts = ids.map(
      (id) =>
        readDatabase<{ attempts: number }>(dataDir, "SELECT attempts FROM captures WHERE id = ?", id)[0]!.attempts,
    );
    expect(attempts, "runs begun, each").to.deep.equal([2, 2, 1]);
  });
});
