/**
 * A large batch certified after its confirmation: the anchorer, in process, against SQLite on
 * disk and a chain in memory (so the chain's own time is not in the figure). The batch is
 * sealed and sent, a block is mined, and the round that follows — read the batch, rebuild
 * and check its tree, sign, store every item's certificate durably — is what is timed.
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import path from "node:path";
import { Anchorer } from "../../service/anchoring/anchorer.ts";
import { InProcessSigner } from "../../service/anchoring/signers.ts";
import { buildRecord } from "../../service/core/index.ts";
import { newEvidence } from "../../service/intake/intake.ts";
import { silentLogger } from "../../service/log.ts";
import { SqliteEvidenceStore } from "../../service/store/sqlite-store.ts";
import type { NewEvidence } from "../../service/store/store.ts";
import { MemoryChain } from "../../test/helpers/memory-chain.ts";
import { count, timed, type Report } from "./report.ts";

export const ACCOUNT = {
  id: "acct_bench",
  name: "bench",
  keyHash: "0".repeat(64),
  createdAt: "2026-11-25T00:00:00.000Z",
};

/** Item `i` of a benchmark's intake, of a random file, with its id given or made as the service makes it. */
export function benchItem(i: number, id?: string): NewEvidence {
  const record = buildRecord({
    contentHash: randomBytes(32).toString("hex"),
    submitter: ACCOUNT.id,
    fileName: `file-${i}.pdf`,
    ...(id !== undefined && { id }),
  });
  return newEvidence(record, ACCOUNT, false);
}

export async function benchCertifyBatch(report: Report, work: string): Promise<void> {
  const n = report.quick ? 20_000 : 100_000;
  const dir = mkdtempSync(path.join(work, "certify-"));
  const store = SqliteEvidenceStore.open(dir);
  try {
    await store.insertAccount(ACCOUNT);
    const items = Array.from({ length: n }, (_, i) => benchItem(i));
    // The baseline: committing the same items at intake, 1,000 per transaction as the group commit does.
    const [, intakeS] = await timed(async () => {
      for (let i = 0; i < n; i += 1000) await store.insertEvidence(items.slice(i, i + 1000));
    });
    const signer = new InProcessSigner(`0x${"11".repeat(32)}`);
    const chain = new MemoryChain();
    chain.from = signer.address; // the service's own key sends its batches
    const anchorer = new Anchorer(
      store,
      chain,
      signer,
      {
        certificateVersion: 2,
        maxItems: n,
        maxWaitMs: 1,
        confirmations: 1,
        receiptTimeoutMs: 60_000,
        issuerName: "bench",
      },
      silentLogger(),
    );
    const [, sealS] = await timed(() => anchorer.runOnce(new Date(Date.now() + 1000)));
    chain.mine();
    const [, certifyS] = await timed(() => anchorer.runOnce());
    const counts = await store.counts();
    if (counts.anchored !== n) throw new Error(`${counts.anchored} of ${n} items were certified`);
    report.row({
      what: `a ${count(n)}-item batch certified after its confirmation (v2, SQLite)`,
      value: `${certifyS.toFixed(2)} s (sealing it took ${sealS.toFixed(2)} s)`,
      baseline: `committing the same items at intake: ${intakeS.toFixed(2)} s`,
      ratio: certifyS / intakeS,
      target: report.quick ? "<= 1 s at 100,000" : "<= 1 s",
      met: report.quick ? null : certifyS <= 1,
    });
    report.results.certifyBatch = { items: n, certifySeconds: certifyS, sealSeconds: sealS, intakeSeconds: intakeS };
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
