import { expect } from "chai";
import { once } from "node:events";
import http from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { AddressPolicy } from "../../service/capture/address-policy.ts";
import { dnsServerResolver, GuardProxy } from "../../service/capture/guard-proxy.ts";
import { startDnsServer, type DnsServer } from "../helpers/dns-server.ts";

/** A site on a loopback address that answers every request with `body` and counts what it served. */
async function startSite(host: string, body: string | Buffer, port = 0) {
  const seen: string[] = [];
  const server = http.createServer((req, res) => {
    seen.push(`${req.headers.host} ${req.url}`);
    res.writeHead(200, { "content-type": "text/plain", "content-length": Buffer.byteLength(body) }).end(body);
  });
  server.listen(port, host);
  await once(server, "listening");
  return { server, seen, port: (server.address() as AddressInfo).port, close: () => server.close() };
}

/** A plain-http request through the proxy in absolute form (RFC 9112 §3.2.2). */
async function viaProxy(proxy: GuardProxy, url: string): Promise<{ status: number; body: string }> {
  const req = http.request({ host: "127.0.0.1", port: proxy.port, method: "GET", path: url, agent: false });
  req.end();
  const [res] = (await once(req, "response")) as [http.IncomingMessage];
  const chunks: Buffer[] = [];
  for await (const chunk of res) chunks.push(chunk as Buffer);
  return { status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() };
}

/** A CONNECT request through the proxy (RFC 9110 §9.3.6); resolves with the status and the tunnel. */
async function connectVia(proxy: GuardProxy, authority: string): Promise<{ status: number; socket: Socket }> {
  const req = http.request({ host: "127.0.0.1", port: proxy.port, method: "CONNECT", path: authority, agent: false });
  req.end();
  const [res, socket] = (await once(req, "connect")) as [http.IncomingMessage, Socket];
  return { status: res.statusCode ?? 0, socket };
}

describe("GuardProxy", function () {
  let dnsServer: DnsServer;
  let site: Awaited<ReturnType<typeof startSite>>;
  let internal: Awaited<ReturnType<typeof startSite>>;
  const proxies: GuardProxy[] = [];
  const policy = new AddressPolicy({ allow: "127.0.0.1/32" });

  async function proxyWith(options: { maxBytes?: number } = {}): Promise<GuardProxy> {
    const proxy = await GuardProxy.start({
      policy,
      maxBytes: options.maxBytes ?? 10 * 1024 * 1024,
      resolver: dnsServerResolver([dnsServer.address]),
    });
    proxies.push(proxy);
    return proxy;
  }

  before(async () => {
    site = await startSite("127.0.0.1", "public site");
    // The same port on another loopback address: what a rebinding attacker would reach.
    internal = await startSite("127.0.0.2", "internal service", site.port);
    dnsServer = await startDnsServer({
      "site.test": ["127.0.0.1"],
      "internal.test": ["127.0.0.2"],
      "private.test": ["10.0.0.1"],
      "mixed.test": ["127.0.0.1", "127.0.0.2"],
      "public.test": ["93.184.216.34"],
      "public-and-private.test": ["93.184.216.34", "10.0.0.1"],
      "rebind.test": [["127.0.0.1"], ["127.0.0.2"]],
    });
  });

  after(async () => {
    for (const proxy of proxies) await proxy.close();
    site.close();
    internal.close();
    await dnsServer.stop();
  });

  describe("plain http (absolute form)", () => {
    it("forwards a request to the checked address and records the connection", async () => {
      const proxy = await proxyWith();
      const answer = await viaProxy(proxy, `http://site.test:${site.port}/page?q=1`);
      expect(answer).to.deep.equal({ status: 200, body: "public site" });
      expect(site.seen).to.include(`site.test:${site.port} /page?q=1`);
      const [record] = proxy.connections();
      expect(record).to.include({ kind: "http", host: "site.test", port: site.port });
      expect(record!.addresses).to.deep.equal(["127.0.0.1"]);
      expect(record!.connectedTo).to.deep.equal({ address: "127.0.0.1", port: site.port });
      expect(record!.bytesReceived).to.be.greaterThan(0);
      expect(proxy.dnsAnswers()).to.have.length(1);
      expect(proxy.dnsAnswers()[0]).to.include({ host: "site.test" });
    });

    it("waits for a server that answers after longer than the connect timeout: only the connect is timed", async () => {
      const slow = http.createServer((_req, res) => {
        setTimeout(() => res.writeHead(200, { "content-length": 4 }).end("late"), 600);
      });
      slow.listen(0, "127.0.0.1");
      await once(slow, "listening");
      try {
        const proxy = await GuardProxy.start({
          policy,
          maxBytes: 1024,
          resolver: dnsServerResolver([dnsServer.address]),
          connectTimeoutMs: 200,
        });
        proxies.push(proxy);
        const answer = await viaProxy(proxy, `http://site.test:${(slow.address() as AddressInfo).port}/`);
        expect(answer).to.deep.equal({ status: 200, body: "late" });
      } finally {
        slow.close();
      }
    });

    it("passes the server's headers on without adding Connection or Keep-Alive of its own", async () => {
      const proxy = await proxyWith();
      const req = http.request({
        host: "127.0.0.1",
        port: proxy.port,
        path: `http://site.test:${site.port}/`,
        agent: false,
      });
      req.end();
      const [res] = (await once(req, "response")) as [http.IncomingMessage];
      res.resume();
      const names = res.rawHeaders.filter((_, i) => i % 2 === 0).map((n) => n.toLowerCase());
      expect(names, "the site's own headers, its Date included").to.deep.equal([
        "content-type",
        "content-length",
        "date",
      ]);
    });

    it("refuses a name that resolves to a private address, and records neither the address nor its kind", async () => {
      const proxy = await proxyWith();
      const answer = await viaProxy(proxy, "http://private.test/");
      expect(answer.status).to.equal(403);
      const [record] = proxy.connections();
      expect(record!.refused).to.deep.equal({
        reason: "private.test resolves to an address captures may not reach",
        category: "address",
      });
      expect(record!.addresses).to.deep.equal([]);
      expect(record!.connectedTo).to.equal(undefined);
      expect(proxy.dnsAnswers()).to.have.length(1);
      expect(proxy.dnsAnswers()[0]).to.deep.include({ host: "private.test", addresses: [], withheld: true });
      expect(JSON.stringify([proxy.connections(), proxy.dnsAnswers()])).to.not.include("10.0.0.1");
      expect(proxy.withheldNames(), "the operator's log still learns it").to.deep.equal([
        { host: "private.test", addresses: ["10.0.0.1"], reason: "10.0.0.1 is a private address" },
      ]);
    });

    it("refuses a name with one allowed and one refused address, and records none of them", async () => {
      const proxy = await proxyWith();
      expect((await viaProxy(proxy, `http://mixed.test:${site.port}/`)).status).to.equal(403);
      expect(proxy.connections()[0]!.refused).to.deep.include({ category: "address" });
      expect(proxy.connections()[0]!.addresses).to.deep.equal([]);
      expect(proxy.dnsAnswers()[0]).to.deep.include({ host: "mixed.test", addresses: [], withheld: true });
      expect(proxy.withheldNames()[0]!.addresses).to.deep.equal(["127.0.0.1", "127.0.0.2"]);
    });

    it("refuses a name with a public address on a port outside the list as a port, and records its address", async () => {
      const proxy = await proxyWith();
      expect((await viaProxy(proxy, "http://public.test:22/")).status).to.equal(403);
      const [record] = proxy.connections();
      expect(record!.refused).to.deep.include({ category: "port" });
      expect(record!.refused!.reason).to.match(/^public\.test: port 22 is not allowed/);
      expect(record!.addresses).to.deep.equal(["93.184.216.34"]);
      expect(proxy.dnsAnswers()[0]).to.deep.equal({ ...proxy.dnsAnswers()[0], addresses: ["93.184.216.34"] });
      expect(proxy.dnsAnswers()[0]).to.not.have.property("withheld");
      expect(proxy.withheldNames()).to.deep.equal([]);
    });

    it("refuses a name with a public and a private address, on a port outside the list, for its addresses", async () => {
      const proxy = await proxyWith();
      expect((await viaProxy(proxy, "http://public-and-private.test:22/")).status).to.equal(403);
      expect(proxy.connections()[0]!.refused).to.deep.include({ category: "address" });
      expect(proxy.connections()[0]!.addresses).to.deep.equal([]);
      expect(proxy.dnsAnswers()[0]).to.deep.include({ addresses: [], withheld: true });
    });

    it("tells the browser which name was refused, never its address", async () => {
      const proxy = await proxyWith();
      const req = http.request({
        host: "127.0.0.1",
        port: proxy.port,
        method: "GET",
        path: "http://private.test/",
        agent: false,
      });
      req.end();
      const [res] = (await once(req, "response")) as [http.IncomingMessage];
      res.resume();
      expect(res.statusCode).to.equal(403);
      expect(res.headers["x-capture-refused"]).to.equal("private.test resolves to an address captures may not reach");
      const tunnel = await connectVia(proxy, "private.test:443");
      tunnel.socket.destroy();
      expect(tunnel.status).to.equal(403);
    });

    it("refuses a name that does not resolve and records the DNS error", async () => {
      const proxy = await proxyWith();
      expect((await viaProxy(proxy, "http://nowhere.test/")).status).to.equal(403);
      expect(proxy.connections()[0]!.error).to.match(/cannot resolve nowhere\.test/);
      expect(proxy.dnsAnswers()[0]).to.deep.include({ host: "nowhere.test", addresses: [] });
    });

    it("pins a host to its first answer: a rebinding DNS server is asked once and its second answer never used", async () => {
      const proxy = await proxyWith();
      const before = internal.seen.length;
      for (let i = 0; i < 3; i++) {
        expect(await viaProxy(proxy, `http://rebind.test:${site.port}/${i}`)).to.deep.equal({
          status: 200,
          body: "public site",
        });
      }
      expect(dnsServer.queries.filter((q) => q === "rebind.test A")).to.have.length(1);
      expect(internal.seen.length).to.equal(before);
      expect(proxy.connections().map((r) => r.connectedTo?.address)).to.deep.equal([
        "127.0.0.1",
        "127.0.0.1",
        "127.0.0.1",
      ]);
    });
  });

  describe("CONNECT tunnels", () => {
    it("opens a tunnel to an allowed address", async () => {
      const proxy = await proxyWith();
      const { status, socket } = await connectVia(proxy, `site.test:${site.port}`);
      expect(status).to.equal(200);
      socket.end("GET /tunnelled HTTP/1.1\r\nHost: site.test\r\nConnection: close\r\n\r\n");
      const chunks: Buffer[] = [];
      for await (const chunk of socket) chunks.push(chunk as Buffer);
      expect(Buffer.concat(chunks).toString()).to.match(/^HTTP\/1\.1 200 OK[\s\S]*public site$/);
      expect(proxy.connections()[0]).to.deep.include({
        kind: "connect",
        host: "site.test",
        connectedTo: { address: "127.0.0.1", port: site.port },
      });
    });

    it("refuses a tunnel to a loopback address outside the allow-list", async () => {
      const proxy = await proxyWith();
      const { status, socket } = await connectVia(proxy, `127.0.0.2:${site.port}`);
      socket.destroy();
      expect(status).to.equal(403);
      expect(proxy.connections()[0]!.refused).to.deep.include({ category: "loopback" });
    });

    it("refuses a tunnel to [::1]", async () => {
      const proxy = await proxyWith();
      const { status, socket } = await connectVia(proxy, "[::1]:443");
      socket.destroy();
      expect(status).to.equal(403);
      expect(proxy.connections()[0]).to.deep.include({ host: "::1" });
    });

    it("rejects a malformed CONNECT target", async () => {
      const proxy = await proxyWith();
      const { status, socket } = await connectVia(proxy, "no-port");
      socket.destroy();
      expect(status).to.equal(400);
    });
  });

  describe("the byte limit", () => {
    it("cuts the connections and aborts its signal with PAGE_TOO_LARGE past maxBytes", async () => {
      const big = await startSite("127.0.0.1", Buffer.alloc(2 * 1024 * 1024, 0x61));
      try {
        const proxy = await proxyWith({ maxBytes: 256 * 1024 });
        const aborted = once(proxy.signal, "abort");
        const outcome = await viaProxy(proxy, `http://127.0.0.1:${big.port}/`).catch((e: Error) => e);
        await aborted;
        expect(proxy.signal.reason).to.equal("PAGE_TOO_LARGE");
        // Either the response was cut mid-body or the socket was closed before it began.
        if (!(outcome instanceof Error)) expect(outcome.body.length).to.be.lessThan(2 * 1024 * 1024);
        expect((await viaProxy(proxy, `http://site.test:${site.port}/`)).status).to.equal(403);
        expect(proxy.connections().at(-1)!.refused).to.deep.include({ category: "limit" });
      } finally {
        big.close();
      }
    });
  });
});
