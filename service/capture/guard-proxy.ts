import { promises as dns } from "node:dns";
import { once } from "node:events";
import http, { type IncomingMessage, type ServerResponse } from "node:http";
import net, { type Socket } from "node:net";
import type { Duplex } from "node:stream";
import { AddressPolicy, parseAddress, type AddressCategory } from "./address-policy.ts";

/**
 * An HTTP forward proxy on 127.0.0.1 that the capture browser must use for every request
 * (Chromium is started with `--proxy-server` and `--proxy-bypass-list=<-loopback>`, so even
 * loopback goes through it). It is where the address policy is enforced on what is really
 * fetched: the browser never resolves a name itself, so each connection, redirect and
 * sub-request arrives here as a host name, is resolved here, checked here, and connected to
 * exactly the address that was checked. A DNS answer that changes between the check and the
 * fetch (DNS rebinding) cannot slip through, because there is only one answer: each host is
 * resolved once per capture and every connection to it uses that answer.
 *
 * - `CONNECT host:port` (RFC 9110 §9.3.6): https and WebSockets; a TCP tunnel to the pinned address.
 * - absolute-form requests (RFC 9112 §3.2.2): plain http; forwarded to the pinned address.
 *
 * It also counts every byte in both directions: past `maxBytes` every connection is cut and
 * {@link GuardProxy.signal} aborts with `PAGE_TOO_LARGE`, so a huge or endless page cannot fill
 * the disk or the memory of the service.
 */

export interface ResolvedAddress {
  address: string;
  family: 4 | 6;
}

/** Resolves a host name to all of its addresses. */
export type HostResolver = (host: string) => Promise<ResolvedAddress[]>;

/** The system resolver (getaddrinfo: /etc/hosts, then DNS), every address in the order returned. */
export const systemResolver: HostResolver = async (host) => {
  const answers = await dns.lookup(host, { all: true, order: "verbatim" });
  return answers.map(({ address, family }) => ({ address, family: family === 6 ? 6 : 4 }));
};

/**
 * A resolver that asks the given DNS servers directly (A and AAAA), bypassing /etc/hosts and
 * the system configuration: for deployments that want captures resolved by a chosen resolver.
 */
export function dnsServerResolver(servers: string[], options: { timeoutMs?: number } = {}): HostResolver {
  const resolver = new dns.Resolver({ timeout: options.timeoutMs ?? 5_000, tries: 2 });
  resolver.setServers(servers);
  return async (host) => {
    const settle = async (query: Promise<string[]>) => query.catch((e: NodeJS.ErrnoException) => e);
    const [v4, v6] = await Promise.all([settle(resolver.resolve4(host)), settle(resolver.resolve6(host))]);
    const found = [
      ...(Array.isArray(v4) ? v4.map((address) => ({ address, family: 4 as const })) : []),
      ...(Array.isArray(v6) ? v6.map((address) => ({ address, family: 6 as const })) : []),
    ];
    if (found.length === 0) throw v4 instanceof Error ? v4 : v6;
    return found;
  };
}

/** One resolution of a host name, as recorded in the manifest. */
export interface DnsAnswer {
  host: string;
  /** Every address the resolver returned, in its order. */
  addresses: string[];
  /** RFC 3339 UTC time of the answer. */
  resolvedAt: string;
  /** The resolver's error code (`ENOTFOUND`, …) when it failed. */
  error?: string;
  /**
   * Set, with `addresses` empty, when the name resolved to an address the policy refuses: the
   * addresses of names inside the service's network are not recorded, since the page's owner
   * reads the manifest (see {@link GuardProxy.withheldNames} for the log).
   */
  withheld?: true;
}

/** What is known, and kept out of the manifest, of a name refused for its addresses. */
export interface WithheldName {
  host: string;
  addresses: string[];
  reason: string;
}

/** One connection the browser asked for, and what became of it. */
export interface ConnectionRecord {
  id: number;
  /** `connect` for a tunnel (https, WebSockets), `http` for a forwarded plain-http request. */
  kind: "connect" | "http";
  host: string;
  port: number;
  /** The URL of a forwarded plain-http request. */
  url?: string;
  /** The addresses the host resolved to; none for a name refused for its addresses. */
  addresses: string[];
  /** The address actually connected to: always one of `addresses`, and always one the policy allowed. */
  connectedTo?: { address: string; port: number };
  startedAt: string;
  /** Bytes from the browser to the server, and from the server to the browser. */
  bytesSent: number;
  bytesReceived: number;
  /**
   * Set when the policy refused the connection. `category` is the kind of address refused for an
   * IP literal, and `address` for a name: what kind of address a name has is not recorded.
   */
  refused?: { reason: string; category: AddressCategory | "address" | "port" | "limit" };
  /** Set when the connection failed for another reason (DNS, TCP, limit). */
  error?: string;
}

/** What {@link GuardProxy.check} decided: an `address` to connect to, or `refused`, or an `error`. */
export interface CheckOutcome {
  addresses: string[];
  address?: string;
  refused?: NonNullable<ConnectionRecord["refused"]>;
  error?: string;
}

export interface GuardProxyOptions {
  policy: AddressPolicy;
  /** Bytes in both directions, all connections together, before the capture is cut off. */
  maxBytes: number;
  /** Connections per capture; more are refused (a page opening sockets in a loop). Default 512. */
  maxConnections?: number;
  resolver?: HostResolver;
  /** TCP connect timeout to a server. Default 10 s. */
  connectTimeoutMs?: number;
}

/** Request headers that belong to one hop (RFC 9110 §7.6.1) and are not forwarded. */
const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "proxy-authorization",
  "proxy-authenticate",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
]);

export class GuardProxy {
  readonly port: number;
  private readonly server: http.Server;
  private readonly options: Required<GuardProxyOptions>;
  private readonly records: ConnectionRecord[] = [];
  private readonly answers: DnsAnswer[] = [];
  private readonly withheld = new Map<string, WithheldName>();
  private readonly resolutions = new Map<string, Promise<ResolvedAddress[]>>();
  private readonly sockets = new Set<Duplex>();
  private readonly controller = new AbortController();
  private total = 0;
  private lookups = 0;
  private readonly lookupQueue: (() => void)[] = [];

  private constructor(server: http.Server, port: number, options: Required<GuardProxyOptions>) {
    this.server = server;
    this.port = port;
    this.options = options;
  }

  /** Starts a proxy on 127.0.0.1 at a random free port. */
  static async start(options: GuardProxyOptions): Promise<GuardProxy> {
    const server = http.createServer();
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    const proxy = new GuardProxy(server, (server.address() as net.AddressInfo).port, {
      maxConnections: 512,
      resolver: systemResolver,
      connectTimeoutMs: 10_000,
      ...options,
    });
    server.on("request", (req: IncomingMessage, res: ServerResponse) => void proxy.forward(req, res));
    server.on("connect", (req: IncomingMessage, socket: Socket, head: Buffer) => void proxy.tunnel(req, socket, head));
    server.on("connection", (socket: Socket) => proxy.track(socket));
    server.on("clientError", (_e, socket) => socket.destroy());
    return proxy;
  }

  /** `http://127.0.0.1:<port>`: the value for Chromium's `--proxy-server`. */
  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Aborted, with reason `PAGE_TOO_LARGE`, once more than `maxBytes` went through. */
  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** Bytes through the proxy so far, both directions. */
  get bytes(): number {
    return this.total;
  }

  /** Every connection the browser asked for, in order, refused ones included. */
  connections(): ConnectionRecord[] {
    return this.records.map((r) => ({ ...r }));
  }

  /** Every host resolution, in order. */
  dnsAnswers(): DnsAnswer[] {
    return this.answers.map((a) =>
      this.withheld.has(a.host) ? { ...a, addresses: [], withheld: true } : { ...a, addresses: [...a.addresses] },
    );
  }

  /** The names refused for their addresses, with the addresses and why: for the operator's log, not the manifest. */
  withheldNames(): WithheldName[] {
    return [...this.withheld.values()].map((w) => ({ ...w, addresses: [...w.addresses] }));
  }

  /** Stops listening and cuts every open connection. */
  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private track(socket: Duplex): void {
    this.sockets.add(socket);
    socket.once("close", () => this.sockets.delete(socket));
  }

  private count(record: ConnectionRecord, direction: "bytesSent" | "bytesReceived", n: number): void {
    record[direction] += n;
    this.total += n;
    if (this.total > this.options.maxBytes && !this.controller.signal.aborted) {
      this.controller.abort("PAGE_TOO_LARGE");
      for (const socket of this.sockets) socket.destroy();
    }
  }

  private newRecord(kind: ConnectionRecord["kind"], host: string, port: number, url?: string): ConnectionRecord {
    const record: ConnectionRecord = {
      id: this.records.length + 1,
      kind,
      host,
      port,
      ...(url === undefined ? {} : { url }),
      addresses: [],
      startedAt: new Date().toISOString(),
      bytesSent: 0,
      bytesReceived: 0,
    };
    this.records.push(record);
    return record;
  }

  /**
   * Resolves `host` (once per proxy: later connections reuse the answer) and checks every
   * address for `port`. Returns the address to connect to, or why not. A host is refused when
   * any of its addresses is refused: mixing a public and a private answer is how rebinding
   * attacks hide. Callers may use it before the browser starts, to fail fast on the main URL;
   * the browser's own connection to that host then uses the same answer.
   */
  async check(host: string, port: number): Promise<CheckOutcome> {
    const bare = host.replace(/^\[|\]$/g, "");
    let addresses: ResolvedAddress[];
    if (parseAddress(bare) !== undefined) {
      addresses = [{ address: bare, family: net.isIPv6(bare) ? 6 : 4 }];
    } else {
      const key = bare.toLowerCase();
      let pending = this.resolutions.get(key);
      if (!pending) {
        pending = this.resolveLimited(key);
        this.resolutions.set(key, pending);
        pending.then(
          (found) =>
            this.answers.push({
              host: key,
              addresses: found.map((a) => a.address),
              resolvedAt: new Date().toISOString(),
            }),
          (e: NodeJS.ErrnoException) =>
            this.answers.push({
              host: key,
              addresses: [],
              resolvedAt: new Date().toISOString(),
              error: e.code ?? String(e),
            }),
        );
      }
      try {
        addresses = await pending;
      } catch (e) {
        return { addresses: [], error: `cannot resolve ${bare}: ${(e as NodeJS.ErrnoException).code ?? String(e)}` };
      }
    }
    const list = addresses.map((a) => a.address);
    if (addresses.length === 0) return { addresses: list, error: `${bare} has no addresses` };
    const verdicts = addresses.map(({ address }) => this.options.policy.checkAddress(address, port));
    // An address refused for what it is comes before one refused only for the port: a name
    // with both is refused for its addresses, and none of them is recorded.
    const verdict = verdicts.find((v) => !v.allowed && v.category !== "public") ?? verdicts.find((v) => !v.allowed);
    if (verdict === undefined) return { addresses: list, address: addresses[0]!.address };
    if (net.isIP(bare) !== 0 || verdict.category === "public") {
      const category = verdict.category === "public" ? "port" : verdict.category;
      return { addresses: list, refused: { reason: `${bare}: ${verdict.reason}`, category } };
    }
    // For a name, which addresses it has, and of what kind, is neither told nor recorded: the
    // page's owner would map the service's own network by loading names of their choosing.
    const key = bare.toLowerCase();
    if (!this.withheld.has(key)) this.withheld.set(key, { host: key, addresses: list, reason: verdict.reason });
    return {
      addresses: [],
      refused: { reason: `${bare} resolves to an address captures may not reach`, category: "address" },
    };
  }

  /**
   * The system resolver runs getaddrinfo on libuv's small shared thread pool, which the
   * service's file I/O also needs: a page asking for hundreds of slow names must not take it
   * all. At most four lookups per capture run at once; the rest wait their turn.
   */
  private async resolveLimited(host: string): Promise<ResolvedAddress[]> {
    while (this.lookups >= 4) await new Promise<void>((resolve) => this.lookupQueue.push(resolve));
    this.lookups++;
    try {
      return await this.options.resolver(host);
    } finally {
      this.lookups--;
      this.lookupQueue.shift()?.();
    }
  }

  /** {@link check} for a connection, with the connection and size limits, written into its record. */
  private async pin(record: ConnectionRecord): Promise<CheckOutcome> {
    let outcome: CheckOutcome;
    if (this.controller.signal.aborted) {
      outcome = { addresses: [], refused: { reason: "the page size limit was reached", category: "limit" } };
    } else if (this.records.length > this.options.maxConnections) {
      outcome = {
        addresses: [],
        refused: { reason: `more than ${this.options.maxConnections} connections`, category: "limit" },
      };
    } else {
      outcome = await this.check(record.host, record.port);
    }
    record.addresses = outcome.addresses;
    if (outcome.refused) record.refused = outcome.refused;
    if (outcome.error) record.error = outcome.error;
    return outcome;
  }

  private async tunnel(req: IncomingMessage, client: Socket, head: Buffer): Promise<void> {
    const target = parseAuthority(req.url ?? "");
    if (!target) {
      client.end("HTTP/1.1 400 Bad Request\r\n\r\n");
      return;
    }
    const record = this.newRecord("connect", target.host, target.port);
    client.on("error", () => {});
    const pinned = await this.pin(record);
    const address = pinned.address;
    if (address === undefined) {
      client.end(`HTTP/1.1 403 Forbidden\r\nX-Capture-Refused: ${headerSafe(pinned)}\r\n\r\n`);
      return;
    }
    const upstream = net.connect({ host: address, port: target.port });
    this.track(upstream);
    upstream.setTimeout(this.options.connectTimeoutMs, () => upstream.destroy(new Error("connect timeout")));
    upstream.once("connect", () => {
      upstream.setTimeout(0);
      record.connectedTo = { address, port: target.port };
      client.write("HTTP/1.1 200 Connection Established\r\n\r\n");
      if (head.length > 0) {
        this.count(record, "bytesSent", head.length);
        upstream.write(head);
      }
      upstream.on("data", (chunk: Buffer) => this.count(record, "bytesReceived", chunk.length));
      client.on("data", (chunk: Buffer) => this.count(record, "bytesSent", chunk.length));
      upstream.pipe(client);
      client.pipe(upstream);
    });
    upstream.on("error", (e) => {
      if (!record.connectedTo) {
        record.error = e.message;
        if (client.writable) client.end("HTTP/1.1 502 Bad Gateway\r\n\r\n");
      } else client.destroy();
    });
    client.on("close", () => upstream.destroy());
    upstream.on("close", () => client.destroy());
  }

  private async forward(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let url: URL;
    try {
      url = new URL(req.url ?? "");
      if (url.protocol !== "http:") throw new Error("not http");
    } catch {
      // Only absolute-form http requests are proxied; anything else is not for this proxy.
      res.writeHead(400).end();
      return;
    }
    const port = url.port === "" ? 80 : Number(url.port);
    const record = this.newRecord("http", url.hostname.replace(/^\[|\]$/g, ""), port, url.href);
    const pinned = await this.pin(record);
    const address = pinned.address;
    if (address === undefined) {
      res.writeHead(403, { "content-type": "text/plain", "x-capture-refused": headerSafe(pinned) });
      res.end("refused by the capture policy\n");
      return;
    }
    // A flat [name, value, name, value, …] list keeps the browser's header order and duplicates.
    // Host is the target's authority: a proxy ignores the received Host (RFC 9112 §3.2.2).
    const headers: string[] = ["Host", url.host];
    for (let i = 0; i < req.rawHeaders.length; i += 2) {
      const name = req.rawHeaders[i]!.toLowerCase();
      if (!HOP_BY_HOP.has(name) && name !== "host") headers.push(req.rawHeaders[i]!, req.rawHeaders[i + 1]!);
    }
    const upstream = http.request({
      host: address,
      port,
      method: req.method,
      path: `${url.pathname}${url.search}`,
      headers,
      setHost: false,
      agent: false,
    });
    upstream.on("socket", (socket) => {
      this.track(socket);
      // A connect timeout only, as for a tunnel: a server that takes its time to answer is the
      // page's to judge, within the capture's own limits (the load, the whole capture).
      socket.setTimeout(this.options.connectTimeoutMs, () => upstream.destroy(new Error("connect timeout")));
      socket.once("connect", () => {
        socket.setTimeout(0);
        record.connectedTo = { address, port };
      });
    });
    this.count(record, "bytesSent", headerBytes(req.rawHeaders) + (req.url?.length ?? 0));
    req.on("data", (chunk: Buffer) => this.count(record, "bytesSent", chunk.length));
    req.pipe(upstream);
    upstream.on("response", (response) => {
      const out: string[] = [];
      for (let i = 0; i < response.rawHeaders.length; i += 2) {
        const name = response.rawHeaders[i]!;
        if (!HOP_BY_HOP.has(name.toLowerCase())) out.push(name, response.rawHeaders[i + 1]!);
      }
      // The server's own Date, never one stamped by the proxy: the clock offset is read from it.
      res.sendDate = false;
      // Nor the proxy's Connection and Keep-Alive, which Node adds: the record is of the server's headers.
      res.removeHeader("connection");
      res.writeHead(response.statusCode ?? 502, response.statusMessage, out);
      this.count(record, "bytesReceived", headerBytes(response.rawHeaders));
      response.on("data", (chunk: Buffer) => this.count(record, "bytesReceived", chunk.length));
      response.pipe(res);
      response.on("error", () => res.destroy());
    });
    upstream.on("error", (e) => {
      record.error ??= e.message;
      if (!res.headersSent) res.writeHead(502).end();
      else res.destroy();
    });
    res.on("close", () => upstream.destroy());
  }
}

/** The size of a header block as it travels: `name: value\r\n` per field. */
function headerBytes(raw: string[]): number {
  let n = 0;
  for (const field of raw) n += field.length + 2;
  return n;
}

function headerSafe(outcome: CheckOutcome): string {
  const text = outcome.refused?.reason ?? outcome.error ?? "refused";
  return text.replace(/[^\x20-\x7e]/g, "?").slice(0, 200);
}

/** Parses the authority-form target of CONNECT (`host:port`, `[v6]:port`). */
function parseAuthority(target: string): { host: string; port: number } | undefined {
  const match = /^(\[[0-9a-fA-F:.]+\]|[^:[\]/@]+):(\d{1,5})$/.exec(target);
  if (!match) return undefined;
  const port = Number(match[2]);
  if (port < 1 || port > 65_535) return undefined;
  return { host: match[1]!.replace(/^\[|\]$/g, ""), port };
}
