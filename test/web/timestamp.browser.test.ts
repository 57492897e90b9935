import { expect } from "chai";
import { once } from "node:events";
import { readFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { build } from "esbuild";
import type { Browser } from "playwright-core";
import { launchBrowser } from "../helpers/browser.ts";
import { loadVector } from "../helpers/vectors.ts";

interface TokenCase {
  desc: string;
  token: string;
  data?: string;
  trust: string[];
  want: { status: string; code: string; development?: boolean };
}

/** What the page hands back for each vector. */
interface Outcome {
  desc: string;
  status: string;
  code: string;
  development: boolean;
}

/** The page: the bundled core, and a driver that verifies every vector with it. */
const PAGE = `<!doctype html>
<script src="/timestamp.js"></script>
<script>
  window.verifyVectors = async (vectors, pems) => {
    const api = window.evidenceTimestamp;
    const hex = (h) => Uint8Array.from(h.slice(2).match(/../g), (b) => parseInt(b, 16));
    const results = [];
    for (const c of vectors.cases) {
      const trust = c.trust.flatMap((name) => api.parseTrustBundle(pems[name]));
      const r = await api.verifyTimestampToken(api.timestampTokenFromBase64(c.token), hex(c.data ?? vectors.data), trust);
      results.push({ desc: c.desc, status: r.status, code: r.detail.code, development: r.development });
    }
    return results;
  };
</script>`;

describe("service/core/timestamp in a real browser (Debian Chromium, WebCrypto)", function () {
  this.timeout(120_000);
  let browser: Browser;
  let server: Server;
  let origin: string;

  before(async () => {
    const bundle = await build({
      entryPoints: [new URL("../../service/core/timestamp.ts", import.meta.url).pathname],
      bundle: true,
      platform: "browser",
      format: "iife",
      globalName: "evidenceTimestamp",
      write: false,
      logLevel: "silent",
    });
    const script = bundle.outputFiles[0]!.text;
    // Loopback is a secure context, so the page has crypto.subtle as a deployed page over HTTPS does.
    server = createServer((req, res) => {
      if (req.url === "/timestamp.js") res.writeHead(200, { "content-type": "text/javascript" }).end(script);
      else res.writeHead(200, { "content-type": "text/html" }).end(PAGE);
    });
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    server?.close();
  });

  it("gives every time-stamp vector the same verdict as in node", async () => {
    const vectors = loadVector<{ data: string; cases: TokenCase[] }>("timestamp/tokens.json");
    const pems: Record<string, string> = {};
    for (const name of new Set(vectors.cases.flatMap((c) => c.trust))) {
      pems[name] = readFileSync(new URL(`../vectors/timestamp/${name}`, import.meta.url), "utf8");
    }
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(e.message));
    await page.goto(origin);
    const outcomes = await page.evaluate(
      ({ vectors, pems }) => (globalThis as any).verifyVectors(vectors, pems) as Promise<Outcome[]>,
      { vectors, pems },
    );
    await page.close();
    expect(errors).to.deep.equal([]);
    expect(outcomes).to.deep.equal(
      vectors.cases.map((c) => ({
        desc: c.desc,
        status: c.want.status,
        code: c.want.code,
        development: c.want.development ?? false,
      })),
    );
  });
});
