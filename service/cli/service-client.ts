import { createReadStream } from "node:fs";
import { request as httpRequest, type IncomingMessage } from "node:http";
import { request as httpsRequest } from "node:https";
import { Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { stat } from "node:fs/promises";
import path from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import type { Certificate, EvidenceRecord } from "../core/index.ts";
import { UsageError } from "./exit.ts";

export interface EvidenceView {
  id: string;
  status: "pending" | "anchoring" | "anchored";
  record: EvidenceRecord;
  certificate?: Certificate;
}

/** The service's HTTP API, as the CLI uses it. */
export class ServiceClient {
  readonly server: string;
  readonly #apiKey: string | undefined;

  constructor(server: string, apiKey: string | undefined) {
    this.server = server.replace(/\/+$/, "");
    this.#apiKey = apiKey;
  }

  static from(values: Record<string, string | boolean | undefined>): ServiceClient {
    const server = (values.server as string | undefined) ?? process.env.EVIDENCE_SERVER ?? "http://127.0.0.1:8080";
    const apiKey = (values["api-key"] as string | undefined) ?? process.env.EVIDENCE_API_KEY;
    return new ServiceClient(server, apiKey);
  }

  /**
   * Uploads one file as multipart, streamed from disk (never whole in memory), reporting
   * the bytes sent.
   */
  async upload(
    file: string,
    details: { title?: string | undefined; sourceUrl?: string | undefined; note?: string | undefined },
    onProgress?: (sent: number) => void,
  ): Promise<{ id: string; contentHash: string; status: string }> {
    if (!this.#apiKey) throw new UsageError("an API key is needed: --api-key or $EVIDENCE_API_KEY");
    const size = (await stat(file)).size;
    const boundary = `----evidence${crypto.randomUUID().replaceAll("-", "")}`;
    const enc = new TextEncoder();
    const fields = Object.entries(details)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => `--${boundary}\r\nContent-Disposition: form-data; name="${k}"\r\n\r\n${v}\r\n`)
      .join("");
    const name = path.basename(file).replaceAll('"', "%22").replaceAll("\r", "%0D").replaceAll("\n", "%0A");
    const head = enc.encode(
      `${fields}--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${name}"\r\nContent-Type: application/octet-stream\r\n\r\n`,
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
      request.once("error", (e) => reject(new Error(`cannot reach the service at ${this.server}: ${e.message}`)));
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
    await pipeline(createReadStream(file, { highWaterMark: 4 << 20 }), counter, request, { end: false });
    request.end(tail);
    const res = await response;
    const chunks: Buffer[] = [];
    for await (const chunk of res) chunks.push(chunk as Buffer);
    const body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as {
      items?: { id: string; contentHash: string; status: string }[];
      code?: string;
      detail?: string;
    };
    if (res.statusCode !== 201 || !body.items)
      throw new Error(`${res.statusCode} ${body.code ?? ""}: ${body.detail ?? ""}`);
    return body.items[0]!;
  }

  async status(id: string): Promise<EvidenceView> {
    return (await (await this.#fetch(`/api/v1/evidence/${encodeURIComponent(id)}`)).json()) as EvidenceView;
  }

  async certificate(id: string): Promise<Certificate> {
    return (await (await this.#fetch(`/api/v1/evidence/${encodeURIComponent(id)}/certificate`)).json()) as Certificate;
  }

  /** Polls the evidence until it is anchored (the API has no push), then returns its certificate. */
  async waitForCertificate(id: string, timeoutMs = 10 * 60_000): Promise<Certificate> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const view = await this.status(id);
      if (view.certificate) return view.certificate;
      if (Date.now() > deadline) throw new Error(`evidence ${id} was not anchored within ${timeoutMs / 1000} s`);
      await delay(500);
    }
  }

  async #fetch(route: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    if (this.#apiKey) headers.set("authorization", `Bearer ${this.#apiKey}`);
    let response: Response;
    try {
      response = await fetch(`${this.server}${route}`, { ...init, headers });
    } catch (e) {
      throw new Error(`cannot reach the service at ${this.server}: ${(e as Error).cause ?? (e as Error).message}`);
    }
    if (!response.ok) {
      const problem = (await response.json().catch(() => ({}))) as { code?: string; detail?: string };
      throw new Error(`${response.status} ${problem.code ?? ""}: ${problem.detail ?? response.statusText}`);
    }
    return response;
  }
}
