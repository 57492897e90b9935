import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import express from "express";
import { CONTENT_SECURITY_POLICY } from "../../service/http/app.ts";
import { webRoutes } from "../../service/http/routes/web.ts";
import { listenOnLoopback } from "./loopback-server.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

/**
 * A page for driving web/src/file-hash.ts in a browser: the service's own web routes (so
 * /assets/hash-worker.js is the bundle and policy the service serves), and a page under the
 * pages' policy with one file input and `window.hashFileWithEngine`. Real HTTP on loopback.
 */
export async function startHashPage(): Promise<{ url: string; close: () => Promise<void> }> {
  const bundle = await build({
    stdin: {
      contents: `import { hashFileWithEngine } from "./web/src/file-hash.ts";
        globalThis.hashFileWithEngine = hashFileWithEngine;`,
      resolveDir: ROOT,
      loader: "ts",
    },
    bundle: true,
    format: "esm",
    platform: "browser",
    write: false,
    logLevel: "silent",
  });
  const script = Buffer.from(bundle.outputFiles[0]!.contents);
  const app = express();
  app.use(await webRoutes());
  app.get("/hash-page", (_req, res) => {
    res
      .set("Content-Security-Policy", CONTENT_SECURITY_POLICY)
      .type("html")
      .send(
        `<!doctype html><meta charset="utf-8"><input type="file" id="file"><script type="module" src="/hash-page.js"></script>`,
      );
  });
  app.get("/hash-page.js", (_req, res) => {
    res.set("Content-Security-Policy", CONTENT_SECURITY_POLICY).type("text/javascript").send(script);
  });
  const { url, close } = await listenOnLoopback(app);
  return { url: `${url}/hash-page`, close };
}

/** In the page: hashes the file chosen in #file, recording each progress report. */
export const HASH_CHOSEN_FILE = async () => {
  const input = document.querySelector("#file") as HTMLInputElement;
  const hash = (
    globalThis as unknown as {
      hashFileWithEngine: (f: File, p: (n: number) => void) => Promise<{ digest: string; engine: string }>;
    }
  ).hashFileWithEngine;
  const progress: number[] = [];
  const started = performance.now();
  const { digest, engine } = await hash(input.files![0]!, (n) => progress.push(n));
  return { digest, engine, progress, seconds: (performance.now() - started) / 1000 };
};
