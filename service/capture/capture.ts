import { X509Certificate } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { arch, platform, release } from "node:os";
import path from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import type { Browser, BrowserContext, CDPSession, Frame, Page, Request, Response } from "playwright-core";
import { MEDIA_TYPE_CAPTURE } from "../core/api.ts";
import { CAPTURE_MANIFEST_TYPE } from "../core/capture-package.ts";
import { canonicalBytes, type JsonValue } from "../core/jcs.ts";
import { firstLineOf } from "../core/errors.ts";
import { TEXT_LIMITS } from "../core/limits.ts";
import { sha256File } from "../intake/file-digest.ts";
import { AddressPolicy, portOf } from "./address-policy.ts";
import { CaptureError, isCaptureError } from "./errors.ts";
import { GuardProxy, type ConnectionRecord, type HostResolver, type WithheldName } from "./guard-proxy.ts";
import { serviceVersion } from "../version.ts";
import { DEFAULT_FFMPEG, hasFfmpeg, ScreencastRecorder } from "./screencast.ts";
import { writeWacz, WACZ_FILES, type HarEntry, type HarLog } from "./wacz.ts";

export { CAPTURE_MANIFEST_TYPE };
/** `mediaType` of a capture's evidence record: its `contentHash` is the SHA-256 of manifest.json. */
export const CAPTURE_MEDIA_TYPE = MEDIA_TYPE_CAPTURE;

/**
 * The real Chromium binary of Debian's `chromium` package. `/usr/bin/chromium` is a shell
 * wrapper that adds flags and extensions from /etc/chromium.d; a clean-room capture starts the
 * binary itself with only the flags listed in the manifest.
 */
export const DEFAULT_CHROMIUM = existsSync("/usr/lib/chromium/chromium")
  ? "/usr/lib/chromium/chromium"
  : "/usr/bin/chromium";

export interface CaptureRequest {
  url: string;
  /** The submitter's title for the evidence record; the manifest keeps the page's own title apart. */
  title?: string;
  note?: string;
  /** CSS pixels; default 1280×800. */
  viewport?: { width: number; height: number };
  /** Screenshot of the whole page (default) or of the viewport only. */
  fullPage?: boolean;
  /** Extra time after the load event for late scripts to settle, bounded by `limits.maxWaitMs`. */
  waitMs?: number;
  /** Record a video of the capture (video.mp4). */
  video?: boolean;
}

export interface CaptureLimits {
  /** The whole capture, launch to manifest. */
  timeoutMs: number;
  /** How long to wait for the load event after the document arrived; the capture goes on without it. */
  loadTimeoutMs: number;
  /** Bytes through the guard proxy, both directions: beyond it PAGE_TOO_LARGE. */
  pageBytes: number;
  /** All recorded files together: beyond it ARTIFACTS_TOO_LARGE. */
  artifactBytes: number;
  /** Taller pages are screenshotted down to this height (infinite scroll) and the manifest says so. */
  screenshotMaxHeight: number;
  /** Upper bound of `waitMs`. */
  maxWaitMs: number;
  /** Screencast frames kept for the video. */
  videoFrameBytes: number;
  /** JavaScript heap of the page's renderer, in MiB (V8 --max-old-space-size). */
  heapMiB: number;
}

export const DEFAULT_LIMITS: CaptureLimits = {
  timeoutMs: 60_000,
  loadTimeoutMs: 30_000,
  pageBytes: 50 * 1024 * 1024,
  artifactBytes: 200 * 1024 * 1024,
  screenshotMaxHeight: 16_384,
  maxWaitMs: 10_000,
  videoFrameBytes: 32 * 1024 * 1024,
  heapMiB: 1024,
};

export type CaptureStage = "starting" | "navigating" | "recording" | "archiving";

export interface CaptureOptions {
  /** Created by the capture (its parent must exist, it must not); removed again if the capture fails. */
  outDir: string;
  policy: AddressPolicy;
  limits?: Partial<CaptureLimits>;
  chromiumPath?: string;
  ffmpegPath?: string;
  /** How the guard proxy resolves host names; default the system resolver. */
  resolver?: HostResolver;
  /** Default zh-CN. */
  locale?: string;
  /** IANA time zone of the page's clock; default Asia/Shanghai. */
  timezoneId?: string;
  /**
   * Base64 SHA-256 hashes of SubjectPublicKeyInfos whose certificates Chromium accepts from an
   * unknown issuer (`--ignore-certificate-errors-spki-list`). Only for tests against a private
   * CA on loopback: production never sets it, and the manifest lists the flag when set.
   */
  trustedSpkiSha256?: string[];
  signal?: AbortSignal;
  onStage?: (stage: CaptureStage) => void;
}

export interface ArtifactEntry {
  name: string;
  mediaType: string;
  size: number;
  sha256: string;
}

/** manifest.json (docs/protocol.md §9); `observed` and `environment` are described in docs/capture.md. */
export interface CaptureManifest {
  type: typeof CAPTURE_MANIFEST_TYPE;
  version: 1;
  url: string;
  finalUrl: string;
  title: string;
  startedAt: string;
  finishedAt: string;
  artifacts: ArtifactEntry[];
  request: { [key: string]: JsonValue };
  observed: { [key: string]: JsonValue };
  environment: { [key: string]: JsonValue };
}

export interface CaptureResult {
  dir: string;
  manifest: CaptureManifest;
  /** The exact bytes of manifest.json (JCS). */
  manifestBytes: Uint8Array;
  /** SHA-256 of `manifestBytes`: the evidence record's contentHash. */
  manifestSha256: string;
  /** Names refused for their addresses, with the addresses the manifest does not record: for the log. */
  withheld: WithheldName[];
  /** The descriptive fields of the evidence record for this capture. */
  record: {
    contentHash: string;
    mediaType: typeof CAPTURE_MEDIA_TYPE;
    sourceUrl: string;
    fileName: "manifest.json";
    size: number;
    title?: string;
    note?: string;
  };
}

const SERVICE_VERSION = serviceVersion();
const PLAYWRIGHT_VERSION = (createRequire(import.meta.url)("playwright-core/package.json") as { version: string })
  .version;

const MEDIA_TYPES: Record<string, string> = {
  ".png": "image/png",
  ".mhtml": "multipart/related",
  ".html": "text/html; charset=utf-8",
  ".har": "application/json",
  ".der": "application/pkix-cert",
  ".mp4": "video/mp4",
  ".gz": "application/gzip",
  ".cdxj": "text/plain; charset=utf-8",
  ".jsonl": "application/jsonl",
  ".json": "application/json",
  ".pdf": "application/pdf",
  ".jpg": "image/jpeg",
  ".gif": "image/gif",
  ".webp": "image/webp",
  ".svg": "image/svg+xml",
  ".txt": "text/plain",
  ".xml": "application/xml",
  ".bin": "application/octet-stream",
};

/**
 * Captures one web page the way a notary would witness it, into `options.outDir`:
 * screenshot.png, page.mhtml, page.html, network.har, tls/certificate-<n>.der (https),
 * video.mp4 (when asked), the WACZ files, and manifest.json listing them all with their
 * SHA-256. Every capture runs in a new Chromium process with a new empty profile, whose only
 * way out is the {@link GuardProxy}: nothing from an earlier capture (cookies, cache, HSTS,
 * service workers, a compromised renderer) can reach this one, and every connection the page
 * makes is checked against the address policy.
 *
 * Throws a {@link CaptureError}; on any failure `outDir` is removed: a capture is recorded
 * whole or not at all.
 */
export async function capturePage(request: CaptureRequest, options: CaptureOptions): Promise<CaptureResult> {
  const limits = { ...DEFAULT_LIMITS, ...options.limits };
  const { url, viewport, waitMs } = checkRequest(request, options.policy, limits);
  const chromiumPath = options.chromiumPath ?? DEFAULT_CHROMIUM;
  if (!existsSync(chromiumPath)) {
    throw new CaptureError("BROWSER_UNAVAILABLE", `no Chromium at ${chromiumPath} (Debian package "chromium")`);
  }
  if (options.signal?.aborted) throw new CaptureError("CANCELLED", "the capture was cancelled");
  if (existsSync(options.outDir)) throw new CaptureError("CAPTURE_FAILED", `${options.outDir} already exists`);
  await mkdir(options.outDir);

  const session = new CaptureSession(request, options, limits, url, viewport, waitMs, chromiumPath);
  const body = session.run();
  try {
    return await Promise.race([body, session.stopped]);
  } catch (e) {
    await session.dispose();
    await body.catch(() => {});
    await rm(options.outDir, { recursive: true, force: true });
    throw session.explain(e);
  } finally {
    await session.dispose();
  }
}

/**
 * Checks a request before anything is started: the URL against the policy (`URL_REFUSED`,
 * `ADDRESS_REFUSED`), the title and note against the evidence record's limits, the viewport
 * and options (`INVALID_REQUEST`). Returns the parsed URL, the viewport and the bounded wait.
 */
export function checkRequest(
  request: CaptureRequest,
  policy: AddressPolicy,
  limits: Pick<CaptureLimits, "maxWaitMs"> = DEFAULT_LIMITS,
): { url: URL; viewport: { width: number; height: number }; waitMs: number } {
  if (typeof request.url !== "string") throw new CaptureError("URL_REFUSED", "url must be a string");
  const url = policy.checkUrl(request.url);
  const invalid = (message: string) => new CaptureError("INVALID_REQUEST", message);
  for (const field of ["title", "note"] as const) {
    const value = request[field];
    if (value === undefined) continue;
    if (typeof value !== "string" || !value.isWellFormed()) throw invalid(`${field} must be text`);
    if (value.length > TEXT_LIMITS[field]) throw invalid(`${field} is longer than ${TEXT_LIMITS[field]} characters`);
  }
  for (const field of ["fullPage", "video"] as const) {
    if (request[field] !== undefined && typeof request[field] !== "boolean")
      throw invalid(`${field} must be true or false`);
  }
  const wait = request.waitMs ?? 0;
  if (typeof wait !== "number" || !Number.isFinite(wait) || wait < 0) throw invalid("waitMs must be a number ≥ 0");
  let viewport = { width: 1280, height: 800 };
  if (request.viewport !== undefined) {
    const { width, height } = request.viewport;
    const ok = (n: unknown, max: number) => Number.isInteger(n) && (n as number) >= 200 && (n as number) <= max;
    if (!ok(width, 3840) || !ok(height, 2160)) {
      throw invalid("viewport must be whole CSS pixels, 200–3840 wide and 200–2160 high");
    }
    viewport = { width, height };
  }
  return { url, viewport, waitMs: Math.min(Math.trunc(wait), limits.maxWaitMs) };
}

/** One capture in progress: the proxy, the browser, and what they observed. */
class CaptureSession {
  private proxy: GuardProxy | undefined;
  private browser: Browser | undefined;
  private screencast: ScreencastRecorder | undefined;
  private readonly deadline: AbortSignal;
  private readonly stopController = new AbortController();
  /** Rejects with the reason once the time, byte limit or caller stops the capture. */
  readonly stopped: Promise<never>;
  private readonly startedAt = new Date();
  private readonly events = {
    popups: [] as string[],
    dialogs: [] as { type: string; message: string }[],
    downloads: [] as string[],
    navigations: [] as string[],
  };
  /**
   * Every main-frame document response, committed or not (a download, a 204 never commits),
   * as Playwright reports them, in order; and the same responses as the DevTools protocol
   * reports them, in the same order, with the loader (document) id that a commit names and
   * the type the browser judged the document to be (its Content-Type, or sniffed without one).
   */
  private readonly documentResponses: Response[] = [];
  private readonly documentLoaders: { loaderId: string; url: string; mimeType: string }[] = [];
  /**
   * The document the main frame shows, by loader id: set when a new document commits, never
   * by a change of URL within one (pushState, replaceState, a fragment).
   */
  private committedLoader: string | undefined;
  /** Documents the main frame has committed. */
  private commits = 0;
  private readonly pendingNavigations = new Set<Request>();
  /** When each document, by loader id, reached its load event. */
  private readonly loads = new Map<string, Date>();
  /** Called as each main-frame navigation begins. */
  private readonly navigationListeners = new Set<() => void>();
  /** Called on every change of the main frame: a navigation begun or ended, a document committed or loaded. */
  private readonly changeListeners = new Set<() => void>();
  /** The bytes, as served, of each document that is not a web page, by loader id; see keepDocumentBodies. */
  private readonly documentBodies = new Map<
    string,
    { url: string; mediaType: string; body: Buffer } | { url: string; mediaType: string; note: string }
  >();
  private failedNavigation: { request: Request; url: string; error: string } | undefined;
  private crashed = false;
  private disposed = false;
  private browserArgs: string[] = [];

  private readonly request: CaptureRequest;
  private readonly options: CaptureOptions;
  private readonly limits: CaptureLimits;
  private readonly url: URL;
  private readonly viewport: { width: number; height: number };
  private readonly waitMs: number;
  private readonly chromiumPath: string;

  constructor(
    request: CaptureRequest,
    options: CaptureOptions,
    limits: CaptureLimits,
    url: URL,
    viewport: { width: number; height: number },
    waitMs: number,
    chromiumPath: string,
  ) {
    this.request = request;
    this.options = options;
    this.limits = limits;
    this.url = url;
    this.viewport = viewport;
    this.waitMs = waitMs;
    this.chromiumPath = chromiumPath;
    this.deadline = AbortSignal.timeout(limits.timeoutMs);
    const signals = [this.deadline, this.stopController.signal, ...(options.signal ? [options.signal] : [])];
    const any = AbortSignal.any(signals);
    this.stopped = new Promise<never>((_, reject) => {
      any.addEventListener("abort", () => reject(this.stopReason()), { once: true });
    });
    this.stopped.catch(() => {});
  }

  private stopReason(): CaptureError {
    if (this.crashed) {
      return new CaptureError(
        "NAVIGATION_FAILED",
        "the page crashed the browser's renderer (memory exhausted or a renderer fault)",
      );
    }
    if (this.proxy?.signal.aborted) {
      return new CaptureError("PAGE_TOO_LARGE", `the page exceeded ${this.limits.pageBytes} bytes`);
    }
    if (this.options.signal?.aborted) return new CaptureError("CANCELLED", "the capture was cancelled");
    return new CaptureError("TIMEOUT", `the capture took longer than ${this.limits.timeoutMs} ms`);
  }

  /** Maps any failure to a CaptureError, preferring the reason the capture was stopped. */
  explain(e: unknown): CaptureError {
    const stopped = this.crashed || this.proxy?.signal.aborted || this.deadline.aborted || this.options.signal?.aborted;
    if (stopped) return this.stopReason();
    if (isCaptureError(e)) return e;
    return new CaptureError("CAPTURE_FAILED", firstLine(e), { cause: e });
  }

  /**
   * Awaits `step` unless the capture is stopped first: then it rejects at once, so the
   * capture unwinds even while the browser is wedged by a page that never yields.
   */
  private guard<T>(step: Promise<T>): Promise<T> {
    return Promise.race([step, this.stopped]);
  }

  /** Closes the browser, the screencast and the proxy; a run still under way then fails at its next step. */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    await this.browser?.close().catch(() => {});
    await this.screencast?.dispose();
    await this.proxy?.close();
  }

  /** Refuses to go on once disposed: what a late step started must not outlive the capture. */
  private async adopt<T extends { close(): Promise<void> }>(resource: T): Promise<T> {
    if (!this.disposed) return resource;
    await resource.close().catch(() => {});
    throw this.stopReason();
  }

  async run(): Promise<CaptureResult> {
    const { options, limits, url } = this;
    const dir = options.outDir;
    options.onStage?.("starting");
    const proxy = await GuardProxy.start({
      policy: options.policy,
      maxBytes: limits.pageBytes,
      ...(options.resolver ? { resolver: options.resolver } : {}),
    });
    this.proxy = await this.adopt(proxy);
    proxy.signal.addEventListener("abort", () => this.stopController.abort(), { once: true });

    // The main URL's host is resolved and checked before a browser is started; the browser's
    // own connection then uses this same answer (the proxy resolves each host once).
    const preflight = await proxy.check(url.hostname, portOf(url));
    if (preflight.refused) {
      throw this.refusedError(preflight.refused.reason);
    }
    if (preflight.error) throw new CaptureError("HOST_NOT_FOUND", preflight.error);

    this.browserArgs = [
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--disable-client-side-phishing-detection",
      "--disable-domain-reliability",
      "--no-pings",
      // Chromium's own background traffic (component updates, account checks) is pointed at an
      // address the guard proxy always refuses, so the record holds only the page's traffic.
      "--component-updater=url-source=http://0.0.0.0:9/",
      "--gaia-url=http://0.0.0.0:9/",
      // Everything through the guard proxy, loopback included; Chromium resolves no name itself.
      `--proxy-server=${proxy.url}`,
      "--proxy-bypass-list=<-loopback>",
      "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
      // WebRTC may not send UDP around the proxy. This switch is the one Debian's Chromium
      // honours (the "force-" one it takes and ignores: a page's STUN reached loopback).
      "--webrtc-ip-handling-policy=disable_non_proxied_udp",
      "--force-webrtc-ip-handling-policy=disable_non_proxied_udp",
      // A page that allocates without end crashes its own renderer at this heap size (the
      // capture then fails) instead of taking the machine's memory.
      `--js-flags=--max-old-space-size=${limits.heapMiB}`,

      ...(process.getuid?.() === 0 ? ["--no-sandbox"] : []),
      ...(options.trustedSpkiSha256?.length
        ? [`--ignore-certificate-errors-spki-list=${options.trustedSpkiSha256.join(",")}`]
        : []),
    ];
    let browser: Browser;
    try {
      // Loaded here, at the first capture: playwright-core is a third of the service's start-up.
      const { chromium } = await import("playwright-core");
      browser = await chromium.launch({ executablePath: this.chromiumPath, args: this.browserArgs, timeout: 30_000 });
    } catch (e) {
      throw new CaptureError("BROWSER_UNAVAILABLE", `Chromium did not start: ${firstLine(e)}`, { cause: e });
    }
    this.browser = await this.adopt(browser);
    const harPath = path.join(dir, "network.har");
    const context = await this.guard(
      browser.newContext({
        viewport: this.viewport,
        deviceScaleFactor: 1,
        locale: options.locale ?? "zh-CN",
        timezoneId: options.timezoneId ?? "Asia/Shanghai",
        acceptDownloads: false,
        serviceWorkers: "block",
        colorScheme: "light",
        recordHar: { path: harPath, content: "embed", mode: "full" },
      }),
    );
    const page = await this.guard(context.newPage());
    this.watch(context, page);
    const cdp = await this.guard(context.newCDPSession(page));
    await this.guard(cdp.send("Network.enable"));
    const mainFrameId = await this.guard(this.watchDocuments(cdp));
    await this.guard(this.keepDocumentBodies(cdp, mainFrameId));

    const videoNote = await this.guard(this.startVideo(cdp));
    options.onStage?.("navigating");
    const navigationStartedAt = new Date();
    const first = await this.guard(this.navigate(page));
    const committedAt = new Date();
    // One budget for every document the page goes through before it settles.
    const loadDeadline = Date.now() + limits.loadTimeoutMs;
    await this.guard(page.waitForLoadState("load", { timeout: limits.loadTimeoutMs }).catch(() => {}));
    if (this.waitMs > 0) await this.guard(page.waitForTimeout(this.waitMs));

    options.onStage?.("recording");
    const { response, screenshot, png, mhtml, html, title, snapshotNote } = await this.recordDocument(
      page,
      cdp,
      first,
      loadDeadline,
    );
    if (png !== undefined) await writeFile(path.join(dir, "screenshot.png"), png);
    if (mhtml !== undefined) await writeFile(path.join(dir, "page.mhtml"), mhtml);
    if (html !== undefined) await writeFile(path.join(dir, "page.html"), html);
    const document = await this.documentBody(response, dir);
    const loadedAt = this.loads.get(this.loaderOf(response) ?? "");
    const loadCompleted = loadedAt !== undefined;
    const documentError =
      this.failedNavigation?.request === response.request() ? this.failedNavigation.error : undefined;
    const finalUrl = response.url();
    const tls = await this.guard(this.tls(cdp, response, dir));
    const { redirects, mainHeaders } = await this.guard(this.redirectChain(response));
    const clock = clockOffset(response, mainHeaders);
    const browserSession = await this.guard(browser.newBrowserCDPSession());
    const { userAgent } = (await this.guard(browserSession.send("Browser.getVersion"))) as { userAgent: string };
    if (this.request.video) await this.guard(this.scrollForVideo(page));
    // The page first: the HAR recorder waits on the page's pending reads (the PDF viewer's
    // stream is never finished), and closing the page ends them; then the context writes network.har.
    await this.guard(page.close());
    await this.guard(context.close());
    const video = await this.guard(this.finishVideo(dir, videoNote));
    const browserVersion = browser.version();
    await this.guard(browser.close());
    this.browser = undefined;

    options.onStage?.("archiving");
    const connections = proxy.connections();
    const refusedUrls = new Set(connections.filter((c) => c.refused && c.url).map((c) => c.url!));
    const har = JSON.parse(await this.guard(readFile(harPath, "utf8"))) as HarLog;
    if (this.mendHar(har)) await writeFile(harPath, JSON.stringify(har));
    await this.guard(
      writeWacz({
        dir,
        har,
        pageUrl: finalUrl,
        pageTitle: title,
        pageDate: committedAt.toISOString(),
        software: `evidence-anchor ${SERVICE_VERSION}`,
        // Refused, replaced by the viewer, or never read (the page closed first): no body to archive as the URL's.
        exclude: (entry) =>
          refusedUrls.has(entry.request.url) ||
          entry.comment === VIEWER_REPLACED ||
          (entry.response.content.text === undefined && entry.response.content.size !== 0),
      }),
    );

    const artifacts = await this.guard(this.artifactList(dir));
    const finishedAt = new Date();
    const manifest: CaptureManifest = {
      type: CAPTURE_MANIFEST_TYPE,
      version: 1,
      url: url.href,
      finalUrl,
      title,
      startedAt: this.startedAt.toISOString(),
      finishedAt: finishedAt.toISOString(),
      artifacts,
      request: jsonSafe({
        url: this.request.url,
        title: this.request.title,
        note: this.request.note,
        viewport: this.viewport,
        fullPage: this.request.fullPage ?? true,
        waitMs: this.waitMs,
        video: this.request.video ?? false,
      }),
      observed: jsonSafe({
        status: response.status(),
        navigations: this.events.navigations,
        redirects: redirects.map((hop) => ({ ...hop, server: serverOf(connections, hop.url) })),
        server: serverOf(connections, finalUrl),
        responseHeaders: mainHeaders,
        tls,
        dns: proxy.dnsAnswers(),
        connections: connections.map(connectionSummary),
        refused: connections
          .filter((c) => c.refused)
          .map((c) => ({
            host: c.host,
            port: c.port,
            url: c.url,
            reason: c.refused!.reason,
            category: c.refused!.category,
          })),
        loadCompleted,
        ...(documentError ? { documentError } : {}),
        ...(document ? { document } : {}),
        ...(snapshotNote ? { snapshotNote } : {}),
        screenshot,
        popups: this.events.popups,
        dialogs: this.events.dialogs,
        downloads: this.events.downloads,
        bytesThroughProxy: proxy.bytes,
      }),
      environment: jsonSafe({
        browser: { name: "chromium", version: browserVersion, executable: this.chromiumPath, args: this.browserArgs },
        automation: { name: "playwright-core", version: PLAYWRIGHT_VERSION },
        service: { name: "evidence-anchor", version: SERVICE_VERSION },
        platform: { os: platform(), release: release(), arch: arch(), node: process.version },
        userAgent,
        viewport: this.viewport,
        deviceScaleFactor: 1,
        timeZone: options.timezoneId ?? "Asia/Shanghai",
        locale: options.locale ?? "zh-CN",
        profile: "new empty profile in a new browser process; service workers blocked; downloads refused",
        network: `every connection through the guard proxy; CAPTURE_ALLOW=${options.policy.allow.map(([a, b]) => `${a.toString()}/${b}`).join(",")}`,
        clock,
        timings: {
          startedAt: this.startedAt.toISOString(),
          navigationStartedAt: navigationStartedAt.toISOString(),
          committedAt: committedAt.toISOString(),
          loadedAt: loadedAt?.toISOString(),
          finishedAt: finishedAt.toISOString(),
        },
        video,
      }),
    };
    const manifestBytes = canonicalBytes(manifest);
    await writeFile(path.join(dir, "manifest.json"), manifestBytes);
    const manifestSha256 = await sha256File(path.join(dir, "manifest.json"));
    // Cut, then mend: a cut through a surrogate pair leaves half a character, which toWellFormed replaces.
    const recordTitle = (this.request.title ?? title).slice(0, TEXT_LIMITS.title).toWellFormed();
    return {
      dir,
      manifest,
      manifestBytes,
      manifestSha256,
      withheld: proxy.withheldNames(),
      record: {
        contentHash: manifestSha256,
        mediaType: CAPTURE_MEDIA_TYPE,
        sourceUrl: url.href,
        fileName: "manifest.json",
        size: manifestBytes.length,
        ...(recordTitle ? { title: recordTitle } : {}),
        ...(this.request.note ? { note: this.request.note } : {}),
      },
    };
  }

  /** Records what a hostile page tries besides its own content: popups (closed), dialogs (dismissed), downloads (refused). */
  private watch(context: BrowserContext, page: Page): void {
    context.on("page", (popup) => {
      if (popup === page) return;
      this.events.popups.push(popup.url());
      void popup.close().catch(() => {});
    });
    page.on("dialog", (dialog) => {
      this.events.dialogs.push({ type: dialog.type(), message: dialog.message().slice(0, 1000) });
      void dialog.dismiss().catch(() => {});
    });
    page.on("download", (download) => {
      this.events.downloads.push(download.url());
      // A navigation that became a download never commits, nor finishes as a request.
      for (const request of this.pendingNavigations)
        if (request.url() === download.url()) this.navigationEnded(request);
      void download.cancel().catch(() => {});
    });
    const mainNavigation = (request: Request) => request.isNavigationRequest() && request.frame() === page.mainFrame();
    page.on("request", (request) => {
      if (!mainNavigation(request)) return;
      this.events.navigations.push(request.url());
      this.pendingNavigations.add(request);
      for (const listener of this.navigationListeners) listener();
      this.changed();
    });
    page.on("response", (response) => {
      const request = response.request();
      if (!mainNavigation(request) || isRedirect(response.status())) return;
      this.documentResponses.push(response);
    });
    page.on("requestfinished", (request) => this.navigationEnded(request));
    page.on("requestfailed", (request) => {
      if (!mainNavigation(request)) return;
      this.navigationEnded(request);
      const error = request.failure()?.errorText ?? "failed";
      // ERR_ABORTED: another navigation replaced this one; the page then shows that one.
      if (error !== "net::ERR_ABORTED") this.failedNavigation = { request, url: request.url(), error };
    });
    page.on("crash", () => {
      this.crashed = true;
      this.stopController.abort();
    });
  }

  private navigationEnded(request: Request): void {
    if (this.pendingNavigations.delete(request)) this.changed();
  }

  private changed(): void {
    for (const listener of this.changeListeners) listener();
  }

  /** Whether the main frame changes (see changeListeners) within `ms`. */
  private changeWithin(ms: number): Promise<boolean> {
    return new Promise((resolve) => {
      const done = (changed: boolean) => {
        clearTimeout(timer);
        this.changeListeners.delete(listener);
        resolve(changed);
      };
      const listener = () => done(true);
      const timer = setTimeout(() => done(false), ms);
      this.changeListeners.add(listener);
    });
  }

  /**
   * The main frame's documents as the DevTools protocol reports them: each document
   * response with its loader id and the type the browser judged it to be, each commit of a
   * new document (`Page.frameNavigated`, which a change of URL within a document does not
   * fire), and each document's load. Returns the main frame's id.
   */
  private async watchDocuments(cdp: CDPSession): Promise<string> {
    const { frameTree } = (await cdp.send("Page.getFrameTree")) as { frameTree: { frame: { id: string } } };
    const mainFrameId = frameTree.frame.id;
    cdp.on("Network.responseReceived", (event) => {
      const { type, frameId, loaderId, response } = event as {
        type: string;
        frameId?: string;
        loaderId: string;
        response: { url: string; mimeType: string };
      };
      if (type !== "Document" || frameId !== mainFrameId) return;
      this.documentLoaders.push({ loaderId, url: response.url, mimeType: response.mimeType });
    });
    cdp.on("Page.frameNavigated", (event) => {
      const { frame } = event as { frame: { id: string; loaderId: string } };
      if (frame.id !== mainFrameId) return;
      this.committedLoader = frame.loaderId;
      this.commits++;
      // A navigation that failed before this document came no longer matters: the page shows this one.
      this.failedNavigation = undefined;
      this.changed();
    });
    cdp.on("Page.lifecycleEvent", (event) => {
      const { frameId, loaderId, name } = event as { frameId: string; loaderId: string; name: string };
      if (frameId !== mainFrameId || name !== "load") return;
      this.loads.set(loaderId, new Date());
      this.changed();
    });
    await cdp.send("Page.enable");
    await cdp.send("Page.setLifecycleEventsEnabled", { enabled: true });
    return mainFrameId;
  }

  /**
   * A document response's loader id: the DevTools protocol's report of the same response,
   * by its place in the order (both report the same events in order), checked by URL.
   */
  private loaderOf(response: Response): string | undefined {
    const paired = this.documentLoaders[this.documentResponses.indexOf(response)];
    if (paired?.url === response.url()) return paired.loaderId;
    return this.documentLoaders.findLast((d) => d.url === response.url())?.loaderId;
  }

  /** The response of the document the main frame committed last; undefined for one that came from no server (about:blank). */
  private shownDocument(first: Response): Response | undefined {
    if (this.committedLoader === undefined) return first;
    const at = this.documentLoaders.findIndex((d) => d.loaderId === this.committedLoader);
    if (at === -1) return undefined;
    const { url } = this.documentLoaders[at]!;
    const paired = this.documentResponses[at];
    return paired?.url() === url ? paired : this.documentResponses.findLast((r) => r.url() === url);
  }

  private shownLoaded(first: Response): boolean {
    return this.loads.has(this.committedLoader ?? this.loaderOf(first) ?? "");
  }

  private async navigate(page: Page): Promise<Response> {
    let response: Response | null;
    try {
      response = await page.goto(this.url.href, { waitUntil: "commit", timeout: this.limits.timeoutMs });
    } catch (e) {
      throw this.navigationError(e);
    }
    if (!response) throw new CaptureError("NAVIGATION_FAILED", "the browser received no response for the page");
    // A plain-http hop refused by the proxy reaches the browser as the proxy's 403 page.
    const refused = this.proxy!.connections().find((c) => c.refused && c.url === response.url());
    if (refused) throw this.refusedError(refused.refused!.reason);
    return response;
  }

  /**
   * The document the page shows once it has settled: no navigation of its own under way, the
   * document it committed last loaded, and {@link QUIET_MS} gone by without a change (a meta
   * refresh of 0 s, or a script on load, begins a navigation then). A page that navigates
   * itself is followed, one document at a time, within the one load budget; past it, the
   * document then shown is taken as it stands (its load not completed). A navigation that
   * never commits (a download, a 204) leaves the page, and the record, on the document it had.
   * A document the proxy refused, one that came from no server (about:blank), or a navigation
   * that failed before any document came, fails the capture as a refused redirect would. A
   * document whose own transfer broke off is kept: the page shows what arrived.
   */
  private async settledDocument(first: Response, loadDeadline: number): Promise<Response> {
    const commitsBefore = this.commits;
    for (let step = 0; step < MAX_SETTLE_STEPS && this.commits - commitsBefore < MAX_DOCUMENTS; step++) {
      const remaining = loadDeadline - Date.now();
      if (remaining <= 0) break;
      if (this.pendingNavigations.size > 0 || !this.shownLoaded(first)) {
        await this.guard(this.changeWithin(remaining));
        continue;
      }
      if (!(await this.guard(this.changeWithin(Math.min(QUIET_MS, remaining))))) break;
    }
    const current = this.shownDocument(first);
    if (!current) {
      throw new CaptureError(
        "NAVIGATION_FAILED",
        "the page replaced itself with a document that came from no server (about:blank or alike): no page of the address is left to record",
      );
    }
    const failed = this.failedNavigation;
    if (failed && failed.request !== current.request()) {
      throw this.navigationError(new Error(failed.error), failed.url);
    }
    const refused = this.proxy!.connections().find((c) => c.refused && c.url === current.url());
    if (refused) throw this.refusedError(refused.refused!.reason);
    return current;
  }

  /**
   * The settled document's screenshot, MHTML, HTML and title, all of one document. A page
   * that begins a navigation while it is being recorded (a timer, a refresh, or the
   * screenshot's resize firing) is let settle and recorded again from the start: nothing is
   * written until one recording went through with the page still on the document the
   * recorded response belongs to.
   */
  private async recordDocument(page: Page, cdp: CDPSession, first: Response, loadDeadline: number) {
    for (let attempt = 1; ; attempt++) {
      const response = await this.settledDocument(first, loadDeadline);
      const navigations = this.events.navigations.length;
      let interrupted!: () => void;
      const navigated = new Promise<undefined>((resolve) => (interrupted = () => resolve(undefined)));
      this.navigationListeners.add(interrupted);
      let abandoned = false;
      const recording = this.takeRecording(page, cdp, response, () => abandoned).catch((e: unknown) => {
        // A page navigating away under a step (its context destroyed) is a reason to record
        // again, not a failure.
        if (this.events.navigations.length > navigations) return undefined;
        throw e;
      });
      const recorded = await this.guard(Promise.race([recording, navigated])).finally(() =>
        this.navigationListeners.delete(interrupted),
      );
      const unchanged = this.events.navigations.length === navigations && this.shownDocument(first) === response;
      if (recorded && unchanged) return { response, ...recorded };
      // The abandoned recording stops at its next step; the step under way is let end first,
      // so two recordings never resize and capture the page at once.
      abandoned = true;
      if (attempt === MAX_RECORDINGS) {
        throw new CaptureError(
          "NAVIGATION_FAILED",
          `the page navigated itself while being recorded ${attempt} times; no recording is of one document`,
        );
      }
      await this.guard(answerWithin(recording, ABANDONED_STEP_MS));
    }
  }

  /**
   * A document that is not a web page (a PDF, an image, plain text) is shown by the browser
   * in a viewer of its own, and the browser then reports the viewer's HTML as that URL's
   * response body: to `Response.body()` and to the HAR. Its bytes as served are taken here,
   * through the DevTools protocol's response interception, before the viewer replaces them.
   *
   * Only the main frame's documents, and only those whose whole body can be held: taking it
   * holds the navigation until the last byte has arrived, and the body comes back decoded in
   * one message. So a document is kept only with a Content-Length within the page-size limit
   * and no Content-Encoding; a stream, a compressed body or one of unknown length goes on
   * untouched and the manifest says its bytes were not kept. Web pages, redirects and
   * downloads pass untouched.
   *
   * Of unknown length (chunked): a body the server broke off reads here as complete, with no
   * error anywhere, so it would be recorded as the document. Taking it as a stream and handing
   * it back (`Fetch.fulfillRequest`) is no better, and costs the response its TLS details,
   * timing (the clock offset) and protocol in the manifest and the HAR.
   */
  private async keepDocumentBodies(cdp: CDPSession, mainFrameId: string): Promise<void> {
    cdp.on("Fetch.requestPaused", (event) => {
      const { requestId, networkId, request, frameId, responseStatusCode, responseHeaders } = event as {
        requestId: string;
        /** The network request's id: a navigation's is its document's loader id. */
        networkId?: string;
        request: { url: string; method: string };
        frameId: string;
        responseStatusCode?: number;
        responseHeaders?: { name: string; value: string }[];
      };
      const header = (name: string) => headerOf(responseHeaders ?? [], name);
      const mediaType = header("content-type") ?? "";
      const why = this.#whyNotKept(header, responseStatusCode);
      const key = networkId ?? `url:${request.url}`;
      const consider =
        frameId === mainFrameId &&
        request.method === "GET" &&
        responseStatusCode !== undefined &&
        responseStatusCode >= 200 &&
        responseStatusCode < 300 &&
        // With no Content-Type the browser sniffs the type from the bytes, so they are held until it has.
        (mediaType === "" || !isWebPage(mediaType)) &&
        !/attachment/i.test(header("content-disposition") ?? "");
      void (async () => {
        if (!consider) return;
        if (why) {
          this.documentBodies.set(key, { url: request.url, mediaType, note: why });
          return;
        }
        const answer = (await cdp.send("Fetch.getResponseBody", { requestId })) as {
          body: string;
          base64Encoded: boolean;
        };
        const body = Buffer.from(answer.body, answer.base64Encoded ? "base64" : "utf8");
        // The browser hands over what arrived, with no error, when the server broke off.
        const length = Number(header("content-length"));
        if (body.length !== length) {
          const note = `the server sent ${body.length} of its ${length} bytes (Content-Length) and broke off`;
          this.documentBodies.set(key, { url: request.url, mediaType, note });
          return;
        }
        this.documentBodies.set(key, { url: request.url, mediaType, body });
      })()
        .catch((e: unknown) => {
          this.documentBodies.set(key, { url: request.url, mediaType, note: `it could not be read (${firstLine(e)})` });
        })
        .finally(async () => {
          await cdp.send("Fetch.continueRequest", { requestId }).catch(() => {});
          // Interception ends with the main frame's first document: nothing the page loads
          // afterwards (frames, the PDF viewer's own requests) is ever held.
          if (frameId === mainFrameId && responseStatusCode !== undefined && !isRedirect(responseStatusCode)) {
            await cdp.send("Fetch.disable").catch(() => {});
          }
        });
    });
    await cdp.send("Fetch.enable", { patterns: [{ resourceType: "Document", requestStage: "Response" }] });
  }

  /** Why a document's body is not to be held whole; undefined when it may be. */
  #whyNotKept(header: (name: string) => string | undefined, status: number | undefined): string | undefined {
    if (status === 206) return "the server sent only part of it";
    const type = essenceOf(header("content-type") ?? "");
    if (type.startsWith("multipart/") || type === "text/event-stream") return "it is a stream";
    const encoding = (header("content-encoding") ?? "identity").trim().toLowerCase();
    if (encoding !== "identity") return `it was sent compressed (${encoding}), its size unknown until read`;
    const length = header("content-length");
    if (length === undefined || !/^\d+$/.test(length.trim())) {
      return "the server gave no Content-Length, so a body cut off before its end could not be told from a whole one";
    }
    if (Number(length) > this.limits.pageBytes) return `it is larger than the page-size limit (${length} bytes)`;
    return undefined;
  }

  /**
   * The recorded document's bytes as served, kept as `document.<ext>` when it is not a web
   * page; or, when they could not be kept, why.
   */
  private async documentBody(response: Response, dir: string) {
    const { mediaType, sniffed } = await this.documentType(response);
    if (isWebPage(mediaType)) return undefined;
    const judged = sniffed ? { sniffed: true } : {};
    const kept =
      this.documentBodies.get(this.loaderOf(response) ?? "") ?? this.documentBodies.get(`url:${response.url()}`);
    if (!kept) return { mediaType, ...judged, kept: false, note: "the browser did not hand over its bytes" };
    if (!("body" in kept)) return { mediaType, ...judged, kept: false, note: kept.note };
    const name = `document${extensionOf(essenceOf(mediaType))}`;
    await writeFile(path.join(dir, name), kept.body);
    return { name, mediaType, ...judged, size: kept.body.length };
  }

  /**
   * A document's type: its Content-Type, or when the server sent none, the type the browser
   * judged from its bytes (sniffed: a PDF so served is shown in the PDF viewer all the same).
   */
  private async documentType(response: Response): Promise<{ mediaType: string; sniffed: boolean }> {
    const declared = (await response.headerValue("content-type")) ?? "";
    if (declared !== "") return { mediaType: declared, sniffed: false };
    const loaderId = this.loaderOf(response);
    const judged = this.documentLoaders.find((d) => d.loaderId === loaderId);
    return { mediaType: judged?.mimeType ?? "", sniffed: true };
  }

  /**
   * Mends the HAR where the browser's viewer stands in for a document: each kept document's
   * bytes go back in place of the viewer's HTML; a body the viewer replaced that was not kept
   * (a PDF in a frame) is left out, saying so, rather than archived as that URL's content;
   * and the viewer's own resources (chrome:, chrome-extension:) are not the page's traffic.
   * Returns whether anything changed.
   */
  private mendHar(har: HarLog): boolean {
    const entries = har.log.entries.filter((entry) => !/^chrome(-extension)?:/.test(entry.request.url));
    let restored = entries.length !== har.log.entries.length;
    har.log.entries = entries;
    // The viewer's HTML may stand in for a PDF's body in each of its URL's entries, typed or not.
    const pdfUrls = new Set(entries.filter((entry) => isPdfResponse(entry)).map((entry) => entry.request.url));
    for (const entry of entries) {
      if (pdfUrls.has(entry.request.url) && bodyIsHtml(entry)) {
        entry.response.content = { size: 0, mimeType: entry.response.content.mimeType ?? "" };
        entry.comment = VIEWER_REPLACED;
        restored = true;
      }
    }
    const byUrl = new Map([...this.documentBodies.values()].map((kept) => [kept.url, kept]));
    for (const entry of har.log.entries) {
      const kept = byUrl.get(entry.request.url);
      const { status } = entry.response;
      if (!kept || !("body" in kept) || entry.request.method !== "GET" || status < 200 || status >= 300) continue;
      const mediaType =
        kept.mediaType || this.documentLoaders.findLast((d) => d.url === entry.request.url)?.mimeType || "";
      if (status === 206 || isWebPage(mediaType)) continue;
      entry.response.content = {
        size: kept.body.length,
        mimeType: mediaType,
        text: kept.body.toString("base64"),
        encoding: "base64",
      };
      delete entry.comment;
      restored = true;
    }
    return restored;
  }

  /**
   * The screenshot, and for a web page its MHTML and HTML. A document that is not a web page
   * has neither: they would be of the browser's viewer (whose snapshot can also wait for
   * ever), and the document itself is kept whole (see keepDocumentBodies).
   */
  private async takeRecording(page: Page, cdp: CDPSession, response: Response, abandoned: () => boolean) {
    const { mediaType } = await this.documentType(response);
    if (!isWebPage(mediaType)) {
      // The browser's viewer sometimes never answers: the document's own bytes are the
      // evidence, and the capture goes on without a picture of the viewer, saying so.
      const picture =
        essenceOf(mediaType) === "application/pdf" ? this.drawnPdfViewer(page, cdp) : this.screenshot(cdp);
      const shown = await answerWithin(Promise.all([picture, page.title()]), SNAPSHOT_TIMEOUT_MS);
      if (!shown) {
        const note = `no screenshot: the browser's viewer did not answer within ${SNAPSHOT_TIMEOUT_MS / 1000} s`;
        return {
          screenshot: { taken: false, note },
          png: undefined,
          mhtml: undefined,
          html: undefined,
          title: "",
          snapshotNote: undefined,
        };
      }
      const [{ png, ...screenshot }, title] = shown;
      return { screenshot, png, mhtml: undefined, html: undefined, title, snapshotNote: undefined };
    }
    const { png, ...screenshot } = await this.screenshot(cdp);
    if (abandoned()) return undefined;
    // The browser's snapshot sometimes never answers for a page holding its PDF viewer (an
    // <iframe> of a PDF): the capture then goes on without page.mhtml, and says so.
    const snapshot = await answerWithin(
      cdp.send("Page.captureSnapshot", { format: "mhtml" }) as Promise<{ data: string }>,
      SNAPSHOT_TIMEOUT_MS,
    );
    const snapshotNote =
      snapshot === undefined
        ? `no page.mhtml: the browser did not answer the snapshot within ${SNAPSHOT_TIMEOUT_MS / 1000} s`
        : undefined;
    if (abandoned()) return undefined;
    const html = await page.content();
    const title = await page.title();
    return { screenshot, png, mhtml: snapshot?.data, html, title, snapshotNote };
  }

  /**
   * A screenshot of Chromium's PDF viewer once it has drawn the document. The viewer draws a
   * moment after the load: its own frame (chrome-extension:) comes first, then its plugin's
   * frame (the document's URL), which paints the pages and their thumbnails in steps. Taken at
   * the load, the picture is an empty grey viewer. So the plugin's frame is waited for, then
   * screenshots are taken until three in a row are the same; past the time allowed, the last
   * one is kept and the manifest says it may be part-drawn.
   */
  private async drawnPdfViewer(page: Page, cdp: CDPSession) {
    const deadline = Date.now() + PDF_VIEWER_DRAW_MS;
    // The plugin's frame exists, empty, before it loads the document.
    const isPlugin = (frame: Frame) =>
      /^https?:/.test(frame.url()) && frame.parentFrame()?.url().startsWith("chrome-extension:") === true;
    if (!page.frames().some(isPlugin)) {
      await page
        .waitForEvent("framenavigated", { predicate: isPlugin, timeout: PDF_VIEWER_DRAW_MS / 2 })
        .catch(() => undefined);
    }
    let shot = await this.screenshot(cdp);
    let same = 1;
    while (same < 3) {
      if (Date.now() >= deadline) {
        const seconds = PDF_VIEWER_DRAW_MS / 1000;
        return {
          ...shot,
          note: `the browser's PDF viewer was still drawing after ${seconds} s: the picture may be part-drawn`,
        };
      }
      await delay(PDF_VIEWER_STEP_MS);
      const next = await this.screenshot(cdp);
      same = next.png.equals(shot.png) ? same + 1 : 1;
      shot = next;
    }
    return shot;
  }

  /** ADDRESS_REFUSED, with what the log may know of the names refused for their addresses. */
  private refusedError(reason: string, cause?: unknown): CaptureError {
    return new CaptureError("ADDRESS_REFUSED", reason, { cause, withheld: this.proxy?.withheldNames() ?? [] });
  }

  private navigationError(e: unknown, failedUrl?: string): CaptureError {
    const last = failedUrl ?? this.events.navigations.at(-1) ?? this.url.href;
    const target = new URL(last);
    const port = portOf(target);
    const host = target.hostname.replace(/^\[|\]$/g, "");
    const record = this.proxy!.connections().findLast((c) => c.host === host && c.port === port);
    if (record?.refused) return this.refusedError(record.refused.reason, e);
    if (record?.error?.startsWith("cannot resolve"))
      return new CaptureError("HOST_NOT_FOUND", record.error, { cause: e });
    // The guard proxy answers 502 when it cannot reach the site; the browser then names only
    // that answer (net::ERR_HTTP_RESPONSE_CODE_FAILURE), the proxy knows why.
    if (record?.error && !record.connectedTo) {
      return new CaptureError("NAVIGATION_FAILED", `${last}: could not connect to the site (${record.error})`, {
        cause: e,
      });
    }
    const message = firstLine(e);
    if (/Download is starting/i.test(message)) {
      return new CaptureError("NAVIGATION_FAILED", `${last} is a download, not a page`, { cause: e });
    }
    return new CaptureError("NAVIGATION_FAILED", `${last}: ${message}`, { cause: e });
  }

  /**
   * A PNG of the page, through the DevTools protocol directly: Playwright's own screenshot
   * waits in the old document's script world, which a navigation under it leaves waiting
   * for ever, and queues every later screenshot behind it.
   */
  private async screenshot(cdp: CDPSession) {
    const fullPage = this.request.fullPage ?? true;
    // The layout size from the browser, not from page script, which could lie about it.
    const metrics = (await cdp.send("Page.getLayoutMetrics")) as { cssContentSize: { width: number; height: number } };
    const pageHeight = Math.ceil(metrics.cssContentSize.height);
    const pageWidth = Math.ceil(metrics.cssContentSize.width);
    const max = this.limits.screenshotMaxHeight;
    const truncated = fullPage && (pageHeight > max || pageWidth > max);
    const size = fullPage
      ? {
          width: Math.min(Math.max(pageWidth, this.viewport.width), max),
          height: Math.min(Math.max(pageHeight, this.viewport.height), max),
        }
      : this.viewport;
    const beyond = size.width > this.viewport.width || size.height > this.viewport.height;
    const { data } = (await cdp.send("Page.captureScreenshot", {
      format: "png",
      clip: { x: 0, y: 0, ...size, scale: 1 },
      captureBeyondViewport: beyond,
    })) as { data: string };
    const png = Buffer.from(data, "base64");
    // PNG IHDR: width and height are the big-endian words at bytes 16 and 20 (RFC 2083 §4.1.1).
    return { png, fullPage, width: png.readUInt32BE(16), height: png.readUInt32BE(20), pageHeight, truncated };
  }

  /** The main document's TLS: Playwright's security details and the DER chain from the DevTools protocol. */
  private async tls(
    cdp: CDPSession,
    response: Response,
    dir: string,
  ): Promise<{ [key: string]: JsonValue } | undefined> {
    if (!response.url().startsWith("https:")) return undefined;
    const details = await response.securityDetails();
    const { tableNames } = (await cdp.send("Network.getCertificate", { origin: new URL(response.url()).origin })) as {
      tableNames: string[];
    };
    const certificates: JsonValue[] = [];
    if (tableNames.length > 0) await mkdir(path.join(dir, "tls"));
    for (const [i, b64] of tableNames.entries()) {
      const der = Buffer.from(b64, "base64");
      const name = `tls/certificate-${i}.der`;
      await writeFile(path.join(dir, name), der);
      const x509 = new X509Certificate(der);
      certificates.push({
        name,
        subject: x509.subject,
        issuer: x509.issuer,
        serialNumber: x509.serialNumber,
        validFrom: new Date(x509.validFrom).toISOString(),
        validTo: new Date(x509.validTo).toISOString(),
        sha256: x509.fingerprint256.replaceAll(":", "").toLowerCase(),
      });
    }
    return jsonSafe({
      protocol: details?.protocol,
      subjectName: details?.subjectName,
      issuer: details?.issuer,
      validFrom: details?.validFrom === undefined ? undefined : new Date(details.validFrom * 1000).toISOString(),
      validTo: details?.validTo === undefined ? undefined : new Date(details.validTo * 1000).toISOString(),
      certificates,
    }) as { [key: string]: JsonValue };
  }

  private async redirectChain(response: Response) {
    const hops = [];
    for (let request = response.request().redirectedFrom(); request; request = request.redirectedFrom()) {
      const hop = await request.response();
      hops.unshift({
        url: request.url(),
        method: request.method(),
        status: hop?.status() ?? 0,
        headers: hop ? await hop.headersArray() : [],
      });
    }
    return { redirects: hops, mainHeaders: await response.headersArray() };
  }

  private async startVideo(cdp: CDPSession): Promise<string | undefined> {
    if (!this.request.video) return undefined;
    const ffmpeg = this.options.ffmpegPath ?? DEFAULT_FFMPEG;
    if (!hasFfmpeg(ffmpeg)) return `no video: ffmpeg not found at ${ffmpeg}`;
    const recorder = await ScreencastRecorder.start(cdp, { ...this.viewport, maxBytes: this.limits.videoFrameBytes });
    this.screencast = await this.adopt({ close: () => recorder.dispose() }).then(() => recorder);
    return undefined;
  }

  private async finishVideo(dir: string, note: string | undefined): Promise<{ [key: string]: JsonValue } | undefined> {
    if (!this.request.video) return undefined;
    if (note !== undefined || !this.screencast) return { recorded: false, note: note ?? "no video" };
    const remaining = Math.max(this.startedAt.getTime() + this.limits.timeoutMs - Date.now(), 1_000);
    const encoded = await this.screencast.encode(path.join(dir, "video.mp4"), {
      ffmpeg: this.options.ffmpegPath ?? DEFAULT_FFMPEG,
      timeoutMs: remaining,
    });
    if (!encoded) return { recorded: false, note: "no video: the browser painted no frame" };
    return { recorded: true, frames: encoded.frames, durationMs: encoded.durationMs, fps: 10, codec: "h264" };
  }

  /** For the video only, after everything else is recorded: scrolls through the page once, then back to the top. */
  private async scrollForVideo(page: Page): Promise<void> {
    const steps = Math.min(Math.ceil(this.limits.screenshotMaxHeight / this.viewport.height), 20);
    for (let i = 0; i < steps; i++) {
      const moved = await page.evaluate(async (dy) => {
        const before = window.scrollY;
        window.scrollBy(0, dy);
        await new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve)));
        return window.scrollY !== before;
      }, this.viewport.height);
      if (!moved) break;
      await page.waitForTimeout(150);
    }
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.waitForTimeout(150);
  }

  /** Every file under the output directory, with its media type, size and SHA-256, sorted by name. */
  private async artifactList(dir: string): Promise<ArtifactEntry[]> {
    const names = (await readdir(dir, { recursive: true, withFileTypes: true }))
      .filter((entry) => entry.isFile())
      .map((entry) => path.relative(dir, path.join(entry.parentPath, entry.name)).split(path.sep).join("/"))
      .filter((name) => name !== "manifest.json")
      .sort();
    let total = 0;
    const artifacts: ArtifactEntry[] = [];
    for (const name of names) {
      const file = path.join(dir, name);
      const { size } = await stat(file);
      total += size;
      if (total > this.limits.artifactBytes) {
        throw new CaptureError("ARTIFACTS_TOO_LARGE", `the recorded files exceed ${this.limits.artifactBytes} bytes`);
      }
      artifacts.push({ name, mediaType: mediaTypeOf(name), size, sha256: await sha256File(file) });
    }
    const missing = WACZ_FILES.filter((name) => !names.includes(name));
    if (missing.length > 0) throw new CaptureError("CAPTURE_FAILED", `the archive lacks ${missing.join(", ")}`);
    return artifacts;
  }
}

/** `step`'s value, or undefined if it has not answered within `ms`; a late failure is ignored. */
function answerWithin<T>(step: Promise<T>, ms: number): Promise<T | undefined> {
  step.catch(() => {});
  return Promise.race([step, delay(ms, undefined, { ref: false })]);
}

/** How long the browser's MHTML snapshot may take before the capture goes on without it. */
const SNAPSHOT_TIMEOUT_MS = 15_000;

/** How long Chromium's PDF viewer may take to draw a document before it is pictured as it stands. */
const PDF_VIEWER_DRAW_MS = 10_000;
/** The time between two pictures of the PDF viewer, compared to tell when it has drawn. */
const PDF_VIEWER_STEP_MS = 300;

/** How long a loaded document must go without beginning a navigation to count as settled. */
const QUIET_MS = 500;
/**
 * How long an abandoned recording's step under way may take to end before the next recording
 * begins: as long as its longest bounded step, the snapshot.
 */
const ABANDONED_STEP_MS = SNAPSHOT_TIMEOUT_MS;
/** Documents followed before the capture takes the one then shown. */
const MAX_DOCUMENTS = 10;
/** Changes of the main frame waited for before the capture takes the document then shown. */
const MAX_SETTLE_STEPS = 100;
/** Recordings begun again because the page navigated under them, before the capture fails. */
const MAX_RECORDINGS = 5;

/** The HAR's note on a body the browser's viewer replaced and that was not kept: the WARC leaves it out. */
const VIEWER_REPLACED = "not kept: the browser's viewer replaced this body with its own HTML";

function isPdfResponse(entry: HarEntry): boolean {
  return essenceOf(headerOf(entry.response.headers, "content-type") ?? "") === "application/pdf";
}

/** Whether a HAR entry's body is HTML (for a PDF's URL: the browser's viewer, not the PDF). */
function bodyIsHtml(entry: HarEntry): boolean {
  const { text, encoding } = entry.response.content;
  if (text === undefined) return false;
  const start = (
    encoding === "base64" ? Buffer.from(text.slice(0, 200), "base64").toString("latin1") : text.slice(0, 150)
  )
    .trimStart()
    .toLowerCase();
  return start.startsWith("<!doctype html") || start.startsWith("<html");
}

/** A media type's essence: its type and subtype, lower-cased, without parameters. */
function essenceOf(mediaType: string): string {
  return mediaType.split(";")[0]!.trim().toLowerCase();
}

/** A header's value by its name, in any case. */
function headerOf(headers: { name: string; value: string }[], name: string): string | undefined {
  return headers.find((h) => h.name.toLowerCase() === name)?.value;
}

function isRedirect(status: number): boolean {
  return status >= 300 && status < 400 && status !== 304;
}

function isWebPage(mediaType: string): boolean {
  const essence = essenceOf(mediaType);
  return essence === "" || essence === "text/html" || essence === "application/xhtml+xml";
}

/** The extension `document.<ext>` takes for a served media type's essence. */
const DOCUMENT_EXTENSIONS: Record<string, string> = {
  "application/pdf": ".pdf",
  "image/png": ".png",
  "image/jpeg": ".jpg",
  "image/gif": ".gif",
  "image/webp": ".webp",
  "image/svg+xml": ".svg",
  "text/plain": ".txt",
  "application/json": ".json",
  "application/xml": ".xml",
  "text/xml": ".xml",
};

function extensionOf(essence: string): string {
  return Object.hasOwn(DOCUMENT_EXTENSIONS, essence) ? DOCUMENT_EXTENSIONS[essence]! : ".bin";
}

function mediaTypeOf(name: string): string {
  return MEDIA_TYPES[path.extname(name)] ?? "application/octet-stream";
}

/** Where the proxy connected for `url`: the forwarded request itself, or the tunnel to its host and port. */
function serverOf(connections: ConnectionRecord[], url: string): { ip: string; port: number } | undefined {
  const target = new URL(url);
  const host = target.hostname.replace(/^\[|\]$/g, "");
  const port = portOf(target);
  const record =
    connections.find((c) => c.kind === "http" && c.url === url && c.connectedTo) ??
    connections.find((c) => c.host === host && c.port === port && c.connectedTo);
  return record?.connectedTo ? { ip: record.connectedTo.address, port: record.connectedTo.port } : undefined;
}

function connectionSummary(c: ConnectionRecord) {
  return {
    kind: c.kind,
    host: c.host,
    port: c.port,
    url: c.url,
    addresses: c.addresses,
    connectedTo: c.connectedTo,
    startedAt: c.startedAt,
    bytesSent: c.bytesSent,
    bytesReceived: c.bytesReceived,
    refused: c.refused,
    error: c.error,
  };
}

/**
 * The server's clock minus ours, from the final response's `Date` header (RFC 9110 §6.6.1).
 * The header has one-second resolution and is stamped somewhere between the request leaving
 * and the response arriving, so the estimate is taken against the midpoint of that interval
 * and its uncertainty is half a second plus half the round trip.
 */
function clockOffset(response: Response, headers: { name: string; value: string }[]): { [key: string]: JsonValue } {
  const date = headerOf(headers, "date");
  const serverTime = date === undefined ? NaN : Date.parse(date);
  const timing = response.request().timing();
  if (Number.isNaN(serverTime) || timing.requestStart < 0 || timing.responseStart < 0) {
    return { source: "none", note: "the response had no usable Date header or timing" };
  }
  const sent = timing.startTime + timing.requestStart;
  const received = timing.startTime + timing.responseStart;
  const midpoint = (sent + received) / 2;
  return {
    source: "http-date",
    serverDate: date!,
    offsetMs: Math.round(serverTime + 500 - midpoint),
    uncertaintyMs: Math.round(500 + (received - sent) / 2),
  };
}

/**
 * Makes a value JCS-ready: drops undefined members, replaces lone surrogates in page-supplied
 * strings (a page title may contain them, JCS refuses them), rounds stray fractions.
 */
function jsonSafe(value: unknown): { [key: string]: JsonValue } {
  const walk = (v: unknown): JsonValue | undefined => {
    if (v === undefined || typeof v === "function") return undefined;
    if (v === null || typeof v === "boolean") return v;
    if (typeof v === "string") return v.toWellFormed();
    if (typeof v === "number") return Number.isFinite(v) ? Math.round(v) : 0;
    if (Array.isArray(v)) return v.map((item) => walk(item) ?? null);
    const out: { [key: string]: JsonValue } = {};
    for (const [key, item] of Object.entries(v as object)) {
      const safe = walk(item);
      if (safe !== undefined) out[key.toWellFormed()] = safe;
    }
    return out;
  };
  return walk(value) as { [key: string]: JsonValue };
}

/** A browser's error as one line of at most 500 characters. */
function firstLine(e: unknown): string {
  return firstLineOf(e, 500);
}
