import { expect } from "chai";
import type { IncomingMessage, Server } from "node:http";
import express from "express";
import { budgetedText } from "../../service/http/budgeted-text.ts";
import { ByteBudget } from "../../service/http/byte-budget.ts";
import { problemHandler, toProblem } from "../../service/http/problem.ts";
import { silentLogger } from "../../service/log.ts";
import { until } from "../helpers/processes.ts";
import { listenOnLoopback, type LoopbackServer } from "../helpers/loopback-server.ts";
import { RawConnection } from "../helpers/raw-http.ts";

/** The body reader alone, on a real HTTP server on loopback; the verify route's use of it is in app.test.ts. */
describe("budgetedText (in process, real sockets)", () => {
  let loopback: LoopbackServer;
  let server: Server;
  let url: string;
  /** What the next error to reach the error handler is awaited by. */
  let onError: (err: unknown) => void = () => undefined;

  before(async () => {
    const app = express();
    app.post("/text", budgetedText({ limit: 1024, budget: new ByteBudget(4096) }), (req, res) => {
      res.json({ text: req.body as unknown });
    });
    const problems = problemHandler(silentLogger());
    app.use(((err, req, res, next) => {
      onError(err);
      problems(err, req, res, next);
    }) satisfies express.ErrorRequestHandler);
    loopback = await listenOnLoopback(app);
    ({ server, url } = loopback);
  });

  after(() => loopback.close());

  const post = (body: string, contentType: string) =>
    fetch(`${url}/text`, { method: "POST", headers: { "content-type": contentType }, body });

  it("reads a body as UTF-8 text", async () => {
    const res = await post('{"title":"证据"}', "application/json");
    expect(await res.json()).to.deep.equal({ text: '{"title":"证据"}' });
  });

  it("refuses a body in another charset (415 UNSUPPORTED_ENCODING): JSON between systems is UTF-8 (RFC 8259 §8.1)", async () => {
    const res = await post("{}", "application/json; charset=utf-16le");
    expect([res.status, ((await res.json()) as { code: string }).code]).to.deep.equal([415, "UNSUPPORTED_ENCODING"]);
  });

  it("refuses a body over its limit (413 BODY_TOO_LARGE)", async () => {
    const res = await post(`"${"x".repeat(1024)}"`, "application/json");
    expect([res.status, ((await res.json()) as { code: string }).code]).to.deep.equal([413, "BODY_TOO_LARGE"]);
  });

  it("takes a client that goes away mid-body for an aborted request (400), not an internal error", async () => {
    const received = new Promise<IncomingMessage>((resolve) => server.once("request", resolve));
    const failed = new Promise<unknown>((resolve) => (onError = resolve));
    const c = await RawConnection.open(url);
    c.write(`POST /text HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"a":`);
    const req = await received;
    await until(async () => (req.readableFlowing ? true : undefined), "the body to be read");
    c.destroy();
    expect(toProblem(await failed)).to.deep.include({ status: 400, code: "BAD_REQUEST" });
  });
});
