import { randomUUID } from "node:crypto";
import { hostname } from "node:os";
import type { EvidenceStore } from "../store/store.ts";

/** What the anchorer asks of a lease: whether this replica may anchor now, and to give it up. */
export interface Lease {
  acquire(): Promise<boolean>;
  release(): Promise<void>;
}

/** The clocks a lease reads: the wall clock (which steps) and a monotonic one (which may stop while the host sleeps). */
export interface LeaseClocks {
  wall(): number;
  monotonic(): number;
}

const SYSTEM_CLOCKS: LeaseClocks = { wall: () => Date.now(), monotonic: () => performance.now() };

/**
 * One anchorer at a time among the replicas sharing a store: the lease is renewed every
 * round; if its holder dies, another replica takes it once it expires. The store times the
 * lease by one clock (the database's); this replica remembers it as held for a third of its
 * term, counted from before it asked, so a slow answer never stretches it. That third is
 * counted on both local clocks, and ends early if either disagrees: a wall clock stepped back
 * (NTP, an operator) would stretch it on the wall clock alone, a host that slept would on the
 * monotonic clock alone. The database's own constraints (one batch per item, one batch per
 * root, certificates never rewritten) and the contract's refusal of a second anchor keep
 * even an overlap harmless.
 */
export function anchoringLease(
  store: Pick<EvidenceStore, "acquireLease" | "releaseLease">,
  ttlMs: number,
  clocks: LeaseClocks = SYSTEM_CLOCKS,
): Lease {
  const holder = `${hostname()}:${process.pid}:${randomUUID()}`;
  const term = ttlMs / 3;
  let held: { wall: number; monotonic: number } | null = null;
  const stillHeld = (): boolean => {
    if (held === null) return false;
    const wall = clocks.wall() - held.wall;
    const monotonic = clocks.monotonic() - held.monotonic;
    return wall >= 0 && wall < term && monotonic < term;
  };
  return {
    async acquire() {
      if (stillHeld()) return true;
      const asked = { wall: clocks.wall(), monotonic: clocks.monotonic() };
      held = null;
      const granted = (await store.acquireLease("anchoring", holder, ttlMs)) !== null;
      if (granted) held = asked;
      return granted;
    },
    async release() {
      held = null;
      await store.releaseLease("anchoring", holder);
    },
  };
}
