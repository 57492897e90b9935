import { expect } from "chai";
import { rmSync } from "node:fs";
import { Anchorer, type AnchorerOptions, type Stamper } from "../../service/anchoring/anchorer.ts";
import { anchoringLease } from "../../service/anchoring/lease.ts";
import { InProcessSigner } from "../../service/anchoring/signers.ts";
import { Reconciler } from "../../service/anchoring/reconciler.ts";
import {
  buildRecord,
  claimsOf,
  verifyCertificate,
  type Certificate,
  type ChainReader,
  type TimestampToken,
} from "../../service/core/index.ts";
import { newEvidence } from "../../service/intake/intake.ts";
import { createLogger, silentLogger } from "../../service/log.ts";
import { Writable } from "node:stream";
import { SqliteEvidenceStore } from "../../service/store/sqlite-store.ts";
import type { EvidenceStore } from "../../service/store/store.ts";
import { sha256Hex } from "../helpers/hash.ts";
import { MemoryChain } from "../helpers/memory-chain.ts";
import { tempDir } from "../helpers/processes.ts";
import { example } from "../helpers/vectors.ts";

const ISSUER_KEY = example.issuer().privateKey;
const ACCOUNT = { id: "acct_test", name: "test", keyHash: "0".repeat(64), createdAt: "2026-11-25T00:00:00.000Z" };

describe("the anchorer (in process, a chain in memory, SQLite on disk)", () => {
  let dir: string;
  let store: EvidenceStore;
  let chain: MemoryChain;
  let counter = 0;

  beforeEach(async () => {
    dir = tempDir("anchorer");
    store = SqliteEvidenceStore.open(dir);
    await store.insertAccount(ACCOUNT);
    chain = new MemoryChain();
  });

  afterEach(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  function anchorer(
    options: Partial<AnchorerOptions> = {},
    log = silentLogger(),
    signer = new InProcessSigner(ISSUER_KEY),
  ): Anchorer {
    return new Anchorer(
      store,
      chain,
      signer,
      {
        certificateVersion: 2,
        maxItems: 100,
        maxWaitMs: 1_000,
        confirmations: 1,
        receiptTimeoutMs: 60_000,
        issuerName: "Evidence Anchor test",
        ...options,
      },
      log,
    );
  }

  async function submit(n: number, submittedAt = new Date()): Promise<string[]> {
    const items = Array.from({ length: n }, () =>
      newEvidence(
        buildRecord({ contentHash: sha256Hex(`item ${counter++}`), submitter: ACCOUNT.id, submittedAt }),
        ACCOUNT,
        false,
      ),
    );
    await store.insertEvidence(items);
    return items.map((i) => i.record.id);
  }

  /** The chain reads the core verifier needs, answered from the memory chain. */
  function readerOf(memory: MemoryChain): ChainReader {
    return {
      chainId: async () => memory.chainId,
      blockNumber: async () => memory.latest,
      hasCode: async () => true,
      anchorOf: async (_contract, root) => memory.anchors.get(root) ?? { timestamp: 0, blockNumber: 0, treeSize: 0 },
      block: async (n) =>
        memory.blocks[n]
          ? {
              hash: memory.blocks[n]!.hash,
              timestamp: memory.blocks[n]!.timestamp,
              transactions: memory.blocks[n]!.txs.map((t) => t.hash),
            }
          : null,
      receipt: async (txHash) => {
        const n = memory.blocks.findIndex((b) => b.txs.some((t) => t.hash === txHash));
        if (n < 0) return null;
        const tx = memory.blocks[n]!.txs.find((t) => t.hash === txHash)!;
        const anchor = memory.anchors.get(tx.root)!;
        return {
          status: memory.failed.has(txHash) ? 0 : 1,
          blockNumber: n,
          blockHash: memory.blocks[n]!.hash,
          anchored: memory.failed.has(txHash)
            ? []
            : [
                {
                  contract: memory.contract,
                  root: tx.root,
                  anchorer: tx.from,
                  treeSize: tx.treeSize,
                  timestamp: anchor.timestamp,
                },
              ],
        };
      },
    };
  }

  async function certificates(ids: string[]): Promise<Certificate[]> {
    const out: Certificate[] = [];
    for (const id of ids) {
      const row = await store.evidence(id);
      if (row?.certificate) out.push(row.certificate);
    }
    return out;
  }

  describe("sealing", () => {
    it("seals a batch once it holds maxItems, without waiting", async () => {
      await submit(5);
      await anchorer({ maxItems: 5, maxWaitMs: 3_600_000 }).runOnce();
      expect((await store.unanchoredBatches()).map((b) => [b.treeSize, b.sendCount])).to.deep.equal([[5, 1]]);
      expect(chain.sends).to.equal(1);
    });

    it("keeps a partial batch open until its oldest item has waited maxWaitMs", async () => {
      const now = new Date();
      await submit(3, now);
      const a = anchorer({ maxItems: 5, maxWaitMs: 1_000 });
      await a.runOnce(new Date(now.getTime() + 999));
      expect([await store.pendingSummary(), chain.sends]).to.deep.equal([
        { count: 3, oldest: now.toISOString(), newest: now.toISOString() },
        0,
      ]);
      await a.runOnce(new Date(now.getTime() + 1_000));
      expect([(await store.pendingSummary()).count, chain.sends]).to.deep.equal([0, 1]);
    });

    it("seals a partial batch of at least quietMinItems once no item has arrived for quietMs, without waiting out maxWaitMs", async () => {
      const start = new Date();
      await submit(3, start);
      const last = new Date(start.getTime() + 500);
      await submit(2, last);
      const a = anchorer({ maxItems: 10, maxWaitMs: 3_600_000, quietMs: 200, quietMinItems: 5 });
      await a.runOnce(new Date(last.getTime() + 199));
      expect([(await store.pendingSummary()).count, chain.sends], "quiet for 199 ms").to.deep.equal([5, 0]);
      await a.runOnce(new Date(last.getTime() + 200));
      expect(
        (await store.unanchoredBatches()).map((b) => b.treeSize),
        "quiet for 200 ms",
      ).to.deep.equal([5]);
    });

    it("leaves a quiet batch smaller than quietMinItems to maxWaitMs, and seals none early with quietMs 0", async () => {
      const start = new Date();
      await submit(4, start);
      await anchorer({ maxItems: 10, maxWaitMs: 1_000, quietMs: 200, quietMinItems: 5 }).runOnce(
        new Date(start.getTime() + 999),
      );
      await anchorer({ maxItems: 10, maxWaitMs: 1_000, quietMs: 0, quietMinItems: 1 }).runOnce(
        new Date(start.getTime() + 999),
      );
      expect([(await store.pendingSummary()).count, chain.sends]).to.deep.equal([4, 0]);
      await anchorer({ maxItems: 10, maxWaitMs: 1_000, quietMs: 200, quietMinItems: 5 }).runOnce(
        new Date(start.getTime() + 1_000),
      );
      expect((await store.unanchoredBatches()).map((b) => b.treeSize)).to.deep.equal([4]);
    });

    it("wakes by its seal timer when intake falls quiet, with no round polling", async () => {
      await submit(2);
      const a = anchorer({ maxItems: 100, maxWaitMs: 3_600_000, quietMs: 200, quietMinItems: 2, pollMs: 3_600_000 });
      try {
        a.start();
        await until(async () => (await store.unanchoredBatches()).length === 1);
      } finally {
        await a.stop();
      }
      expect(chain.sends).to.equal(1);
    });

    it("seals full batches of maxItems, oldest first, then the rest", async () => {
      await submit(12);
      await anchorer({ maxItems: 5, maxWaitMs: 0 }).runOnce();
      chain.mine();
      expect([...chain.anchors.values()].map((a) => a.treeSize).sort()).to.deep.equal([2, 5, 5]);
    });

    /**
     * Runs `meanwhile` while a round waits on a slow node (locate) with one batch sealed; the
     * node answers once `meanwhile` resolves `node`, or at the end. No idle polls: only the
     * seal timer, set by the intake's notify, can seal another batch beside the round.
     */
    async function besideAStalledRound(
      options: Partial<AnchorerOptions>,
      meanwhile: (a: Anchorer, node: PromiseWithResolvers<void>) => Promise<void>,
    ): Promise<void> {
      await submit(1, new Date(Date.now() - 60_000));
      const node = Promise.withResolvers<void>();
      chain.stalls.set("locate", node.promise);
      const a = anchorer({ maxItems: 100, maxWaitMs: 100, pollMs: 3_600_000, ...options });
      try {
        a.start();
        await until(async () => (await store.unanchoredBatches()).length === 1);
        await meanwhile(a, node);
      } finally {
        node.resolve();
        await a.stop();
      }
    }

    /** Mines what was sent and runs a round: both batches anchored, each sent once. */
    async function expectEachBatchSentOnce(): Promise<void> {
      chain.mine();
      await anchorer({ maxItems: 100, maxWaitMs: 100 }).runOnce();
      expect([(await store.unanchoredBatches()).length, chain.sends], "each batch sent once").to.deep.equal([0, 2]);
    }

    it("seals a batch that falls due while a round waits on a slow node, and sends it without waiting for the round", async () => {
      await besideAStalledRound({}, async (a, node) => {
        await submit(1);
        a.notify();
        await until(() => chain.sends === 1);
        expect(
          (await store.unanchoredBatches()).map((b) => b.txHash !== null),
          "the round still waits on the node for the first batch; the second is sent",
        ).to.deep.equal([false, true]);
        node.resolve();
        await until(() => chain.sends === 2);
      });
      await expectEachBatchSentOnce();
    });

    it("leaves a batch whose send beside a round failed to the next round, which sends it once", async () => {
      await besideAStalledRound({}, async (a, node) => {
        chain.down = new Error("connection refused");
        await submit(1);
        a.notify();
        await until(() => chain.sendAttempts === 1);
        expect(chain.sends, "the send beside the round failed").to.equal(0);
        chain.down = null;
        node.resolve();
        await until(() => chain.sends === 2);
      });
      await expectEachBatchSentOnce();
    });

    it("seals nothing beside a round that waits on a slow node once the lease is lost to another replica", async () => {
      let held = true;
      let asked = 0;
      const lease = { acquire: async () => (asked++, held), release: async () => undefined };
      await besideAStalledRound({ lease }, async (a) => {
        held = false;
        const before = asked;
        await submit(1);
        a.notify();
        await until(() => asked > before);
        expect((await store.unanchoredBatches()).length, "the second item stays pending").to.equal(1);
        expect((await store.pendingSummary()).count).to.equal(1);
      });
    });

    it("sends a batch sealed meanwhile before it looks again at an earlier one waiting for its block", async () => {
      await submit(1);
      const a = anchorer({ maxItems: 1, maxWaitMs: 0 });
      await a.runOnce();
      expect([chain.sends, chain.pool.length]).to.deep.equal([1, 1]);
      await submit(1);
      const node = Promise.withResolvers<void>();
      chain.stalls.set("receipt", node.promise);
      const round = a.runOnce();
      await until(() => chain.sends === 2);
      expect(chain.pool.length, "both transactions wait for the same block").to.equal(2);
      node.resolve();
      await round;
      chain.mine();
      chain.stalls.clear();
      await a.runOnce();
      expect((await store.unanchoredBatches()).length).to.equal(0);
    });
  });

  describe("sending and certifying", () => {
    it("certifies a sent batch as soon as a new block appears, not at the next idle poll", async () => {
      const ids = await submit(3);
      const a = anchorer({ maxWaitMs: 0, pollMs: 3_600_000, blockWatchMs: 5 });
      try {
        a.start();
        await until(async () => chain.sends === 1);
        await until(async () => (await store.unanchoredBatches())[0]?.txHash != null);
        chain.mine();
        await until(async () => (await certificates(ids)).length === 3);
      } finally {
        await a.stop();
      }
    });

    it("certifies a batch once its transaction is mined: every item valid against the chain", async () => {
      const ids = await submit(4);
      const a = anchorer({ maxWaitMs: 0 });
      await a.runOnce();
      expect(await certificates(ids), "nothing before the block").to.deep.equal([]);
      chain.mine();
      await a.runOnce();
      const issued = await certificates(ids);
      expect(issued).to.have.length(4);
      for (const c of issued)
        expect((await verifyCertificate(c, { chain: readerOf(chain) })).verdict).to.equal("valid");
      expect(chain.sends).to.equal(1);
    });

    it("issues version 1 certificates, one signature each, when configured", async () => {
      const ids = await submit(3);
      await anchorer({ maxWaitMs: 0, certificateVersion: 1 }).runOnce();
      chain.mine();
      await anchorer({ maxWaitMs: 0, certificateVersion: 1 }).runOnce();
      const issued = await certificates(ids);
      expect(issued.map((c) => c.version)).to.deep.equal([1, 1, 1]);
      expect(new Set(issued.map((c) => c.signature)).size).to.equal(3);
    });

    it("waits for the configured confirmations before certifying", async () => {
      const ids = await submit(1);
      const a = anchorer({ maxWaitMs: 0, confirmations: 3 });
      await a.runOnce();
      chain.mine();
      await a.runOnce();
      chain.mine();
      await a.runOnce();
      expect(await certificates(ids), "two blocks").to.deep.equal([]);
      chain.mine();
      await a.runOnce();
      expect(await certificates(ids), "three blocks").to.have.length(1);
      expect(chain.sends).to.equal(1);
    });

    it("sends nothing while its transaction waits in the pool, before the receipt timeout", async () => {
      await submit(1);
      const a = anchorer({ maxWaitMs: 0 });
      await a.runOnce();
      await a.runOnce();
      await a.runOnce();
      expect([chain.sends, chain.pool.length]).to.deep.equal([1, 1]);
    });

    it("sends again after the receipt timeout when the node lost the transaction, and anchors once", async () => {
      const ids = await submit(2);
      chain.losesTransactions = true;
      // A receipt timeout of 0: the next round finds it passed, whatever the clock read in between.
      const a = anchorer({ maxWaitMs: 0, receiptTimeoutMs: 0 });
      await a.runOnce();
      expect([chain.sends, chain.pool.length]).to.deep.equal([1, 0]);
      chain.losesTransactions = false;
      await a.runOnce();
      expect(chain.sends, "sent again").to.equal(2);
      chain.mine();
      await a.runOnce();
      expect(await certificates(ids)).to.have.length(2);
      expect((await store.unanchoredBatches()).length).to.equal(0);
    });

    it("sends again before the receipt timeout when the node no longer holds the transaction (restarted without its pool)", async () => {
      const ids = await submit(2);
      chain.losesTransactions = true;
      const a = anchorer({ maxWaitMs: 0, receiptTimeoutMs: 60_000, lostAfterMs: 0 });
      await a.runOnce();
      expect([chain.sends, chain.pool.length]).to.deep.equal([1, 0]);
      chain.losesTransactions = false;
      await a.runOnce();
      expect(chain.sends, "sent again").to.equal(2);
      await a.runOnce();
      expect(chain.sends, "the second is held: nothing more sent").to.equal(2);
      chain.mine();
      await a.runOnce();
      expect(await certificates(ids)).to.have.length(2);
    });

    it("waits lostAfterMs before taking a transaction the node does not hold for lost", async () => {
      await submit(1);
      chain.losesTransactions = true;
      const a = anchorer({ maxWaitMs: 0, receiptTimeoutMs: 60_000, lostAfterMs: 60_000 });
      await a.runOnce();
      await a.runOnce();
      expect(chain.sends).to.equal(1);
    });

    it("sends nothing when the root is already anchored (a transaction from before a crash), and certifies it", async () => {
      const ids = await submit(2);
      await anchorer({ maxWaitMs: 0 }).runOnce(); // sent; the process "crashes" here
      chain.mine();
      const sendsBefore = chain.sends;
      await anchorer({ maxWaitMs: 0 }).runOnce(); // a new process finds the anchor
      expect(chain.sends - sendsBefore).to.equal(0);
      expect(await certificates(ids)).to.have.length(2);
    });

    it("issues no certificate for a batch another key anchored (sent under the key before a rotation, or by a replica with another key): its items wait, anchoring fails saying why, and the key that anchored it certifies it", async () => {
      const ids = await submit(2);
      await anchorer({ maxWaitMs: 0 }).runOnce(); // sent; the service is stopped here and its key changed
      chain.mine();
      const otherKey = `0x${"22".repeat(32)}`;
      const rotated = anchorer({ maxWaitMs: 0 }, silentLogger(), new InProcessSigner(otherKey));
      const error = (await rotated.runOnce().catch((e: Error) => e)) as Error;
      expect(error.message).to.equal(
        `batch 1 was anchored by ${chain.from}, not by this service's issuer ${new InProcessSigner(otherKey).address}: ` +
          "certificates signed with this key would be INVALID, so none are issued; " +
          "give the service the key that anchored it in ISSUER_PREVIOUS_KEYSTORES, or run it with that key until the batch is certified",
      );
      expect(await certificates(ids), "nothing issued under the other key").to.deep.equal([]);
      await anchorer({ maxWaitMs: 0 }).runOnce();
      const issued = await certificates(ids);
      expect(issued).to.have.length(2);
      for (const certificate of issued)
        expect((await verifyCertificate(certificate, { chain: readerOf(chain) })).verdict).to.equal("valid");
    });

    it("certifies a batch the key before a rotation anchored with that key, when given it as a previous key, and what the new key anchors with the new key", async () => {
      const before = await submit(2);
      await anchorer({ maxWaitMs: 0 }).runOnce(); // sent under the old key; stopped here, the key rotated
      chain.mine();
      const old = new InProcessSigner(ISSUER_KEY);
      const current = new InProcessSigner(`0x${"22".repeat(32)}`);
      const rotated = anchorer({ maxWaitMs: 0, previousSigners: [old] }, silentLogger(), current);
      await rotated.runOnce();
      const issued = await certificates(before);
      expect(issued.map((c) => claimsOf(c).issuer.address)).to.deep.equal([old.address, old.address]);
      for (const certificate of issued)
        expect((await verifyCertificate(certificate, { chain: readerOf(chain) })).verdict).to.equal("valid");

      chain.from = current.address; // the new key sends from here on
      const after = await submit(1);
      await rotated.runOnce();
      chain.mine();
      await rotated.runOnce();
      const [next] = await certificates(after);
      expect(claimsOf(next!).issuer.address).to.equal(current.address);
      expect((await verifyCertificate(next!, { chain: readerOf(chain) })).verdict).to.equal("valid");
    });

    it("sends nothing while its key lacks ANCHORER_ROLE, says why, and anchors once the role is granted", async () => {
      const ids = await submit(2);
      chain.withoutRole.add(chain.from.toLowerCase());
      const a = anchorer({ maxWaitMs: 0 });
      const error = (await a.runOnce().catch((e: Error) => e)) as Error;
      expect(error.message).to.equal(
        `this service's issuer ${chain.from} has no ANCHORER_ROLE on contract ${chain.contract}: ` +
          "nothing new can be anchored until a consortium admin grants it (docs/consortium.md); submissions are kept and wait",
      );
      expect(chain.sendAttempts, "no transaction is tried").to.equal(0);
      expect((await store.counts()).anchored).to.equal(0);
      chain.withoutRole.clear();
      await a.runOnce();
      chain.mine();
      await a.runOnce();
      expect(await certificates(ids)).to.have.length(2);
    });

    it("still certifies what its key anchored before the role was revoked: nothing new is sent, and the round says why", async () => {
      const ids = await submit(2);
      await anchorer({ maxWaitMs: 0 }).runOnce(); // sent; the role is revoked before it is certified
      chain.mine();
      chain.withoutRole.add(chain.from.toLowerCase());
      const later = await submit(1);
      const restarted = anchorer({ maxWaitMs: 0 });
      const error = (await restarted.runOnce().catch((e: Error) => e)) as Error;
      expect(error.message).to.match(/has no ANCHORER_ROLE/);
      expect(await certificates(ids), "anchored already: certified").to.have.length(2);
      expect(chain.sends, "nothing sent without the role").to.equal(1);
      expect(await certificates(later)).to.deep.equal([]);
    });

    it("certifies the old key's anchored batch with it while the new key still waits for its role", async () => {
      const ids = await submit(2);
      await anchorer({ maxWaitMs: 0 }).runOnce();
      chain.mine();
      const current = new InProcessSigner(`0x${"22".repeat(32)}`);
      chain.withoutRole.add(current.address.toLowerCase());
      const rotated = anchorer(
        { maxWaitMs: 0, previousSigners: [new InProcessSigner(ISSUER_KEY)] },
        silentLogger(),
        current,
      );
      await rotated.runOnce().catch(() => undefined);
      expect(await certificates(ids)).to.have.length(2);
    });

    it("a replica without the role gives the anchoring lease up at the end of its round, and one with the role anchors", async () => {
      const ids = await submit(2);
      const lacking = new InProcessSigner(`0x${"22".repeat(32)}`);
      chain.withoutRole.add(lacking.address.toLowerCase());
      const without = anchorer({ maxWaitMs: 0, lease: anchoringLease(store, 30_000) }, silentLogger(), lacking);
      const withRole = anchorer({ maxWaitMs: 0, lease: anchoringLease(store, 30_000) });
      const error = (await without.runOnce().catch((e: Error) => e)) as Error;
      expect(error.message).to.match(/has no ANCHORER_ROLE/);
      await withRole.runOnce();
      expect(withRole.health.role, "it took the lease").to.equal("anchoring");
      chain.mine();
      await withRole.runOnce();
      expect(await certificates(ids)).to.have.length(2);
    });

    it("a replica with another key gives the lease up when it finds a batch it cannot certify, and the replica with the key certifies it", async () => {
      const ids = await submit(2);
      await anchorer({ maxWaitMs: 0 }).runOnce();
      chain.mine();
      const other = anchorer(
        { maxWaitMs: 0, lease: anchoringLease(store, 30_000) },
        silentLogger(),
        new InProcessSigner(`0x${"22".repeat(32)}`),
      );
      const own = anchorer({ maxWaitMs: 0, lease: anchoringLease(store, 30_000) });
      expect(((await other.runOnce().catch((e: Error) => e)) as Error).message).to.match(/^batch 1 was anchored by/);
      await own.runOnce();
      expect(await certificates(ids)).to.have.length(2);
    });

    it("sends nothing when the contract says the root is pending in the pool, and waits for it", async () => {
      const ids = await submit(1);
      const a = anchorer({ maxWaitMs: 0, receiptTimeoutMs: 0 });
      await a.runOnce();
      await a.runOnce(); // timed out: it tries to send again, and is told the root is pending
      expect(chain.sends).to.equal(1);
      chain.mine();
      await a.runOnce();
      expect(await certificates(ids)).to.have.length(1);
    });

    it("refuses to certify a root anchored with another tree size", async () => {
      const [id] = await submit(2);
      const a = anchorer({ maxWaitMs: 0 });
      await a.runOnce();
      chain.mine();
      const [root] = [...chain.anchors.keys()];
      chain.anchors.set(root!, { ...chain.anchors.get(root!)!, treeSize: 3 });
      const error = await a.runOnce().catch((e: Error) => e);
      expect((error as Error).message).to.match(/tree size 3, expected 2/);
      expect(await certificates([id!])).to.deep.equal([]);
    });

    it("awaits durableThrough for the anchoring block before any certificate is issued", async () => {
      const ids = await submit(1);
      const asked: number[] = [];
      let release!: () => void;
      const durable = new Promise<void>((resolve) => (release = resolve));
      const a = anchorer({
        maxWaitMs: 0,
        durableThrough: async (n) => {
          asked.push(n);
          await durable;
        },
      });
      await a.runOnce();
      const block = chain.mine();
      const round = a.runOnce();
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect([asked, await certificates(ids)]).to.deep.equal([[block], []]);
      release();
      await round;
      expect(await certificates(ids)).to.have.length(1);
    });

    it("reports an unreachable chain in its health, and recovers", async () => {
      await submit(1);
      chain.down = new Error("connect ECONNREFUSED 127.0.0.1:8545");
      const a = anchorer({ maxWaitMs: 0, pollMs: 5, retryBaseMs: 5 });
      a.start();
      await until(() => a.health.lastError !== null);
      expect(a.health).to.deep.include({ reachable: false, lastError: "connect ECONNREFUSED 127.0.0.1:8545" });
      chain.down = null;
      chain.automine = true;
      await until(() => a.health.lastAnchoredAt !== null, 5_000);
      await a.stop();
      expect(a.health.lastError).to.equal(null);
    });

    it("stands by while another replica holds the anchoring lease", async () => {
      await submit(1);
      const a = anchorer({ maxWaitMs: 0, lease: { acquire: async () => false, release: async () => undefined } });
      await a.runOnce();
      expect([a.health.role, chain.sends, (await store.pendingSummary()).count]).to.deep.equal(["standby", 0, 1]);
    });

    it("asks the chain nothing once stop() has resolved, though its last round left a batch waiting for its block", async () => {
      await submit(1);
      const a = anchorer({ maxWaitMs: 0, pollMs: 100, blockWatchMs: 5 });
      a.start();
      await until(async () => (await store.unanchoredBatches())[0]?.txHash != null);
      // The next idle round is held inside locate (its batch still unmined) while stop() is called.
      const node = Promise.withResolvers<void>();
      let entered = false;
      const locate = chain.locate.bind(chain);
      chain.locate = async (root) => {
        entered = true;
        await node.promise;
        return locate(root);
      };
      let asked = 0;
      const blockNumber = chain.blockNumber.bind(chain);
      chain.blockNumber = async () => (asked++, blockNumber());
      await until(() => entered);
      const stopped = a.stop();
      node.resolve();
      await stopped;
      const then = asked;
      // Nothing to wait for: a watch armed after stop() would ask within 5 ms.
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(asked).to.equal(then);
    });

    it("stops watching for blocks once it stands by: a replica that lost the lease asks for it at its idle pace", async () => {
      await submit(1);
      let holds = true;
      let asked = 0;
      const lease = { acquire: async () => (asked++, holds), release: async () => undefined };
      const a = anchorer({ maxWaitMs: 0, pollMs: 3_600_000, blockWatchMs: 5, lease });
      try {
        a.start();
        await until(async () => (await store.unanchoredBatches())[0]?.txHash != null);
        holds = false;
        chain.mine(); // the block watch starts a round, which finds the lease gone
        await until(() => a.health.role === "standby");
        const then = asked;
        chain.mine();
        // Nothing to wait for: a watch left running would ask again within 5 ms.
        await new Promise((resolve) => setTimeout(resolve, 300));
        expect(asked).to.equal(then);
      } finally {
        await a.stop();
      }
    });

    it("says in its log when it takes the anchoring lease and when it loses it, once each time", async () => {
      const lines: string[] = [];
      const log = createLogger({
        format: "json",
        destination: new Writable({
          write(chunk: Buffer, _encoding, done) {
            lines.push(JSON.parse(chunk.toString()).msg);
            done();
          },
        }),
      });
      let holds = false;
      const a = anchorer({ maxWaitMs: 0, lease: { acquire: async () => holds, release: async () => undefined } }, log);
      for (const held of [false, false, true, true, false]) {
        holds = held;
        await a.runOnce();
      }
      expect(lines).to.deep.equal([
        "another replica holds the anchoring lease: this one stands by",
        "this replica holds the anchoring lease: it seals, anchors and certifies",
        "another replica holds the anchoring lease: this one stands by",
      ]);
    });
  });

  describe("time-stamps", () => {
    class TestStamper implements Stamper {
      readonly configured = 1;
      readonly required: boolean;
      up = true;
      asked = 0;
      constructor(required: boolean) {
        this.required = required;
      }
      async stamp(root: Uint8Array, have: readonly TimestampToken[]) {
        this.asked++;
        if (have.length >= 1) return { tokens: [], errors: [] };
        if (!this.up) return { tokens: [], errors: ["tsa.test: connect ECONNREFUSED"] };
        return { tokens: [{ type: "rfc3161" as const, token: Buffer.from(root).toString("base64") }], errors: [] };
      }
    }

    it("stamps the root before sending, and the certificates carry the token", async () => {
      const ids = await submit(2);
      const stamper = new TestStamper(false);
      const a = anchorer({ maxWaitMs: 0, stamper });
      await a.runOnce();
      chain.mine();
      await a.runOnce();
      const [c] = await certificates(ids);
      expect(claimsOf(c!).timestamps).to.have.length(1);
    });

    it("anchors and certifies without a token while the TSA is down, and certifies again once it answers", async () => {
      const ids = await submit(1);
      const stamper = new TestStamper(false);
      stamper.up = false;
      const a = anchorer({ maxWaitMs: 0, stamper });
      await a.runOnce();
      chain.mine();
      await a.runOnce();
      const [first] = await certificates(ids);
      expect(claimsOf(first!).timestamps, "issued without").to.deep.equal([]);
      expect(a.health.timestamps.lastError).to.match(/ECONNREFUSED/);
      stamper.up = true;
      await a.runOnce(new Date(Date.now() + 10_000));
      const history = await store.certificateHistory(ids[0]!);
      expect(history.map((h) => [h.entry.reason, h.entry.current])).to.deep.equal([
        ["anchored", false],
        ["time-stamped", true],
      ]);
      expect(claimsOf(history[1]!.certificate).timestamps).to.have.length(1);
      for (const h of history)
        expect((await verifyCertificate(h.certificate, { chain: readerOf(chain) })).checks[4]!.status).to.equal(
          "passed",
        );
    });

    it("issues no time-stamped certificate for a batch another key anchored, nor fails its rounds for it: the one in force stays, and new batches are anchored", async () => {
      const ids = await submit(1);
      const stamper = new TestStamper(false);
      stamper.up = false;
      await anchorer({ maxWaitMs: 0, stamper }).runOnce();
      chain.mine();
      await anchorer({ maxWaitMs: 0, stamper }).runOnce(); // certified without a token
      stamper.up = true;
      const current = new InProcessSigner(`0x${"22".repeat(32)}`);
      chain.from = current.address;
      const rotated = anchorer({ maxWaitMs: 0, stamper }, silentLogger(), current);
      const asked = stamper.asked;
      const later = await submit(1);
      await rotated.runOnce(new Date(Date.now() + 10_000));
      chain.mine();
      await rotated.runOnce(new Date(Date.now() + 20_000));
      expect(rotated.health.timestamps.lastError).to.match(
        /^batch 1 was anchored by 0x[0-9a-fA-F]{40}, not by this service's issuer/,
      );
      expect(stamper.asked - asked, "the TSA is asked for the new batch only").to.equal(1);
      const history = await store.certificateHistory(ids[0]!);
      expect(history.map((h) => [h.entry.reason, h.entry.current])).to.deep.equal([["anchored", true]]);
      expect(await certificates(later)).to.have.length(1);
    });

    it("with tokens required, issues nothing until the TSA has answered", async () => {
      const ids = await submit(1);
      const stamper = new TestStamper(true);
      stamper.up = false;
      const a = anchorer({ maxWaitMs: 0, stamper });
      await a.runOnce();
      chain.mine();
      await a.runOnce();
      expect(await certificates(ids)).to.deep.equal([]);
      stamper.up = true;
      await a.runOnce();
      const [c] = await certificates(ids);
      expect(claimsOf(c!).timestamps).to.have.length(1);
    });
  });

  describe("reconciliation with the chain", () => {
    it("finds a batch whose anchor the chain lost, anchors it again, and keeps both certificates", async () => {
      const ids = await submit(2);
      const a = anchorer({ maxWaitMs: 0 });
      await a.runOnce();
      const block = chain.mine();
      await a.runOnce();
      const [before] = await certificates(ids);
      const reconciler = new Reconciler({
        store,
        chain,
        log: silentLogger(),
        intervalMs: 60_000,
        onReopened: () => undefined,
        nodeMayLag: false,
      });
      expect(await reconciler.runOnce(), "nothing lost yet").to.deep.equal([]);

      chain.rollBackTo(block - 1);
      chain.mine(); // the chain goes on from where it was rolled back to
      const [batch] = await reconciler.runOnce();
      expect(reconciler.status).to.deep.include({ mismatches: 1, batches: [batch], unresolved: [batch] });
      expect((await store.evidence(ids[0]!))?.status).to.equal("anchoring");
      // The registry trusted (as the service and its page trust theirs): the root is not in it.
      const registry = claimsOf(before!).anchor.contract;
      expect(
        (await verifyCertificate(before!, { chain: readerOf(chain), trustedContracts: [registry] })).verdict,
        "the old certificate no longer verifies",
      ).to.equal("invalid");
      // None trusted: the node has neither the anchor nor the certificate's block, as a chain that
      // never had them (another chain that shares the id) would not: could not verify.
      const untrusted = await verifyCertificate(before!, { chain: readerOf(chain) });
      expect([untrusted.verdict, untrusted.checks.find((c) => c.id === "anchor")!.reason.code]).to.deep.equal([
        "indeterminate",
        "anchor.chain-unconfirmed",
      ]);

      await a.runOnce();
      chain.mine();
      await a.runOnce();
      await reconciler.runOnce();
      expect(reconciler.status.unresolved).to.deep.equal([]);
      const history = await store.certificateHistory(ids[0]!);
      expect(history.map((h) => [h.entry.reason, h.entry.current])).to.deep.equal([
        ["anchored", false],
        ["re-anchored", true],
      ]);
      expect((await verifyCertificate(history[1]!.certificate, { chain: readerOf(chain) })).verdict).to.equal("valid");
      expect(history[0]!.certificate).to.deep.equal(before);
    });

    it("finds a batch whose block was replaced by another (a reorganisation)", async () => {
      await submit(1);
      const a = anchorer({ maxWaitMs: 0 });
      await a.runOnce();
      const block = chain.mine();
      await a.runOnce();
      chain.blocks[block]!.hash = `0x${"ee".repeat(32)}`;
      const reconciler = new Reconciler({
        store,
        chain,
        log: silentLogger(),
        intervalMs: 60_000,
        onReopened: () => undefined,
        nodeMayLag: false,
      });
      expect(await reconciler.runOnce()).to.have.length(1);
    });

    it("does not judge a batch beyond the newest block of a node that may still be syncing", async () => {
      await submit(1);
      const a = anchorer({ maxWaitMs: 0 });
      await a.runOnce();
      const block = chain.mine();
      await a.runOnce();
      chain.rollBackTo(block - 1);
      const reconciler = new Reconciler({
        store,
        chain,
        log: silentLogger(),
        intervalMs: 60_000,
        onReopened: () => undefined,
        nodeMayLag: true,
      });
      expect(await reconciler.runOnce()).to.deep.equal([]);
    });
  });
});

async function until(condition: () => boolean | Promise<boolean>, timeoutMs = 2_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error("timed out");
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
