import { expect } from "chai";
import { EventEmitter } from "node:events";
import type { Server } from "node:http";
import type { Socket } from "node:net";
import type { Request, Response } from "express";
import { rateLimit, TokenBuckets } from "../../service/http/auth.ts";
import { clientKey } from "../../service/http/client-address.ts";
import { limitConnectionsPerAddress } from "../../service/http/connection-limits.ts";
import { HttpProblem } from "../../service/http/problem.ts";
import { loadVector } from "../helpers/vectors.ts";

interface ClientKeyCase {
  address: string | null;
  key: string;
  why: string;
}

/** A socket as the server's "connection" event gives it, from a peer address loopback cannot have. */
function socketFrom(remoteAddress: string): Socket & { destroyed: boolean } {
  const socket = Object.assign(new EventEmitter(), { remoteAddress, destroyed: false }) as any;
  socket.destroy = () => {
    socket.destroyed = true;
    socket.emit("close");
  };
  return socket;
}

function requestFrom(remoteAddress: string): Request {
  return { socket: { remoteAddress }, headers: {} } as unknown as Request;
}

describe("clientKey: the client a per-client limit counts (test/vectors/http/client-keys.json)", () => {
  for (const c of loadVector<{ vectors: ClientKeyCase[] }>("http/client-keys.json").vectors) {
    it(`${JSON.stringify(c.address)} is ${c.key}: ${c.why}`, () => {
      expect(clientKey(c.address ?? undefined)).to.equal(c.key);
    });
  }

  it("closes a connection from a third address of one IPv6 /64 when two are open, and admits another /64", () => {
    const server = new EventEmitter() as unknown as Server;
    limitConnectionsPerAddress(server, 2);
    const sockets = ["2001:db8:1:2::1", "2001:db8:1:2::2", "2001:db8:1:2:ffff::3", "2001:db8:1:3::1"].map(socketFrom);
    for (const socket of sockets) server.emit("connection", socket);
    expect(sockets.map((s) => s.destroyed)).to.deep.equal([false, false, true, false]);
    sockets[0]!.destroy();
    const again = socketFrom("2001:db8:1:2::4");
    server.emit("connection", again);
    expect(again.destroyed, "one closed, one more admitted").to.equal(false);
  });

  it("charges every address of one IPv6 /64 to one anonymous rate-limit bucket", () => {
    const limit = rateLimit(new TokenBuckets(2));
    const outcomes: unknown[] = [];
    const res = { set: () => res } as unknown as Response;
    for (const address of ["2001:db8::1", "2001:db8::2", "2001:db8::3", "2001:db8:0:1::1"]) {
      limit(requestFrom(address), res, (e?: unknown) => outcomes.push(e instanceof HttpProblem ? e.code : "next"));
    }
    expect(outcomes).to.deep.equal(["next", "next", "RATE_LIMITED", "next"]);
  });
});
