/**
 * The store as it fills: items committed at intake, 1,000 per transaction as the group commit
 * commits them, into SQLite on disk, timed over the first and the last stretch of a store
 * that grows to hundreds of thousands of items. The service's evidence ids (the time, then
 * 16 random bytes) against ids of 16 random bytes alone, the form before: each insert into
 * the index of ids lands where the id sorts.
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import path from "node:path";
import { SqliteEvidenceStore } from "../../service/store/sqlite-store.ts";
import { ACCOUNT, benchItem } from "./certify.ts";
import { count, type Report } from "./report.ts";

/** Commits `total` items into a new store, returning the rates (items/s) of the first and the last `stretch`. */
async function fill(work: string, total: number, stretch: number, id: () => string | undefined) {
  const dir = mkdtempSync(path.join(work, "store-"));
  const store = SqliteEvidenceStore.open(dir);
  try {
    await store.insertAccount(ACCOUNT);
    let seconds = 0;
    let first = 0;
    for (let done = 0; done < total; done += 1000) {
      const items = Array.from({ length: 1000 }, (_, i) => benchItem(done + i, id()));
      const started = performance.now();
      await store.insertEvidence(items);
      seconds += (performance.now() - started) / 1000;
      if (done + 1000 === stretch) first = stretch / seconds;
      if (done + 1000 === total - stretch) seconds = 0;
    }
    return { first, last: stretch / seconds };
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function benchStoreGrowth(report: Report, work: string): Promise<void> {
  const total = report.quick ? 100_000 : 500_000;
  const stretch = total / 5;
  const ours = await fill(work, total, stretch, () => undefined);
  const random = await fill(work, total, stretch, () => randomBytes(16).toString("base64url"));
  report.row({
    what: `intake into a growing SQLite store (1,000 items per transaction, on disk): the last ${count(stretch)} of ${count(total)} against the first`,
    value: `${count(ours.last)} /s (first ${count(ours.first)} /s)`,
    baseline: `ids of 16 random bytes alone: ${count(random.last)} /s (first ${count(random.first)} /s)`,
    ratio: ours.last / ours.first,
    target: "report (rate kept as the store grows)",
    met: null,
  });
  report.results.storeGrowth = { total, stretch, ours, randomIds: random };
}
