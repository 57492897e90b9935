/**
 * Digest intake across engines and replicas, in one run on one machine:
 *   1 replica on SQLite · 1 replica on PostgreSQL · 3 replicas on PostgreSQL,
 * each a real `evidence serve` process anchoring on the same Anvil node, 1,000 digests per
 * request from several concurrent clients (spread over the replicas). Every replica, the
 * database server and the clients share the machine's cores, so the 3-replica figure
 * shows what a second and third process add here, not what three machines would.
 *
 * node scripts/bench/replicas.ts [--quick]   (scripts/bench/run.ts calls benchReplicas)
 */
import { randomBytes } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { memberServiceOn, SERVICE_KEY } from "../../test/helpers/consortium.ts";
import { startPostgres } from "../../test/helpers/postgres.ts";
import {
  cleanUpDataDir,
  startChainNode,
  startServiceProcess,
  tempDir,
  type ServiceProcess,
} from "../../test/helpers/processes.ts";

export interface ReplicaBenchResult {
  digestsPerRequest: number;
  requests: number;
  clients: number;
  /** Digests acknowledged (201) per second. */
  sqlite1: number;
  postgres1: number;
  postgres3: number;
}

const PER_REQUEST = 1_000;

export async function benchReplicas(options: { quick: boolean }): Promise<ReplicaBenchResult> {
  const requests = options.quick ? 12 : 150;
  const clients = 6;
  const chain = await startChainNode({ chainId: 4043 });
  // Started inside the try: a server that fails to start still leaves no chain node behind.
  let postgres: Awaited<ReturnType<typeof startPostgres>> | undefined;
  const dirs: string[] = [];
  try {
    postgres = await startPostgres();
    // One deployment shared by the three set-ups; each set-up its own database.
    const keyHolder = tempDir("bench-replicas-deploy");
    dirs.push(keyHolder);
    const member = await memberServiceOn(chain.url, keyHolder);

    const run = async (replicas: number, databaseUrl: string | undefined): Promise<number> => {
      const services: ServiceProcess[] = [];
      try {
        // The first replica creates the schema and the development account; the others start together.
        const start = (i: number) => {
          const dataDir = tempDir(`bench-replica-${i}`);
          dirs.push(dataDir);
          mkdirSync(path.join(dataDir, "keys"), { recursive: true });
          writeFileSync(path.join(dataDir, "keys", "issuer.key"), SERVICE_KEY, { mode: 0o600 });
          return startServiceProcess(dataDir, {
            ...member,
            ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}),
            DEV_ACCOUNT: i === 0 ? "true" : "false",
            RATE_LIMIT_PER_MINUTE: "100000000",
            LOG_LEVEL: "warn",
          });
        };
        services.push(await start(0));
        services.push(...(await Promise.all(Array.from({ length: replicas - 1 }, (_, i) => start(i + 1)))));
        const apiKey = services[0]!.apiKey!;
        const bodies = Array.from({ length: requests }, (_, r) =>
          JSON.stringify({
            items: Array.from({ length: PER_REQUEST }, (_, i) => ({
              contentHash: randomBytes(32).toString("hex"),
              fileName: `f-${r}-${i}`,
            })),
          }),
        );
        // A short warm-up on each replica: connections, JIT, the database's caches.
        for (const s of services) await submit(s.url, apiKey, bodies[0]!.replace(/"f-0-/g, '"warm-'));
        let next = 0;
        const started = performance.now();
        await Promise.all(
          Array.from({ length: clients }, async (_, c) => {
            const target = services[c % services.length]!;
            while (next < requests) await submit(target.url, apiKey, bodies[next++]!);
          }),
        );
        return (requests * PER_REQUEST) / ((performance.now() - started) / 1000);
      } finally {
        await Promise.all(services.map((s) => s.stop()));
      }
    };

    const sqlite1 = await run(1, undefined);
    const postgres1 = await run(1, await postgres.createDatabase());
    const postgres3 = await run(3, await postgres.createDatabase());
    return { digestsPerRequest: PER_REQUEST, requests, clients, sqlite1, postgres1, postgres3 };
  } finally {
    await postgres?.stop();
    await chain.stop();
    for (const dir of dirs) await cleanUpDataDir(dir);
  }
}

async function submit(url: string, apiKey: string, body: string): Promise<void> {
  const res = await fetch(`${url}/api/v1/evidence/digests`, {
    method: "POST",
    headers: { authorization: `Bearer ${apiKey}`, "content-type": "application/json" },
    body,
  });
  if (res.status !== 201) throw new Error(`answered ${res.status}: ${await res.text()}`);
  await res.arrayBuffer();
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const result = await benchReplicas({ quick: process.argv.includes("--quick") });
  console.log(JSON.stringify(result, null, 2));
}
