import { expect } from "chai";
import { lstatSync, readdirSync } from "node:fs";
import path from "node:path";
import { gate, serve, startSite, type Site } from "../helpers/capture-sites.ts";
import { memberServiceOn } from "../helpers/consortium.ts";
import {
  api,
  cleanUpDataDir,
  startChainNode,
  startServiceProcess,
  tempDir,
  until,
  type ChainNode,
  type ServiceProcess,
} from "../helpers/processes.ts";
import { sha256Hex } from "../helpers/hash.ts";

const HEALTH_TOKEN = "operators-only-7f3a9c";

/** Every entry under `dir` with its type and permission bits, `dir` itself included. */
function modesUnder(dir: string): { path: string; kind: "file" | "directory" | "other"; mode: number }[] {
  const entries = [{ path: ".", kind: "directory" as const, mode: lstatSync(dir).mode & 0o777 }];
  for (const name of readdirSync(dir, { recursive: true }) as string[]) {
    const stat = lstatSync(path.join(dir, name));
    const kind = stat.isFile() ? "file" : stat.isDirectory() ? "directory" : "other";
    entries.push({ path: name, kind, mode: stat.mode & 0o777 } as never);
  }
  return entries;
}

/** The entries whose permissions let anyone but the owner in: files must be 0600, directories 0700, anything else owner-only. */
function tooOpen(dir: string): string[] {
  return modesUnder(dir)
    .filter((e) =>
      e.kind === "file" ? e.mode !== 0o600 : e.kind === "directory" ? e.mode !== 0o700 : (e.mode & 0o077) !== 0,
    )
    .map((e) => `${e.mode.toString(8)} ${e.kind} ${e.path}`);
}

describe("what the service exposes (real service processes)", function () {
  this.timeout(180_000);

  describe("on the embedded chain, without HEALTH_TOKEN", () => {
    let service: ServiceProcess;
    let dataDir: string;
    let site: Site;
    let held: ReturnType<typeof gate>;

    before(async () => {
      held = gate(serve("text/html; charset=utf-8", "<!doctype html><title>held</title><p>a page"));
      site = await startSite({ "/held": held.route });
      dataDir = tempDir("exposure");
      service = await startServiceProcess(dataDir, { CAPTURE_ALLOW: "127.0.0.1/32" });
    });

    after(async () => {
      held?.open();
      await service?.stop();
      await site?.close();
      await cleanUpDataDir(dataDir);
    });

    it("shows the whole health model on loopback, and the public one to a request forwarded by a proxy", async () => {
      const direct = await api(service.url).get("/healthz");
      expect(direct.body).to.include.keys("problems", "anchoring", "reconciliation", "timestamps", "evidence");
      const forwarded = await fetch(`${service.url}/healthz`, { headers: { "x-forwarded-for": "203.0.113.7" } });
      const body = (await forwarded.json()) as Record<string, any>;
      expect(Object.keys(body).sort()).to.deep.equal(["chain", "status"]);
      expect(Object.keys(body.chain).sort()).to.deep.equal(["chainId", "contract", "reachable"]);
    });

    it("keeps every file under DATA_DIR at 0600 and every directory at 0700: database, keys, objects, chain snapshots and captures", async () => {
      const client = api(service.url, service.apiKey);
      const form = new FormData();
      form.append("file", new Blob(["an uploaded file"]), "upload.txt");
      const uploaded = await client.postForm("/api/v1/evidence", form);
      await client.anchored(uploaded.body.items[0].id);
      // A capture held while its page loads: its working directory is there to be seen.
      const capture = await client.postJson("/api/v1/captures", { url: `http://127.0.0.1:${site.port}/held` });
      expect(capture.status).to.equal(202);
      const workDir = path.join(dataDir, "captures", capture.body.id);
      await until(
        async () => (readdirSync(path.join(dataDir, "captures")).length > 0 ? true : undefined),
        "the capture to start",
      );
      const present = (p: string) =>
        modesUnder(dataDir).some((e) => e.path === p || e.path.startsWith(`${p}${path.sep}`));
      for (const p of [
        "evidence.db",
        "keys",
        "objects",
        path.join("chain", "snapshots"),
        "captures",
        path.relative(dataDir, workDir),
      ]) {
        expect(present(p), `${p} exists`).to.equal(true);
      }
      expect(tooOpen(dataDir), "while capturing").to.deep.equal([]);
      held.open();
      await client.anchored(capture.body.id, 120_000);
      expect(tooOpen(dataDir), "after the capture").to.deep.equal([]);
    });
  });

  describe("on an external chain, with HEALTH_TOKEN", () => {
    let chain: ChainNode;
    let service: ServiceProcess;
    let dataDir: string;
    let certificate: any;

    before(async () => {
      chain = await startChainNode({ chainId: 6161 });
      dataDir = tempDir("exposure-token");
      service = await startServiceProcess(dataDir, { ...(await memberServiceOn(chain.url, dataDir)), HEALTH_TOKEN });
      const client = api(service.url, service.apiKey);
      const { body } = await client.postJson("/api/v1/evidence/digests", {
        items: [{ contentHash: sha256Hex("exposure") }],
      });
      certificate = await client.anchored(body.items[0].id);
    });

    after(async () => {
      await service?.stop();
      await chain?.stop();
      await cleanUpDataDir(dataDir);
    });

    it("shows exactly {status, chain: {chainId, contract, reachable}} without the token, even on loopback, and the whole model with it", async () => {
      const anonymous = await api(service.url).get("/healthz");
      expect(anonymous.body).to.deep.equal({
        status: "ok",
        chain: { chainId: 6161, contract: certificate.batch.anchor.contract, reachable: true },
      });
      const wrong = await api(service.url, "not-the-token").get("/healthz");
      expect(Object.keys(wrong.body).sort()).to.deep.equal(["chain", "status"]);
      const operator = await api(service.url, HEALTH_TOKEN).get("/healthz");
      expect(operator.body).to.include.keys("problems", "anchoring", "reconciliation", "timestamps", "evidence");
      expect(operator.body.evidence.anchored).to.be.at.least(1);
    });

    it("names no internal address in an anonymous answer while its chain is down: /api/v1/verify and /rpc", async () => {
      const port = new URL(chain.url).port;
      await chain.stop();
      const verified = await api(service.url).postJson("/api/v1/verify", { certificate });
      expect(verified.status).to.equal(200);
      expect(verified.body.verdict).to.equal("indeterminate");
      const rpc = await api(service.url).postJson("/rpc", { jsonrpc: "2.0", id: 1, method: "eth_chainId", params: [] });
      expect([rpc.status, rpc.body.code]).to.deep.equal([502, "CHAIN_UNREACHABLE"]);
      for (const [what, body] of [
        ["verify", verified.body],
        ["rpc", rpc.body],
      ] as const) {
        const text = JSON.stringify(body);
        expect(text, what).not.to.match(/127\.0\.0\.1|localhost|::1|https?:\/\//);
        expect(text, what).not.to.include(port);
      }
      // The reader is named for what it is.
      expect(JSON.stringify(verified.body)).to.include("the service's chain node");
    });
  });
});
