import { readdirSync, rmSync, statSync } from "node:fs";
import { open, rename } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import { gunzip } from "node:zlib";
import { makeDirectory } from "../make-directory.ts";

/** One snapshot file of the embedded chain, as Anvil's `--load-state` reads it. */
export interface SnapshotFile {
  /** Order of writing: the newest snapshot has the highest sequence number. */
  seq: number;
  /** The chain's head block in the snapshot; every block up to it is in the file. */
  blockNumber: number;
  path: string;
  /** When the file was renamed into place. */
  at: Date;
}

/** The parts of Anvil's `SerializableState` (anvil 1.7.1, `eth/backend/db.rs`) the service checks. */
export interface DumpedState {
  best_block_number?: number;
  /** Left out by {@link summarizeState}: the bulk of a state, and not needed for the checks. */
  blocks?: { header: { number: string } }[];
  transactions: { info: { from: string; nonce: number }; block_number: number }[];
  accounts: Record<string, { nonce: number; code: string }>;
}

const NAME = /^snapshot-(\d{10})-block-(\d+)\.json$/;
const TEMPORARY = /^\.snapshot-.*\.tmp$/;

/**
 * The directory of durable chain snapshots. A snapshot is written to a temporary file,
 * fsynced, renamed into place, and the directory fsynced (rename(2) is atomic; the fsync of
 * the directory makes the new name itself durable), so after a power cut the directory
 * holds whole snapshots only. The previous snapshot stays until the new one is in place;
 * older ones are pruned.
 */
export class SnapshotStore {
  readonly dir: string;
  readonly #keep: number;

  constructor(dir: string, options: { keep?: number } = {}) {
    this.dir = dir;
    this.#keep = Math.max(2, options.keep ?? 2);
    makeDirectory(dir);
  }

  /** Snapshots on disk, oldest first. */
  list(): SnapshotFile[] {
    const files: SnapshotFile[] = [];
    for (const name of readdirSync(this.dir)) {
      const match = NAME.exec(name);
      if (!match) continue;
      const file = path.join(this.dir, name);
      files.push({ seq: Number(match[1]), blockNumber: Number(match[2]), path: file, at: statSync(file).mtime });
    }
    return files.sort((a, b) => a.seq - b.seq);
  }

  newest(): SnapshotFile | undefined {
    return this.list().at(-1);
  }

  /** Removes what an interrupted write left behind; returns how many files. */
  removeTemporaryFiles(): number {
    let removed = 0;
    for (const name of readdirSync(this.dir)) {
      if (!TEMPORARY.test(name)) continue;
      rmSync(path.join(this.dir, name), { force: true });
      removed++;
    }
    return removed;
  }

  /** Writes `json` (a state Anvil can load) as the newest snapshot, durably, then prunes. */
  async write(json: Uint8Array, blockNumber: number): Promise<SnapshotFile> {
    const seq = (this.newest()?.seq ?? 0) + 1;
    const name = `snapshot-${String(seq).padStart(10, "0")}-block-${blockNumber}.json`;
    const temporary = path.join(this.dir, `.snapshot-${seq}-${process.pid}.tmp`);
    const final = path.join(this.dir, name);
    const handle = await open(temporary, "wx", 0o600);
    try {
      try {
        await handle.writeFile(json);
        await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(temporary, final);
    } catch (e) {
      rmSync(temporary, { force: true });
      throw e;
    }
    await syncDirectory(this.dir);
    this.prune();
    return { seq, blockNumber, path: final, at: statSync(final).mtime };
  }

  /** Keeps the newest snapshots only. */
  prune(): void {
    const files = this.list();
    for (const file of files.slice(0, Math.max(0, files.length - this.#keep))) rmSync(file.path, { force: true });
  }
}

/** fsync(2) of a directory, so that a rename in it survives a power cut. */
export async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Decodes what `anvil_dumpState` returns: `0x` + hex of gzip(JSON of the state), the same
 * JSON `--load-state` reads (anvil 1.7.1, `Backend::dump_state`). Decompression runs on
 * libuv's thread pool; the state is summarised, not parsed whole (see
 * {@link summarizeState}), to keep the event loop free on long chains.
 */
export async function decodeDump(hex: string): Promise<{ json: Buffer; state: DumpedState }> {
  if (typeof hex !== "string" || !/^0x([0-9a-f]{2})+$/i.test(hex.slice(0, 64))) {
    throw new Error("anvil_dumpState did not return hex bytes");
  }
  const json = await gunzipAsync(Buffer.from(hex.slice(2), "hex"));
  return { json, state: summarizeState(json) };
}

const gunzipAsync = promisify(gunzip);

/** Parses a whole state file and checks the fields the service relies on. */
export function parseState(json: Uint8Array): DumpedState {
  return checked(JSON.parse(Buffer.from(json).toString("utf8")));
}

/**
 * The head, the accounts and the mined transactions of a state, without its blocks.
 *
 * The blocks are most of a state (a header of about 1.7 KB per block, empty or not), and
 * parsing them would hold the event loop for seconds on a chain of a few days at one
 * block a second. Anvil writes the state's fields in declaration order (`block`,
 * `accounts`, `best_block_number`, `blocks`, `transactions`, `historical_states`), and
 * only the top-level transaction list follows an array (inside a block, `transactions`
 * follows the header object): the parts are cut out by those markers and parsed alone.
 * Anything unexpected falls back to parsing the whole state.
 */
export function summarizeState(json: Uint8Array): DumpedState {
  const buffer = Buffer.from(json.buffer, json.byteOffset, json.byteLength);
  try {
    const accountsKey = buffer.indexOf('"accounts":');
    const bestKey = buffer.indexOf(',"best_block_number":', accountsKey);
    const transactionsKey = buffer.lastIndexOf('],"transactions":[');
    const historicalKey = buffer.lastIndexOf(',"historical_states":');
    if (accountsKey < 0 || bestKey < 0 || transactionsKey < bestKey || historicalKey < transactionsKey) {
      throw new Error("unexpected layout");
    }
    const best = /^,"best_block_number":(\d+),/.exec(buffer.subarray(bestKey, bestKey + 48).toString("latin1"));
    if (!best) throw new Error("unexpected layout");
    return checked({
      best_block_number: Number(best[1]),
      accounts: JSON.parse(buffer.subarray(accountsKey + '"accounts":'.length, bestKey).toString("utf8")),
      transactions: JSON.parse(
        buffer.subarray(transactionsKey + '],"transactions":'.length, historicalKey).toString("utf8"),
      ),
    });
  } catch {
    return parseState(json);
  }
}

function checked(state: unknown): DumpedState {
  const s = state as DumpedState;
  if (
    typeof s !== "object" ||
    s === null ||
    !Array.isArray(s.transactions) ||
    typeof s.accounts !== "object" ||
    s.accounts === null ||
    (s.best_block_number === undefined && !Array.isArray(s.blocks))
  ) {
    throw new Error("the chain state has no head, transactions or accounts");
  }
  return s;
}

/** The head block of a dumped state. */
export function headOf(state: DumpedState): number {
  if (typeof state.best_block_number === "number") return state.best_block_number;
  return (state.blocks ?? []).reduce((max, b) => Math.max(max, Number(b.header.number)), 0);
}

/**
 * Whether a dump is torn: account state from a block its block list does not hold yet.
 *
 * Anvil serialises the block list and the account state under separate locks, and its
 * miner commits a block's state before it publishes the block (anvil 1.7.1,
 * `Backend::serialized_state`, `do_mine_block`). A dump taken while a block is being mined
 * can so hold the effects of that block's transactions without the transactions. Every
 * transaction raises its sender's nonce by one, so an externally owned account whose
 * nonce is beyond its newest mined transaction shows such a tear.
 *
 * Returns a description of the first discrepancy, or null.
 */
export function tornState(state: DumpedState): string | null {
  const newestNonce = new Map<string, number>();
  for (const tx of state.transactions) {
    const from = tx.info.from.toLowerCase();
    newestNonce.set(from, Math.max(newestNonce.get(from) ?? -1, tx.info.nonce));
  }
  for (const [address, account] of Object.entries(state.accounts)) {
    if (account.code !== "0x" && account.code !== "") continue;
    const mined = newestNonce.get(address.toLowerCase());
    if (mined !== undefined && account.nonce > mined + 1) {
      return `account ${address} has nonce ${account.nonce}, but its newest mined transaction has nonce ${mined}`;
    }
  }
  return null;
}
