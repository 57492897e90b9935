import { createHash } from "node:crypto";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { Router } from "express";
import { STANDALONE_VERIFIER_PATH as VERIFIER_PATH } from "../../core/api.ts";
import { serviceVersion } from "../../version.ts";

/** The oldest Node.js the standalone verifier runs on. */
export const VERIFIER_NODE = "20";

/**
 * The repository's root: the bundle's module comments name files relative to it, so the same
 * code gives the same bytes (and SHA-256) whatever directory the service was started from.
 */
const ROOT = fileURLToPath(new URL("../../../", import.meta.url));

interface Built {
  body: Buffer;
  sha256: string;
}

/**
 * The verifier as one JavaScript file with no dependencies, for mediators and courts: `node
 * evidence-verify.mjs verify X.pdf --file F --rpc URL` with any Node.js from 20 on, without
 * installing anything or asking this service. It is `evidence verify` and `evidence hash`
 * (service/cli/verifier.ts) bundled by esbuild from the same `service/core` the service, the
 * CLI and the page run, left readable (not minified), with its dependencies' licences. Built
 * at its first request, then kept; a failed build is tried again at the next.
 */
export function verifierRoutes(): Router {
  let built: Promise<Built> | undefined;
  const verifier = (): Promise<Built> => {
    built ??= buildVerifier().catch((e: unknown) => {
      built = undefined;
      throw e;
    });
    return built;
  };
  const router = Router();
  router.get(VERIFIER_PATH, async (_req, res) => {
    const { body, sha256 } = await verifier();
    res
      .type("text/javascript")
      .set("Content-Disposition", 'attachment; filename="evidence-verify.mjs"')
      .set("Cache-Control", "no-cache")
      .set("Repr-Digest", `sha-256=:${Buffer.from(sha256, "hex").toString("base64")}:`)
      .send(body);
  });
  router.get(`${VERIFIER_PATH}.sha256`, async (_req, res) => {
    const { sha256 } = await verifier();
    res.type("text/plain").set("Cache-Control", "no-cache").send(`${sha256}  evidence-verify.mjs\n`);
  });
  return router;
}

export async function buildVerifier(): Promise<Built> {
  const version = serviceVersion();
  const result = await build({
    stdin: {
      contents: `import { verifierMain } from "./service/cli/verifier.ts";\nprocess.exitCode = await verifierMain(process.argv.slice(2));\n`,
      loader: "ts",
      resolveDir: ROOT,
      sourcefile: "evidence-verify.ts",
    },
    absWorkingDir: ROOT,
    bundle: true,
    platform: "node",
    format: "esm",
    target: `node${VERIFIER_NODE}`,
    define: { EVIDENCE_ANCHOR_VERSION: JSON.stringify(version) },
    banner: {
      js: [
        "#!/usr/bin/env node",
        `// Evidence Anchor verifier ${version}: checks certificates, certificate documents (PDF) and`,
        "// capture packages against the blockchain, with no service. Node.js 20 or later, nothing else:",
        "//   node evidence-verify.mjs verify <certificate> --file <original file> --rpc <node URL>",
        "// Built from the Evidence Anchor verifier (service/core, service/cli); licences at the end.",
      ].join("\n"),
    },
    legalComments: "eof",
    write: false,
    logLevel: "silent",
  });
  const body = Buffer.from(result.outputFiles[0]!.contents);
  return { body, sha256: createHash("sha256").update(body).digest("hex") };
}
