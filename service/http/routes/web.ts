import { readFileSync } from "node:fs";
import path from "node:path";
import { build, type Metafile } from "esbuild";
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
    metafile: true,
    logLevel: "silent",
  });
  const assets = new Map<string, { type: string; body: Buffer }>();
  for (const out of result.outputFiles) {
    assets.set(out.path.replace("/assets/", ""), { type: "text/javascript", body: Buffer.from(out.contents) });
  }
  assets.set("styles.css", { type: "text/css", body: readFileSync(fileOf("styles.css")) });
  const imports = staticImports(result.metafile);
  const pages = {
    "/": withPreloads(readFileSync(fileOf("index.html"), "utf8"), "upload.js", imports),
    "/verify": withPreloads(readFileSync(fileOf("verify.html"), "utf8"), "verify.js", imports),
  };

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

/** Each output's chunks that it imports statically, directly or through another chunk, by file name. */
function staticImports(metafile: Metafile): Map<string, string[]> {
  const direct = new Map<string, string[]>();
  for (const [output, { imports }] of Object.entries(metafile.outputs)) {
    direct.set(
      path.basename(output),
      imports.filter((i) => i.kind === "import-statement" && !i.external).map((i) => path.basename(i.path)),
    );
  }
  const all = new Map<string, string[]>();
  for (const name of direct.keys()) {
    const seen = new Set<string>();
    const visit = (n: string) => {
      for (const c of direct.get(n) ?? []) {
        if (seen.has(c)) continue;
        seen.add(c);
        visit(c);
      }
    };
    visit(name);
    all.set(name, [...seen]);
  }
  return all;
}

/**
 * A page with `<link rel="modulepreload">` for every chunk its script imports: the browser
 * fetches them with the script, instead of only once the script has been parsed.
 */
function withPreloads(html: string, script: string, imports: Map<string, string[]>): string {
  const tag = `<script type="module" src="/assets/${script}"></script>`;
  if (!html.includes(tag)) throw new Error(`the page for ${script} does not load it with ${tag}`);
  const links = (imports.get(script) ?? []).map((c) => `<link rel="modulepreload" href="/assets/${c}" />\n    `);
  return html.replace(tag, `${links.join("")}${tag}`);
}

function fileOf(relative: string): string {
  return new URL(relative, WEB).pathname;
}
