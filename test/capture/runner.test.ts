import { expect } from "chai";
import { existsSync, rmSync } from "node:fs";
import path from "node:path";
import { AddressPolicy } from "../../service/capture/address-policy.ts";
import { CaptureError } from "../../service/capture/errors.ts";
import { dnsServerResolver } from "../../service/capture/guard-proxy.ts";
import { CaptureRunner, type CaptureEvent } from "../../service/capture/runner.ts";
import { gate, serve, startSite, type Gate, type Site } from "../helpers/capture-sites.ts";
import { startDnsServer, type DnsServer } from "../helpers/dns-server.ts";
import { tempDir } from "../helpers/processes.ts";

describe("CaptureRunner", function () {
  this.timeout(60_000);
  let root: string;
  let site: Site;
  let held: Gate;
  let dns: DnsServer;
  let counter = 0;

  const capture = () => ({
    policy: new AddressPolicy({ allow: "127.0.0.1/32" }),
    resolver: dnsServerResolver([dns.address]),
  });
  const job = () => {
    const id = `job-${++counter}`;
    return { id, outDir: path.join(root, id) };
  };

  beforeEach(async () => {
    held = gate(serve("text/html; charset=utf-8", "<title>held</title><p>held until the test lets it go</p>"));
    site = await startSite({ "/held": held.route });
  });

  afterEach(async () => {
    held.open();
    await site.close();
  });

  before(async () => {
    root = tempDir("runner");
    dns = await startDnsServer({});
  });

  after(async () => {
    await dns.stop();
    rmSync(root, { recursive: true, force: true });
  });

  describe("submit", () => {
    it("runs at most `concurrency` captures and queues the rest in order", async () => {
      const runner = new CaptureRunner({ concurrency: 2, queueLimit: 5, capture: capture() });
      const events: CaptureEvent[] = [];
      let capturing = 0;
      let most = 0;
      runner.on("progress", (event) => {
        events.push(event);
        if (event.type === "capturing") most = Math.max(most, ++capturing);
        if (event.type === "done" || event.type === "failed") capturing--;
      });
      const url = `http://127.0.0.1:${site.port}/held`;
      const jobs = [runner.submit({ url }, job()), runner.submit({ url }, job()), runner.submit({ url }, job())];

      await site.requested("/held", 2);
      expect(runner.running).to.equal(2);
      expect(runner.queued).to.equal(1);
      expect(events.filter((e) => e.type !== "stage")).to.deep.equal([
        { type: "capturing", id: jobs[0]!.id },
        { type: "capturing", id: jobs[1]!.id },
        { type: "queued", id: jobs[2]!.id, position: 1 },
      ]);

      held.open();
      const results = await Promise.all(jobs.map((j) => j.result));
      expect(results.map((r) => r.dir)).to.deep.equal(jobs.map((j) => j.outDir));
      expect(most).to.equal(2);
      const order = events.filter((e) => e.type === "capturing" || e.type === "done").map((e) => `${e.type} ${e.id}`);
      expect(order.indexOf(`capturing ${jobs[2]!.id}`)).to.be.greaterThan(
        Math.min(order.indexOf(`done ${jobs[0]!.id}`), order.indexOf(`done ${jobs[1]!.id}`)),
      );
      expect(
        events.filter((e) => e.type === "stage" && e.id === jobs[2]!.id).map((e) => (e as any).stage),
      ).to.deep.equal(["starting", "navigating", "recording", "archiving"]);
    });

    it("rejects a submission beyond the queue with BUSY and a Retry-After estimate", async () => {
      const runner = new CaptureRunner({
        concurrency: 1,
        queueLimit: 1,
        capture: capture(),
        initialEstimateSeconds: 10,
      });
      const url = `http://127.0.0.1:${site.port}/held`;
      const first = runner.submit({ url }, job());
      const second = runner.submit({ url }, job());
      let error: unknown;
      try {
        runner.submit({ url }, job());
      } catch (e) {
        error = e;
      }
      expect(error).to.be.instanceOf(CaptureError);
      expect((error as CaptureError).code).to.equal("BUSY");
      // One running and one waiting, one slot, 10 s each.
      expect((error as CaptureError).retryAfterSeconds).to.equal(20);
      held.open();
      await Promise.all([first.result, second.result]);
      expect(runner.running + runner.queued).to.equal(0);
    });

    it("rejects every submission at once with BROWSER_UNAVAILABLE when Chromium is missing", () => {
      const runner = new CaptureRunner({ capture: { ...capture(), chromiumPath: "/nonexistent/chromium" } });
      for (let i = 0; i < 3; i++) {
        expect(() => runner.submit({ url: `http://127.0.0.1:${site.port}/held` }, job()))
          .to.throw(CaptureError)
          .with.property("code", "BROWSER_UNAVAILABLE");
      }
      expect(runner.running + runner.queued).to.equal(0);
    });

    it("rejects a request with a field out of bounds before queuing it", () => {
      const runner = new CaptureRunner({ capture: capture() });
      expect(() => runner.submit({ url: `http://127.0.0.1:${site.port}/held`, title: "x".repeat(1025) }, job()))
        .to.throw(CaptureError)
        .with.property("code", "INVALID_REQUEST");
      expect(runner.running + runner.queued).to.equal(0);
    });

    it("rejects a URL the policy refuses before queuing it", () => {
      const runner = new CaptureRunner({ capture: { ...capture(), policy: new AddressPolicy() } });
      expect(() => runner.submit({ url: "http://169.254.169.254/" }, job()))
        .to.throw(CaptureError)
        .with.property("code", "ADDRESS_REFUSED");
      expect(() => runner.submit({ url: "file:///etc/passwd" }, job()))
        .to.throw(CaptureError)
        .with.property("code", "URL_REFUSED");
    });

    it("reports a failed capture as a `failed` event and a rejected result", async () => {
      const runner = new CaptureRunner({ capture: capture() });
      const failed = new Promise<CaptureEvent>((resolve) =>
        runner.on("progress", (e) => e.type === "failed" && resolve(e)),
      );
      const submitted = runner.submit({ url: "http://nowhere.test/" }, job());
      const error = await submitted.result.catch((e: unknown) => e);
      expect(error).to.be.instanceOf(CaptureError).with.property("code", "HOST_NOT_FOUND");
      expect(await failed).to.deep.include({ type: "failed", id: submitted.id });
      expect(existsSync(submitted.outDir)).to.equal(false);
    });
  });

  describe("cancel and close", () => {
    it("cancels a queued capture and stops a running one, leaving nothing on disk", async () => {
      const runner = new CaptureRunner({ concurrency: 1, queueLimit: 2, capture: capture() });
      const url = `http://127.0.0.1:${site.port}/held`;
      const running = runner.submit({ url }, job());
      const waiting = runner.submit({ url }, job());
      waiting.cancel();
      expect(await waiting.result.catch((e: CaptureError) => e.code)).to.equal("CANCELLED");
      await site.requested("/held");
      running.cancel();
      expect(await running.result.catch((e: CaptureError) => e.code)).to.equal("CANCELLED");
      expect(existsSync(running.outDir)).to.equal(false);
      await runner.close();
      expect(() => runner.submit({ url }, job()))
        .to.throw(CaptureError)
        .with.property("code", "BUSY");
    });
  });
});
