import { lookup } from "node:dns/promises";
import { createReadStream, existsSync } from "node:fs";
import { isIP } from "node:net";
import { rm } from "node:fs/promises";
import path from "node:path";
import { Readable } from "node:stream";
import { newEvidenceId, type CaptureRequest as ApiCaptureRequest } from "../core/index.ts";
import type { Intake } from "../intake/intake.ts";
import type { Logger } from "../log.ts";
import type { HeldObject, ObjectStore } from "../objects/object-store.ts";
import type { Account, EvidenceStore } from "../store/store.ts";
import { checkRequest, DEFAULT_CHROMIUM, DEFAULT_LIMITS, type CaptureRequest, type CaptureResult } from "./capture.ts";
import { CaptureError, isCaptureError } from "./errors.ts";
import type { CaptureRunner } from "./runner.ts";
import { portOf, type AddressPolicy } from "./address-policy.ts";
import { makeDirectory } from "../make-directory.ts";

/**
 * Web captures as evidence: a request is recorded (`capturing`), captured by the runner in
 * a clean browser, its artifacts and manifest go into the object store, and the manifest's
 * record is committed through intake and anchored like any other evidence. A capture
 * interrupted by a stop is run again once; a second interruption fails it, clearly. Nothing
 * half-recorded is ever committed: the record is committed only after every artifact is
 * stored, and the capture's working directory is removed either way.
 */
export class CaptureService {
  readonly #store: EvidenceStore;
  readonly #objects: ObjectStore;
  readonly #intake: Intake;
  readonly #runner: CaptureRunner;
  readonly #policy: AddressPolicy;
  readonly #workDir: string;
  readonly #chromium: string;
  readonly #capacity: number;
  readonly #log: Logger;
  readonly #running = new Set<Promise<void>>();
  /** Requests being stored, whose captures have not started yet. */
  #reserved = 0;
  /** Each account's captures queued or running, and how many it may have: half the slots. */
  readonly #ofAccount = new Map<string, number>();
  readonly #accountShare: number;
  /** The attempt each capture submitted to the runner is on: counted once the runner starts it, not while it waits. */
  readonly #attempts = new Map<string, number>();
  /** Each started capture's "capturing" update, awaited before its outcome is stored. */
  readonly #started = new Map<string, Promise<void>>();

  constructor(options: {
    store: EvidenceStore;
    objects: ObjectStore;
    intake: Intake;
    runner: CaptureRunner;
    policy: AddressPolicy;
    workDir: string;
    chromiumPath?: string;
    /** Captures running plus waiting beyond which requests are refused as busy. */
    capacity: number;
    log: Logger;
  }) {
    this.#store = options.store;
    this.#objects = options.objects;
    this.#intake = options.intake;
    this.#runner = options.runner;
    this.#policy = options.policy;
    this.#workDir = options.workDir;
    this.#chromium = options.chromiumPath ?? DEFAULT_CHROMIUM;
    this.#capacity = options.capacity;
    this.#accountShare = Math.max(1, Math.ceil(options.capacity / 2));
    this.#log = options.log;
    this.#runner.on("progress", (event) => {
      const attempt = this.#attempts.get(event.id);
      if (event.type !== "capturing" || attempt === undefined) return;
      const stored = this.#store
        .updateCapture(event.id, { status: "capturing", attempts: attempt })
        .catch((e: unknown) => {
          this.#log.error({ capture: event.id, err: e }, `capture ${event.id}: its start could not be stored`);
        });
      this.#started.set(event.id, stored);
    });
  }

  /**
   * Accepts a capture request: refused at once (a CaptureError) when its URL or address is
   * refused, Chromium is missing, or the queue is full; otherwise recorded and queued.
   */
  async request(account: Account, request: ApiCaptureRequest): Promise<{ id: string; status: "capturing" }> {
    const capture = toCaptureRequest(request);
    checkRequest(capture, this.#policy, DEFAULT_LIMITS);
    await this.#checkHost(capture.url);
    if (!existsSync(this.#chromium)) {
      throw new CaptureError(
        "BROWSER_UNAVAILABLE",
        `web capture is not available here: no Chromium at ${this.#chromium}`,
      );
    }
    // The slot is taken before the request is stored: requests arriving together are counted
    // together, and none is answered 202 to find no slot after.
    if (this.#running.size + this.#reserved >= this.#capacity) {
      throw new CaptureError("BUSY", "every capture slot is taken", {
        retryAfterSeconds: this.#runner.retryAfterSeconds(),
      });
    }
    if ((this.#ofAccount.get(account.id) ?? 0) >= this.#accountShare) {
      throw new CaptureError(
        "BUSY",
        `this account's captures already take ${this.#accountShare} of the ${this.#capacity} capture slots; the others are kept for other accounts`,
        { retryAfterSeconds: this.#runner.retryAfterSeconds() },
      );
    }
    this.#reserved++;
    this.#count(account.id, +1);
    const id = newEvidenceId();
    try {
      await this.#store.insertCapture({
        id,
        accountId: account.id,
        url: capture.url,
        request: JSON.stringify(request),
        requestedAt: new Date().toISOString(),
      });
    } finally {
      this.#reserved--;
      this.#count(account.id, -1);
    }
    this.#start(id, account, capture, 1);
    return { id, status: "capturing" };
  }

  /** Counts an account's captures queued or running. */
  #count(accountId: string, change: 1 | -1): void {
    const n = (this.#ofAccount.get(accountId) ?? 0) + change;
    if (n === 0) this.#ofAccount.delete(accountId);
    else this.#ofAccount.set(accountId, n);
  }

  /**
   * Refuses a host name whose addresses the policy refuses now, so the request is answered
   * at once. The guard proxy resolves and checks again for every connection of the capture
   * itself: this early check is for a clear answer, not the defence.
   */
  async #checkHost(url: string): Promise<void> {
    const host = new URL(url).hostname.replace(/^\[|\]$/g, "");
    if (isIP(host) !== 0) return; // literals were checked with the request
    let answers: { address: string }[];
    try {
      answers = await lookup(host, { all: true, verbatim: true });
    } catch (e) {
      throw new CaptureError("HOST_NOT_FOUND", `${host} cannot be resolved`, { cause: e });
    }
    for (const { address } of answers) {
      const verdict = this.#policy.checkAddress(address, portOf(new URL(url)));
      if (!verdict.allowed) {
        // Which address, and why, stays in the log: the answer would map the service's own
        // network (its internal names and their addresses) for whoever asks.
        this.#log.info({ host, address, reason: verdict.reason }, `capture of ${host} refused: ${verdict.reason}`);
        throw new CaptureError("ADDRESS_REFUSED", `${host} resolves to an address captures may not reach`);
      }
    }
  }

  /**
   * Runs again what a stop interrupted: once; a capture interrupted twice while running fails.
   * One that was only waiting for a browser has not been tried, and waits again.
   */
  async resume(): Promise<void> {
    for (const row of await this.#store.unfinishedCaptures()) {
      const account = await this.#store.accountById(row.accountId);
      if (!account || row.attempts >= 2) {
        await this.#store.updateCapture(row.id, {
          status: "failed",
          error: { code: "INTERRUPTED", message: "the capture was interrupted by a restart, twice; request it again" },
        });
        continue;
      }
      this.#log.info({ capture: row.id }, `resuming capture ${row.id} of ${row.url}, interrupted by a restart`);
      // The request was checked when it was accepted.
      this.#start(row.id, account, toCaptureRequest(JSON.parse(row.request) as ApiCaptureRequest), row.attempts + 1);
    }
  }

  /** Waits for the captures under way to be recorded or failed (the runner is closed first). */
  async settle(): Promise<void> {
    await Promise.allSettled([...this.#running]);
  }

  #start(id: string, account: Account, request: CaptureRequest, attempt: number): void {
    const outDir = path.join(this.#workDir, id);
    this.#attempts.set(id, attempt);
    this.#count(account.id, +1);
    const run = (async () => {
      makeDirectory(this.#workDir);
      await rm(outDir, { recursive: true, force: true });
      // Waiting for a browser until the runner starts it (see the progress listener).
      await this.#store.updateCapture(id, { status: "queued" });
      let result: CaptureResult;
      try {
        result = await this.#runner.submit(request, { id, outDir }).result;
      } catch (e) {
        await this.#started.get(id);
        if (isCaptureError(e, "CANCELLED")) return; // the service is stopping: resumed at the next start
        const error = isCaptureError(e)
          ? { code: e.code, message: e.message }
          : { code: "CAPTURE_FAILED", message: String(e) };
        await this.#store.updateCapture(id, { status: "failed", error });
        this.#log.warn({ capture: id, code: error.code }, `capture ${id} failed: ${error.message}`);
        for (const name of isCaptureError(e) ? e.withheld : []) {
          this.#log.info({ capture: id, ...name }, `capture ${id}: ${name.host} refused: ${name.reason}`);
        }
        return;
      }
      await this.#started.get(id);
      try {
        await this.#record(id, account, result);
        this.#log.info({ capture: id, artifacts: result.manifest.artifacts.length }, `capture ${id} recorded`);
        for (const name of result.withheld) {
          this.#log.info({ capture: id, ...name }, `capture ${id}: ${name.host} refused: ${name.reason}`);
        }
      } finally {
        await rm(outDir, { recursive: true, force: true });
      }
    })().catch((e: unknown) => {
      this.#log.error({ capture: id, err: e }, `capture ${id} could not be recorded`);
      return this.#store
        .updateCapture(id, {
          status: "failed",
          error: { code: "CAPTURE_FAILED", message: "the capture could not be stored" },
        })
        .catch(() => undefined);
    });
    this.#running.add(run);
    void run.finally(() => {
      this.#running.delete(run);
      this.#count(account.id, -1);
      this.#attempts.delete(id);
      this.#started.delete(id);
    });
  }

  /** Stores every artifact and the manifest, each checked against the manifest, then commits the record. */
  async #record(id: string, account: Account, result: CaptureResult): Promise<void> {
    const held: HeldObject[] = [];
    try {
      for (const artifact of result.manifest.artifacts) {
        const stored = await this.#objects.put(createReadStream(path.join(result.dir, ...artifact.name.split("/"))));
        held.push(stored);
        if (stored.contentHash !== artifact.sha256)
          throw new Error(`${artifact.name} changed on disk before it was stored`);
      }
      const manifest = await this.#objects.put(Readable.from([result.manifestBytes]));
      held.push(manifest);
      if (manifest.contentHash !== result.manifestSha256) throw new Error("the manifest changed before it was stored");
      await this.#intake.acceptCapture(
        id,
        account,
        result.record,
        result.manifest.artifacts.map((a) => a.sha256),
      );
    } catch (e) {
      await this.#intake.discard(held);
      throw e;
    } finally {
      for (const h of held) h.release();
    }
  }
}

function toCaptureRequest(request: ApiCaptureRequest): CaptureRequest {
  return { ...request };
}
