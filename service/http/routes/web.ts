import { readFileSync } from "node:fs";
import { build } from "esbuild";
import { Router } from "express";

const WEB = new URL("../../../web/", import.meta.url);

/**
 * The web pages: `/` (submitting evidence) and `/verify` (public verification). Their
 * scripts are bundled once at start with esbuild from `web/src` and the shared
 * `service/core` — the same verifier the service and the CLI run. Everything is served
 * from here: no CDN, no external font.
 */
export async function webRoutes(): Promise<Router> {
  const result = await build({
    entryPoints: {
      verify: fileOf("src/verify-page.ts"),
      upload: fileOf("src/upload-page.ts"),
      "hash-worker": fileOf("src/hash-worker.ts"),
    },
    bundle: true,
    format: "esm",
    // The RFC 3161 verifier (pkijs) is loaded only for a certificate that carries tokens.
    splitting: true,
    platform: "browser",
    target: "es2022",
    minify: true,
    write: false,
    outdir: "/assets",
    logLevel: "silent",
  });
  const assets = new Map<string, { type: string; body: Buffer }>();
  for (const out of result.outputFiles) {
    assets.set(out.path.replace("/assets/", ""), { type: "text/javascript", body: Buffer.from(out.contents) });
  }
  assets.set("styles.css", { type: "text/css", body: readFileSync(fileOf("styles.css")) });
  const pages = { "/": readFileSync(fileOf("index.html")), "/verify": readFileSync(fileOf("verify.html")) };

  const router = Router();
  for (const [route, body] of Object.entries(pages)) {
    router.get(route, (_req, res) => {
      res.type("html").set("Cache-Control", "no-cache").send(body);
    });
  }
  router.get("/favicon.ico", (_req, res) => {
    res.status(204).end();
  });
  router.get("/assets/:name", (req, res, next) => {
    const asset = assets.get(req.params.name);
    if (!asset) return next();
    res.type(asset.type).set("Cache-Control", "no-cache");
    if (req.params.name === "hash-worker.js") res.set("Content-Security-Policy", HASH_WORKER_POLICY);
    res.send(asset.body);
  });
  return router;
}

/**
 * The policy of the file-hashing worker alone. A dedicated worker is governed by the policy
 * delivered with its own script (CSP Level 3, "Initialize a global object's CSP list"),
 * not by the page's; so only this response allows 'wasm-unsafe-eval', which hash-wasm needs to
 * compile its WebAssembly SHA-256. That is safe here: 'wasm-unsafe-eval' permits compiling
 * WebAssembly modules, never eval() or new Function() of JavaScript; the worker has no DOM to
 * inject into; it loads nothing but itself ('self') and fetches nothing (default-src 'none').
 * The pages keep their strict policy (service/http/app.ts), without any 'unsafe-' source.
 */
const HASH_WORKER_POLICY = "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'";

function fileOf(relative: string): string {
  return new URL(relative, WEB).pathname;
}
