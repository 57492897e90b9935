import { expect } from "chai";
import { execFileSync } from "node:child_process";
import dgram from "node:dgram";
import { X509Certificate } from "node:crypto";
import { existsSync, readdirSync, readFileSync, rmSync } from "node:fs";
import path from "node:path";
import { gunzipSync, gzipSync } from "node:zlib";
import { WARCParser } from "warcio";
import { AddressPolicy } from "../../service/capture/address-policy.ts";
import {
  CAPTURE_MEDIA_TYPE,
  capturePage,
  type CaptureOptions,
  type CaptureRequest,
  type CaptureResult,
} from "../../service/capture/capture.ts";
import { CaptureError } from "../../service/capture/errors.ts";
import { dnsServerResolver, systemResolver } from "../../service/capture/guard-proxy.ts";
import { canonicalize } from "../../service/core/jcs.ts";
import {
  decodeQuotedPrintable,
  makeTestCertificate,
  pngPixels,
  redirect,
  serve,
  solidPdf,
  solidPng,
  startSite,
  type Route,
  type Site,
} from "../helpers/capture-sites.ts";
import { startDnsServer, type DnsServer } from "../helpers/dns-server.ts";
import { sha256Hex } from "../helpers/hash.ts";
import { freePort, tempDir } from "../helpers/processes.ts";

const CHINESE = "侵权商品页面：你好，世界";

const PDF_DOCUMENT = path.resolve(import.meta.dirname, "../vectors/pdf/minimal.pdf");

function headerNames(headers: unknown): string[] {
  return (headers as { name: string }[]).map((h) => h.name.toLowerCase());
}

function headerValue(headers: unknown, name: string): string | undefined {
  return (headers as { name: string; value: string }[]).find((h) => h.name.toLowerCase() === name)?.value;
}

describe("capturePage (Debian Chromium through the guard proxy, sites on loopback)", function () {
  this.timeout(60_000);
  let root: string;
  let dns: DnsServer;
  let site: Site;
  let tlsSite: Site;
  let internal: Site;
  let spki: string;
  let counter = 0;
  /** A UDP service on loopback, counting the datagrams it receives. */
  let udp: dgram.Socket & { port: number; received: number };
  /** Requests for /again, by its `then` parameter. */
  const againVisits = new Map<string, number>();

  /** Options for a capture into a new directory, CAPTURE_ALLOW=127.0.0.1/32, names from the loopback DNS server. */
  function options(extra: Partial<CaptureOptions> = {}): CaptureOptions {
    return {
      outDir: path.join(root, `capture-${++counter}`),
      policy: new AddressPolicy({ allow: "127.0.0.1/32" }),
      resolver: dnsServerResolver([dns.address]),
      ...extra,
    };
  }

  /** A PDF whose bytes the capture says it did not keep, and why: no document.* artifact. */
  function expectPdfNotKept(result: CaptureResult, note: string): void {
    expect(result.manifest.observed.document).to.deep.equal({ mediaType: "application/pdf", kept: false, note });
    expect(result.manifest.artifacts.filter((a) => a.name.startsWith("document"))).to.deep.equal([]);
  }

  async function captureError(request: CaptureRequest, opts: CaptureOptions): Promise<CaptureError> {
    const outcome = await capturePage(request, opts).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(outcome, "the capture should have failed").to.be.instanceOf(CaptureError);
    return outcome as CaptureError;
  }

  before(async () => {
    root = tempDir("capture");
    udp = Object.assign(dgram.createSocket("udp4"), { port: 0, received: 0 });
    udp.on("message", () => udp.received++);
    await new Promise<void>((resolve) => udp.bind(0, "127.0.0.1", resolve));
    udp.port = udp.address().port;
    dns = await startDnsServer({
      "site.test": ["127.0.0.1"],
      "internal.test": ["127.0.0.2"],
      "loopback.test": ["127.0.0.1"],
    });
    const certificate = makeTestCertificate(root, ["site.test", "internal.test"]);
    spki = certificate.spkiSha256;
    // Pages are built per request: some name the ports, known only once the servers listen.
    const page =
      (body: () => string): Route =>
      (req, res) =>
        serve("text/html; charset=utf-8", `<!doctype html><meta charset="utf-8"><title>${CHINESE}</title>${body()}`)(
          req,
          res,
        );
    site = await startSite({
      "/start": redirect("/page"),
      "/page": page(
        () => `
        <h1>${CHINESE}</h1>
        <img src="/image.png" width="40" height="40">
        <img src="/slow.png" width="10" height="10">
        <img src="http://10.0.0.1/private.png">
        <img src="http://internal.test:${site.port}/secret.png">
        <div style="height: 1500px">tall content</div>`,
      ),
      "/image.png": serve("image/png", solidPng(40, 40, [200, 30, 30])),
      "/slow.png": (_req, res) => {
        setTimeout(() => serve("image/png", solidPng(10, 10, [30, 30, 200]))(_req, res), 500);
      },
      "/simple": page(() => "<p>simple</p>"),
      // STUN to a UDP service on loopback, from the page and from a fresh frame's constructor.
      "/webrtc": page(
        () => `
        <p>webrtc</p>
        <script>
          const probe = (P) => {
            const pc = new P({ iceServers: [{ urls: "stun:127.0.0.1:${udp.port}" }] });
            pc.createDataChannel("x");
            pc.createOffer().then((o) => pc.setLocalDescription(o));
          };
          probe(RTCPeerConnection);
          const frame = document.createElement("iframe");
          document.body.append(frame);
          probe(frame.contentWindow.RTCPeerConnection);
        </script>`,
      ),
      "/huge": serve("text/html", `<p>${"x".repeat(3 * 1024 * 1024)}</p>`),
      "/hang": () => {}, // never answers
      "/to-internal": (req, res) => redirect(`http://internal.test:${site.port}/`)(req, res),
      "/to-internal-https": (req, res) => redirect(`https://internal.test:${tlsSite.port}/`)(req, res),
      "/hostile": page(
        () => `
        <div style="height: 30000px">endless</div>
        <a id="dl" href="/file.bin" download>file</a>
        <script>
          history.pushState({}, "", "/hostile-moved");
          window.open("/simple");
          alert("${CHINESE}");
          document.getElementById("dl").click();
        </script>`,
      ),
      "/js-redirect": page(() => `<script>location.replace("/simple")</script>`),
      "/meta-refresh": serve(
        "text/html; charset=utf-8",
        `<!doctype html><meta http-equiv="refresh" content="0;url=/simple"><title>refresh</title><p>refreshing</p>`,
        { "x-document": "meta-refresh" },
      ),
      // Navigates away the moment the capture takes its full-page screenshot (the browser
      // resizes the page for it): every recorded file must still be of one document.
      "/leaves-when-recorded": serve(
        "text/html; charset=utf-8",
        `<!doctype html><title>first</title><p>first document</p><div style="height: 3000px"></div>
        <script>addEventListener("resize", () => location.replace("/simple"), { once: true })</script>`,
        { "x-document": "first" },
      ),
      // Starts a download once loaded: a navigation that never commits, so the page stays on this document.
      "/leaves-for-download": serve(
        "text/html; charset=utf-8",
        `<!doctype html><title>stays</title><p>the page that stays</p>
        <script>addEventListener("load", () => setTimeout(() => (location.href = "/file.bin"), 50))</script>`,
        { "x-document": "stays" },
      ),
      // Goes to a second document that takes its earlier URL back with replaceState: the record is of the second.
      "/history-first": serve(
        "text/html; charset=utf-8",
        `<!doctype html><title>first</title><p>first document</p>
        <script>addEventListener("load", () => setTimeout(() => location.replace("/history-second"), 50))</script>`,
        { "x-document": "first" },
      ),
      "/history-second": serve(
        "text/html; charset=utf-8",
        `<!doctype html><title>second</title><p>second document</p>
        <script>history.replaceState(null, "", "/history-first")</script>`,
        { "x-document": "second" },
      ),
      // Goes to a second document whose image takes 1.5 s: it is recorded once loaded.
      "/to-slow-second": page(
        () => `<script>addEventListener("load", () => location.replace("/slow-second"))</script>`,
      ),
      "/slow-second": serve(
        "text/html; charset=utf-8",
        `<!doctype html><title>second</title><p>second document</p>
        <img src="/slower.png" width="10" height="10" onload="document.title = 'second, its image loaded'">`,
      ),
      "/slower.png": (req, res) => {
        setTimeout(() => serve("image/png", solidPng(10, 10, [90, 90, 90]))(req, res), 1_500);
      },
      // Asks for its own URL again, answered the second time with a download, then with a 204: neither commits.
      "/again": (req, res) => {
        const then = new URL(req.url ?? "/", "http://x").searchParams.get("then") ?? "download";
        const visits = (againVisits.get(then) ?? 0) + 1;
        againVisits.set(then, visits);
        if (visits % 2 === 0) {
          if (then === "204") return void res.writeHead(204).end();
          return serve("application/octet-stream", Buffer.alloc(64), {
            "content-disposition": "attachment",
            "x-document": "the download",
          })(req, res);
        }
        serve(
          "text/html; charset=utf-8",
          `<!doctype html><title>again</title><p>the page that asks again</p>
          <script>addEventListener("load", () => setTimeout(() => (location.href = location.href), 50))</script>`,
          { "x-document": "the page" },
        )(req, res);
      },
      "/to-blank": page(
        () => `<script>addEventListener("load", () => setTimeout(() => (location.href = "about:blank"), 50))</script>`,
      ),
      "/meta-refresh-to-internal": (req, res) =>
        serve(
          "text/html; charset=utf-8",
          `<!doctype html><meta http-equiv="refresh" content="0;url=http://internal.test:${site.port}/"><p>refreshing</p>`,
        )(req, res),
      "/never-finishes": (_req, res) => {
        res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
        res.write(`<!doctype html><meta charset="utf-8"><title>${CHINESE}</title><p>still loading</p>`);
      },
      "/js-to-internal": page(() => `<script>location.href = "http://internal.test:${site.port}/"</script>`),
      "/memory": page(() => "<script>const hoard = []; for (;;) hoard.push(new Array(1e6).fill(1.5));</script>"),
      "/spin": page(() => "<script>for (;;) {}</script>"),
      "/document.pdf": serve("application/pdf", readFileSync(PDF_DOCUMENT)),
      "/compressed.pdf": serve("application/pdf", gzipSync(readFileSync(PDF_DOCUMENT)), { "content-encoding": "gzip" }),
      "/untyped.pdf": (_req, res) => {
        const bytes = readFileSync(PDF_DOCUMENT);
        res.writeHead(200, { "content-length": bytes.length }).end(bytes); // no Content-Type
      },
      "/cut.pdf": (_req, res) => {
        const bytes = readFileSync(PDF_DOCUMENT);
        res.writeHead(200, { "content-type": "application/pdf", "content-length": bytes.length });
        // Half of it, then the connection is cut.
        res.write(bytes.subarray(0, 900), () => setTimeout(() => res.socket?.destroy(), 200));
      },
      "/chunked.pdf": (_req, res) => {
        // No Content-Length: Node sends it chunked.
        res.writeHead(200, { "content-type": "application/pdf" });
        res.end(readFileSync(PDF_DOCUMENT));
      },
      "/red.pdf": serve("application/pdf", solidPdf([255, 0, 0])),
      "/framed-pdf": page(() => `<p>a page with a PDF in a frame</p><iframe src="/document.pdf"></iframe>`),
      "/file.bin": serve("application/octet-stream", Buffer.alloc(1024), { "content-disposition": "attachment" }),
    });
    internal = await startSite(
      { "/": page(() => "internal"), "/secret.png": serve("image/png", solidPng(1, 1, [0, 0, 0])) },
      {
        host: "127.0.0.2",
        port: site.port,
      },
    );
    tlsSite = await startSite({ "/": page(() => `<h1>${CHINESE} https</h1>`) }, { tls: certificate });
  });

  after(async () => {
    await site?.close();
    await internal?.close();
    await tlsSite?.close();
    await dns?.stop();
    udp?.close();
    rmSync(root, { recursive: true, force: true });
  });

  describe("a page over http with a redirect, an image, a slow resource and refused sub-requests", () => {
    let result: CaptureResult;
    let dir: string;

    before(async () => {
      result = await capturePage(
        { url: `http://site.test:${site.port}/start`, title: "我的证据", note: "申请人提交", video: true },
        options(),
      );
      dir = result.dir;
    });

    it("writes a PNG screenshot of the whole page", () => {
      const png = readFileSync(path.join(dir, "screenshot.png"));
      expect(png.subarray(0, 8).toString("hex")).to.equal("89504e470d0a1a0a");
      expect(png.readUInt32BE(16)).to.equal(1280);
      expect(png.readUInt32BE(20)).to.be.greaterThan(1500);
      expect(result.manifest.observed.screenshot).to.include({ fullPage: true, truncated: false, width: 1280 });
    });

    it("keeps the Chinese text in page.html and page.mhtml", () => {
      expect(readFileSync(path.join(dir, "page.html"), "utf8")).to.include(CHINESE);
      const mhtml = readFileSync(path.join(dir, "page.mhtml"), "utf8");
      expect(mhtml).to.match(/^From: <Saved by Blink>/);
      expect(decodeQuotedPrintable(mhtml)).to.include(CHINESE);
    });

    it("records every request in network.har with its body", () => {
      const har = JSON.parse(readFileSync(path.join(dir, "network.har"), "utf8"));
      const byPath = new Map<string, any>(har.log.entries.map((e: any) => [new URL(e.request.url).pathname, e]));
      expect([...byPath.keys()]).to.include.members(["/start", "/page", "/image.png", "/slow.png"]);
      expect(byPath.get("/start").response.status).to.equal(302);
      expect(byPath.get("/page").response.content.text).to.include(CHINESE);
      const image = byPath.get("/image.png").response.content;
      expect(Buffer.from(image.text, image.encoding === "base64" ? "base64" : "utf8")).to.deep.equal(
        solidPng(40, 40, [200, 30, 30]),
      );
    });

    it("waits for a resource delayed by 500 ms before recording", () => {
      const har = JSON.parse(readFileSync(path.join(dir, "network.har"), "utf8"));
      const slow = har.log.entries.find((e: any) => e.request.url.endsWith("/slow.png"));
      expect(slow.response.status).to.equal(200);
      expect(result.manifest.observed.loadCompleted).to.equal(true);
    });

    it("records the redirect chain with each hop's status, headers and server", () => {
      const redirects = result.manifest.observed.redirects as any[];
      expect(redirects).to.have.length(1);
      expect(redirects[0]).to.deep.include({
        url: `http://site.test:${site.port}/start`,
        status: 302,
        server: { ip: "127.0.0.1", port: site.port },
      });
      expect(redirects[0].headers).to.deep.include({ name: "location", value: "/page" });
      expect(result.manifest.finalUrl).to.equal(`http://site.test:${site.port}/page`);
      expect(result.manifest.url).to.equal(`http://site.test:${site.port}/start`);
    });

    it("records the server's address and port as the guard proxy connected to them", () => {
      expect(result.manifest.observed.server).to.deep.equal({ ip: "127.0.0.1", port: site.port });
      expect(result.manifest.observed.status).to.equal(200);
      expect(result.manifest.observed.responseHeaders).to.deep.include({
        name: "content-type",
        value: "text/html; charset=utf-8",
      });
    });

    it("records the DNS answers the capture used", () => {
      const answers = result.manifest.observed.dns as any[];
      expect(answers.find((a) => a.host === "site.test"))
        .to.include({})
        .and.have.deep.property("addresses", ["127.0.0.1"]);
    });

    it("records that a name was refused for its address, but not the address or its kind", () => {
      const answers = result.manifest.observed.dns as any[];
      expect(answers.find((a) => a.host === "internal.test")).to.deep.include({ addresses: [], withheld: true });
      const connections = (result.manifest.observed.connections as any[]).filter((c) => c.host === "internal.test");
      expect(connections).to.not.be.empty;
      for (const c of connections)
        expect(c).to.deep.include({
          addresses: [],
          refused: { reason: "internal.test resolves to an address captures may not reach", category: "address" },
        });
      expect(new TextDecoder().decode(result.manifestBytes)).to.not.include("127.0.0.2");
      expect(result.withheld).to.deep.equal([
        { host: "internal.test", addresses: ["127.0.0.2"], reason: "127.0.0.2 is a loopback address" },
      ]);
    });

    it("refuses sub-requests to a private address and to a name resolving outside the allow-list, and completes", () => {
      const refused = result.manifest.observed.refused as any[];
      expect(refused.map((r) => [r.host, r.category])).to.deep.include.members([
        ["10.0.0.1", "private"],
        ["internal.test", "address"],
      ]);
      expect(internal.requests).to.not.include("/secret.png");
    });

    it("lists every file with its media type, size and SHA-256, sorted by name, in a JCS manifest.json", () => {
      const bytes = readFileSync(path.join(dir, "manifest.json"));
      expect(bytes.toString("utf8")).to.equal(canonicalize(JSON.parse(bytes.toString("utf8"))));
      expect(new Uint8Array(bytes)).to.deep.equal(result.manifestBytes);
      const names = result.manifest.artifacts.map((a) => a.name);
      expect(names).to.deep.equal([...names].sort());
      const onDisk = readdirSync(dir, { recursive: true, withFileTypes: true })
        .filter((e) => e.isFile())
        .map((e) => path.relative(dir, path.join(e.parentPath, e.name)))
        .filter((n) => n !== "manifest.json")
        .sort();
      expect(names).to.deep.equal(onDisk);
      expect(names).to.include.members([
        "screenshot.png",
        "page.mhtml",
        "page.html",
        "network.har",
        "archive/data.warc.gz",
        "indexes/index.cdxj",
        "pages/pages.jsonl",
        "datapackage.json",
      ]);
      for (const artifact of result.manifest.artifacts) {
        const file = readFileSync(path.join(dir, artifact.name));
        expect(artifact.size, artifact.name).to.equal(file.length);
        expect(artifact.sha256, artifact.name).to.equal(sha256Hex(file));
      }
      expect(result.manifest.artifacts.find((a) => a.name === "screenshot.png")!.mediaType).to.equal("image/png");
    });

    it("records the environment: browser, user agent, viewport, time zone, locale, versions, clock offset, timings", () => {
      const env = result.manifest.environment as any;
      expect(env.browser.name).to.equal("chromium");
      expect(env.browser.version).to.match(/^\d+\.\d+\.\d+\.\d+$/);
      expect(env.browser.args).to.include("--proxy-bypass-list=<-loopback>");
      expect(env.browser.args.some((a: string) => a.startsWith("--ignore-certificate-errors"))).to.equal(false);
      expect(env.userAgent).to.match(/Chrome\//);
      expect(env.viewport).to.deep.equal({ width: 1280, height: 800 });
      expect(env.timeZone).to.equal("Asia/Shanghai");
      expect(env.locale).to.equal("zh-CN");
      expect(env.service.version).to.equal(JSON.parse(readFileSync("package.json", "utf8")).version);
      // Same machine, same clock: the true offset is 0, so the estimate lies within its uncertainty.
      expect(env.clock.source).to.equal("http-date");
      expect(Math.abs(env.clock.offsetMs)).to.be.at.most(env.clock.uncertaintyMs);
      const t = env.timings;
      expect(t.startedAt <= t.committedAt && t.committedAt <= t.loadedAt && t.loadedAt <= t.finishedAt).to.equal(true);
      expect(result.manifest.startedAt).to.equal(t.startedAt);
    });

    it("keeps the submitter's title and note apart from the page's title", () => {
      expect(result.manifest.title).to.equal(CHINESE);
      expect(result.manifest.request).to.include({ title: "我的证据", note: "申请人提交" });
    });

    it("returns the evidence record's fields: contentHash is the SHA-256 of manifest.json", () => {
      expect(result.record).to.deep.equal({
        contentHash: sha256Hex(readFileSync(path.join(dir, "manifest.json"))),
        mediaType: CAPTURE_MEDIA_TYPE,
        sourceUrl: `http://site.test:${site.port}/start`,
        fileName: "manifest.json",
        size: result.manifestBytes.length,
        title: "我的证据",
        note: "申请人提交",
      });
      expect(result.manifestSha256).to.equal(result.record.contentHash);
    });

    it("records a playable H.264 MP4 of the capture when asked", () => {
      const probe = JSON.parse(
        execFileSync(
          "ffprobe",
          ["-v", "error", "-print_format", "json", "-show_streams", "-show_format", path.join(dir, "video.mp4")],
          { encoding: "utf8" },
        ),
      );
      expect(probe.streams[0]).to.include({ codec_type: "video", codec_name: "h264", width: 1280, height: 800 });
      expect(Number(probe.format.duration)).to.be.greaterThan(0);
      expect((result.manifest.environment as any).video).to.include({ recorded: true, codec: "h264" });
      expect(result.manifest.artifacts.find((a) => a.name === "video.mp4")!.mediaType).to.equal("video/mp4");
    });

    it("writes a WACZ archive: WARC records, a CDXJ index, pages.jsonl and datapackage.json with each file's hash", async () => {
      const datapackage = JSON.parse(readFileSync(path.join(dir, "datapackage.json"), "utf8"));
      expect(datapackage).to.include({ profile: "data-package", wacz_version: "1.1.1" });
      expect(datapackage.resources.map((r: any) => r.path)).to.deep.equal([
        "archive/data.warc.gz",
        "indexes/index.cdxj",
        "pages/pages.jsonl",
      ]);
      for (const resource of datapackage.resources) {
        const file = readFileSync(path.join(dir, resource.path));
        expect(resource.hash).to.equal(`sha256:${sha256Hex(file)}`);
        expect(resource.bytes).to.equal(file.length);
      }
      const pages = readFileSync(path.join(dir, "pages/pages.jsonl"), "utf8")
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l));
      expect(pages[0]).to.include({ format: "json-pages-1.0" });
      expect(pages[1]).to.include({ url: `http://site.test:${site.port}/page`, title: CHINESE });

      const index = readFileSync(path.join(dir, "indexes/index.cdxj"), "utf8").trim().split("\n");
      expect(index).to.deep.equal([...index].sort());
      const pageLine = index.find((l) => l.startsWith(`test,site:${site.port})/page `));
      expect(pageLine, index.join("\n")).to.not.equal(undefined);
      const entry = JSON.parse(pageLine!.slice(pageLine!.indexOf("{")));
      expect(entry).to.include({ status: "200", mime: "text/html", filename: "data.warc.gz" });
      expect(index.some((l) => l.includes("10.0.0.1"))).to.equal(false);

      // The index points at one gzip member holding the page's response record.
      const warc = readFileSync(path.join(dir, "archive/data.warc.gz"));
      const member = warc.subarray(Number(entry.offset), Number(entry.offset) + Number(entry.length));
      const parser = new WARCParser([gunzipSync(member)]);
      const record = await parser.parse();
      expect(record!.warcType).to.equal("response");
      expect(record!.warcTargetURI).to.equal(`http://site.test:${site.port}/page`);
      expect(await record!.contentText()).to.include(CHINESE);
      expect(record!.warcHeaders.headers.get("WARC-Payload-Digest")).to.equal(entry.digest);
    });
  });

  describe("a page over https with a private CA (test-only SPKI trust)", () => {
    let result: CaptureResult;

    before(async () => {
      result = await capturePage(
        { url: `https://site.test:${tlsSite.port}/`, video: true },
        options({ trustedSpkiSha256: [spki], ffmpegPath: "/nonexistent/ffmpeg" }),
      );
    });

    it("writes the server's certificate chain as DER files that parse", () => {
      const tls = result.manifest.observed.tls as any;
      expect(tls.certificates.length).to.be.at.least(1);
      for (const [i, certificate] of tls.certificates.entries()) {
        expect(certificate.name).to.equal(`tls/certificate-${i}.der`);
        const x509 = new X509Certificate(readFileSync(path.join(result.dir, certificate.name)));
        expect(certificate.subject).to.equal(x509.subject);
        expect(certificate.sha256).to.equal(x509.fingerprint256.replaceAll(":", "").toLowerCase());
      }
      expect(tls.certificates[0].subject).to.include("CN=site.test");
      expect(result.manifest.artifacts.find((a) => a.name === "tls/certificate-0.der")!.mediaType).to.equal(
        "application/pkix-cert",
      );
    });

    it("records the security details: protocol, subject, issuer, validity", () => {
      const tls = result.manifest.observed.tls as any;
      expect(tls.protocol).to.match(/^TLS 1\.[23]$/);
      expect(tls.subjectName).to.equal("site.test");
      expect(tls.issuer).to.equal("Evidence Anchor Test CA");
      expect(Date.parse(tls.validFrom)).to.be.lessThan(Date.parse(tls.validTo));
    });

    it("lists the test-only trust flag among the browser's arguments", () => {
      expect((result.manifest.environment as any).browser.args).to.include(
        `--ignore-certificate-errors-spki-list=${spki}`,
      );
    });

    it("skips the video with a note when ffmpeg is missing", () => {
      expect((result.manifest.environment as any).video).to.deep.equal({
        recorded: false,
        note: "no video: ffmpeg not found at /nonexistent/ffmpeg",
      });
      expect(existsSync(path.join(result.dir, "video.mp4"))).to.equal(false);
    });
  });

  describe("a page whose WebRTC reaches for a UDP service on loopback", () => {
    it("sends it nothing: WebRTC may not send UDP around the guard proxy, from the page or a frame", async () => {
      udp.received = 0;
      await capturePage({ url: `http://site.test:${site.port}/webrtc`, waitMs: 1_500 }, options());
      expect(udp.received).to.equal(0);
    });
  });

  describe("a hostile page: endless height, a popup, a dialog, a download", () => {
    let result: CaptureResult;

    before(async () => {
      result = await capturePage(
        { url: `http://site.test:${site.port}/hostile` },
        options({ limits: { screenshotMaxHeight: 3000 } }),
      );
    });

    it("cuts the screenshot at the height limit and says so", () => {
      expect(result.manifest.observed.screenshot).to.include({ height: 3000, truncated: true });
      expect((result.manifest.observed.screenshot as any).pageHeight).to.be.greaterThan(30_000);
    });

    it("keeps the document's URL when the page only rewrites its history (pushState)", () => {
      expect(result.manifest.finalUrl).to.equal(`http://site.test:${site.port}/hostile`);
    });

    it("closes the popup, dismisses the dialog, refuses the download, and records each", () => {
      expect(result.manifest.observed.popups).to.have.length(1);
      expect(result.manifest.observed.dialogs).to.deep.equal([{ type: "alert", message: CHINESE }]);
      expect(result.manifest.observed.downloads).to.deep.equal([`http://site.test:${site.port}/file.bin`]);
      expect(readdirSync(result.dir)).to.not.include("file.bin");
    });
  });

  describe("a page that navigates itself", () => {
    it("follows a script redirect and records every navigation", async () => {
      const result = await capturePage({ url: `http://site.test:${site.port}/js-redirect` }, options());
      expect(result.manifest.finalUrl).to.equal(`http://site.test:${site.port}/simple`);
      expect(result.manifest.observed.navigations).to.deep.equal([
        `http://site.test:${site.port}/js-redirect`,
        `http://site.test:${site.port}/simple`,
      ]);
      expect(readFileSync(path.join(result.dir, "page.html"), "utf8")).to.include("<p>simple</p>");
    });

    it("follows a meta refresh: the status and headers recorded are the second document's, as are its files", async () => {
      const result = await capturePage({ url: `http://site.test:${site.port}/meta-refresh` }, options());
      const { observed } = result.manifest;
      expect(result.manifest.finalUrl).to.equal(`http://site.test:${site.port}/simple`);
      expect(observed.navigations).to.deep.equal([
        `http://site.test:${site.port}/meta-refresh`,
        `http://site.test:${site.port}/simple`,
      ]);
      expect(observed.status).to.equal(200);
      expect(headerNames(observed.responseHeaders)).not.to.include("x-document");
      expect(readFileSync(path.join(result.dir, "page.html"), "utf8")).to.include("<p>simple</p>");
      expect(observed.loadCompleted).to.equal(true);
    });

    it("records again a page that navigates while it is being recorded, so every file is of the document recorded", async () => {
      const result = await capturePage({ url: `http://site.test:${site.port}/leaves-when-recorded` }, options());
      const { observed } = result.manifest;
      const html = readFileSync(path.join(result.dir, "page.html"), "utf8");
      const mhtml = decodeQuotedPrintable(readFileSync(path.join(result.dir, "page.mhtml"), "latin1"));
      expect(result.manifest.finalUrl).to.equal(`http://site.test:${site.port}/simple`);
      expect(result.manifest.title).to.equal(CHINESE);
      expect(headerNames(observed.responseHeaders)).not.to.include("x-document");
      expect(html).to.include("<p>simple</p>").and.not.include("first document");
      expect(mhtml).not.to.include("first document");
    });

    it("keeps the document it shows when it navigates to a download, recording the download as refused", async () => {
      const result = await capturePage({ url: `http://site.test:${site.port}/leaves-for-download` }, options());
      const { observed } = result.manifest;
      expect(result.manifest.finalUrl).to.equal(`http://site.test:${site.port}/leaves-for-download`);
      expect(observed.status).to.equal(200);
      expect(headerNames(observed.responseHeaders)).to.include("x-document");
      expect(headerNames(observed.responseHeaders)).not.to.include("content-disposition");
      expect(observed.navigations).to.deep.equal([
        `http://site.test:${site.port}/leaves-for-download`,
        `http://site.test:${site.port}/file.bin`,
      ]);
      expect(observed.downloads).to.deep.equal([`http://site.test:${site.port}/file.bin`]);
      expect(readFileSync(path.join(result.dir, "page.html"), "utf8")).to.include("the page that stays");
      expect(observed).not.to.have.property("documentError");
    });

    it("records the second document when it takes the first one's URL back with replaceState (a URL is not a document)", async () => {
      const result = await capturePage({ url: `http://site.test:${site.port}/history-first` }, options());
      const { observed } = result.manifest;
      expect(result.manifest.finalUrl).to.equal(`http://site.test:${site.port}/history-second`);
      expect(headerValue(observed.responseHeaders, "x-document")).to.equal("second");
      expect(readFileSync(path.join(result.dir, "page.html"), "utf8")).to.include("second document");
    });

    it("records a second document once it has loaded, not when its HTML has arrived", async () => {
      const result = await capturePage({ url: `http://site.test:${site.port}/to-slow-second` }, options());
      expect(result.manifest.finalUrl).to.equal(`http://site.test:${site.port}/slow-second`);
      expect(result.manifest.observed.loadCompleted).to.equal(true);
      expect(result.manifest.title).to.equal("second, its image loaded");
    });

    for (const then of ["download", "204"]) {
      it(`keeps the document when it asks for its own URL again and is answered with a ${then}, which never commits`, async () => {
        const result = await capturePage({ url: `http://site.test:${site.port}/again?then=${then}` }, options());
        const { observed } = result.manifest;
        expect(observed.status).to.equal(200);
        expect(headerValue(observed.responseHeaders, "x-document")).to.equal("the page");
        expect(observed).not.to.have.property("document");
        expect(readFileSync(path.join(result.dir, "page.html"), "utf8")).to.include("the page that asks again");
      });
    }

    it("rejects a site that refuses the connection with NAVIGATION_FAILED, saying it could not connect and why", async () => {
      const opts = options();
      const closed = await freePort();
      const error = await captureError({ url: `http://site.test:${closed}/` }, opts);
      expect(error.code).to.equal("NAVIGATION_FAILED");
      expect(error.message).to.equal(
        `http://site.test:${closed}/: could not connect to the site (connect ECONNREFUSED 127.0.0.1:${closed})`,
      );
      expect(existsSync(opts.outDir)).to.equal(false);
    });

    it("rejects a page that replaces itself with about:blank with NAVIGATION_FAILED: no page of the address is left", async () => {
      const opts = options();
      const error = await captureError({ url: `http://site.test:${site.port}/to-blank` }, opts);
      expect(error.code).to.equal("NAVIGATION_FAILED");
      expect(error.message).to.match(/came from no server/);
      expect(existsSync(opts.outDir)).to.equal(false);
    });

    it("rejects a meta refresh to a refused host with ADDRESS_REFUSED, never recording the proxy's refusal as the page", async () => {
      const opts = options();
      const error = await captureError({ url: `http://site.test:${site.port}/meta-refresh-to-internal` }, opts);
      expect(error.code).to.equal("ADDRESS_REFUSED");
      expect(error.message).to.include("internal.test");
      expect(existsSync(opts.outDir)).to.equal(false);
    });

    it("records a document that never finishes loading as it stands, with loadCompleted false, not failing at the capture's time limit", async () => {
      const result = await capturePage(
        { url: `http://site.test:${site.port}/never-finishes` },
        options({ limits: { loadTimeoutMs: 2_000, timeoutMs: 20_000 } }),
      );
      expect(result.manifest.observed.loadCompleted).to.equal(false);
      expect((result.manifest.environment as any).timings.loadedAt).to.equal(undefined);
      expect(readFileSync(path.join(result.dir, "page.html"), "utf8")).to.include("still loading");
    });

    it("rejects a script redirect to a refused host with ADDRESS_REFUSED", async () => {
      const opts = options();
      const error = await captureError({ url: `http://site.test:${site.port}/js-to-internal` }, opts);
      expect(error.code).to.equal("ADDRESS_REFUSED");
      expect(error.message).to.include("internal.test");
      expect(existsSync(opts.outDir)).to.equal(false);
    });
  });

  describe("a document that is not a web page", () => {
    it("keeps a PDF's bytes as served in document.pdf, listed with its hash, beside the viewer's screenshot", async () => {
      const result = await capturePage({ url: `http://site.test:${site.port}/document.pdf` }, options());
      const bytes = readFileSync(path.join(result.dir, "document.pdf"));
      expect(bytes.equals(readFileSync(PDF_DOCUMENT))).to.equal(true);
      expect(result.manifest.observed.document).to.deep.equal({
        name: "document.pdf",
        mediaType: "application/pdf",
        size: bytes.length,
      });
      expect(result.manifest.artifacts.find((a) => a.name === "document.pdf")).to.deep.equal({
        name: "document.pdf",
        mediaType: "application/pdf",
        size: bytes.length,
        sha256: sha256Hex(bytes),
      });
      // Of the browser's viewer, not of the document: not recorded.
      expect(existsSync(path.join(result.dir, "page.html"))).to.equal(false);
      expect(existsSync(path.join(result.dir, "page.mhtml"))).to.equal(false);
      // A picture of the viewer, or a note saying why there is none (the viewer sometimes never answers).
      const screenshot = result.manifest.observed.screenshot as { taken?: boolean; note?: string };
      expect(existsSync(path.join(result.dir, "screenshot.png"))).to.equal(screenshot.taken !== false);
      if (screenshot.taken === false) expect(screenshot.note).to.match(/^no screenshot: /);
    });

    it("pictures the PDF once the browser's viewer has drawn it, not the empty grey viewer of the moment it loaded", async () => {
      const result = await capturePage({ url: `http://site.test:${site.port}/red.pdf` }, options());
      const screenshot = result.manifest.observed.screenshot as { taken?: boolean; note?: string };
      expect(screenshot.taken, screenshot.note).not.to.equal(false);
      expect(screenshot.note, "drawn within the time allowed").to.equal(undefined);
      const { width, height, rgb } = pngPixels(readFileSync(path.join(result.dir, "screenshot.png")));
      let red = 0;
      for (let y = 0; y < height; y += 4) {
        for (let x = 0; x < width; x += 4) if (rgb(x, y).join() === "255,0,0") red++;
      }
      // The page, drawn red, fills much of the viewer (a tenth at least; it is about half).
      expect(red / ((width / 4) * (height / 4))).to.be.above(0.1);
    });

    it("archives the PDF's bytes as served, not the browser's viewer, in network.har and the WARC", async () => {
      const result = await capturePage({ url: `http://site.test:${site.port}/document.pdf` }, options());
      const url = `http://site.test:${site.port}/document.pdf`;
      const har = JSON.parse(readFileSync(path.join(result.dir, "network.har"), "utf8"));
      const entry = har.log.entries.find((e: { request: { url: string } }) => e.request.url === url);
      expect(Buffer.from(entry.response.content.text, "base64").equals(readFileSync(PDF_DOCUMENT))).to.equal(true);
      expect(entry.response.content.mimeType).to.equal("application/pdf");
      const index = readFileSync(path.join(result.dir, "indexes/index.cdxj"), "utf8").trim().split("\n");
      const line = index.find((l) => l.startsWith(`test,site:${site.port})/document.pdf `));
      expect(line, index.join("\n")).to.not.equal(undefined);
      const at = JSON.parse(line!.slice(line!.indexOf("{")));
      expect(at).to.include({ status: "200", mime: "application/pdf" });
      const warc = readFileSync(path.join(result.dir, "archive/data.warc.gz"));
      const member = warc.subarray(Number(at.offset), Number(at.offset) + Number(at.length));
      const record = await new WARCParser([gunzipSync(member)]).parse();
      expect(record!.warcTargetURI).to.equal(url);
      expect(Buffer.from(await record!.readFully()).equals(readFileSync(PDF_DOCUMENT))).to.equal(true);
    });

    it("keeps a PDF served with no Content-Type as document.pdf, its type as the browser judged it from the bytes", async () => {
      const result = await capturePage({ url: `http://site.test:${site.port}/untyped.pdf` }, options());
      const bytes = readFileSync(path.join(result.dir, "document.pdf"));
      expect(bytes.equals(readFileSync(PDF_DOCUMENT))).to.equal(true);
      expect(result.manifest.observed.document).to.deep.equal({
        name: "document.pdf",
        mediaType: "application/pdf",
        sniffed: true,
        size: bytes.length,
      });
      expect(existsSync(path.join(result.dir, "page.html"))).to.equal(false);
      expect(existsSync(path.join(result.dir, "page.mhtml"))).to.equal(false);
    });

    it("says a document sent without a Content-Length (chunked) was not kept, since a cut-off body would pass for whole", async () => {
      const result = await capturePage({ url: `http://site.test:${site.port}/chunked.pdf` }, options());
      expectPdfNotKept(
        result,
        "the server gave no Content-Length, so a body cut off before its end could not be told from a whole one",
      );
    });

    it("says a document whose server broke off before its Content-Length was not kept, never recording the part as the whole", async () => {
      const url = `http://site.test:${site.port}/cut.pdf`;
      const result = await capturePage({ url }, options());
      expectPdfNotKept(
        result,
        `the server sent 900 of its ${readFileSync(PDF_DOCUMENT).length} bytes (Content-Length) and broke off`,
      );
      const har = JSON.parse(readFileSync(path.join(result.dir, "network.har"), "utf8"));
      const entry = har.log.entries.find((e: { request: { url: string } }) => e.request.url === url);
      expect(entry?.response.content.text, "no body of the viewer, nor a part, in the HAR").to.equal(undefined);
    });

    it("says a compressed document's bytes were not kept (their size is unknown until read), keeping no file", async () => {
      const result = await capturePage({ url: `http://site.test:${site.port}/compressed.pdf` }, options());
      expectPdfNotKept(result, "it was sent compressed (gzip), its size unknown until read");
    });

    it("records a web page that shows a PDF in a frame as a web page, never archiving the frame's viewer as the PDF", async () => {
      const result = await capturePage({ url: `http://site.test:${site.port}/framed-pdf` }, options());
      expect(result.manifest.observed).not.to.have.property("document");
      expect(result.manifest.artifacts.filter((a) => a.name.startsWith("document"))).to.deep.equal([]);
      expect(readFileSync(path.join(result.dir, "page.html"), "utf8")).to.include("a page with a PDF in a frame");
      const har = JSON.parse(readFileSync(path.join(result.dir, "network.har"), "utf8"));
      const url = `http://site.test:${site.port}/document.pdf`;
      // The browser's PDF viewer stands in for a framed PDF's body: the HAR says so and holds
      // none, and the archive has no record of that URL but with the PDF's own bytes.
      const entries = har.log.entries.filter((e: { request: { url: string } }) => e.request.url === url);
      const bodies = entries.map((e: any) =>
        e.response.content.text === undefined
          ? undefined
          : Buffer.from(e.response.content.text, e.response.content.encoding === "base64" ? "base64" : "utf8"),
      );
      const pdf = readFileSync(PDF_DOCUMENT);
      expect(bodies.every((b: Buffer | undefined) => b === undefined || b.equals(pdf))).to.equal(true);
      expect(
        entries.some((e: { comment?: string }) => /^not kept: the browser's viewer replaced/.test(e.comment ?? "")),
      ).to.equal(true);
      expect(har.log.entries.filter((e: { request: { url: string } }) => /^chrome/.test(e.request.url))).to.deep.equal(
        [],
      );
      const index = readFileSync(path.join(result.dir, "indexes/index.cdxj"), "utf8").trim().split("\n");
      const archived = index.some((l) => l.startsWith(`test,site:${site.port})/document.pdf `));
      expect(archived, "archived only with its own bytes").to.equal(
        bodies.some((b: Buffer | undefined) => b !== undefined),
      );
    });

    it("keeps no document file for a web page", async () => {
      const result = await capturePage({ url: `http://site.test:${site.port}/simple` }, options());
      expect(result.manifest.observed).not.to.have.property("document");
      expect(result.manifest.artifacts.filter((a) => a.name.startsWith("document"))).to.deep.equal([]);
    });
  });

  describe("limits", () => {
    it("rejects a page beyond the page-size limit with PAGE_TOO_LARGE and leaves nothing on disk", async () => {
      const opts = options({ limits: { pageBytes: 1024 * 1024 } });
      const error = await captureError({ url: `http://site.test:${site.port}/huge` }, opts);
      expect(error.code).to.equal("PAGE_TOO_LARGE");
      expect(existsSync(opts.outDir)).to.equal(false);
    });

    it("rejects a capture beyond its time limit with TIMEOUT and leaves nothing on disk", async () => {
      const opts = options({ limits: { timeoutMs: 3000 } });
      const error = await captureError({ url: `http://site.test:${site.port}/hang` }, opts);
      expect(error.code).to.equal("TIMEOUT");
      expect(existsSync(opts.outDir)).to.equal(false);
    });

    it("rejects a page that spins its CPU for ever with TIMEOUT", async () => {
      const opts = options({ limits: { timeoutMs: 3000 } });
      const error = await captureError({ url: `http://site.test:${site.port}/spin` }, opts);
      expect(error.code).to.equal("TIMEOUT");
      expect(existsSync(opts.outDir)).to.equal(false);
    });

    it("rejects a page that exhausts its memory with NAVIGATION_FAILED (its renderer crashed)", async () => {
      const opts = options({ limits: { heapMiB: 128 } });
      const error = await captureError({ url: `http://site.test:${site.port}/memory` }, opts);
      expect(error.code).to.equal("NAVIGATION_FAILED");
      expect(error.message).to.match(/crashed/);
      expect(existsSync(opts.outDir)).to.equal(false);
    });

    it("rejects recorded files beyond the artifact limit with ARTIFACTS_TOO_LARGE and leaves nothing on disk", async () => {
      const opts = options({ limits: { artifactBytes: 4096 } });
      const error = await captureError({ url: `http://site.test:${site.port}/simple` }, opts);
      expect(error.code).to.equal("ARTIFACTS_TOO_LARGE");
      expect(existsSync(opts.outDir)).to.equal(false);
    });

    it("rejects a viewport outside 200–3840 × 200–2160 with INVALID_REQUEST", async () => {
      const error = await captureError(
        { url: `http://site.test:${site.port}/simple`, viewport: { width: 100_000, height: 800 } },
        options(),
      );
      expect(error.code).to.equal("INVALID_REQUEST");
    });

    it("rejects a note longer than the evidence record allows with INVALID_REQUEST", async () => {
      const opts = options();
      const error = await captureError({ url: `http://site.test:${site.port}/simple`, note: "注".repeat(8193) }, opts);
      expect(error.code).to.equal("INVALID_REQUEST");
      expect(existsSync(opts.outDir)).to.equal(false);
    });
  });

  describe("SSRF: with no allow-list", () => {
    const noAllowList = () => options({ policy: new AddressPolicy() });
    const cases: [string, () => string, string][] = [
      ["a loopback address and port", () => `http://127.0.0.1:${site.port}/`, "ADDRESS_REFUSED"],
      ["localhost, by the system resolver", () => "http://localhost/", "ADDRESS_REFUSED"],
      ["[::1]", () => "http://[::1]/", "ADDRESS_REFUSED"],
      ["the cloud metadata address", () => "http://169.254.169.254/latest/meta-data/", "ADDRESS_REFUSED"],
      ["a private address", () => "http://10.1.2.3/", "ADDRESS_REFUSED"],
      ["a CGNAT address", () => "http://100.64.0.1/", "ADDRESS_REFUSED"],
      ["a name that resolves to loopback", () => `http://loopback.test:${site.port}/`, "ADDRESS_REFUSED"],
      ["a name that does not resolve", () => "http://nowhere.test/", "HOST_NOT_FOUND"],
      ["file:", () => "file:///etc/passwd", "URL_REFUSED"],
      ["ftp:", () => "ftp://example.com/file", "URL_REFUSED"],
      ["data:", () => "data:text/html,<h1>hi</h1>", "URL_REFUSED"],
    ];
    for (const [what, url, code] of cases) {
      it(`rejects ${what} with ${code} and creates nothing`, async () => {
        const opts = noAllowList();
        if (what.includes("system resolver")) opts.resolver = systemResolver;
        const error = await captureError({ url: url() }, opts);
        expect(error.code, error.message).to.equal(code);
        expect(existsSync(opts.outDir)).to.equal(false);
      });
    }
  });

  describe("redirects", () => {
    it("rejects a redirect from an allowed host to a refused one over http with ADDRESS_REFUSED", async () => {
      const opts = options();
      const error = await captureError({ url: `http://site.test:${site.port}/to-internal` }, opts);
      expect(error.code).to.equal("ADDRESS_REFUSED");
      expect(error.message).to.include("internal.test");
      // A page's owner learns nothing of the service's network: not the name's address, nor its kind.
      expect(error.message).to.equal("internal.test resolves to an address captures may not reach");
      expect(error.withheld, "which the operator's log is given").to.deep.equal([
        { host: "internal.test", addresses: ["127.0.0.2"], reason: "127.0.0.2 is a loopback address" },
      ]);
      expect(internal.requests).to.not.include("/");
      expect(existsSync(opts.outDir)).to.equal(false);
    });

    it("rejects a redirect to a refused https host (CONNECT) with ADDRESS_REFUSED", async () => {
      const opts = options({ trustedSpkiSha256: [spki] });
      const error = await captureError({ url: `http://site.test:${site.port}/to-internal-https` }, opts);
      expect(error.code).to.equal("ADDRESS_REFUSED");
      expect(error.message).to.include("internal.test");
    });
  });

  describe("without Chromium", () => {
    it("rejects with BROWSER_UNAVAILABLE and a one-line reason", async () => {
      const error = await captureError(
        { url: `http://site.test:${site.port}/simple` },
        options({ chromiumPath: "/nonexistent/chromium" }),
      );
      expect(error.code).to.equal("BROWSER_UNAVAILABLE");
      expect(error.message).to.not.include("\n");
    });
  });
});
