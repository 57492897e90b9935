import { expect } from "chai";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import {
  api,
  cleanUpDataDir,
  runCli,
  startServiceProcess,
  tempDir,
  type ServiceProcess,
} from "../helpers/processes.ts";
import { sha256Hex } from "../helpers/hash.ts";
import { readDatabase } from "../helpers/database.ts";

describe("security controls (a real service process)", function () {
  this.timeout(60_000);
  let service: ServiceProcess;
  let dataDir: string;
  let otherKey: string;

  before(async () => {
    dataDir = tempDir("security");
    service = await startServiceProcess(dataDir, { RATE_LIMIT_PER_MINUTE: "5" });
    const created = await runCli(["accounts", "create", "--name", "second", "--json"], { DATA_DIR: dataDir });
    otherKey = JSON.parse(created.stdout).apiKey;
  });

  after(async () => {
    await service?.stop();
    await cleanUpDataDir(dataDir);
  });

  /** A fresh account's key: each test that spends submission units has its own buckets. */
  const newKey = async (name: string): Promise<string> =>
    JSON.parse((await runCli(["accounts", "create", "--name", name, "--json"], { DATA_DIR: dataDir })).stdout).apiKey;

  const digests = (key: string, n = 1) =>
    api(service.url, key).postJson("/api/v1/evidence/digests", {
      items: Array.from({ length: n }, () => ({ contentHash: sha256Hex(`rate ${Math.random()}`) })),
    });

  it("limits submissions per API key by the items they carry: 429 with Retry-After past the limit, other keys unaffected", async () => {
    // 5 units a minute. A full bucket admits one request larger than itself and is left in
    // debt: 12 items leave it 7 units short, so the next unit is 8 units' time (96 s) away,
    // where counting requests would make it at most 12 s. No timing of the test can pass
    // one for the other.
    const [key, another] = [await newKey("rate"), await newKey("rate-other")];
    expect((await digests(key, 12)).status).to.equal(201);
    const limited = await digests(key, 1);
    expect([limited.status, limited.body.code]).to.deep.equal([429, "RATE_LIMITED"]);
    expect(Number(limited.headers.get("retry-after"))).to.be.within(61, 96);
    expect((await digests(another, 5)).status, "another key has its own bucket").to.equal(201);
  });

  it("sends security headers on API answers and pages", async () => {
    for (const route of ["/healthz", "/verify", "/api/v1/evidence/AAAAAAAAAAAAAAAAAAAAAA"]) {
      const res = await fetch(`${service.url}${route}`);
      expect(res.headers.get("x-content-type-options"), route).to.equal("nosniff");
      expect(res.headers.get("x-frame-options"), route).to.equal("DENY");
      expect(res.headers.get("referrer-policy"), route).to.equal("no-referrer");
      const policy = res.headers.get("content-security-policy")!;
      expect(policy, route).to.include("frame-ancestors 'none'");
      expect(policy, route).to.match(/(^|; )script-src 'self'(;|$)/);
      expect(policy, `${route}: no unsafe-* source`).not.to.match(/unsafe-/);
      expect(res.headers.get("x-powered-by"), route).to.equal(null);
    }
  });

  it("grants CORS to the public routes only: verifying, reading a certificate, the RPC proxy", async () => {
    const origin = { origin: "https://mediator.example" };
    const preflight = await fetch(`${service.url}/api/v1/verify`, {
      method: "OPTIONS",
      headers: { ...origin, "access-control-request-method": "POST", "access-control-request-headers": "content-type" },
    });
    expect(preflight.status).to.equal(204);
    expect(preflight.headers.get("access-control-allow-origin")).to.equal("*");
    expect(preflight.headers.get("access-control-allow-headers")).to.equal("content-type");
    const rpc = await fetch(`${service.url}/rpc`, { method: "OPTIONS", headers: origin });
    expect(rpc.headers.get("access-control-allow-origin")).to.equal("*");
    // Reading a certificate (and its status) by its id, from another origin.
    const { body } = await api(service.url, await newKey("cors")).postJson("/api/v1/evidence/digests", {
      items: [{ contentHash: sha256Hex("read from another origin") }],
    });
    const id = body.items[0].id;
    for (const route of [`/api/v1/evidence/${id}`, `/api/v1/evidence/${id}/certificates`]) {
      const read = await fetch(`${service.url}${route}`, { headers: origin });
      expect([read.status, read.headers.get("access-control-allow-origin")], route).to.deep.equal([200, "*"]);
    }
    // A certificate of the history, by its index: its preflight is granted as the others' are.
    const indexed = await fetch(`${service.url}/api/v1/evidence/${id}/certificates/0`, {
      method: "OPTIONS",
      headers: { ...origin, "access-control-request-method": "GET" },
    });
    expect([indexed.status, indexed.headers.get("access-control-allow-origin")]).to.deep.equal([204, "*"]);
    for (const route of [
      "/api/v1/evidence",
      "/api/v1/evidence/digests",
      "/api/v1/evidence/DIGESTS",
      "/API/v1/verify",
    ]) {
      const res = await fetch(`${service.url}${route}`, { method: "OPTIONS", headers: origin });
      expect(res.headers.get("access-control-allow-origin"), route).to.equal(null);
    }
    // A case variant of the submission route is no submission route: it has the shape of an
    // evidence id's, which takes GET only (405), so no grant and no submission.
    const variant = await fetch(`${service.url}/api/v1/evidence/DIGESTS`, {
      method: "POST",
      headers: { ...origin, authorization: `Bearer ${otherKey}`, "content-type": "application/json" },
      body: JSON.stringify({ items: [{ contentHash: sha256Hex("case variant") }] }),
    });
    expect([variant.status, variant.headers.get("access-control-allow-origin")]).to.deep.equal([405, null]);
  });

  it("writes no API key and no private key to its log", async () => {
    await digests(otherKey);
    await api(service.url, "W".repeat(43)).postJson("/api/v1/evidence/digests", { items: [] });
    const log = service.output();
    // The development key is printed once, at the start that created it, for its owner.
    expect(log.split(service.apiKey!).length - 1).to.equal(1);
    expect(log).not.to.include(otherKey);
    expect(log).not.to.include("W".repeat(43));
    const issuerKey = readFileSync(path.join(dataDir, "keys", "issuer.key"), "utf8").trim();
    expect(log).not.to.include(issuerKey.slice(2));
    // Read through SQLite, so rows still in the write-ahead log count too.
    const accounts = readDatabase<{ key_hash: string }>(dataDir, "SELECT key_hash FROM accounts");
    expect(accounts.map((a) => a.key_hash)).to.include(sha256Hex(otherKey));
    expect(
      JSON.stringify(readDatabase(dataDir, "SELECT * FROM accounts")),
      "API keys are stored only as hashes",
    ).not.to.include(otherKey);
    for (const file of ["evidence.db", "evidence.db-wal"].filter((f) => existsSync(path.join(dataDir, f)))) {
      expect(readFileSync(path.join(dataDir, file)).includes(Buffer.from(otherKey)), file).to.equal(false);
    }
  });
});
