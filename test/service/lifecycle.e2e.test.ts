import { expect } from "chai";
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { readFileSync } from "node:fs";
import { createServer, connect } from "node:net";
import path from "node:path";
import { isAlive } from "../../service/process-alive.ts";
import { sha256Hex } from "../helpers/hash.ts";
import { api, cleanUpDataDir, freePort, runCli, startServiceProcess, tempDir, until } from "../helpers/processes.ts";

const ROOT = path.resolve(import.meta.dirname, "../..");

/** What a process said on stderr besides its log records (JSON lines): the lines a person reads. */
function said(stderr: string): string[] {
  return stderr.split("\n").filter((line) => line.trim() !== "" && !line.startsWith("{"));
}

/** Whether something listens on a loopback port. */
function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

/** `npm start` exactly as a user or a supervisor runs it, and the line it prints when ready. */
async function npmStart(env: Record<string, string>): Promise<{ npm: ChildProcess; output: () => string }> {
  const npm = spawn("npm", ["start"], {
    cwd: ROOT,
    // Its own process group, as a terminal's foreground job or a supervisor's child has.
    detached: true,
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  npm.stdout!.on("data", (d: Buffer) => (output += d.toString()));
  npm.stderr!.on("data", (d: Buffer) => (output += d.toString()));
  await until(async () => (/serving on http/.test(output) ? true : undefined), "npm start to serve", 60_000);
  return { npm, output: () => output };
}

describe("the service's lifecycle (real processes, through npm start)", function () {
  this.timeout(120_000);
  const dirs: string[] = [];
  after(async () => {
    for (const dir of dirs) await cleanUpDataDir(dir);
  });

  // To the npm process, as a supervisor sends it; to the whole process group, as Ctrl-C in a
  // terminal or `kill -- -PGID` does: npm then passes it on, and the service gets it twice.
  // A third copy goes straight to the service at once, so that a duplicate always arrives
  // while the service is taking the first.
  const targets = [
    {
      to: "the npm start process",
      kill: (npm: ChildProcess, signal: NodeJS.Signals) => void npm.kill(signal),
    },
    {
      to: "npm start's whole process group, and again to the service as npm passes it on",
      kill: (npm: ChildProcess, signal: NodeJS.Signals, dataDir: string) => {
        const service = Number(readFileSync(path.join(dataDir, "service.lock"), "utf8"));
        process.kill(-npm.pid!, signal);
        process.kill(service, signal);
      },
    },
  ];
  for (const { to, kill } of targets)
    for (const signal of ["SIGINT", "SIGTERM"] as const) {
      it(`stops cleanly on ${signal} sent to ${to}: no process left, both ports free`, async () => {
        const dataDir = tempDir(`lifecycle-${signal}`);
        dirs.push(dataDir);
        const [port, chainPort] = [await freePort(), await freePort()];
        const { npm, output } = await npmStart({
          DATA_DIR: dataDir,
          PORT: String(port),
          LOCAL_CHAIN_PORT: String(chainPort),
        });
        const chainPid = Number(readFileSync(path.join(dataDir, "chain", "anvil.pid"), "utf8"));
        expect([await listening(port), await listening(chainPort), isAlive(chainPid)]).to.deep.equal([
          true,
          true,
          true,
        ]);
        const exited = once(npm, "exit");
        const sent = Date.now();
        kill(npm, signal, dataDir);
        await exited;
        await until(
          async () =>
            !(await listening(port)) && !(await listening(chainPort)) && !isAlive(chainPid) ? true : undefined,
          "everything to stop",
          10_000,
        );
        expect(Date.now() - sent, "within 10 s").to.be.below(10_000);
        expect(output()).to.match(new RegExp(`${signal}: stopping`));
        expect(output(), "a clean stop, not a forced exit").to.match(/"msg":"stopped"/);
      });
    }

  it("answers requests made while it stops with 503 SHUTTING_DOWN, never a 500: nothing they use is closed under them", async () => {
    const dataDir = tempDir("lifecycle-stopping");
    dirs.push(dataDir);
    const service = await startServiceProcess(dataDir);
    const client = api(service.url, service.apiKey);
    const submitted = await client.postJson("/api/v1/evidence/digests", { items: [{ contentHash: "c".repeat(64) }] });
    const id = submitted.body.items[0].id as string;
    const statuses = new Map<number, number>();
    let stopped = false;
    // Readers and submitters, each as fast as it is answered, until the process is gone.
    const load = Array.from({ length: 16 }, (_, i) =>
      (async () => {
        for (let n = 0; !stopped; n++) {
          const res =
            i % 2 === 0
              ? await fetch(`${service.url}/api/v1/evidence/${id}`).catch(() => undefined)
              : await fetch(`${service.url}/api/v1/evidence/digests`, {
                  method: "POST",
                  headers: { authorization: `Bearer ${service.apiKey}`, "content-type": "application/json" },
                  body: JSON.stringify({ items: [{ contentHash: sha256Hex(`stopping ${i} ${n}`) }] }),
                }).catch(() => undefined);
          if (!res) continue; // refused: the port is closed
          await res.arrayBuffer();
          statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        }
      })(),
    );
    await until(async () => ((statuses.get(201) ?? 0) > 20 ? true : undefined), "requests under way");
    await service.stop();
    stopped = true;
    await Promise.all(load);
    expect([...statuses.keys()].filter((status) => status >= 500 && status !== 503)).to.deep.equal([]);
  });

  it("exits non-zero at once, with one line, when its port is in use", async () => {
    const dataDir = tempDir("lifecycle-port");
    dirs.push(dataDir);
    const blocker = createServer().listen(0, "127.0.0.1");
    await once(blocker, "listening");
    const { port } = blocker.address() as { port: number };
    try {
      const res = await runCli(["serve"], {
        DATA_DIR: dataDir,
        PORT: String(port),
        LOCAL_CHAIN_PORT: String(await freePort()),
      });
      expect(res.code).to.equal(1);
      expect(said(res.stderr)).to.deep.equal([
        `evidence serve: port ${port} on 127.0.0.1 is already in use (set PORT)`,
      ]);
    } finally {
      blocker.close();
    }
  });

  it("exits non-zero at once, with one line, on a bad setting", async () => {
    const res = await runCli(["serve"], { DATA_DIR: tempDir("lifecycle-config"), PORT: "eighty" });
    expect(res.code).to.equal(1);
    expect(said(res.stderr)).to.deep.equal(['evidence serve: PORT must be an integer from 0 to 65535, got "eighty"']);
  });

  it("refuses a second instance on the same data directory, naming the pid that holds it, and leaves the first running", async () => {
    const dataDir = tempDir("lifecycle-lock");
    dirs.push(dataDir);
    const chainPort = await freePort();
    const first = await startServiceProcess(dataDir, { LOCAL_CHAIN_PORT: String(chainPort) });
    try {
      const second = await runCli(["serve"], {
        DATA_DIR: dataDir,
        PORT: "0",
        LOCAL_CHAIN_PORT: String(await freePort()),
      });
      expect(second.code).to.equal(1);
      expect(said(second.stderr)).to.deep.equal([
        `evidence serve: ${dataDir} is in use by another Evidence Anchor service (pid ${first.child.pid}); stop it first, or set another DATA_DIR`,
      ]);
      expect(await listening(chainPort), "the first instance's chain still runs").to.equal(true);
      expect((await fetch(`${first.url}/healthz`)).status).to.equal(200);
    } finally {
      await first.stop();
    }
  });
});
