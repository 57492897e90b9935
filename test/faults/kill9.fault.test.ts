import { expect } from "chai";
import { setTimeout as delay } from "node:timers/promises";
import { CachingChainReader, JsonRpcChainReader, verifyCertificate } from "../../service/core/index.ts";
import { currentCertificates, readDatabase } from "../helpers/database.ts";
import {
  anchoredLogs,
  api,
  cleanUpDataDir,
  freePort,
  type ServiceProcess,
  startServiceProcess,
  tempDir,
} from "../helpers/processes.ts";
import { sha256Hex } from "../helpers/hash.ts";

/** Rounds of kill -9; FAULT_ROUNDS raises it for a long run. */
const ROUNDS = Number(process.env.FAULT_ROUNDS ?? 10);

/** A small deterministic generator, so a failing run can be repeated with the same seed. */
function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

describe(`kill -9 of the service at random moments, ${ROUNDS} times, under continuous submissions`, function () {
  this.timeout(60_000 + ROUNDS * 30_000);
  const seed = Number(process.env.FAULT_SEED ?? Date.now() % 100_000);
  const rand = random(seed);
  let dataDir: string;
  let service: ServiceProcess | undefined;

  before(() => {
    dataDir = tempDir("kill9");
    console.log(`      (FAULT_SEED=${seed})`);
  });

  after(async () => {
    await service?.stop();
    await cleanUpDataDir(dataDir);
  });

  it("anchors every acknowledged item once, in one batch, and never changes an issued certificate", async () => {
    const chainPort = await freePort();
    const chainUrl = `http://127.0.0.1:${chainPort}`;
    const env = {
      LOCAL_CHAIN_PORT: String(chainPort),
      LOCAL_CHAIN_BLOCK_TIME: "0",
      BATCH_MAX_WAIT_MS: "150",
      BATCH_MAX_ITEMS: "100",
      RATE_LIMIT_PER_MINUTE: "1000000",
    };
    let apiKey: string | undefined;
    const acknowledged = new Set<string>();
    const seen = new Map<string, string>(); // evidence id -> certificate as first seen
    let counter = 0;

    for (let round = 0; round < ROUNDS; round++) {
      service = await startServiceProcess(dataDir, env);
      apiKey ??= service.apiKey;
      const client = api(service.url, apiKey);
      let stop = false;
      // Submitters: digests and small files, as fast as the service answers.
      const submitters = [0, 1].map(async (lane) => {
        while (!stop) {
          try {
            if (lane === 0) {
              const items = Array.from({ length: 5 }, () => ({
                contentHash: sha256Hex(`k9 ${counter++}`),
              }));
              const res = await client.postJson("/api/v1/evidence/digests", { items });
              if (res.status === 201) res.body.items.forEach((i: { id: string }) => acknowledged.add(i.id));
            } else {
              const form = new FormData();
              form.append("file", new Blob([`file ${counter++}`]), `f${counter}.txt`);
              const res = await client.postForm("/api/v1/evidence", form);
              if (res.status === 201) res.body.items.forEach((i: { id: string }) => acknowledged.add(i.id));
            }
          } catch {
            return; // the service is gone: whatever was not answered 201 was not promised
          }
          await delay(25);
        }
      });
      // Watch certificates as they appear, to prove they never change afterwards.
      const watcher = (async () => {
        while (!stop) {
          // The oldest acknowledged items not yet seen anchored: those are the next to be.
          const unseen = [...acknowledged].filter((id) => !seen.has(id)).slice(0, 20);
          for (const id of unseen) {
            const res = await client.get(`/api/v1/evidence/${id}`).catch(() => undefined);
            if (res?.body.certificate) seen.set(id, JSON.stringify(res.body.certificate));
          }
          await delay(50);
        }
      })();
      await delay(300 + rand() * 1700);
      await service.kill9();
      stop = true;
      await Promise.all([...submitters, watcher]);
    }

    service = await startServiceProcess(dataDir, env);
    const client = api(service.url);
    await client.settled(180_000).catch((e: Error) => {
      e.message += `\nthe service's output:\n${service!.output().split("\n").slice(-60).join("\n")}`;
      throw e;
    });
    console.log(
      `      (${acknowledged.size} items acknowledged, ${seen.size} certificates watched across ${ROUNDS} crashes)`,
    );
    const issued = currentCertificates(dataDir);
    const chain = new JsonRpcChainReader(chainUrl);
    const cached = new CachingChainReader(chain);
    expect(acknowledged.size).to.be.greaterThan(ROUNDS);
    for (const id of acknowledged) {
      const certificate = issued.get(id);
      expect(certificate, `acknowledged ${id} has no certificate`).to.be.a("string");
      if (seen.has(id)) expect(certificate, `certificate ${id} changed`).to.equal(seen.get(id));
      const result = await verifyCertificate(certificate, { chain: cached });
      expect(result.valid, `${id}: ${JSON.stringify(result.checks)}`).to.equal(true);
    }
    // Spot-check through the API too: what a user downloads is what was stored.
    const sample = [...acknowledged][0]!;
    expect(JSON.stringify((await client.get(`/api/v1/evidence/${sample}`)).body.certificate)).to.equal(
      issued.get(sample),
    );

    const contract = (await client.get("/healthz")).body.chain.contract;
    const roots = (await anchoredLogs(chainUrl, contract)).map((l) => l.root);
    expect(new Set(roots).size, "a root anchored twice").to.equal(roots.length);
    const batches = readDatabase<{ root: string }>(dataDir, "SELECT root FROM batches");
    expect(batches.map((b) => b.root).sort(), "every sealed batch anchored exactly once").to.deep.equal(
      [...roots].sort(),
    );
    expect(readDatabase(dataDir, "SELECT id FROM evidence WHERE batch_id IS NULL")).to.deep.equal([]);
  });
});
