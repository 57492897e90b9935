import { mkdir, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import type { Certificate } from "../core/index.ts";
import { loadConfig } from "../config.ts";
import { sha256File } from "../intake/file-digest.ts";
import { EXIT, UsageError } from "./exit.ts";

// Each command imports what it needs when it runs: `evidence hash` and `evidence verify`
// then start without loading the service (express, SQLite, esbuild).
const lazy = {
  server: () => import("../server.ts"),
  accounts: () => import("../accounts.ts"),
  store: () => import("../store/evidence-store.ts"),
  core: () => import("../core/index.ts"),
  verify: () => import("./verify-command.ts"),
  client: async () => (await import("./service-client.ts")).ServiceClient,
};

type Values = Record<string, string | boolean | undefined>;

export interface Command {
  summary: string;
  usage: string;
  options: Record<string, { type: "string" | "boolean"; short?: string; multiple?: boolean }>;
  run(values: Values, positionals: string[]): Promise<number>;
}

const serverOptions = {
  server: { type: "string" },
  "api-key": { type: "string" },
  json: { type: "boolean" },
} as const;

const SERVER_HELP = `  --server URL     the service (default $EVIDENCE_SERVER or http://127.0.0.1:8080)
  --api-key KEY    the API key (default $EVIDENCE_API_KEY)
  --json           machine-readable output`;

export const commands: Record<string, Command> = {
  serve: {
    summary: "run the service (what npm start runs)",
    usage: `Usage: evidence serve

Runs the service with its configuration from the environment (see README): with no
configuration, a local chain under ./data, the contract deployed on first start, a
development account, and http://127.0.0.1:8080.`,
    options: {},
    async run() {
      const config = loadConfig();
      const service = await (await lazy.server()).startService(config);
      if (service.devApiKey) {
        console.log(`Development account created. Its API key (shown once, keep it):\n\n  ${service.devApiKey}\n`);
      }
      console.log(`  chain ${service.chainId} at ${service.chainUrl}, contract ${service.contract}`);
      console.log(`  issuer ${service.issuer}, data in ${config.dataDir}`);
      // Last, so that whoever waits for this line has everything above it.
      console.log(`Evidence Anchor serving on ${service.url}`);
      await new Promise<void>((resolve) => {
        const stop = () => resolve();
        process.once("SIGINT", stop);
        process.once("SIGTERM", stop);
      });
      console.log("stopping…");
      await service.stop();
      return EXIT.ok;
    },
  },

  "accounts create": {
    summary: "create an account and print its API key once",
    usage: `Usage: evidence accounts create --name NAME [--json]

Creates an account in the service's data directory ($DATA_DIR, default ./data) and
prints its API key. The key is shown only this once; only its hash is stored.`,
    options: { name: { type: "string" }, json: { type: "boolean" } },
    async run(values) {
      if (typeof values.name !== "string") throw new UsageError("--name is required");
      const [{ EvidenceStore }, { createAccount }] = await Promise.all([lazy.store(), lazy.accounts()]);
      const store = new EvidenceStore(path.join(loadConfig().dataDir, "evidence.db"));
      try {
        const { account, apiKey } = createAccount(store, values.name);
        if (values.json) console.log(JSON.stringify({ id: account.id, name: account.name, apiKey }));
        else
          console.log(
            `Account ${account.id} (${account.name}) created.\nAPI key (shown once, keep it):\n\n  ${apiKey}\n`,
          );
      } finally {
        store.close();
      }
      return EXIT.ok;
    },
  },

  hash: {
    summary: "print a file's SHA-256, as sha256sum does",
    usage: `Usage: evidence hash <file…> [--json]

Prints each file's SHA-256 as "<hash>  <file>", the form sha256sum prints. The file is
streamed, never loaded whole.`,
    options: { json: { type: "boolean" } },
    async run(values, files) {
      if (files.length === 0) throw new UsageError("name at least one file");
      for (const file of files) {
        const contentHash = await sha256File(file);
        console.log(values.json ? JSON.stringify({ file, contentHash }) : `${contentHash}  ${file}`);
      }
      return EXIT.ok;
    },
  },

  verify: {
    summary: "verify a certificate against the chain (needs no service)",
    usage: `Usage: evidence verify <cert.json> [--file F | --sha256 HEX] [--rpc URL] [--json]

Checks a certificate against the chain itself, over JSON-RPC, with no service involved:
  --file F       the original file: its SHA-256 must equal the certified content hash
  --sha256 HEX   the file's SHA-256, when only the hash is at hand
  --rpc URL      a node of the certificate's chain (default $EVIDENCE_RPC_URL or http://127.0.0.1:8545)
  --json         machine-readable output
Exit status: 0 valid, 1 invalid or not verifiable, 2 usage.`,
    options: {
      file: { type: "string" },
      sha256: { type: "string" },
      rpc: { type: "string" },
      json: { type: "boolean" },
    },
    async run(values, positionals) {
      if (positionals.length !== 1) throw new UsageError("name exactly one certificate file");
      if (values.file !== undefined && values.sha256 !== undefined)
        throw new UsageError("give --file or --sha256, not both");
      if (typeof values.sha256 === "string" && !/^[0-9a-fA-F]{64}$/.test(values.sha256)) {
        throw new UsageError("--sha256 must be 64 hex characters");
      }
      const rpc = (values.rpc as string | undefined) ?? process.env.EVIDENCE_RPC_URL ?? "http://127.0.0.1:8545";
      const [{ JsonRpcAnchorReader }, { printVerification, verifyFile }] = await Promise.all([
        lazy.core(),
        lazy.verify(),
      ]);
      const result = await verifyFile({
        certificatePath: positionals[0]!,
        filePath: values.file as string | undefined,
        sha256: values.sha256 as string | undefined,
        chain: new JsonRpcAnchorReader(rpc),
      });
      printVerification(result, { json: values.json === true, rpc });
      return result.valid ? EXIT.ok : EXIT.failed;
    },
  },

  submit: {
    summary: "upload evidence files; --wait saves their certificates",
    usage: `Usage: evidence submit <file…> [--title T] [--source-url URL] [--note N] [--wait] [--out DIR]

Uploads each file; the service hashes it, batches it and anchors it.
  --title T, --source-url URL, --note N   recorded with each file
  --wait         wait until anchored and save each certificate as <name>.evidence.json
  --out DIR      where certificates are saved (default: the current directory)
${SERVER_HELP}`,
    options: {
      ...serverOptions,
      title: { type: "string" },
      "source-url": { type: "string" },
      note: { type: "string" },
      wait: { type: "boolean" },
      out: { type: "string" },
    },
    async run(values, files) {
      if (files.length === 0) throw new UsageError("name at least one file");
      const client = (await lazy.client()).from(values);
      const details = {
        title: values.title as string | undefined,
        sourceUrl: values["source-url"] as string | undefined,
        note: values.note as string | undefined,
      };
      const submitted: { file: string; id: string; contentHash: string }[] = [];
      for (const file of files) {
        const size = (await stat(file)).size;
        const progress = values.json ? undefined : progressPrinter(path.basename(file), size);
        const item = await client.upload(file, details, progress);
        submitted.push({ file, id: item.id, contentHash: item.contentHash });
        if (!values.json) console.log(`${item.contentHash}  ${file}  → evidence ${item.id} (${item.status})`);
      }
      if (!values.wait) {
        if (values.json) console.log(JSON.stringify({ items: submitted }));
        return EXIT.ok;
      }
      const outDir = (values.out as string | undefined) ?? ".";
      await mkdir(outDir, { recursive: true });
      const saved = [];
      for (const s of submitted) {
        const certificate = await client.waitForCertificate(s.id);
        const target = path.join(outDir, `${path.basename(s.file)}.evidence.json`);
        await writeFile(target, `${JSON.stringify(certificate, null, 2)}\n`);
        saved.push({ ...s, certificate: target });
        if (!values.json) console.log(`anchored: ${s.file} → ${target}`);
      }
      if (values.json) console.log(JSON.stringify({ items: saved }));
      return EXIT.ok;
    },
  },

  status: {
    summary: "show an evidence item's status",
    usage: `Usage: evidence status <id> [--server URL] [--json]\n\n${SERVER_HELP}`,
    options: serverOptions,
    async run(values, ids) {
      if (ids.length !== 1) throw new UsageError("name exactly one evidence id");
      const view = await (await lazy.client()).from(values).status(ids[0]!);
      if (values.json) console.log(JSON.stringify(view));
      else {
        console.log(`${view.id}: ${view.status}`);
        console.log(`  content hash  ${view.record.contentHash}`);
        console.log(`  submitted at  ${view.record.submittedAt}`);
        if (view.record.fileName) console.log(`  file name     ${view.record.fileName}`);
        if (view.certificate)
          console.log(`  anchored at   ${new Date(view.certificate.anchor.timestamp * 1000).toISOString()}`);
      }
      return EXIT.ok;
    },
  },

  certificate: {
    summary: "download an evidence item's certificate",
    usage: `Usage: evidence certificate <id> [--out DIR] [--server URL]

Saves the certificate as <id>.evidence.json (in DIR), or prints it with --json.
${SERVER_HELP}`,
    options: { ...serverOptions, out: { type: "string" } },
    async run(values, ids) {
      if (ids.length !== 1) throw new UsageError("name exactly one evidence id");
      const certificate: Certificate = await (await lazy.client()).from(values).certificate(ids[0]!);
      if (values.json) {
        console.log(JSON.stringify(certificate, null, 2));
        return EXIT.ok;
      }
      const outDir = (values.out as string | undefined) ?? ".";
      await mkdir(outDir, { recursive: true });
      const target = path.join(outDir, (await lazy.core()).certificateFileName(certificate));
      await writeFile(target, `${JSON.stringify(certificate, null, 2)}\n`);
      console.log(target);
      return EXIT.ok;
    },
  },
};

function progressPrinter(name: string, total: number): ((sent: number) => void) | undefined {
  if (!process.stderr.isTTY || total < 8 * 1024 * 1024) return undefined;
  let last = -1;
  return (sent) => {
    const pct = Math.floor((sent / total) * 100);
    if (pct === last) return;
    last = pct;
    process.stderr.write(`\r${name}: ${pct}% of ${(total / 1024 ** 2).toFixed(1)} MiB`);
    if (sent >= total) process.stderr.write("\n");
  };
}
