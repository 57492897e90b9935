import {
  buildCertificates,
  firstLineOf,
  fromHex32,
  signBatchStatement,
  toHex32,
  type AnchorJson,
  type CertificateSigner,
  type IssueReason,
  type TimestampToken,
} from "../core/index.ts";
import type { BatchCertificates } from "../store/batch-certificates.ts";
import type { Logger } from "../log.ts";
import type { EvidenceStore, SealedBatch } from "../store/store.ts";
import type { AnchorChain, AnchorLocation } from "./anchor-chain.ts";
import type { Lease } from "./lease.ts";
import { sealDueBatches, treeOf, treeOfHashes, type BatchLimits } from "./seal-batch.ts";

/** Asks time-stamp authorities for tokens on a root (service/timestamping/stamper.ts). */
export interface Stamper {
  /** How many TSAs are configured: a batch is fully stamped with one token from each. */
  readonly configured: number;
  /** Certificates wait for every token instead of being issued without and upgraded later. */
  readonly required: boolean;
  /** Tokens from the TSAs that `have` lacks and that answer now; never throws. */
  stamp(root: Uint8Array, have: readonly TimestampToken[]): Promise<{ tokens: TimestampToken[]; errors: string[] }>;
}

export interface AnchorerOptions extends BatchLimits {
  /** The certificate version issued: 2 signs once per batch, 1 once per certificate. */
  certificateVersion: 1 | 2;
  confirmations: number;
  /** How long a sent transaction may stay unmined before it is sent again. */
  receiptTimeoutMs: number;
  /**
   * How long after sending a transaction the node must hold it (in its pool or a block):
   * one it no longer holds after this (a node restarted without its pool, as after a
   * power cut) is sent again at once, without waiting for `receiptTimeoutMs`. Default 5 s,
   * time for a transaction to reach every node behind a load balancer.
   */
  lostAfterMs?: number;
  issuerName: string;
  /**
   * Awaited before certificates naming a block are issued: the embedded chain resolves it
   * once that block is on disk, so no certificate outlives its anchor in a power cut.
   */
  durableThrough?: (blockNumber: number, blockHash: string) => Promise<unknown>;
  stamper?: Stamper;
  /** Held while anchoring: with several replicas, one anchors at a time. */
  lease?: Lease;
  /** How often the loop looks for work when idle (ms). */
  pollMs?: number;
  /**
   * While a batch waits for its block, how often the node's newest block is asked for, so
   * that a round starts as soon as it appears (ms). Unset: no watch, the next idle poll
   * finds the block. Meant for a node at hand (the embedded chain's socket); a metered RPC
   * service far away would be asked 20 times a second at 50 ms.
   */
  blockWatchMs?: number;
  /** The first wait after a failed round (ms); it doubles with each failure, up to 30 s. */
  retryBaseMs?: number;
  /**
   * The keys this service issued under before a rotation: a batch one of them anchored is
   * certified with it, since its certificates must name the key that anchored it.
   */
  previousSigners?: readonly CertificateSigner[];
}

export interface AnchorerHealth {
  /** Whether the last round reached the chain. */
  reachable: boolean;
  lastError: string | null;
  lastAnchoredAt: string | null;
  /** `standby` while another replica holds the anchoring lease. */
  role: "anchoring" | "standby";
  timestamps: { lastError: string | null };
}

/** A batch this service holds no key to certify: the key that anchored it is neither its own nor a previous one. */
class CannotCertify extends Error {}

/** How long a confirmed ANCHORER_ROLE is taken as still held (#mayAnchor). */
const ROLE_RECHECK_MS = 60_000;

/**
 * Seals pending evidence into batches and anchors them, oldest first: a batch's first
 * transaction is sent when it is sealed (beside a round that is busy, see #sealDue), a batch
 * sent again (its transaction lost or timed out) after the newer ones waiting for their first
 * send. Transactions go out one at a time. Each anchored batch is then certified.
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
 * any other. If the node's pending state already holds the anchor, nothing is sent: the
 * service waits for it to be mined. A transaction the node no longer holds at all is sent
 * again without waiting for the timeout (`lostAfterMs`).
 */
export class Anchorer {
  readonly #store: EvidenceStore;
  readonly #chain: AnchorChain;
  readonly #signer: CertificateSigner;
  readonly #options: AnchorerOptions;
  readonly #log: Logger;
  readonly health: AnchorerHealth = {
    reachable: true,
    lastError: null,
    lastAnchoredAt: null,
    role: "anchoring",
    timestamps: { lastError: null },
  };
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  /** Seals run one at a time, whether a round or the seal timer starts them. */
  #sealing: Promise<unknown> = Promise.resolve();
  /** Set for when the oldest pending item falls due (`#sealTimerAt`, epoch ms). */
  #sealTimer: NodeJS.Timeout | undefined;
  #sealTimerAt: number | null = null;
  /** The seal timer sealed a batch during a round: the next round starts at once. */
  #sealedBeside = false;
  /** Batches sealed beside a round, while their first transaction is sent: rounds leave them alone. */
  readonly #sendingBeside = new Set<number>();
  /** Seals beside a round and their sends, for stop() to wait for. */
  #beside: Promise<void> = Promise.resolve();
  /** Transactions are sent one at a time, each at the account's next nonce. */
  #sends: Promise<unknown> = Promise.resolve();
  /** `started` between start() and stop(); runOnce() may also be driven directly (tests, tools). */
  #state: "idle" | "started" | "stopping" = "idle";
  #failures = 0;
  #nextUpgradeAt = 0;
  /** The head when the last round began, if it left a batch waiting for a block (#watchForBlock). */
  #waitingAfter: number | null = null;
  /** The block watch in progress, if any: a watch replaced or ended stops at its next look. */
  #watch: object | undefined;

  constructor(
    store: EvidenceStore,
    chain: AnchorChain,
    signer: CertificateSigner,
    options: AnchorerOptions,
    log: Logger,
  ) {
    this.#store = store;
    this.#chain = chain;
    this.#signer = signer;
    this.#options = options;
    this.#log = log;
  }

  start(): void {
    this.#state = "started";
    this.#schedule(0);
  }

  /** Wakes the loop now: new evidence may have filled a batch. */
  notify(): void {
    if (this.#failures === 0) this.#schedule(0);
    this.#armSealTimer(Date.now() + this.#options.maxWaitMs);
  }

  /** Stops after the round in progress; a batch half-way is finished by the next start. */
  async stop(): Promise<void> {
    this.#state = "stopping";
    clearTimeout(this.#timer);
    this.#watch = undefined;
    clearTimeout(this.#sealTimer);
    this.#sealTimerAt = null;
    await this.#running;
    await this.#beside;
    await this.#sealing;
    await this.#options.lease?.release().catch(() => undefined);
  }

  /** The replica's part, said in the log when it changes: operators see which replica anchors, and since when. */
  #takeRole(role: "anchoring" | "standby"): void {
    if (role === this.health.role && this.#roleSaid) return;
    this.#roleSaid = true;
    this.health.role = role;
    if (!this.#options.lease) return;
    this.#log.info(
      role === "anchoring"
        ? "this replica holds the anchoring lease: it seals, anchors and certifies"
        : "another replica holds the anchoring lease: this one stands by",
    );
  }

  #roleSaid = false;

  /** One round: seal what is due, anchor and certify every sealed batch, upgrade unstamped ones. */
  async runOnce(now = new Date()): Promise<void> {
    // Set again below only by a round that gets as far as the batches.
    this.#waitingAfter = null;
    if (this.#options.lease && !(await this.#options.lease.acquire())) {
      this.#takeRole("standby");
      return;
    }
    this.#takeRole("anchoring");
    await this.#seal(now);
    // Without the role nothing is sent; what this key (or a previous one) anchored already is
    // still certified, and time-stamped certificates still issued.
    this.#roleHeld = await this.#mayAnchor();
    const problems: Error[] = [];
    // Listed in turn with the seals, so a batch sealed beside is either marked as being sent
    // there or not yet sealed.
    const listed = this.#sealing.then(() => this.#store.unanchoredBatches());
    this.#sealing = listed.catch(() => undefined);
    // Batches not yet sent go first (oldest first): one sealed while an earlier one waits
    // for its block is sent at once, and may share that block.
    const unanchored = (await listed).filter((b) => !this.#sendingBeside.has(b.id));
    const batches = [...unanchored.filter((b) => b.txHash === null), ...unanchored.filter((b) => b.txHash !== null)];
    // With a block watch, the head before any batch is looked up: a block after it may hold
    // one left waiting.
    const watched = this.#options.blockWatchMs !== undefined && (batches.length > 0 || this.#sendingBeside.size > 0);
    const head = watched ? await this.#chain.blockNumber() : null;
    let waiting = this.#sendingBeside.size > 0;
    for (const [i, batch] of batches.entries()) {
      if (this.#state === "stopping") return;
      // A backlog can take longer than the lease: it is renewed between batches, and a
      // replica that lost it (paused too long) stops here instead of racing the new holder.
      if (this.#options.lease && !(await this.#options.lease.acquire())) {
        this.#takeRole("standby");
        return;
      }
      try {
        if (!(await this.#anchor(batch, i === batches.length - 1))) waiting = true;
      } catch (e) {
        if (!(e instanceof CannotCertify)) throw e;
        problems.push(e);
      }
    }
    if (waiting) this.#waitingAfter = head;
    await this.#upgradeTimestamps(now);
    if (!this.#roleHeld) problems.unshift(this.#noRole());
    if (problems.length > 0) {
      // A replica that cannot anchor, or cannot certify what was anchored, gives the lease up:
      // another, with the role and the key, takes it at its next look.
      await this.#options.lease?.release().catch(() => undefined);
      throw problems[0];
    }
  }

  #schedule(ms: number): void {
    if (this.#state !== "started") return;
    clearTimeout(this.#timer);
    this.#watch = undefined;
    this.#timer = setTimeout(() => void this.#loop(), ms);
  }

  /**
   * Until `until` (epoch ms), asks the node for its newest block `every` ms, and
   * starts a round as soon as there is one after `head`: a batch waiting for its block is
   * certified within moments of it, not at the next idle poll. Ended by #schedule (a
   * notify, stop) and by any failure to ask, which the round then meets.
   */
  #watchForBlock(head: number, until: number, every: number): void {
    if (this.#state !== "started") return;
    const watch = {};
    this.#watch = watch;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(async () => {
      const newer = await this.#chain.blockNumber().then(
        (latest) => latest > head,
        () => true,
      );
      if (this.#watch !== watch || this.#state !== "started") return;
      if (newer || Date.now() >= until) void this.#loop();
      else this.#watchForBlock(head, until, every);
    }, every);
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
        this.health.lastError = firstLineOf(e);
        this.#log.warn({ attempt: this.#failures }, `anchoring failed, retrying: ${this.health.lastError}`);
      },
    );
    await this.#running;
    this.#running = undefined;
    // Poll often enough to seal on time, watch for the block a sent batch waits for; back off
    // while the chain is failing.
    const idle = this.#sealedBeside ? 0 : this.#pollMs();
    this.#sealedBeside = false;
    const retry = (this.#options.retryBaseMs ?? 500) * 2 ** (this.#failures - 1);
    const every = this.#options.blockWatchMs;
    if (this.#failures === 0 && every !== undefined && idle > every && this.#waitingAfter !== null) {
      this.#watchForBlock(this.#waitingAfter, Date.now() + idle, every);
    } else this.#schedule(this.#failures === 0 ? idle : Math.min(30_000, retry));
  }

  /** `beside`: sealed beside a round, and sent by the caller; rounds leave the batches alone until then. */
  async #seal(now: Date, beside = false): Promise<number[]> {
    const run = this.#sealing.then(async () => {
      const result = await sealDueBatches(this.#store, this.#options, now, (m) => this.#log.info(m));
      // Marked before the next seal (a round's) can begin, and so before that round lists batches.
      if (beside) for (const id of result.sealed) this.#sendingBeside.add(id);
      return result;
    });
    this.#sealing = run.then(
      ({ nextDueAt }) => this.#armSealTimer(nextDueAt),
      () => undefined,
    );
    return (await run).sealed;
  }

  /**
   * Wakes the anchorer when the oldest pending item falls due, not at the next poll after.
   * A timer set for earlier stays: when it fires, the seal it starts sets the next one.
   */
  #armSealTimer(dueAt: number | null): void {
    if (dueAt === null || this.#state !== "started") return;
    if (this.#sealTimerAt !== null && this.#sealTimerAt <= dueAt) return;
    clearTimeout(this.#sealTimer);
    this.#sealTimerAt = dueAt;
    this.#sealTimer = setTimeout(
      () => {
        this.#sealTimerAt = null;
        this.#sealDue();
      },
      Math.max(0, dueAt - Date.now()),
    );
  }

  /**
   * A batch falls due. With no round running, a round starts and seals it. A round can
   * spend seconds on one batch (a slow node, a service busy with intake, an earlier batch
   * being certified): then it is sealed beside the round, and its transaction sent at once,
   * so batches keep to their size and their blocks instead of piling up behind the round —
   * by the holder of the lease only, asked again here (a round stalled past the lease has
   * lost it). A failure here is the next round's to meet.
   */
  #sealDue(): void {
    if (this.#state !== "started" || this.#failures > 0) return;
    if (this.#running === undefined) return this.#schedule(0);
    const beside = this.#sealAndSendBeside();
    this.#beside = Promise.all([this.#beside, beside]).then(() => undefined);
  }

  /**
   * Seals what is due beside a round, and sends the first transaction of each batch sealed,
   * without waiting for it to be mined: the rounds that follow find them sent, and certify
   * them once mined. Never throws: a batch not sent here is left for the next round to send.
   */
  async #sealAndSendBeside(): Promise<void> {
    let ids: number[] = [];
    try {
      const lease = this.#options.lease;
      if (lease && !(await lease.acquire())) return this.#takeRole("standby");
      if (this.#state !== "started") return;
      ids = await this.#seal(new Date(), true);
      if (ids.length === 0) return;
      // A round still running starts the next at once; one that has ended meanwhile is followed now.
      if (this.#running === undefined) this.#schedule(0);
      else this.#sealedBeside = true;
      const batches = (await this.#store.unanchoredBatches()).filter((b) => ids.includes(b.id) && b.txHash === null);
      for (const batch of batches) {
        if (this.#state !== "started" || !this.#roleHeld) return;
        await this.#stampBeforeSending(batch);
        await this.#send(batch, false);
      }
    } catch (e) {
      this.#log.warn(`sealing or sending beside a round failed, left to the next round: ${firstLineOf(e)}`);
    } finally {
      for (const id of ids) this.#sendingBeside.delete(id);
    }
  }

  /** How often the loop looks for work when idle: often enough to seal on time. */
  #pollMs(): number {
    return this.#options.pollMs ?? Math.min(250, this.#options.maxWaitMs);
  }

  /**
   * Anchors and certifies a batch as far as the chain allows now; true once it is certified.
   * `last`: no batch waits behind this one in the round, so a transaction sent may be waited for.
   */
  async #anchor(batch: SealedBatch, last: boolean): Promise<boolean> {
    let location = await this.#chain.locate(batch.root);
    if (!location) {
      if (batch.txHash && !(await this.#shouldResend(batch))) return false;
      if (!this.#roleHeld) return false; // said at the end of the round
      if (batch.txHash === null) await this.#stampBeforeSending(batch);
      location = await this.#send(batch, last);
      if (!location) return false;
    }
    if (!(await this.#confirmed(location))) return false;
    if (location.treeSize !== batch.treeSize) {
      throw new Error(`root ${batch.root} is anchored with tree size ${location.treeSize}, expected ${batch.treeSize}`);
    }
    if (this.#options.stamper?.required && batch.timestamps.length < this.#options.stamper.configured) {
      batch.timestamps = await this.#stamp(batch.id, batch.root, batch.timestamps);
      if (batch.timestamps.length < this.#options.stamper.configured) return false; // issued once every TSA has answered
    }
    const signer = this.#signerFor(batch.id, location);
    await this.#options.durableThrough?.(location.blockNumber, location.blockHash);
    const reason: IssueReason = batch.lostAt === null ? "anchored" : "re-anchored";
    const certificates = await this.#certify(batch.id, batch.root, location, batch.timestamps, signer);
    await this.#store.completeBatch(batch.id, location, certificates, new Date().toISOString(), reason);
    this.health.lastAnchoredAt = new Date().toISOString();
    this.#log.info(
      { batch: batch.id, block: location.blockNumber, tx: location.txHash, items: batch.treeSize },
      `${reason === "anchored" ? "anchored" : "anchored again"} batch ${batch.id} in block ${location.blockNumber}`,
    );
    return true;
  }

  /** A batch whose transaction was sent: send again only if it failed, was lost, or has waited too long. */
  async #shouldResend(batch: SealedBatch): Promise<boolean> {
    const receipt = await this.#chain.receipt(batch.txHash!);
    if (receipt) return receipt.status === 0;
    const waited = Date.now() - Date.parse(batch.txSentAt!);
    if (waited >= this.#options.receiptTimeoutMs) return true;
    if (waited < (this.#options.lostAfterMs ?? 5_000) || (await this.#chain.holds(batch.txHash!))) return false;
    this.#log.warn(
      { batch: batch.id, tx: batch.txHash },
      `batch ${batch.id}: the node no longer holds its transaction; sending it again`,
    );
    return true;
  }

  async #send(batch: SealedBatch, wait: boolean): Promise<AnchorLocation | null> {
    const lease = this.#options.lease;
    const sending = this.#sends.then(async () =>
      // Asked again just before sending: a send may have waited here, or for a TSA, past the
      // end of a lease that another replica has taken since.
      lease && !(await lease.acquire()) ? null : this.#chain.sendAnchor(batch.root, batch.treeSize),
    );
    this.#sends = sending.catch(() => undefined);
    const sent = await sending;
    if (sent === null) {
      this.#log.info(
        { batch: batch.id },
        `batch ${batch.id}: the anchoring lease was lost before sending; left to its holder`,
      );
      this.#takeRole("standby");
      return null;
    }
    if (sent.kind === "already-anchored") {
      // Anchored meanwhile (a transaction from before a crash): that counts as done. A node
      // that estimates against its pending state says so while that transaction still
      // waits to be mined: then there is nothing to send, only to wait for.
      const location = await this.#chain.locate(batch.root);
      if (!location)
        this.#log.info(
          { batch: batch.id },
          `batch ${batch.id}: an earlier transaction for it is still pending; waiting`,
        );
      return location;
    }
    await this.#store.recordSent(batch.id, sent.txHash, new Date().toISOString());
    this.#log.info({ batch: batch.id, tx: sent.txHash }, `sent batch ${batch.id}`);
    // A short wait, not the receipt timeout, and none while other batches wait behind this
    // one in the round: they are sent first, so their transactions may share its block.
    // Later rounds find this one mined (locate) and certify it; it is sent again only after
    // receiptTimeoutMs without a receipt (#shouldResend).
    if (!wait) return null;
    const receipt = await this.#chain.waitForReceipt(
      sent.txHash,
      this.#options.confirmations,
      Math.min(this.#options.receiptTimeoutMs, this.#pollMs()),
    );
    if (!receipt) return null;
    return this.#chain.locate(batch.root);
  }

  async #confirmed(location: AnchorLocation): Promise<boolean> {
    const latest = await this.#chain.blockNumber();
    return latest - location.blockNumber + 1 >= this.#options.confirmations;
  }

  /**
   * Asks the contract whether this service's issuer may anchor: a key without ANCHORER_ROLE
   * (not granted yet, or revoked) would have every transaction refused. Nothing is sent
   * without it, and the round ends failed with the reason (#noRole), so health says so from
   * the start, before any batch is due; submissions are still taken and wait. A yes is asked
   * again after a minute (on the monotonic clock), a no at every round.
   */
  async #mayAnchor(): Promise<boolean> {
    if (performance.now() - this.#roleConfirmedAt < ROLE_RECHECK_MS) return true;
    if (!(await this.#chain.hasAnchorerRole(this.#signer.address))) {
      this.#roleConfirmedAt = -Infinity;
      return false;
    }
    this.#roleConfirmedAt = performance.now();
    return true;
  }

  #roleConfirmedAt = -Infinity;
  /** Whether this round found the role held: nothing is sent, here or beside the round, without it. */
  #roleHeld = true;

  #noRole(): Error {
    return new Error(
      `this service's issuer ${this.#signer.address} has no ANCHORER_ROLE on contract ${this.#chain.contract}: ` +
        "nothing new can be anchored until a consortium admin grants it (docs/consortium.md); submissions are kept and wait",
    );
  }

  /**
   * The key that certifies a batch: the one that anchored it (protocol §8.4.6 step 6d: the
   * event's anchorer must be the issuer). That is this service's key, or one it had before a
   * rotation (`previousSigners`), for a transaction sent under that key and not yet certified.
   * A batch another key anchored (a replica with another key, a previous key not given) is
   * not certified at all: every certificate of it would be INVALID. It waits, its items
   * anchoring, and anchoring fails loudly (health) until a service with that key certifies it.
   */
  #signerFor(batchId: number, location: AnchorLocation): CertificateSigner {
    const anchorer = location.anchorer.toLowerCase();
    const own = this.#signer.address;
    if (anchorer === own.toLowerCase()) return this.#signer;
    const previous = this.#options.previousSigners?.find((s) => s.address.toLowerCase() === anchorer);
    if (previous) {
      this.#log.info(
        { batch: batchId, issuer: previous.address },
        `batch ${batchId} was anchored under the previous key ${previous.address}: certified with it`,
      );
      return previous;
    }
    throw new CannotCertify(
      `batch ${batchId} was anchored by ${location.anchorer}, not by this service's issuer ${own}: ` +
        "certificates signed with this key would be INVALID, so none are issued; " +
        "give the service the key that anchored it in ISSUER_PREVIOUS_KEYSTORES, or run it with that key until the batch is certified",
    );
  }

  /**
   * Certifies a batch, after checking its stored leaves still hash to its root. Version 2
   * signs the batch statement once and hands the store the statement and the tree: each
   * item's certificate is assembled from them when read (store/batch-certificates.ts), so a
   * batch of 100,000 costs one signature and two rows. Version 1 builds and signs every
   * certificate (core/certificate.ts).
   */
  async #certify(
    batchId: number,
    root: string,
    anchor: AnchorLocation,
    timestamps: readonly TimestampToken[],
    signer: CertificateSigner,
  ): Promise<BatchCertificates> {
    const anchorJson: AnchorJson = {
      chainId: this.#chain.chainId,
      contract: this.#chain.contract,
      txHash: anchor.txHash,
      blockNumber: anchor.blockNumber,
      blockHash: anchor.blockHash,
      timestamp: anchor.timestamp,
    };
    const statement = {
      anchor: anchorJson,
      issuerName: this.#options.issuerName,
      issuedAt: new Date().toISOString(),
      timestamps: [...timestamps],
    };
    if (this.#options.certificateVersion === 2) {
      const tree = treeOfHashes(await this.#store.batchLeafHashes(batchId));
      if (toHex32(tree.root()) !== root) throw new Error(`batch ${batchId} no longer hashes to its root`);
      return { ...(await signBatchStatement({ ...statement, tree }, signer)), tree };
    }
    const leaves = await this.#store.batchLeaves(batchId);
    const tree = treeOf(leaves);
    if (toHex32(tree.root()) !== root) throw new Error(`batch ${batchId} no longer hashes to its root`);
    return buildCertificates({ version: 1, leaves, tree, ...statement }, signer);
  }

  /**
   * The root is stamped when its batch is first sent: a TSA that is down does not hold
   * anchoring up, unless tokens are required (then certificates wait for them).
   */
  async #stampBeforeSending(batch: SealedBatch): Promise<void> {
    const stamper = this.#options.stamper;
    if (!stamper || batch.timestamps.length >= stamper.configured) return;
    batch.timestamps = await this.#stamp(batch.id, batch.root, batch.timestamps);
  }

  async #stamp(batchId: number, root: string, have: readonly TimestampToken[]): Promise<TimestampToken[]> {
    const { tokens, errors } = await this.#options.stamper!.stamp(fromHex32(root), have);
    if (tokens.length > 0) await this.#store.addBatchTimestamps(batchId, tokens);
    this.health.timestamps.lastError = errors[0] ?? null;
    if (errors.length > 0) this.#log.warn({ batch: batchId, errors }, `time-stamping batch ${batchId} failed for now`);
    return [...have, ...tokens];
  }

  /**
   * Anchored batches issued without a token (a TSA was down) get it once the TSA answers,
   * and their items a new certificate with it; the earlier certificates stay valid.
   */
  async #upgradeTimestamps(now: Date): Promise<void> {
    const stamper = this.#options.stamper;
    if (!stamper || stamper.configured === 0 || now.getTime() < this.#nextUpgradeAt) return;
    this.#nextUpgradeAt = now.getTime() + 5_000;
    for (const batch of await this.#store.batchesToTimestamp(stamper.configured, 20)) {
      const location = await this.#chain.locate(batch.root);
      if (!location) return; // lost from the chain: the reconciler anchors it again
      let signer: CertificateSigner;
      try {
        signer = this.#signerFor(batch.id, location);
      } catch (e) {
        if (!(e instanceof CannotCertify)) throw e;
        // Its certificate in force stays valid; only the token waits, for the key that anchored it.
        this.health.timestamps.lastError = e.message;
        this.#log.warn({ batch: batch.id }, `batch ${batch.id} is not time-stamped again: ${e.message}`);
        continue;
      }
      const timestamps = await this.#stamp(batch.id, batch.root, batch.timestamps);
      if (timestamps.length === batch.timestamps.length) return; // the TSAs still do not answer
      const certificates = await this.#certify(
        batch.id,
        batch.root,
        { ...batch.anchor, treeSize: batch.treeSize, anchorer: location.anchorer },
        timestamps,
        signer,
      );
      await this.#store.addCertificates(batch.id, certificates, "time-stamped");
      this.#log.info(
        { batch: batch.id, tokens: timestamps.length },
        `batch ${batch.id} time-stamped; certificates issued again with the tokens`,
      );
    }
  }
}
