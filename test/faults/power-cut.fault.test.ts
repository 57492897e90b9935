import { expect } from "chai";
import { readFileSync } from "node:fs";
import path from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { CachingChainReader, JsonRpcChainReader, verifyCertificate } from "../../service/core/index.ts";
import { isAlive } from "../../service/process-alive.ts";
import { currentCertificates } from "../helpers/database.ts";
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
import { seededRandom } from "../helpers/random.ts";

/** Rounds of power cuts; FAULT_ROUNDS raises it for a long run. */
const ROUNDS = Number(process.env.FAULT_ROUNDS ?? 10);

/**
 * A power cut: the service and its embedded chain node killed together (kill -9 of both, as
 * an OOM kill of the whole tree or a machine losing power does), at random moments, under
 * continuous intake. The promise under test: a certificate once handed out never goes bad.
 */
describe(`power cuts: kill -9 of the service and its chain node together, ${ROUNDS} times, under continuous intake`, function () {
  this.timeout(120_000 + ROUNDS * 40_000);
  const seed = Number(process.env.FAULT_SEED ?? Date.now() % 100_000);
  const rand = seededRandom(seed);
  let dataDir: string;
  let service: ServiceProcess | undefined;

  before(() => {
    dataDir = tempDir("power-cut");
    console.log(`      (FAULT_SEED=${seed})`);
  });

  after(async () => {
    await service?.stop();
    await cleanUpDataDir(dataDir);
  });

  it("keeps every certificate ever handed out valid, and certifies every acknowledged item", async () => {
    const chainPort = await freePort();
    const chainUrl = `http://127.0.0.1:${chainPort}`;
    const env = { LOCAL_CHAIN_PORT: String(chainPort), BATCH_MAX_WAIT_MS: "100", BATCH_MAX_ITEMS: "50", TSA_URLS: "" };
    let apiKey: string | undefined;
    const acknowledged = new Set<string>();
    /** Every certificate a user could have downloaded, by evidence id: each must still verify at the end. */
    const handedOut = new Map<string, Set<string>>();
    let counter = 0;
    let killsWhileAnchoring = 0;

    for (let round = 0; round < ROUNDS; round++) {
      service = await startServiceProcess(dataDir, env);
      apiKey ??= service.apiKey;
      const client = api(service.url, apiKey);
      let stop = false;
      const submitter = (async () => {
        while (!stop) {
          const items = Array.from({ length: 4 }, () => ({ contentHash: sha256Hex(`power ${counter++}`) }));
          const res = await client.postJson("/api/v1/evidence/digests", { items }).catch((e: Error) => e);
          if (res instanceof Error) {
            if (stop) return; // cut mid-request: nothing was promised
            throw res;
          }
          if (res.status !== 201) throw new Error(`intake answered ${res.status}: ${JSON.stringify(res.body)}`);
          for (const item of res.body.items as { id: string }[]) acknowledged.add(item.id);
          await delay(20);
        }
      })();
      const watcher = (async () => {
        while (!stop) {
          // The oldest items with no certificate seen yet: the next to be certified.
          for (const id of [...acknowledged].filter((i) => !handedOut.has(i)).slice(0, 40)) {
            const res = await client.get(`/api/v1/evidence/${id}`).catch(() => undefined);
            if (!res?.body.certificate) continue;
            const seen = handedOut.get(id) ?? new Set<string>();
            seen.add(JSON.stringify(res.body.certificate));
            handedOut.set(id, seen);
          }
          await delay(30);
        }
      })();
      await delay(500 + rand() * 2_000);
      const health = await client.get("/healthz").catch(() => undefined);
      if ((health?.body.evidence?.anchoring ?? 0) > 0) killsWhileAnchoring++;
      const nodePid = Number(readFileSync(path.join(dataDir, "chain", "anvil.pid"), "utf8"));
      stop = true;
      // The cut: both at once, no chance for either to save anything.
      process.kill(nodePid, "SIGKILL");
      await service.kill9();
      await until(async () => (isAlive(nodePid) ? undefined : true), "the node to die", 10_000);
      await Promise.all([submitter, watcher]);
    }

    service = await startServiceProcess(dataDir, env);
    const client = api(service.url, apiKey);
    await client.settled(180_000).catch((e: Error) => {
      e.message += `\nthe service's output:\n${service!.output().split("\n").slice(-60).join("\n")}`;
      throw e;
    });
    const certificates = [...handedOut.values()].reduce((n, s) => n + s.size, 0);
    console.log(
      `      (${acknowledged.size} items acknowledged, ${certificates} certificates handed out, ${killsWhileAnchoring} of ${ROUNDS} cuts while a batch was being anchored)`,
    );
    expect(acknowledged.size, "enough intake to mean something").to.be.greaterThan(ROUNDS * 20);
    expect(certificates, "certificates were handed out before the cuts").to.be.greaterThan(ROUNDS);

    const chain = new CachingChainReader(new JsonRpcChainReader(chainUrl));
    const failures: string[] = [];
    for (const [id, versions] of handedOut) {
      for (const certificate of versions) {
        const result = await verifyCertificate(certificate, { chain });
        if (result.verdict !== "valid")
          failures.push(
            `${id}: ${JSON.stringify(result.checks.filter((c) => c.status !== "passed" && c.status !== "skipped"))}`,
          );
      }
    }
    expect(failures, "certificates handed out that no longer verify").to.deep.equal([]);
    const current = currentCertificates(dataDir);
    for (const id of acknowledged) {
      expect(current.get(id), `acknowledged ${id} has no certificate`).to.be.a("string");
    }
  });
});
