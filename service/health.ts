import type { OperatorHealth, PublicHealth } from "./core/index.ts";
import { JsonRpcChainReader } from "./core/index.ts";
import type { AnchorerHealth } from "./anchoring/anchorer.ts";
import type { EvidenceStore } from "./store/store.ts";

/** The embedded chain's process, as its supervisor reports it. */
export interface NodeStatus {
  state: string;
  restarts: number;
  lastExit: string | null;
  lastSnapshotBlock: number | null;
}

export interface ReconciliationStatus {
  checkedAt: string | null;
  /** Batches found without their anchor on chain since the service started. */
  mismatches: number;
  batches: number[];
  /** Of those, the ones not anchored again yet. */
  unresolved: number[];
}

export interface HealthSources {
  chainUrl: string;
  chainId: number;
  contract: string;
  store: EvidenceStore;
  anchoring: () => AnchorerHealth;
  node?: () => NodeStatus;
  reconciliation: () => ReconciliationStatus;
  timestamps: () => Promise<{ configured: number; batchesWithout: number; lastError: string | null }>;
}

/**
 * One health model: every field is read from one source, and the status is `degraded`
 * exactly when `problems` names something. The chain's reachability is asked live (never
 * from a cache), so an outage shows at once (the public view is shared by the callers of one
 * second: http/app.ts).
 */
export async function health(sources: HealthSources): Promise<OperatorHealth> {
  const [now, evidence] = await Promise.all([condition(sources), sources.store.counts()]);
  return { ...now, evidence };
}

/**
 * The public view, without the evidence counts: they are the operators' (and a count over
 * every item is work an anonymous caller should not be able to ask for at will).
 */
export async function publicHealthOf(sources: HealthSources): Promise<PublicHealth> {
  return publicHealth(await condition(sources));
}

async function condition(sources: HealthSources): Promise<Omit<OperatorHealth, "evidence">> {
  const reachable = await new JsonRpcChainReader(sources.chainUrl, { timeoutMs: 2_000 }).chainId().then(
    (id) => id === sources.chainId,
    () => false,
  );
  const anchoring = sources.anchoring();
  const node = sources.node?.();
  const reconciliation = sources.reconciliation();
  const timestamps = await sources.timestamps();
  const problems: string[] = [];
  if (!reachable) problems.push("the chain node does not answer");
  if (node && node.state !== "running") problems.push(`the embedded chain node is ${node.state}`);
  if (reachable && anchoring.lastError) problems.push(`anchoring fails: ${anchoring.lastError}`);
  if (reconciliation.unresolved.length > 0) {
    problems.push(
      `${reconciliation.unresolved.length} batch(es) lost their anchor on chain and are being anchored again: ${reconciliation.unresolved.join(", ")}`,
    );
  }
  if (timestamps.configured > 0 && timestamps.batchesWithout > 0) {
    problems.push(
      `${timestamps.batchesWithout} anchored batch(es) still lack a time-stamp token${timestamps.lastError ? `: ${timestamps.lastError}` : ""}`,
    );
  }
  return {
    status: problems.length === 0 ? "ok" : "degraded",
    problems,
    chain: { chainId: sources.chainId, contract: sources.contract, reachable, ...(node ? { node } : {}) },
    anchoring: { lastError: anchoring.lastError, lastAnchoredAt: anchoring.lastAnchoredAt, role: anchoring.role },
    reconciliation: {
      checkedAt: reconciliation.checkedAt,
      mismatches: reconciliation.mismatches,
      batches: reconciliation.batches,
    },
    timestamps,
  };
}

/** What anyone may see: whether the service is well, and which chain it anchors on. */
export function publicHealth(full: Pick<OperatorHealth, "status" | "chain">): PublicHealth {
  return {
    status: full.status,
    chain: { chainId: full.chain.chainId, contract: full.chain.contract, reachable: full.chain.reachable },
  };
}
