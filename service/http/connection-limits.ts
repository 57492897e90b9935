import type { Server } from "node:http";
import type { Socket } from "node:net";
import type { RequestHandler } from "express";
import { HttpProblem, sendProblem } from "./problem.ts";
import { clientKey } from "./client-address.ts";

/**
 * Slow and greedy clients. Without these, a client declaring a huge body and sending it
 * slowly holds its connection for minutes, and enough such clients exhaust the process's
 * file descriptors.
 */

/** Answers 413 at once, before reading the body, and closes the connection, when the declared length is over `max`. */
export function contentLengthLimit(max: number): RequestHandler {
  return (req, res, next) => {
    const declared = Number(req.get("content-length") ?? 0);
    if (!(declared > max)) return next();
    res.set("Connection", "close");
    lingerOnClose(req.socket);
    sendProblem(res, new HttpProblem(413, "BODY_TOO_LARGE", `the request body may be at most ${max} bytes`));
  };
}

/** How long a connection closed after an early answer may go on sending before it is cut. */
const LINGER_MS = 2_000;

/**
 * A lingering close (RFC 9112 §9.6): once the answer is out, the server's side is shut and
 * whatever the client still sends is read and dropped, for LINGER_MS at most. Closing at
 * once with its body still arriving would reset the connection, and the client — still
 * sending — could lose the answer with it. HTTP's own close after a `Connection: close`
 * answer goes through `destroySoon`, so that is where the linger goes.
 */
function lingerOnClose(socket: Socket): void {
  socket.destroySoon = function (this: Socket) {
    if (this.destroyed) return;
    this.end();
    this.on("data", () => undefined);
    this.resume();
    const timer = setTimeout(() => this.destroy(), LINGER_MS);
    timer.unref();
    this.once("end", () => this.destroy());
    this.once("close", () => clearTimeout(timer));
  };
}

/** How long a body that nobody reads may go on arriving once its answer is out. */
export const UNREAD_BODY_MS = 5_000;

/**
 * A body answered without being read (a GET with a Content-Length, a request refused before
 * its body) is read and dropped by node after the answer, on a connection kept open for as
 * long as the client trickles it: up to the server's hour-long request timeout, on any route.
 * Once the answer is out, such a body has UNREAD_BODY_MS to finish arriving, or its
 * connection is closed.
 */
export function unreadBodyDeadline(ms = UNREAD_BODY_MS): RequestHandler {
  return (req, res, next) => {
    if (!hasBody(req.headers)) return next();
    res.once("finish", () => {
      if (req.readableEnded) return;
      const socket = req.socket;
      const timer = setTimeout(() => {
        if (!req.readableEnded) socket.destroy();
      }, ms);
      timer.unref();
      socket.once("close", () => clearTimeout(timer));
    });
    next();
  };
}

/** The whole body must arrive within `ms`, or the request is answered 408 and its connection closed. */
export function bodyDeadline(ms: number): RequestHandler {
  return (req, res, next) => {
    if (req.readableEnded || !hasBody(req.headers)) return next();
    const timer = setTimeout(() => timeOut(req, res), ms);
    req.once("end", () => clearTimeout(timer));
    req.once("close", () => clearTimeout(timer));
    next();
  };
}

/**
 * An upload must keep a minimum average rate (bytes per second, measured over each
 * `windowMs`), or it is answered 408 and its connection closed: a large file sent at a
 * fair speed is never cut off, a trickle is.
 */
export function minimumUploadRate(bytesPerSecond: number, windowMs = 30_000): RequestHandler {
  return (req, res, next) => {
    if (!hasBody(req.headers)) return next();
    // Counted on the socket: listening for the body's data here would start it flowing
    // before the body parser is ready for it.
    let last = req.socket.bytesRead;
    const timer = setInterval(() => {
      const read = req.socket.bytesRead;
      if (read - last < (bytesPerSecond * windowMs) / 1000) timeOut(req, res);
      last = read;
    }, windowMs);
    const stop = () => clearInterval(timer);
    req.once("end", stop);
    req.once("close", stop);
    res.once("finish", stop);
    next();
  };
}

function timeOut(req: Parameters<RequestHandler>[0], res: Parameters<RequestHandler>[1]): void {
  if (!res.headersSent) {
    res.set("Connection", "close");
    sendProblem(res, new HttpProblem(408, "REQUEST_TIMEOUT", "the request body arrived too slowly"));
  }
  // The request is destroyed, not only its socket: once the answer is sent, node no longer
  // tells the request its socket closed, and a body parser reading it (an upload's file half
  // written) would wait for the rest for ever, holding its file open.
  const cut = () => req.destroy(new Error("the request body arrived too slowly"));
  res.once("finish", cut);
  setTimeout(cut, 1_000).unref();
}

/** Whether the request has a body to read, by its headers (RFC 9112 §6.3). */
export function hasBody(headers: Record<string, unknown>): boolean {
  return headers["transfer-encoding"] !== undefined || Number(headers["content-length"] ?? 0) > 0;
}

/**
 * At most `max` open connections per client ({@link clientKey}: an IPv6 client by its /64);
 * more are closed at once. Behind a
 * reverse proxy every client shares the proxy's address: limit there instead (see
 * docs/threat-model.md).
 */
export function limitConnectionsPerAddress(server: Server, max: number): void {
  const open = new Map<string, number>();
  server.on("connection", (socket: Socket) => {
    const address = clientKey(socket.remoteAddress);
    const n = (open.get(address) ?? 0) + 1;
    if (n > max) {
      socket.destroy();
      return;
    }
    open.set(address, n);
    socket.once("close", () => {
      const left = (open.get(address) ?? 1) - 1;
      if (left === 0) open.delete(address);
      else open.set(address, left);
    });
  });
}
