import type { Response } from "express";
import { HttpProblem } from "./problem.ts";

/**
 * Bytes the public routes may hold for request bodies at once, across all clients (in memory,
 * or on disk for a capture package too large to hold in memory): a
 * certificate's PDF document or capture package to verify is read whole (up to 64 MB), and
 * without a bound a handful of anonymous clients could hold gigabytes. Each request takes
 * bytes as its body arrives and gives them back when its answer is done (or its connection
 * is gone). Past the budget: 503 SERVER_BUSY with Retry-After; the other requests go on.
 */
export class ByteBudget {
  private readonly capacity: number;
  private used = 0;
  private readonly held = new WeakMap<Response, number>();

  constructor(capacity: number) {
    this.capacity = capacity;
  }

  /**
   * Takes `bytes` more for the request answered by `res`; throws 503 SERVER_BUSY (and takes
   * nothing) when they do not fit.
   */
  take(res: Response, bytes: number): void {
    if (this.used + bytes > this.capacity) {
      res.set("Retry-After", "5");
      throw new HttpProblem(
        503,
        "SERVER_BUSY",
        "the service is reading as many documents as it can hold; try again in a few seconds",
      );
    }
    this.used += bytes;
    const before = this.held.get(res);
    this.held.set(res, (before ?? 0) + bytes);
    if (before === undefined) res.once("close", () => this.release(res));
  }

  /** Takes `bytes` more for the request answered by `res` if they fit, and says whether they did. */
  tryTake(res: Response, bytes: number): boolean {
    if (this.used + bytes > this.capacity) return false;
    this.take(res, bytes);
    return true;
  }

  /** Gives back `bytes` of what the request holds, before its answer: a body it stopped keeping. */
  giveBack(res: Response, bytes: number): void {
    // A request that took nothing yet holds nothing to give back (and has no release armed).
    const held = this.held.get(res);
    if (held === undefined) return;
    const back = Math.min(bytes, held);
    this.used -= back;
    this.held.set(res, held - back);
  }

  private release(res: Response): void {
    this.used -= this.held.get(res) ?? 0;
    this.held.delete(res);
  }
}
