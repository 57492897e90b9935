import { expect } from "chai";
import { setTimeout as delay } from "node:timers/promises";
import express from "express";
import { bodyDeadline, minimumUploadRate } from "../../service/http/connection-limits.ts";
import { problemHandler } from "../../service/http/problem.ts";
import { silentLogger } from "../../service/log.ts";
import { listenOnLoopback, type LoopbackServer } from "../helpers/loopback-server.ts";
import { RawConnection } from "../helpers/raw-http.ts";

/**
 * The slow-client middleware in process, with deadlines of a fraction of a second instead of
 * the service's 10 s and 30 s windows (service/http/app.ts), on a real HTTP server on loopback.
 */
describe("connection limits (in process, real sockets)", () => {
  let loopback: LoopbackServer;
  let url: string;

  before(async () => {
    const app = express();
    const readAll: express.RequestHandler = (req, res) => {
      let size = 0;
      req.on("data", (d: Buffer) => (size += d.length));
      req.on("end", () => res.json({ size }));
    };
    app.post("/deadline", bodyDeadline(300), readAll);
    app.post("/deadline-generous", bodyDeadline(5_000), readAll);
    // 100 bytes per second, measured over each 500 ms: at least 50 bytes in every window.
    app.post("/upload", minimumUploadRate(100, 500), readAll);
    app.use(problemHandler(silentLogger()));
    loopback = await listenOnLoopback(app);
    url = loopback.url;
  });

  after(() => loopback.close());

  const head = (path: string, length: number) =>
    `POST ${path} HTTP/1.1\r\nHost: test\r\nContent-Type: application/octet-stream\r\nContent-Length: ${length}\r\n\r\n`;

  describe("bodyDeadline", () => {
    it("answers 408 with Connection: close when the body has not all arrived by the deadline, and closes the connection", async () => {
      const c = await RawConnection.open(url);
      c.write(head("/deadline", 1000));
      c.write("x".repeat(10));
      const answer = await c.answer();
      expect([answer.status, JSON.parse(answer.body).code]).to.deep.equal([408, "REQUEST_TIMEOUT"]);
      expect(answer.headers.connection).to.equal("close");
      await c.closed;
    });

    it("lets a body that arrives in time through", async () => {
      const c = await RawConnection.open(url);
      c.write(head("/deadline-generous", 1000) + "x".repeat(1000));
      const answer = await c.answer();
      expect([answer.status, JSON.parse(answer.body)]).to.deep.equal([200, { size: 1000 }]);
      c.destroy();
    });
  });

  describe("minimumUploadRate", () => {
    it("cuts an upload that trickles below the minimum rate with 408, and closes the connection", async () => {
      const c = await RawConnection.open(url);
      c.write(head("/upload", 1_000_000));
      c.write("x".repeat(10)); // then nothing: 10 bytes in the first window, 0 after
      const answer = await c.answer();
      expect([answer.status, JSON.parse(answer.body).code]).to.deep.equal([408, "REQUEST_TIMEOUT"]);
      expect(answer.headers.connection).to.equal("close");
      await c.closed;
    });

    it("never cuts an upload that keeps above the rate, however long it takes", async () => {
      const c = await RawConnection.open(url);
      const chunks = 30;
      c.write(head("/upload", chunks * 1024));
      // 1 KiB every 50 ms over 1.5 s, three windows: 20 times the minimum rate.
      for (let i = 0; i < chunks; i++) {
        c.write("y".repeat(1024));
        await delay(50);
      }
      const answer = await c.answer();
      expect([answer.status, JSON.parse(answer.body)]).to.deep.equal([200, { size: chunks * 1024 }]);
      c.destroy();
    });
  });
});
