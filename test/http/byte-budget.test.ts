import { expect } from "chai";
import { EventEmitter } from "node:events";
import type { Response } from "express";
import { ByteBudget } from "../../service/http/byte-budget.ts";
import { HttpProblem } from "../../service/http/problem.ts";

/** The part of a response the budget uses: a header to set, its close, and its request's client address. */
function response(address = "192.0.2.1"): Response {
  const res = new EventEmitter() as EventEmitter & { set: () => void; req: { socket: { remoteAddress: string } } };
  res.set = () => {};
  res.req = { socket: { remoteAddress: address } };
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

  it("holds one address to its part of the budget, serves other addresses from the rest, and frees the part once answered", () => {
    const budget = new ByteBudget(100, { perAddress: 60 });
    const a = response("192.0.2.1");
    budget.take(a, 50);
    expect(() => budget.take(response("192.0.2.1"), 20), "the same address, another request").to.throw(
      HttpProblem,
      /as many documents as one address may/,
    );
    expect(budget.tryTake(response("192.0.2.1"), 20)).to.equal(false);
    budget.take(response("192.0.2.2"), 50);
    expect(() => budget.take(response("192.0.2.3"), 1), "the whole budget").to.throw(
      HttpProblem,
      /as many documents as it can hold/,
    );
    (a as unknown as EventEmitter).emit("close");
    budget.take(response("192.0.2.1"), 50);
  });

  it("holds the addresses of one IPv6 /64 to one share, and serves the next /64 from the rest", () => {
    const budget = new ByteBudget(1000, { perAddress: 100 });
    budget.take(response("2001:db8::1"), 60);
    expect(() => budget.take(response("2001:db8::2"), 60))
      .to.throw(HttpProblem)
      .with.property("code", "SERVER_BUSY");
    expect(() => budget.take(response("2001:db8:0:1::1"), 60)).to.not.throw();
  });
});
