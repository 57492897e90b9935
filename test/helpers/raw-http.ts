import { once } from "node:events";
import { request, type IncomingMessage } from "node:http";
import { connect, type Socket } from "node:net";

/**
 * Loopback is all of 127.0.0.0/8: a client bound to 127.0.0.2 is another address to the
 * service than one on 127.0.0.1, with its own rate-limit bucket and connection count.
 */
export function loopbackAddress(n: number): string {
  return `127.0.0.${n}`;
}

export interface RawAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: any;
}

/** A response read to its end; the body is parsed as JSON when it is, else kept as text. */
export async function answerOf(res: IncomingMessage): Promise<RawAnswer> {
  const chunks: Buffer[] = [];
  for await (const chunk of res) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString("utf8");
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON: the text is the body
  }
  return { status: res.statusCode!, headers: res.headers, body };
}

/** One HTTP request on a fresh connection from `localAddress`; the body is parsed as JSON when it is. */
export function requestFrom(
  localAddress: string,
  url: string,
  options: { method?: string; headers?: Record<string, string>; body?: string | Buffer } = {},
): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const body = options.body === undefined ? undefined : Buffer.from(options.body);
    const req = request(
      url,
      {
        method: options.method ?? "GET",
        localAddress,
        agent: false,
        headers: { ...options.headers, ...(body ? { "content-length": String(body.length) } : {}) },
      },
      (res) => answerOf(res).then(resolve, reject),
    );
    req.on("error", reject);
    req.end(body);
  });
}

/**
 * A raw HTTP/1.1 exchange on one socket: the test writes what it likes, when it likes, and
 * reads the service's answer as bytes, and whether and when the service closed the connection.
 */
export class RawConnection {
  readonly socket: Socket;
  #received = "";
  readonly closed: Promise<void>;
  #closedNow = false;

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.setEncoding("latin1");
    socket.on("data", (d: string) => (this.#received += d));
    socket.on("error", () => undefined);
    this.closed = once(socket, "close").then(() => {
      this.#closedNow = true;
    });
  }

  static async open(url: string, localAddress = "127.0.0.1"): Promise<RawConnection> {
    const { hostname, port } = new URL(url);
    const socket = connect({ host: hostname, port: Number(port), localAddress });
    await once(socket, "connect");
    return new RawConnection(socket);
  }

  get isClosed(): boolean {
    return this.#closedNow;
  }

  get received(): string {
    return this.#received;
  }

  write(text: string | Buffer): void {
    this.socket.write(text);
  }

  /** Waits until a whole answer (head and a Content-Length body) has arrived, or the connection closed. */
  async answer(): Promise<{ status: number; headers: Record<string, string>; body: string }> {
    for (;;) {
      const parsed = parseAnswer(this.#received);
      if (parsed) return parsed;
      if (this.#closedNow) throw new Error(`the connection closed after ${JSON.stringify(this.#received)}`);
      await Promise.race([once(this.socket, "data"), this.closed]);
    }
  }

  destroy(): void {
    this.socket.destroy();
  }
}

function parseAnswer(text: string): { status: number; headers: Record<string, string>; body: string } | undefined {
  const end = text.indexOf("\r\n\r\n");
  if (end < 0) return undefined;
  const [statusLine, ...lines] = text.slice(0, end).split("\r\n");
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(":");
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  const length = Number(headers["content-length"] ?? 0);
  const body = Buffer.from(text.slice(end + 4), "latin1");
  if (body.length < length) return undefined;
  return { status: Number(statusLine!.split(" ")[1]), headers, body: body.subarray(0, length).toString("utf8") };
}
