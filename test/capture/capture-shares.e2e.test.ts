import { expect } from "chai";
import { gate, serve, startSite, type Site } from "../helpers/capture-sites.ts";
import {
  api,
  cleanUpDataDir,
  runCli,
  startServiceProcess,
  tempDir,
  type ServiceProcess,
} from "../helpers/processes.ts";

/**
 * Capture slots (CAPTURE_CONCURRENCY running + CAPTURE_QUEUE waiting) are shared by every
 * account: one account may hold at most half of them, so another can always be served.
 */
describe("capture slots shared between accounts (real service, Chromium, a page that does not answer)", function () {
  this.timeout(120_000);
  let site: Site;
  let stalled: ReturnType<typeof gate>;
  let service: ServiceProcess;
  let dataDir: string;

  before(async () => {
    stalled = gate(serve("text/html; charset=utf-8", "<!doctype html><title>slow</title>"));
    site = await startSite({ "/slow": stalled.route });
    dataDir = tempDir("capture-shares");
    // Four slots: one capture at a time, three waiting; an account may hold two.
    service = await startServiceProcess(dataDir, {
      CAPTURE_ALLOW: "127.0.0.1/32",
      CAPTURE_CONCURRENCY: "1",
      CAPTURE_QUEUE: "3",
    });
  });

  after(async () => {
    stalled?.open();
    await service?.stop();
    await site?.close();
    if (dataDir) await cleanUpDataDir(dataDir);
  });

  it("refuses an account its third capture while another account still gets its own, and everyone once every slot is taken", async () => {
    const created = await runCli(["accounts", "create", "--name", "另一个权利人", "--json"], { DATA_DIR: dataDir });
    expect(created.code, created.stderr).to.equal(0);
    const first = api(service.url, service.apiKey);
    const second = api(service.url, JSON.parse(created.stdout).apiKey);
    const capture = (client: typeof first, n: number) =>
      client.postJson("/api/v1/captures", { url: `http://127.0.0.1:${site.port}/slow?${n}` });

    // Asked together, the first account's three requests are counted together.
    const asked = await Promise.all([1, 2, 3].map((n) => capture(first, n)));
    expect(asked.map((r) => r.status).sort()).to.deep.equal([202, 202, 429]);
    const refused = asked.find((r) => r.status === 429)!;
    expect(refused.body.code).to.equal("CAPTURE_BUSY");
    expect(refused.body.detail).to.match(/this account's captures already take 2 of the 4 capture slots/);
    expect(Number(refused.headers.get("retry-after"))).to.be.greaterThan(0);

    expect((await capture(second, 4)).status, "another account's capture").to.equal(202);
    expect((await capture(second, 5)).status, "its second").to.equal(202);
    // Four slots taken: a third account is told every slot is taken.
    const third = await runCli(["accounts", "create", "--name", "第三个权利人", "--json"], { DATA_DIR: dataDir });
    const full = await capture(api(service.url, JSON.parse(third.stdout).apiKey), 6);
    expect([full.status, full.body.code, full.body.detail]).to.deep.equal([
      429,
      "CAPTURE_BUSY",
      "every capture slot is taken",
    ]);
  });
});
