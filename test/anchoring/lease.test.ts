import { expect } from "chai";
import { rmSync } from "node:fs";
import { anchoringLease, type LeaseClocks } from "../../service/anchoring/lease.ts";
import { SqliteEvidenceStore } from "../../service/store/sqlite-store.ts";
import { tempDir } from "../helpers/processes.ts";

const TTL_MS = 30_000;
/** A lease is taken as still held for a third of its term. */
const TERM_MS = TTL_MS / 3;

/** Two hand-driven clocks: the wall clock and the monotonic one, each moved by the test. */
class Clocks implements LeaseClocks {
  wallMs = Date.UTC(2026, 10, 28);
  monotonicMs = 1_000;
  wall = (): number => this.wallMs;
  monotonic = (): number => this.monotonicMs;
  advance(ms: number): void {
    this.wallMs += ms;
    this.monotonicMs += ms;
  }
}

describe("the anchoring lease (SQLite on disk, clocks driven by the test)", () => {
  let dir: string;
  let store: SqliteEvidenceStore;
  let clocks: Clocks;
  /** The store's acquireLease calls: each is a question to the database. */
  let asked: number;
  /** Runs during the next question, as if it took that long to answer. */
  let whileAsking: (() => void) | undefined;
  const counted = () => ({
    acquireLease: (name: string, holder: string, ttlMs: number) => {
      asked++;
      whileAsking?.();
      whileAsking = undefined;
      return store.acquireLease(name, holder, ttlMs);
    },
    releaseLease: (name: string, holder: string) => store.releaseLease(name, holder),
  });

  beforeEach(() => {
    dir = tempDir("lease");
    store = SqliteEvidenceStore.open(dir);
    clocks = new Clocks();
    asked = 0;
    whileAsking = undefined;
  });

  afterEach(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("asks the database again only once a third of the term has passed on both clocks", async () => {
    const lease = anchoringLease(counted(), TTL_MS, clocks);
    expect(await lease.acquire()).to.equal(true);
    clocks.advance(TERM_MS - 1);
    expect(await lease.acquire()).to.equal(true);
    expect(asked, "held: not asked again").to.equal(1);
    clocks.advance(1);
    expect(await lease.acquire()).to.equal(true);
    expect(asked, "renewed").to.equal(2);
  });

  it("asks again at once when the wall clock steps back, which would otherwise stretch the term", async () => {
    const lease = anchoringLease(counted(), TTL_MS, clocks);
    await lease.acquire();
    clocks.advance(TERM_MS - 1);
    clocks.wallMs -= 10 * 60_000;
    await lease.acquire();
    expect(asked).to.equal(2);
  });

  it("asks again when the host slept: the wall clock moved on while the monotonic one stood still", async () => {
    const lease = anchoringLease(counted(), TTL_MS, clocks);
    await lease.acquire();
    clocks.wallMs += 10 * 60_000;
    await lease.acquire();
    expect(asked).to.equal(2);
  });

  it("counts the term from before it asked: an answer that took the whole term leaves nothing of it", async () => {
    const lease = anchoringLease(counted(), TTL_MS, clocks);
    whileAsking = () => clocks.advance(TERM_MS);
    expect(await lease.acquire()).to.equal(true);
    await lease.acquire();
    expect(asked).to.equal(2);
  });

  it("while one replica holds it another is refused; once released the other takes it, and the first is refused", async () => {
    const first = anchoringLease(counted(), TTL_MS, clocks);
    const second = anchoringLease(counted(), TTL_MS, clocks);
    expect(await first.acquire()).to.equal(true);
    expect(await second.acquire()).to.equal(false);
    await first.release();
    expect(await second.acquire()).to.equal(true);
    expect(await first.acquire(), "released: it asks, and is refused").to.equal(false);
  });
});
