import { expect } from "chai";
import { EventEmitter } from "node:events";
import type { Response } from "express";
import { ByteBudget } from "../../service/http/byte-budget.ts";
import { HttpProblem } from "../../service/http/problem.ts";

/** The part of a response the budget uses: a header to set, and its close. */
function response(): Response {
  const res = new EventEmitter() as EventEmitter & { set: () => void };
  res.set = () => {};
  return res as unknown as Response;
}

describe("ByteBudget (service/http/byte-budget.ts)", () => {
  it("gives back nothing for a request that took nothing yet, and still frees what it takes after, once answered", () => {
    const budget = new ByteBudget(100);
    const res = response();
    budget.giveBack(res, 0);
    budget.take(res, 100);
    (res as unknown as EventEmitter).emit("close");
    budget.take(response(), 100);
  });

  it("gives back what a request stopped keeping before its answer, never more than it holds", () => {
    const budget = new ByteBudget(100);
    const a = response();
    budget.take(a, 80);
    expect(() => budget.take(response(), 30)).to.throw(HttpProblem, /as many documents/);
    budget.giveBack(a, 500);
    budget.take(response(), 100);
    (a as unknown as EventEmitter).emit("close");
    expect(() => budget.take(response(), 1), "the request that gave all back frees nothing more").to.throw(HttpProblem);
  });
});
