/**
 * What every benchmark shares: the table of figures, each beside a baseline measured in the
 * same run, and the helpers that measure with care on a shared, noisy machine.
 */
import { once } from "node:events";
import { createWriteStream, readFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { performance } from "node:perf_hooks";

export interface Row {
  what: string;
  value: string;
  baseline: string;
  /** ours / baseline in the direction the target states, or null where there is no ratio. */
  ratio: number | null;
  target: string;
  /** Whether the target is met; null when the row only reports. */
  met: boolean | null;
}

export class Report {
  readonly quick: boolean;
  readonly rows: Row[] = [];
  readonly results: Record<string, unknown> = {};

  constructor(quick: boolean) {
    this.quick = quick;
  }

  row(row: Row): void {
    this.rows.push(row);
    console.error(
      `  ${row.what}: ${row.value} | ${row.baseline}${row.ratio === null ? "" : ` | ${row.ratio.toFixed(2)}`}`,
    );
  }

  table(): string {
    const lines = ["| what | value | baseline (same run) | ratio | target | met |", "|---|---|---|---|---|---|"];
    for (const r of this.rows) {
      const ratio = r.ratio === null ? "—" : r.ratio.toFixed(2);
      const met = r.met === null ? "—" : r.met ? "yes" : "**no**";
      lines.push(`| ${r.what} | ${r.value} | ${r.baseline} | ${ratio} | ${r.target} | ${met} |`);
    }
    return lines.join("\n");
  }
}

export async function timed<T>(fn: () => Promise<T> | T): Promise<[T, number]> {
  const start = performance.now();
  const value = await fn();
  return [value, (performance.now() - start) / 1000];
}

/**
 * Alternates baseline and ours for `rounds` rounds and returns the round whose ratio is the
 * median: on a shared machine a single pair can differ by a third, and alternating spreads
 * the other tenants' load over both.
 */
export async function alternating(
  rounds: number,
  baseline: (round: number) => Promise<unknown> | unknown,
  ours: (round: number) => Promise<unknown> | unknown,
): Promise<{ baselineS: number; oursS: number; rounds: { baselineS: number; oursS: number }[] }> {
  const measured: { baselineS: number; oursS: number }[] = [];
  for (let i = 0; i < rounds; i++) {
    const [, baselineS] = await timed(() => baseline(i));
    const [, oursS] = await timed(() => ours(i));
    measured.push({ baselineS, oursS });
  }
  const sorted = [...measured].sort((a, b) => a.oursS / a.baselineS - b.oursS / b.baselineS);
  return { ...sorted[Math.floor(sorted.length / 2)]!, rounds: measured };
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

export function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

export async function writeRandomFile(file: string, bytes: number): Promise<void> {
  const out = createWriteStream(file);
  const chunk = randomBytes(1 << 20);
  for (let left = bytes; left > 0; left -= chunk.length) {
    if (!out.write(left >= chunk.length ? chunk : chunk.subarray(0, left))) await once(out, "drain");
  }
  out.end();
  await once(out, "finish");
}

export function rssKiB(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return Number(match?.[1] ?? 0);
}

export const mib = (bytes: number) => bytes / 1024 ** 2;
export const count = (n: number) => Math.round(n).toLocaleString("en");
