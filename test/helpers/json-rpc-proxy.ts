import { once } from "node:events";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";

/** One JSON-RPC call as a node received it. */
export interface ReceivedCall {
  jsonrpc?: string;
  id?: unknown;
  method?: string;
  params?: unknown;
}

/** How a stand-in node answers a request, instead of passing it on. */
export type Intercept = (calls: ReceivedCall[], res: ServerResponse) => Promise<void>;

export interface JsonRpcProxyOptions {
  /** Changes the node's answer to a call before it goes back (a node that lies). */
  rewrite?: (call: ReceivedCall, answer: Record<string, unknown>) => Record<string, unknown>;
  /** Answers a request itself when it returns a handler; otherwise the request goes on to the node. */
  intercept?: (calls: ReceivedCall[]) => Intercept | undefined;
  /** Sends a batch's answers back in reverse order, as a node may reorder them. */
  reverseBatches?: boolean;
}

/**
 * A JSON-RPC node on loopback that stands in front of a real one: it records every call it
 * receives and passes it on, and can lie about answers, reorder a batch, or answer on its
 * own (e.g. with megabytes). What reached "the node" is what this recorded.
 */
export class JsonRpcProxy {
  readonly url: string;
  readonly received: ReceivedCall[] = [];
  readonly #server: Server;

  private constructor(server: Server, url: string) {
    this.#server = server;
    this.url = url;
  }

  static async start(upstream: string, options: JsonRpcProxyOptions = {}): Promise<JsonRpcProxy> {
    const server = createServer();
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    const { port } = server.address() as { port: number };
    const proxy = new JsonRpcProxy(server, `http://127.0.0.1:${port}`);
    server.on("request", (req: IncomingMessage, res: ServerResponse) => {
      void proxy.#handle(upstream, options, req, res).catch((e: Error) => {
        if (!res.headersSent) res.writeHead(502, { "content-type": "text/plain" });
        res.end(e.message);
      });
    });
    return proxy;
  }

  /** The calls received of one method. */
  calls(method: string): ReceivedCall[] {
    return this.received.filter((c) => c.method === method);
  }

  /** Whether any call received carries `text` anywhere in its JSON. */
  sawText(text: string): boolean {
    return this.received.some((c) => JSON.stringify(c).includes(text));
  }

  async stop(): Promise<void> {
    this.#server.closeAllConnections();
    this.#server.close();
    await once(this.#server, "close");
  }

  async #handle(
    upstream: string,
    options: JsonRpcProxyOptions,
    req: IncomingMessage,
    res: ServerResponse,
  ): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString("utf8");
    const body = JSON.parse(text) as ReceivedCall | ReceivedCall[];
    const calls = Array.isArray(body) ? body : [body];
    this.received.push(...calls);
    const intercept = options.intercept?.(calls);
    if (intercept) return intercept(calls, res);
    const answer = await fetch(upstream, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: text,
    });
    let answers = (await answer.json()) as Record<string, unknown> | Record<string, unknown>[];
    const rewrite = options.rewrite;
    if (rewrite) {
      answers = Array.isArray(answers)
        ? answers.map((a) => rewrite(calls.find((c) => c.id === a.id) ?? {}, a))
        : rewrite(calls[0]!, answers);
    }
    if (Array.isArray(answers) && options.reverseBatches) answers = [...answers].reverse();
    res.writeHead(answer.status, { "content-type": "application/json" });
    res.end(JSON.stringify(answers));
  }
}

/** What happened to a large answer: how much was written before the reader stopped, and whether all of it was. */
export interface FloodOutcome {
  written: number;
  completed: boolean;
}

/**
 * An answer of `bytes` bytes to a batch (one result string of that length per batch), written
 * in 64 KiB pieces as fast as the reader takes them; `outcome` settles when the reader has
 * taken it all or gone away.
 */
export function floodAnswer(bytes: number): { intercept: Intercept; outcome: Promise<FloodOutcome> } {
  let settle!: (o: FloodOutcome) => void;
  const outcome = new Promise<FloodOutcome>((resolve) => (settle = resolve));
  const intercept: Intercept = async (calls, res) => {
    let written = 0;
    let gone = false;
    res.on("close", () => (gone = true));
    res.writeHead(200, { "content-type": "application/json" });
    const head = `[{"jsonrpc":"2.0","id":${JSON.stringify(calls[0]?.id ?? null)},"result":"0x`;
    const piece = "ab".repeat(32 * 1024);
    const drained = () =>
      new Promise<void>((resolve) => {
        const done = () => {
          res.off("drain", done);
          res.off("close", done);
          resolve();
        };
        res.on("drain", done);
        res.on("close", done);
      });
    const write = async (s: string) => {
      written += s.length;
      if (!res.write(s)) await drained();
    };
    await write(head);
    while (written < bytes && !gone) await write(piece);
    if (gone) return settle({ written, completed: false });
    res.end('"}]');
    await Promise.race([once(res, "finish"), once(res, "close")]);
    settle({ written, completed: !gone || res.writableFinished });
  };
  return { intercept, outcome };
}
