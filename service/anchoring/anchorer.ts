import { Interface } from "ethers";
import {
  EVIDENCE_ANCHOR_ABI,
  fromHex32,
  MerkleTree,
  parseCertificate,
  signingBytes,
  toHex32,
  type Certificate,
  type EvidenceRecord,
  type Hex32,
  type UnsignedCertificate,
} from "../core/index.ts";
import type { AnchorClient, AnchorLocation } from "../chain/anchor-client.ts";
import type { EvidenceStore, SealedBatch } from "../store/evidence-store.ts";
import type { CertificateSigner } from "./certificate-signer.ts";

export interface AnchorerOptions {
  maxItems: number;
  maxWaitMs: number;
  confirmations: number;
  /** How long a sent transaction may stay unmined before it is sent again. */
  receiptTimeoutMs: number;
  chainId: number;
  issuerName: string;
}

export interface AnchorerHealth {
  /** Whether the last chain call succeeded. */
  reachable: boolean;
  lastError: string | null;
  lastAnchoredAt: string | null;
}

type Log = (message: string) => void;

/**
 * Seals pending evidence into batches and anchors them, one batch at a time, oldest first.
 *
 * Exactly once on chain: a batch's root is persisted before any transaction is sent, and
 * before sending (again) the contract is asked whether the root is already anchored. The
 * contract itself refuses a second anchor of a root, so even a transaction sent twice
 * across a crash anchors once.
 *
 * Retry policy: a transaction with no receipt after `receiptTimeoutMs` is sent again as a
 * new transaction at the account's next free nonce (no same-nonce fee bump: on zero-gas
 * chains there is no fee to bump; if the node lost the first one, the resend may reuse
 * its nonce and even its hash). Whichever is mined first anchors; the contract refuses
 * any other, which then costs only gas. If the node's pending state already holds the
 * anchor, nothing is sent: the service waits for it to be mined.
 */
export class Anchorer {
  readonly #store: EvidenceStore;
  readonly #client: AnchorClient;
  readonly #signer: CertificateSigner;
  readonly #options: AnchorerOptions;
  readonly #log: Log;
  readonly health: AnchorerHealth = { reachable: true, lastError: null, lastAnchoredAt: null };
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #stopped = false;
  #failures = 0;

  constructor(
    store: EvidenceStore,
    client: AnchorClient,
    signer: CertificateSigner,
    options: AnchorerOptions,
    log: Log,
  ) {
    this.#store = store;
    this.#client = client;
    this.#signer = signer;
    this.#options = options;
    this.#log = log;
  }

  start(): void {
    this.#stopped = false;
    this.#schedule(0);
  }

  /** Wakes the loop now: new evidence may have filled a batch. */
  notify(): void {
    if (this.#failures === 0) this.#schedule(0);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#running;
  }

  /** One round: seal what is due, then anchor every sealed batch. */
  async runOnce(now = new Date()): Promise<void> {
    this.sealDue(now);
    for (const batch of this.#store.unanchoredBatches()) {
      if (this.#stopped) return;
      await this.#anchor(batch);
    }
  }

  /** Seals full batches, and a partial one whose oldest item has waited long enough. */
  sealDue(now = new Date()): number {
    let sealed = 0;
    for (;;) {
      const { count, oldest } = this.#store.pendingSummary();
      if (count === 0 || oldest === null) return sealed;
      const waited = now.getTime() - Date.parse(oldest);
      if (count < this.#options.maxItems && waited < this.#options.maxWaitMs) return sealed;
      const leaves = this.#store.pendingLeaves(this.#options.maxItems);
      const tree = treeOf(leaves);
      const root = toHex32(tree.root());
      const id = this.#store.sealBatch(
        root,
        leaves.map((l) => l.seq),
        now.toISOString(),
      );
      this.#log(`sealed batch ${id}: ${leaves.length} items, root ${root}`);
      sealed++;
    }
  }

  #schedule(ms: number): void {
    if (this.#stopped) return;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => void this.#loop(), ms);
  }

  async #loop(): Promise<void> {
    if (this.#running) return;
    this.#running = this.runOnce().then(
      () => {
        this.#failures = 0;
        this.health.reachable = true;
        this.health.lastError = null;
      },
      (e: unknown) => {
        this.#failures++;
        this.health.reachable = false;
        this.health.lastError = e instanceof Error ? e.message.split("\n")[0]! : String(e);
        this.#log(`anchoring failed (attempt ${this.#failures}), retrying: ${this.health.lastError}`);
      },
    );
    await this.#running;
    this.#running = undefined;
    // Poll often enough to seal on time; back off while the chain is failing.
    const next =
      this.#failures === 0 ? Math.min(250, this.#options.maxWaitMs) : Math.min(30_000, 500 * 2 ** this.#failures);
    this.#schedule(next);
  }

  async #anchor(batch: SealedBatch): Promise<void> {
    let location = await this.#client.locate(batch.root);
    if (!location) {
      if (batch.txHash && !(await this.#shouldResend(batch))) return;
      location = await this.#send(batch);
      if (!location) return;
    }
    if (!(await this.#confirmed(location))) return;
    if (location.treeSize !== batch.treeSize) {
      throw new Error(`root ${batch.root} is anchored with tree size ${location.treeSize}, expected ${batch.treeSize}`);
    }
    const certificates = await this.#issue(batch, location);
    this.#store.completeBatch(batch.id, location, certificates, new Date().toISOString());
    this.health.lastAnchoredAt = new Date().toISOString();
    this.#log(`anchored batch ${batch.id} in block ${location.blockNumber} (tx ${location.txHash})`);
  }

  /** A batch whose transaction was sent: send again only if it failed or has waited too long. */
  async #shouldResend(batch: SealedBatch): Promise<boolean> {
    const receipt = await this.#client.receipt(batch.txHash!);
    if (receipt) return receipt.status === 0;
    const waited = Date.now() - Date.parse(batch.txSentAt!);
    return waited >= this.#options.receiptTimeoutMs;
  }

  async #send(batch: SealedBatch): Promise<AnchorLocation | null> {
    let txHash: Hex32;
    try {
      txHash = await this.#client.sendAnchor(batch.root, batch.treeSize);
    } catch (e) {
      // Anchored meanwhile (a transaction from before a crash): that counts as done. A node
      // that estimates against its pending state says so while that transaction still
      // waits to be mined: then there is nothing to send, only to wait for.
      if (!isAlreadyAnchored(e)) throw e;
      const location = await this.#client.locate(batch.root);
      if (!location) this.#log(`batch ${batch.id}: an earlier transaction for it is still pending; waiting`);
      return location;
    }
    this.#store.recordSent(batch.id, txHash, new Date().toISOString());
    this.#log(`sent batch ${batch.id} (tx ${txHash})`);
    const receipt = await this.#client.waitForReceipt(
      txHash,
      this.#options.confirmations,
      this.#options.receiptTimeoutMs,
    );
    if (!receipt) return null;
    return this.#client.locate(batch.root);
  }

  async #confirmed(location: AnchorLocation): Promise<boolean> {
    const latest = await this.#client.blockNumber();
    return latest - location.blockNumber + 1 >= this.#options.confirmations;
  }

  async #issue(batch: SealedBatch, anchor: AnchorLocation): Promise<Certificate[]> {
    const leaves = this.#store.batchLeaves(batch.id);
    const tree = treeOf(leaves);
    if (toHex32(tree.root()) !== batch.root) throw new Error(`batch ${batch.id} no longer hashes to its root`);
    const issuedAt = new Date().toISOString();
    const unsigned: UnsignedCertificate[] = leaves.map((leaf, index) => ({
      type: "evidence-anchor-certificate",
      version: 1,
      // Validated at intake, and again below with the whole certificate.
      record: JSON.parse(leaf.record) as EvidenceRecord,
      leafHash: leaf.leafHash,
      proof: {
        algorithm: "rfc6962-sha256",
        leafIndex: index,
        treeSize: tree.size,
        path: tree.inclusionProof(index).map(toHex32),
        root: batch.root,
      },
      anchor: {
        chainId: this.#options.chainId,
        contract: this.#client.address,
        txHash: anchor.txHash,
        blockNumber: anchor.blockNumber,
        blockHash: anchor.blockHash,
        timestamp: anchor.timestamp,
      },
      issuer: { address: this.#signer.address, name: this.#options.issuerName },
      issuedAt,
    }));
    const signatures = await this.#signer.signMany(unsigned.map(signingBytes));
    const certificates = unsigned.map((u, i) => parseCertificate({ ...u, signature: signatures[i] }));
    return certificates;
  }
}

/** The RFC 6962 tree over leaf hashes as stored (hex), in batch order. */
function treeOf(leaves: readonly { leafHash: Hex32 }[]): MerkleTree {
  return MerkleTree.fromLeafHashes(leaves.map((l) => fromHex32(l.leafHash)));
}

const ALREADY_ANCHORED = new Interface(EVIDENCE_ANCHOR_ABI).getError("EvidenceAnchorAlreadyAnchored")!.selector;

/** The contract refused the root as already anchored (ethers does not always decode it: match the selector). */
function isAlreadyAnchored(e: unknown): boolean {
  const err = e as { revert?: { name?: string }; data?: unknown };
  return (
    err.revert?.name === "EvidenceAnchorAlreadyAnchored" ||
    (typeof err.data === "string" && err.data.startsWith(ALREADY_ANCHORED))
  );
}
