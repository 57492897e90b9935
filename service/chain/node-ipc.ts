import { connect } from "node:net";

/**
 * JSON-RPC over the chain node's Unix socket (Anvil's `--ipc`): the control channel only
 * this service uses. The socket file belongs to the service's user and has no write bit
 * for anyone else, and connect(2) on a Unix socket needs write permission (unix(7)): no
 * other local user can reach the node's administrative methods this way.
 *
 * Anvil answers each JSON value it reads with one line of compact JSON, possibly out of
 * order when several requests share a connection; one connection per request keeps the
 * pairing trivial.
 */
export class NodeIpc {
  readonly path: string;
  #nextId = 1;

  constructor(path: string) {
    this.path = path;
  }

  /** One call; throws with the node's error message when it answers with an error. */
  async request<T = unknown>(method: string, params: unknown[] = [], timeoutMs = 10_000): Promise<T> {
    const answer = (await this.exchange(
      JSON.stringify({ jsonrpc: "2.0", id: this.#nextId++, method, params }),
      timeoutMs,
    )) as {
      result?: T;
      error?: { code?: number; message?: string };
    };
    if (answer.error) {
      throw new Error(`${method}: ${answer.error.message ?? "error"} (${answer.error.code ?? "?"})`);
    }
    return answer.result as T;
  }

  /** Sends one JSON-RPC body (a call or a batch) as is and returns the node's parsed answer. */
  exchange(body: string, timeoutMs = 10_000): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const socket = connect(this.path);
      const chunks: Buffer[] = [];
      let done = false;
      const timer = setTimeout(
        () => finish(new Error(`the chain node did not answer on ${this.path} within ${timeoutMs} ms`)),
        timeoutMs,
      );
      const finish = (error: Error | null, value?: unknown) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        socket.destroy();
        if (error) reject(error);
        else resolve(value);
      };
      socket.on("error", (e) => finish(e));
      socket.on("close", () => finish(new Error(`the chain node closed ${this.path} without an answer`)));
      socket.on("data", (chunk: Buffer) => {
        const end = chunk.indexOf(0x0a);
        if (end < 0) {
          chunks.push(chunk);
          return;
        }
        chunks.push(chunk.subarray(0, end));
        try {
          finish(null, JSON.parse(Buffer.concat(chunks).toString("utf8")));
        } catch (e) {
          finish(e as Error);
        }
      });
      socket.write(body);
    });
  }
}
