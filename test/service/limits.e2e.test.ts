import { expect } from "chai";
import { once } from "node:events";
import { connect } from "node:net";
import { setTimeout as delay } from "node:timers/promises";
import {
  cleanUpDataDir,
  freePort,
  startServiceProcess,
  tempDir,
  until,
  type ServiceProcess,
} from "../helpers/processes.ts";
import { loopbackAddress, RawConnection, requestFrom } from "../helpers/raw-http.ts";
import { UNREAD_BODY_MS } from "../../service/http/connection-limits.ts";

/** Each test speaks from its own loopback address: its own bucket, its own connection count. */
const FROM = {
  rpc: loopbackAddress(2),
  verify: loopbackAddress(3),
  bystander: loopbackAddress(4),
  connections: loopbackAddress(5),
  declared: loopbackAddress(6),
  slow: loopbackAddress(7),
  large: loopbackAddress(9),
  unread: loopbackAddress(10),
};

const MAX_CONNECTIONS = 4;
/** Open connections in all (MAX_CONNECTIONS): from many addresses, as a flood spread over them would come. */
const MAX_CONNECTIONS_IN_ALL = 12;

describe("limits on anonymous and slow clients (a real service process)", function () {
  this.timeout(120_000);
  let service: ServiceProcess;
  let dataDir: string;

  before(async () => {
    dataDir = tempDir("limits");
    service = await startServiceProcess(dataDir, {
      LOCAL_CHAIN_PORT: String(await freePort()),
      // One unit a minute per address: a request that costs N units leaves the bucket N - 1 in
      // debt, and the Retry-After it then gives tells how many units it was charged.
      ANONYMOUS_RATE_LIMIT_PER_MINUTE: "1",
      MAX_CONNECTIONS_PER_ADDRESS: String(MAX_CONNECTIONS),
      MAX_CONNECTIONS: String(MAX_CONNECTIONS_IN_ALL),
      RPC_BODY_TIMEOUT_MS: "1000",
    });
  });

  after(async () => {
    await service?.stop();
    await cleanUpDataDir(dataDir);
  });

  const json = (body: unknown) => ({
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  const chainId = (id: number) => ({ jsonrpc: "2.0", id, method: "eth_chainId", params: [] });

  describe("per-address token buckets on the anonymous routes", () => {
    it("charges /rpc one unit per call of a batch: 429 with a Retry-After for every call owed", async () => {
      const batch = await requestFrom(FROM.rpc, `${service.url}/rpc`, json([chainId(1), chainId(2), chainId(3)]));
      expect(batch.status, "a full bucket admits a batch larger than itself").to.equal(200);
      const next = await requestFrom(FROM.rpc, `${service.url}/rpc`, json(chainId(4)));
      expect([next.status, next.body.code]).to.deep.equal([429, "RATE_LIMITED"]);
      // Three units taken from a bucket of one: the next unit comes in three minutes, not one.
      expect(Number(next.headers["retry-after"])).to.be.within(121, 180);
    });

    it("charges /api/v1/verify one unit per certificate of a bulk request", async () => {
      const bulk = await requestFrom(
        FROM.verify,
        `${service.url}/api/v1/verify`,
        json({ certificates: [{}, {}, {}, {}] }),
      );
      expect(bulk.status).to.equal(200);
      expect(bulk.body.results).to.have.length(4);
      const next = await requestFrom(FROM.verify, `${service.url}/api/v1/verify`, json({ certificate: {} }));
      expect([next.status, next.body.code]).to.deep.equal([429, "RATE_LIMITED"]);
      expect(Number(next.headers["retry-after"])).to.be.within(181, 240);
    });

    it("charges /api/v1/verify one unit per 8 KiB of a JSON body before parsing it, refused or not: 429 with a Retry-After for every unit owed", async () => {
      // An object of short keys, the costliest JSON to parse for its size; a little over 32 KiB,
      // so five units begun. It holds no certificate: refused, but only once it has been paid for.
      const keys: string[] = [];
      while (keys.join(",").length <= 4 * 8192) keys.push(`"k${keys.length}":0`);
      const large = await requestFrom(FROM.large, `${service.url}/api/v1/verify`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: `{"x":{${keys.join(",")}}}`,
      });
      expect([large.status, large.body.code]).to.deep.equal([400, "NO_CERTIFICATE"]);
      const next = await requestFrom(FROM.large, `${service.url}/api/v1/verify`, json({ certificate: {} }));
      expect([next.status, next.body.code]).to.deep.equal([429, "RATE_LIMITED"]);
      // Five units taken from a bucket of one: the next unit comes in five minutes.
      expect(Number(next.headers["retry-after"])).to.be.within(241, 300);
    });

    it("limits each address alone: another address is still served", async () => {
      await requestFrom(FROM.bystander, `${service.url}/rpc`, json(chainId(1)));
      const limited = await requestFrom(FROM.bystander, `${service.url}/rpc`, json(chainId(2)));
      expect(limited.status).to.equal(429);
      const other = await requestFrom(loopbackAddress(8), `${service.url}/rpc`, json(chainId(3)));
      expect(other.status).to.equal(200);
    });
  });

  /** Each open connection answers a request. */
  const expectServed = async (connections: RawConnection[]) => {
    for (const c of connections) {
      c.write("GET /healthz HTTP/1.1\r\nHost: evidence\r\n\r\n");
      expect((await c.answer()).status).to.equal(200);
    }
  };
  /** Once the service has seen `connections` close, a new connection from `address` is served. */
  const expectServedOnceClosed = async (connections: RawConnection[], address: string) => {
    await Promise.all(connections.map((c) => c.closed));
    const again = await until(
      () => requestFrom(address, `${service.url}/healthz`),
      "a new connection to be served once the others are closed",
      10_000,
    );
    expect(again.status).to.equal(200);
  };

  describe("connections per address (MAX_CONNECTIONS_PER_ADDRESS)", () => {
    it(`closes the connections an address opens beyond ${MAX_CONNECTIONS}, and serves the others`, async () => {
      const connections: RawConnection[] = [];
      for (let i = 0; i < MAX_CONNECTIONS + 2; i++)
        connections.push(await RawConnection.open(service.url, FROM.connections));
      try {
        // The service accepts connections in the order they were made: the last two are over the limit.
        await Promise.all(connections.slice(MAX_CONNECTIONS).map((c) => c.closed));
        expect(connections.slice(0, MAX_CONNECTIONS).map((c) => c.isClosed)).to.not.include(true);
        await expectServed(connections.slice(0, MAX_CONNECTIONS));
      } finally {
        for (const c of connections) c.destroy();
      }
      // Once the service has seen them close, the address may connect again.
      await expectServedOnceClosed(connections, FROM.connections);
    });
  });

  describe("connections in all (MAX_CONNECTIONS)", () => {
    it(`closes connections beyond ${MAX_CONNECTIONS_IN_ALL} from any addresses, keeping the descriptors they would take, and serves those it holds`, async () => {
      const connections: RawConnection[] = [];
      // Four addresses of four connections each: none over its own limit, the whole over the cap.
      for (let i = 0; i < 16; i++)
        connections.push(await RawConnection.open(service.url, loopbackAddress(20 + (i % 4))));
      try {
        await until(
          async () => connections.filter((c) => !c.isClosed).length <= MAX_CONNECTIONS_IN_ALL || undefined,
          "the connections beyond the cap to be closed",
          10_000,
        );
        const held = connections.filter((c) => !c.isClosed);
        expect(held.length).to.be.within(1, MAX_CONNECTIONS_IN_ALL);
        await expectServed(held);
      } finally {
        for (const c of connections) c.destroy();
      }
      await expectServedOnceClosed(connections, loopbackAddress(24));
    });
  });

  describe("slow and oversized bodies", () => {
    for (const [route, limit] of [
      ["/rpc", 64 * 1024],
      ["/api/v1/evidence/digests", 8 * 1024 * 1024],
    ] as const) {
      it(`answers 413 to a declared body over ${route}'s limit at once, before any of it is sent, and closes the connection`, async () => {
        const c = await RawConnection.open(service.url, FROM.declared);
        c.write(
          `POST ${route} HTTP/1.1\r\nHost: evidence\r\nContent-Type: application/json\r\nContent-Length: ${limit + 1}\r\n\r\n`,
        );
        // Not one byte of the body is sent: the answer cannot have waited for it. A body
        // deadline would answer 408 later; 413 is the answer to the headers alone.
        const answer = await c.answer();
        expect([answer.status, JSON.parse(answer.body).code]).to.deep.equal([413, "BODY_TOO_LARGE"]);
        expect(answer.headers.connection).to.equal("close");
        await c.closed;
      });
    }

    it("does not lose the 413 to a client still sending its body: a lingering close, not a reset (RFC 9112 §9.6)", async function () {
      this.timeout(30_000);
      const { port } = new URL(service.url);
      const socket = connect({ host: "127.0.0.1", port: Number(port), localAddress: FROM.declared });
      await once(socket, "connect");
      // The client does not read for a moment while its body goes out: had the service
      // closed with the body unread, the connection would be reset and the answer dropped.
      socket.pause();
      const body = Buffer.alloc(4 * 1024 * 1024, 0x20);
      socket.write(
        `POST /rpc HTTP/1.1\r\nHost: evidence\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`,
      );
      socket.write(body);
      socket.on("error", () => undefined);
      await delay(500);
      let received = "";
      socket.on("data", (d: Buffer) => (received += d.toString("latin1")));
      socket.resume();
      await once(socket, "close");
      expect(received).to.match(/^HTTP\/1\.1 413 /);
      expect(received).to.include("BODY_TOO_LARGE");
    });

    it("closes the connection of a body nobody reads that is still trickling in UNREAD_BODY_MS (5 s) after its answer, on any route (GET /healthz with a Content-Length)", async function () {
      this.timeout(30_000);
      const c = await RawConnection.open(service.url, FROM.unread);
      c.write("GET /healthz HTTP/1.1\r\nHost: evidence\r\nContent-Length: 1000000\r\n\r\nxx");
      const answer = await c.answer();
      expect(answer.status).to.equal(200);
      const answered = Date.now();
      const trickle = setInterval(() => c.write("x"), 200);
      try {
        await c.closed;
      } finally {
        clearInterval(trickle);
      }
      // Not at once (the test's time limit stands for "not after the hour-long request timeout").
      expect(Date.now() - answered, "closed after the grace").to.be.at.least(4_000);
    });

    it("keeps the connection of a body nobody reads that finishes arriving in time, for the next request", async function () {
      this.timeout(30_000);
      const c = await RawConnection.open(service.url, FROM.unread);
      c.write("GET /healthz HTTP/1.1\r\nHost: evidence\r\nContent-Length: 4\r\n\r\nxx");
      expect((await c.answer()).status).to.equal(200);
      c.write("xx");
      c.write("GET /healthz HTTP/1.1\r\nHost: evidence\r\n\r\n");
      const answers = () => c.received.match(/HTTP\/1\.1 200 /g)?.length ?? 0;
      while (answers() < 2 && !c.isClosed) await Promise.race([once(c.socket, "data"), c.closed]);
      expect([answers(), c.isClosed], "both answered on the one connection").to.deep.equal([2, false]);
      // Past the grace (no event marks a timer that must not fire), asked every second so that
      // the connection is never idle for the server's keep-alive timeout: it still serves.
      const rounds = Math.ceil(UNREAD_BODY_MS / 1_000) + 1;
      for (let i = 0; i < rounds; i++) {
        await delay(1_000);
        c.write("GET /healthz HTTP/1.1\r\nHost: evidence\r\n\r\n");
        while (answers() < 3 + i && !c.isClosed) await Promise.race([once(c.socket, "data"), c.closed]);
      }
      expect([answers(), c.isClosed], "answered on it through and after the grace").to.deep.equal([2 + rounds, false]);
      c.destroy();
    });

    it("answers 408 to a body on /rpc that has not arrived within RPC_BODY_TIMEOUT_MS, and closes the connection", async function () {
      const c = await RawConnection.open(service.url, FROM.slow);
      const body = JSON.stringify(chainId(1));
      c.write(
        `POST /rpc HTTP/1.1\r\nHost: evidence\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`,
      );
      c.write(body.slice(0, 10));
      const sent = Date.now();
      const answer = await c.answer();
      const waited = Date.now() - sent;
      expect([answer.status, JSON.parse(answer.body).code]).to.deep.equal([408, "REQUEST_TIMEOUT"]);
      expect(waited, "the deadline set (1 s here), not the default of 10 s").to.be.within(900, 9_000);
      expect(answer.headers.connection).to.equal("close");
      await c.closed;
    });
  });
});
