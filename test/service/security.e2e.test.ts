import { expect } from "chai";
import { readFileSync } from "node:fs";
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

  const digests = (key: string) =>
    api(service.url, key).postJson("/api/v1/evidence/digests", {
      items: [{ contentHash: sha256Hex(`rate ${Math.random()}`) }],
    });

  it("limits submissions per API key: 429 with Retry-After past the limit, other keys unaffected", async () => {
    const statuses = [];
    for (let i = 0; i < 6; i++) statuses.push((await digests(service.apiKey!)).status);
    expect(statuses).to.deep.equal([201, 201, 201, 201, 201, 429]);
    const limited = await digests(service.apiKey!);
    expect(limited.body.code).to.equal("RATE_LIMITED");
    expect(Number(limited.headers.get("retry-after"))).to.be.within(1, 60);
    expect((await digests(otherKey)).status).to.equal(201);
  });

  it("sends security headers on API answers and pages", async () => {
    for (const route of ["/healthz", "/verify", "/api/v1/evidence/AAAAAAAAAAAAAAAAAAAAAA"]) {
      const res = await fetch(`${service.url}${route}`);
      expect(res.headers.get("x-content-type-options"), route).to.equal("nosniff");
      expect(res.headers.get("x-frame-options"), route).to.equal("DENY");
      expect(res.headers.get("referrer-policy"), route).to.equal("no-referrer");
      expect(res.headers.get("content-security-policy"), route).to.include("frame-ancestors 'none'");
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
    for (const route of ["/api/v1/evidence", "/api/v1/evidence/digests"]) {
      const res = await fetch(`${service.url}${route}`, { method: "OPTIONS", headers: origin });
      expect(res.headers.get("access-control-allow-origin"), route).to.equal(null);
    }
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
    const db = readFileSync(path.join(dataDir, "evidence.db"));
    expect(db.includes(Buffer.from(otherKey)), "API keys are stored only as hashes").to.equal(false);
  });
});
