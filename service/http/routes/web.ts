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
    entryPoints: { verify: fileOf("src/verify-page.ts"), upload: fileOf("src/upload-page.ts") },
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
    res.type(asset.type).set("Cache-Control", "no-cache").send(asset.body);
  });
  return router;
}

function fileOf(relative: string): string {
  return new URL(relative, WEB).pathname;
}
