import { expect } from "chai";
import { copyFileSync, readdirSync, readFileSync, rmSync } from "node:fs";
import path from "node:path";
import { JsonRpcChainReader, verifyCertificate } from "../../service/core/index.ts";
import { isAlive } from "../../service/process-alive.ts";
import {
  api,
  cleanUpDataDir,
  freePort,
  startServiceProcess,
  tempDir,
  until,
  type ServiceProcess,
} from "../helpers/processes.ts";
import { sha256Hex } from "../helpers/hash.ts";

/**
 * The embedded chain going wrong under the service: its node dying, and its state rolled
 * back (a backup restored, a snapshot lost). Real service, real chain node, real files.
 */
describe("the embedded chain's failures under the service (real processes)", function () {
  this.timeout(180_000);
  let service: ServiceProcess;
  let dataDir: string;
  let chainUrl: string;
  let env: Record<string, string>;

  before(async () => {
    dataDir = tempDir("chain-recovery");
    const chainPort = await freePort();
    chainUrl = `http://127.0.0.1:${chainPort}`;
    env = { LOCAL_CHAIN_PORT: String(chainPort), TSA_URLS: "" };
    service = await startServiceProcess(dataDir, env);
  });

  after(async () => {
    await service?.stop();
    await cleanUpDataDir(dataDir);
  });

  async function certify(label: string): Promise<{ id: string; certificate: any }> {
    const { body } = await api(service.url, service.apiKey).postJson("/api/v1/evidence/digests", {
      items: [{ contentHash: sha256Hex(label) }],
    });
    const id = body.items[0].id;
    return { id, certificate: await api(service.url).anchored(id) };
  }

  it("restarts a chain node killed alone, says so in health, and goes on anchoring", async () => {
    await certify("before the node dies");
    const pid = Number(readFileSync(path.join(dataDir, "chain", "anvil.pid"), "utf8"));
    process.kill(pid, "SIGKILL");
    const health = await until(
      async () => {
        const { body } = await api(service.url).get("/healthz");
        return body.chain.node?.restarts >= 1 && body.chain.node?.state === "running" && body.chain.reachable
          ? body
          : undefined;
      },
      "the node to be restarted",
      60_000,
    );
    expect(health.chain.node.lastExit).to.match(/SIGKILL/);
    expect(isAlive(pid)).to.equal(false);
    const after = await certify("after the node was restarted");
    expect((await verifyCertificate(after.certificate, { chain: new JsonRpcChainReader(chainUrl) })).verdict).to.equal(
      "valid",
    );
  });

  it("finds anchors a rolled-back chain lost, says so, anchors them again, and keeps both certificates", async () => {
    const kept = await certify("anchored before the backup");
    // The backup: the newest durable snapshot now, which holds `kept`'s anchor.
    const snapshots = path.join(dataDir, "chain", "snapshots");
    const newest = () =>
      readdirSync(snapshots)
        .filter((f) => f.startsWith("snapshot-"))
        .sort()
        .at(-1)!;
    const backup = path.join(dataDir, "backup.json");
    copyFileSync(path.join(snapshots, newest()), backup);
    const lost = await certify("anchored after the backup");
    await service.stop();

    // Restore the backup: the chain goes back to before `lost` was anchored.
    for (const f of readdirSync(snapshots)) rmSync(path.join(snapshots, f));
    copyFileSync(backup, path.join(snapshots, "snapshot-0000000001-block-1.json"));
    service = await startServiceProcess(dataDir, env);

    const chain = new JsonRpcChainReader(chainUrl);
    const view = await until(
      async () => {
        const { body } = await api(service.url).get(`/api/v1/evidence/${lost.id}`);
        return body.history?.length === 2 && body.status === "anchored" ? body : undefined;
      },
      "the lost item to be certified again",
      90_000,
    );
    expect(view.history.map((h: any) => [h.reason, h.current])).to.deep.equal([
      ["anchored", false],
      ["re-anchored", true],
    ]);
    expect(view.notice).to.match(/anchored again after the chain lost its first anchor/);
    expect((await verifyCertificate(view.certificate, { chain })).verdict, "the new certificate").to.equal("valid");
    expect((await verifyCertificate(lost.certificate, { chain })).verdict, "the lost one").to.equal("invalid");
    const old = await api(service.url).get(`/api/v1/evidence/${lost.id}/certificates/0`);
    expect(old.body).to.deep.equal(lost.certificate);
    // Only a plain decimal names a certificate of the history; an evidence found says so.
    for (const index of ["-0", "0x0", "%20", "00", "2"]) {
      const other = await api(service.url).get(`/api/v1/evidence/${lost.id}/certificates/${index}`);
      expect([other.status, other.body.detail], index).to.deep.equal([
        404,
        `the evidence has no certificate ${decodeURIComponent(index)}`,
      ]);
    }

    const { body: health } = await api(service.url).get("/healthz");
    expect(health.reconciliation.mismatches).to.be.at.least(1);
    expect(health.reconciliation.batches.length).to.equal(health.reconciliation.mismatches);
    expect(service.output()).to.match(/"level":50.*lost its anchor/);
    const { body: untouched } = await api(service.url).get(`/api/v1/evidence/${kept.id}`);
    expect(untouched.history.map((h: any) => h.reason)).to.deep.equal(["anchored"]);
    expect((await verifyCertificate(kept.certificate, { chain })).verdict).to.equal("valid");
  });
});
