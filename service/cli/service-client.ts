import { createReadStream } from "node:fs";
import { open, stat } from "node:fs/promises";
import { request as httpRequest, type IncomingMessage } from "node:http";
import { request as httpsRequest } from "node:https";
import path from "node:path";
import { Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { setTimeout as delay } from "node:timers/promises";
import type {
  Certificate,
  EvidenceView,
  IntakeItem,
  IntakeResponse,
  Problem,
  SubmissionDetails,
} from "../core/index.ts";
import { UnreachableError, UsageError } from "./exit.ts";

/** The service refused a request: its problem+json, in one line. */
export class ServiceError extends Error {
  override name = "ServiceError";
  readonly status: number;
  readonly problem: Partial<Problem>;

  constructor(status: number, problem: Partial<Problem>) {
    super(`the service answered ${status}${problem.code ? ` ${problem.code}` : ""}: ${problem.detail ?? "no details"}`);
    this.status = status;
    this.problem = problem;
  }
}

/** The service's HTTP API, as the CLI uses it. */
export class ServiceClient {
  readonly server: string;
  readonly #apiKey: string | undefined;

  constructor(server: string, apiKey: string | undefined) {
    this.server = server.replace(/\/+$/, "");
    this.#apiKey = apiKey;
  }

  static from(values: { server?: string | undefined; "api-key"?: string | undefined }): ServiceClient {
    const server = values.server ?? process.env.EVIDENCE_SERVER ?? "http://127.0.0.1:8080";
    try {
      const url = new URL(server);
      if (url.protocol !== "http:" && url.protocol !== "https:") throw new Error();
    } catch {
      throw new UsageError(
        `--server must be an http or https URL, got "${server}"`,
        `--server 须为 http 或 https 地址，而不是“${server}”`,
      );
    }
    return new ServiceClient(server, values["api-key"] ?? process.env.EVIDENCE_API_KEY);
  }

  requireKey(): void {
    if (!this.#apiKey) {
      throw new UsageError(
        "an API key is needed: --api-key or $EVIDENCE_API_KEY",
        "需要 API 密钥：请用 --api-key 给出，或设置 $EVIDENCE_API_KEY",
      );
    }
  }

  /**
   * Uploads one file as multipart, streamed from disk (never whole in memory), with its
   * media type from its magic bytes and name, reporting the bytes sent.
   */
  async upload(file: string, details: SubmissionDetails, onProgress?: (sent: number) => void): Promise<IntakeItem> {
    this.requireKey();
    const size = (await stat(file)).size;
    // Loaded here, not with the module: file-type and mime-types are a good part of the CLI's
    // start-up, and only uploads need them.
    const { mediaTypeOf, SNIFF_BYTES } = await import("../intake/media-type.ts");
    const mediaType = await mediaTypeOf(await readHead(file, SNIFF_BYTES), path.basename(file));
    const boundary = `----evidence${crypto.randomUUID().replaceAll("-", "")}`;
    const enc = new TextEncoder();
    const fields = Object.entries(details)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => `--${boundary}\r\nContent-Disposition: form-data; name="${k}"\r\n\r\n${v}\r\n`)
      .join("");
    const name = path.basename(file).replaceAll('"', "%22").replaceAll("\r", "%0D").replaceAll("\n", "%0A");
    const head = enc.encode(
      `${fields}--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${name}"\r\nContent-Type: ${mediaType}\r\n\r\n`,
    );
    const tail = enc.encode(`\r\n--${boundary}--\r\n`);
    // node:http rather than fetch: fetch streams request bodies at about a third of the speed.
    const url = new URL(`${this.server}/api/v1/evidence`);
    const request = (url.protocol === "https:" ? httpsRequest : httpRequest)(url, {
      method: "POST",
      headers: {
        authorization: `Bearer ${this.#apiKey}`,
        "content-type": `multipart/form-data; boundary=${boundary}`,
        "content-length": String(head.length + size + tail.length),
      },
    });
    const response = new Promise<IncomingMessage>((resolve, reject) => {
      request.once("response", resolve);
      request.once("error", (e) => reject(this.#unreachable(e)));
    });
    let sent = 0;
    const counter = new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        sent += chunk.length;
        onProgress?.(sent);
        callback(null, chunk);
      },
    });
    request.write(head);
    try {
      await pipeline(createReadStream(file, { highWaterMark: 4 << 20 }), counter, request, { end: false });
      request.end(tail);
    } catch (e) {
      // The service may answer (and close) before the whole body is sent: its answer says why.
      const answered = await Promise.race([response, delay(2_000).then(() => undefined)]).catch(() => undefined);
      if (!answered) throw e instanceof UnreachableError ? e : this.#unreachable(e);
    }
    const res = await response;
    const chunks: Buffer[] = [];
    for await (const chunk of res) chunks.push(chunk as Buffer);
    const body = parseJson(Buffer.concat(chunks).toString("utf8")) as IntakeResponse & Partial<Problem>;
    if (res.statusCode !== 201 || !body.items?.[0]) throw new ServiceError(res.statusCode ?? 0, body);
    return body.items[0];
  }

  async status(id: string): Promise<EvidenceView> {
    return (await this.#json(`/api/v1/evidence/${encodeURIComponent(id)}`)) as EvidenceView;
  }

  async certificate(id: string): Promise<Certificate> {
    return (await this.#json(`/api/v1/evidence/${encodeURIComponent(id)}/certificate`)) as Certificate;
  }

  /** The bytes of a route's answer (a PDF, a package). */
  async download(route: string): Promise<Uint8Array> {
    const response = await this.#fetch(route);
    return new Uint8Array(await response.arrayBuffer());
  }

  async post<T>(route: string, body: unknown): Promise<T> {
    const response = await this.#fetch(route, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    return (await response.json()) as T;
  }

  /** Polls the evidence until it is anchored (the API has no push), then returns its certificate. */
  async waitForCertificate(id: string, timeoutMs = 10 * 60_000): Promise<Certificate> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const view = await this.status(id);
      if (view.certificate) return view.certificate;
      if (view.status === "failed") {
        throw new ServiceError(409, {
          detail: `evidence ${id} failed: ${view.capture?.error?.message ?? "no reason given"}`,
        });
      }
      if (Date.now() > deadline) throw new Error(`evidence ${id} was not anchored within ${timeoutMs / 1000} s`);
      await delay(500);
    }
  }

  async #json(route: string): Promise<unknown> {
    return (await this.#fetch(route)).json();
  }

  async #fetch(route: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    if (this.#apiKey) headers.set("authorization", `Bearer ${this.#apiKey}`);
    let response: Response;
    try {
      response = await fetch(`${this.server}${route}`, { ...init, headers, signal: AbortSignal.timeout(60_000) });
    } catch (e) {
      throw this.#unreachable(e);
    }
    if (!response.ok) {
      const problem = (await response.json().catch(() => ({}))) as Partial<Problem>;
      // A service stopping or starting refuses nothing: it is not there to answer (exit 4), as
      // once its port is closed a moment later.
      if (response.status === 503 && (problem.code === "SHUTTING_DOWN" || problem.code === "STARTING")) {
        throw new UnreachableError(`cannot reach the service at ${this.server} (${problem.code})`);
      }
      throw new ServiceError(response.status, problem);
    }
    return response;
  }

  #unreachable(e: unknown): UnreachableError {
    const err = e as { code?: string; message?: string; cause?: { code?: string; message?: string } };
    const why = err?.cause?.code ?? err?.code ?? err?.cause?.message ?? err?.message ?? String(e);
    return new UnreachableError(`cannot reach the service at ${this.server} (${why})`);
  }
}

async function readHead(file: string, bytes: number): Promise<Uint8Array> {
  const handle = await open(file, "r");
  try {
    const buffer = new Uint8Array(bytes);
    const { bytesRead } = await handle.read(buffer, 0, bytes, 0);
    return buffer.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return {};
  }
}
