import type { Response } from "express";
import { HttpProblem } from "./problem.ts";
import { clientKey } from "./client-address.ts";

/**
 * Bytes the public routes may hold for request bodies at once, across all clients (in memory,
 * or on disk for a capture package too large to hold in memory): a
 * certificate's PDF document or capture package to verify is read whole (up to 64 MB), and
 * without a bound a handful of anonymous clients could hold gigabytes. Each request takes
 * bytes as its body arrives and gives them back when its answer is done (or its connection
 * is gone). Past the budget: 503 SERVER_BUSY with Retry-After; the other requests go on.
 *
 * One client address may be held to a part of it (`perAddress`), so that it cannot take all
 * of it. The address is the connection's peer, as the rate limit keys it: behind a load
 * balancer every client shares the balancer's address, and the part must then be the whole.
 */
export class ByteBudget {
  private readonly capacity: number;
  private readonly perAddress: number;
  private used = 0;
  private readonly held = new WeakMap<Response, { bytes: number; address: string }>();
  private readonly byAddress = new Map<string, number>();

  constructor(capacity: number, options: { perAddress?: number } = {}) {
    this.capacity = capacity;
    this.perAddress = options.perAddress ?? capacity;
  }

  /**
   * Takes `bytes` more for the request answered by `res`; throws 503 SERVER_BUSY (and takes
   * nothing) when they do not fit, in the whole budget or in its client address's part.
   */
  take(res: Response, bytes: number): void {
    const refusal = this.refusal(res, bytes);
    // Its Retry-After is set where every SERVER_BUSY is answered (problemHandler).
    if (refusal !== undefined) throw new HttpProblem(503, "SERVER_BUSY", refusal);
    const address = addressOf(res);
    this.used += bytes;
    this.byAddress.set(address, (this.byAddress.get(address) ?? 0) + bytes);
    const before = this.held.get(res);
    if (before) before.bytes += bytes;
    else {
      this.held.set(res, { bytes, address });
      res.once("close", () => this.release(res));
    }
  }

  /** Takes `bytes` more for the request answered by `res` if they fit, and says whether they did. */
  tryTake(res: Response, bytes: number): boolean {
    if (this.refusal(res, bytes) !== undefined) return false;
    this.take(res, bytes);
    return true;
  }

  /** Why `bytes` more do not fit for the request answered by `res`; undefined when they do. */
  private refusal(res: Response, bytes: number): string | undefined {
    if (this.used + bytes > this.capacity) {
      return "the service is reading as many documents as it can hold; try again in a few seconds";
    }
    if ((this.byAddress.get(addressOf(res)) ?? 0) + bytes > this.perAddress) {
      return "this address is sending as many documents as one address may; try again once they are answered";
    }
    return undefined;
  }

  /** Gives back `bytes` of what the request holds, before its answer: a body it stopped keeping. */
  giveBack(res: Response, bytes: number): void {
    // A request that took nothing yet holds nothing to give back (and has no release armed).
    const held = this.held.get(res);
    if (held === undefined) return;
    const back = Math.min(bytes, held.bytes);
    held.bytes -= back;
    this.forget(held.address, back);
  }

  private release(res: Response): void {
    const held = this.held.get(res);
    if (held === undefined) return;
    this.held.delete(res);
    this.forget(held.address, held.bytes);
  }

  private forget(address: string, bytes: number): void {
    this.used -= bytes;
    const left = (this.byAddress.get(address) ?? 0) - bytes;
    if (left > 0) this.byAddress.set(address, left);
    else this.byAddress.delete(address);
  }
}

/** The client, as the anonymous rate limit counts it (`trust proxy` is off: the TCP peer). */
function addressOf(res: Response): string {
  return clientKey(res.req.socket.remoteAddress);
}
