import { expect } from "chai";
import { once } from "node:events";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import express from "express";
import { answerClientErrors, problemHandler, toProblem } from "../../service/http/problem.ts";
import { silentLogger } from "../../service/log.ts";
import { until } from "../helpers/processes.ts";
import { RawConnection } from "../helpers/raw-http.ts";

describe("toProblem (http/problem.ts): what the client caused is not an internal error", () => {
  it("treats an upload the client abandoned (multer's 'Request aborted') as the client's, not a 500", () => {
    expect(toProblem(new Error("Request aborted"))).to.include({ status: 400, code: "BAD_REQUEST" });
  });

  it("answers a request the process had no descriptor for (EMFILE, ENFILE) 503 SERVER_BUSY, not a 500", () => {
    for (const code of ["EMFILE", "ENFILE"]) {
      const error = Object.assign(new Error(`${code}: too many open files, open 'tmp/x'`), { code });
      expect(toProblem(error), code).to.include({ status: 503, code: "SERVER_BUSY" });
    }
  });

  it("still answers an unknown failure as a 500, and a connection reset (a database's too) is not taken for an abort", () => {
    expect(toProblem(new Error("something broke"))).to.include({ status: 500, code: "INTERNAL" });
    const reset = Object.assign(new Error("read ECONNRESET"), { code: "ECONNRESET" });
    expect(toProblem(reset).status).to.not.equal(400);
  });
});

describe("problemHandler (http/problem.ts)", () => {
  it("answers a request the process had no descriptor for with Retry-After, as every SERVER_BUSY", async () => {
    const app = express();
    app.get("/open", () => {
      throw Object.assign(new Error("EMFILE: too many open files, open 'tmp/x'"), { code: "EMFILE" });
    });
    app.use(problemHandler(silentLogger()));
    const server = createServer(app).listen(0, "127.0.0.1");
    await once(server, "listening");
    try {
      const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/open`);
      expect([res.status, res.headers.get("retry-after"), ((await res.json()) as { code: string }).code]).to.deep.equal(
        [503, "5", "SERVER_BUSY"],
      );
    } finally {
      server.close();
    }
  });
});

describe("answerClientErrors (http/problem.ts): what Node answers itself is answered as a problem", () => {
  it("answers CONNECT 405 METHOD_NOT_ALLOWED as problem+json and closes the connection (Node would close it without a word)", async () => {
    const server = createServer((_req, res) => res.end("ok")).listen(0, "127.0.0.1");
    answerClientErrors(server);
    await once(server, "listening");
    try {
      const c = await RawConnection.open(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
      c.write("CONNECT 127.0.0.1:22 HTTP/1.1\r\nHost: 127.0.0.1:22\r\n\r\n");
      await c.closed;
      expect(c.received).to.match(/^HTTP\/1\.1 405 Method Not Allowed\r\n/);
      expect(c.received).to.include("Content-Type: application/problem+json");
      expect(JSON.parse(c.received.slice(c.received.indexOf("\r\n\r\n") + 4))).to.include({
        status: 405,
        code: "METHOD_NOT_ALLOWED",
      });
    } finally {
      server.close();
    }
  });

  it("outlives CONNECT clients that reset the connection unread, and closes those that never close theirs", async () => {
    const server = createServer((_req, res) => res.end("ok")).listen(0, "127.0.0.1");
    answerClientErrors(server);
    await once(server, "listening");
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      for (let i = 0; i < 5; i++) {
        const c = await RawConnection.open(url);
        c.write("CONNECT x:1 HTTP/1.1\r\nHost: x:1\r\n\r\n");
        c.socket.resetAndDestroy();
      }
      // One that keeps its end open (half-open, as a client may) is closed by the service all the same.
      const lingering = await RawConnection.open(url);
      lingering.socket.allowHalfOpen = true;
      lingering.write("CONNECT x:1 HTTP/1.1\r\nHost: x:1\r\n\r\n");
      const open = () =>
        new Promise<number>((resolve, reject) => server.getConnections((e, n) => (e ? reject(e) : resolve(n))));
      await until(async () => ((await open()) === 0 ? true : undefined), "the service to close its side", 5_000);
      lingering.destroy();
      const res = await fetch(`${url}/`);
      expect([res.status, await res.text()], "the process still serves").to.deep.equal([200, "ok"]);
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });
});
