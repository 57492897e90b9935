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
  until,
} from "../helpers/processes.ts";
import { sha256Hex } from "../helpers/hash.ts";
import { seededRandom } from "../helpers/random.ts";

/** Rounds of kill -9 (the power-cut test adds 10 harsher ones); FAULT_ROUNDS raises it for a long run. */
const ROUNDS = Number(process.env.FAULT_ROUNDS ?? 6);
/** Before the first kill: this much intake acknowledged and certified. */
const WARM_UP = { acknowledged: 200, certified: 100 };
/** Before each later kill: this many items acknowledged by the restarted service. */
const PER_ROUND = 20;

/** How fetch reports a connection the service refused or dropped (undici: TypeError "fetch failed" with the socket error as cause). */
function isConnectionFailure(e: unknown): boolean {
  const code = (e as { cause?: { code?: string } })?.cause?.code;
  return e instanceof TypeError && ["ECONNREFUSED", "ECONNRESET", "EPIPE", "UND_ERR_SOCKET"].includes(code ?? "");
}

describe(`kill -9 of the service at random moments, ${ROUNDS} times, under continuous submissions`, function () {
  this.timeout(120_000 + ROUNDS * 30_000);
  const seed = Number(process.env.FAULT_SEED ?? Date.now() % 100_000);
  const rand = seededRandom(seed);
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
    /** Kills that found a sealed batch not yet certified, and of those, one whose transaction was already sent. */
    const landed = { whileAnchoring: 0, afterSending: 0 };
    /** The batches sealed and not yet certified: being anchored. */
    const openBatches = () =>
      readDatabase<{ sent: number }>(
        dataDir,
        "SELECT tx_hash IS NOT NULL AS sent FROM batches WHERE status = 'sealed'",
      );

    for (let round = 0; round < ROUNDS; round++) {
      service = await startServiceProcess(dataDir, env);
      apiKey ??= service.apiKey;
      const client = api(service.url, apiKey);
      /** Set before the kill: from then on a request may go unanswered, and that is no failure. */
      let killing = false;
      let stop = false;
      const ackedBefore = acknowledged.size;
      /** A request of the test; any answer but 201, and any failure but a connection lost to the kill, fails the test. */
      const submit = async (send: () => Promise<{ status: number; body: any }>): Promise<void> => {
        let res: { status: number; body: any };
        try {
          res = await send();
        } catch (e) {
          if (killing && isConnectionFailure(e)) return; // cut mid-request: nothing was promised
          throw new Error(`round ${round}: a submission failed ${killing ? "during" : "before"} the kill`, {
            cause: e,
          });
        }
        if (res.status !== 201) throw new Error(`round ${round}: answered ${res.status} ${JSON.stringify(res.body)}`);
        for (const item of res.body.items as { id: string }[]) acknowledged.add(item.id);
      };
      // Submitters: digests and small files, as fast as the service answers.
      const submitters = [0, 1].map(async (lane) => {
        while (!stop) {
          if (lane === 0) {
            const items = Array.from({ length: 5 }, () => ({ contentHash: sha256Hex(`k9 ${counter++}`) }));
            await submit(() => client.postJson("/api/v1/evidence/digests", { items }));
          } else {
            const form = new FormData();
            form.append("file", new Blob([`file ${counter++}`]), `f${counter}.txt`);
            await submit(() => client.postForm("/api/v1/evidence", form));
          }
          await delay(25);
        }
      });
      // Watch certificates as they appear, to prove they never change afterwards.
      const watcher = (async () => {
        while (!stop) {
          // The oldest acknowledged items not yet seen anchored: those are the next to be.
          for (const id of [...acknowledged].filter((i) => !seen.has(i)).slice(0, 40)) {
            let res: { status: number; body: any };
            try {
              res = await client.get(`/api/v1/evidence/${id}`);
            } catch (e) {
              if (killing && isConnectionFailure(e)) return;
              throw e;
            }
            if (res.status !== 200) throw new Error(`round ${round}: reading ${id} answered ${res.status}`);
            if (res.body.certificate) seen.set(id, JSON.stringify(res.body.certificate));
          }
          await delay(50);
        }
      })();
      const running = Promise.all([...submitters, watcher]);
      running.catch(() => undefined); // awaited below; a failure before then also ends the wait at once
      // A failing submitter ends the wait at once, with its reason.
      const enough =
        round === 0
          ? async () => (acknowledged.size >= WARM_UP.acknowledged && seen.size >= WARM_UP.certified ? true : undefined)
          : async () => (acknowledged.size - ackedBefore >= PER_ROUND ? true : undefined);
      await Promise.race([running, until(enough, `round ${round}: intake before the kill`, 120_000)]);
      if (round === 0)
        console.log(`      (before the first kill: ${acknowledged.size} acknowledged, ${seen.size} certificates seen)`);
      await delay(300 + rand() * 1700);
      // Every other round waits until a batch is on its way, then kills at once: so kills land in
      // the middle of anchoring however fast or slow the machine is; the others land at random.
      // (Another process's database has no event to await: it is looked at every few ms.)
      if (round % 2 === 1) {
        const deadline = Date.now() + 30_000;
        while (openBatches().length === 0 && Date.now() < deadline) await delay(5);
      }
      killing = true;
      await service.kill9();
      stop = true;
      await running;
      // The database as the kill left it: a batch sealed and not yet certified means the kill landed during anchoring.
      const open = openBatches();
      if (open.length > 0) landed.whileAnchoring++;
      if (open.some((b) => b.sent)) landed.afterSending++;
    }

    service = await startServiceProcess(dataDir, env);
    const client = api(service.url);
    await client.settled(180_000).catch((e: Error) => {
      e.message += `\nthe service's output:\n${service!.output().split("\n").slice(-60).join("\n")}`;
      throw e;
    });
    console.log(
      `      (${acknowledged.size} items acknowledged, ${seen.size} certificates watched across ${ROUNDS} crashes; ` +
        `${landed.whileAnchoring} kills during anchoring, ${landed.afterSending} with its transaction sent)`,
    );
    expect(acknowledged.size, "intake across the rounds").to.be.at.least(
      WARM_UP.acknowledged + (ROUNDS - 1) * PER_ROUND,
    );
    expect(seen.size, "certificates watched").to.be.at.least(WARM_UP.certified);
    // Every other kill waits for a batch on its way (it may still finish in the moment before the
    // kill); batches are sealed every 150 ms, so the random kills find one often too.
    expect(landed.whileAnchoring, "kills that landed while a batch was being anchored").to.be.at.least(
      Math.floor(ROUNDS / 3),
    );

    const issued = currentCertificates(dataDir);
    const chain = new JsonRpcChainReader(chainUrl);
    const cached = new CachingChainReader(chain);
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
