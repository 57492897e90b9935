import { isUtf8 } from "node:buffer";
import type { Readable, Transform } from "node:stream";
import zlib from "node:zlib";
import type { RequestHandler } from "express";
import type { ByteBudget } from "./byte-budget.ts";
import { hasBody } from "./connection-limits.ts";
import { HttpProblem } from "./problem.ts";
import { charsetProblem } from "./validation.ts";

/**
 * Reads a body whole into `req.body` as UTF-8 text (400 INVALID_BODY when it is not UTF-8),
 * taking memory from `budget` for its bytes as they arrive: a request that has sent nothing
 * holds nothing, and one that sends slowly holds only what it has sent (body-parser would
 * have to be given its share up front, which lets requests that send nothing hold the
 * budget). A compressed body (gzip, deflate, br, zstd, as body-parser decodes) is counted as
 * it is decoded, which is what is held.
 *
 * Over `limit` bytes: 413 BODY_TOO_LARGE; past the budget: 503 SERVER_BUSY, giving back at
 * once what it held. The rest of a refused body is read and dropped (the request's body
 * deadline cuts one that does not come). A request without a body is passed on untouched.
 */
export function budgetedText(options: { limit: number; budget: ByteBudget }): RequestHandler {
  return (req, res, next) => {
    if (req.readableEnded || !hasBody(req.headers)) return next();
    const notUtf8 = charsetProblem(req);
    if (notUtf8) return next(notUtf8);
    const encoding = (req.get("content-encoding") ?? "identity").trim().toLowerCase();
    let decoder: Transform | undefined;
    if (encoding !== "identity" && encoding !== "") {
      decoder = DECODERS[encoding]?.();
      if (!decoder) {
        return next(new HttpProblem(415, "UNSUPPORTED_ENCODING", `unsupported content encoding "${encoding}"`));
      }
      req.pipe(decoder);
    }
    const source: Readable = decoder ?? req;

    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const finish = (error?: unknown) => {
      if (done) return;
      done = true;
      source.off("data", onData);
      if (decoder) {
        req.unpipe(decoder);
        decoder.on("error", () => undefined);
        decoder.destroy();
      }
      if (error !== undefined) {
        chunks.length = 0;
        options.budget.giveBack(res, size);
        // The rest is read and dropped, so that the answer can be read on this connection.
        req.resume();
        return next(error);
      }
      const body = Buffer.concat(chunks, size);
      // Read as it is, never with U+FFFD in place of bytes that are not UTF-8: a certificate
      // whose record held U+FFFD would then verify with other bytes in its place.
      if (!isUtf8(body)) {
        chunks.length = 0;
        options.budget.giveBack(res, size);
        return next(new HttpProblem(400, "INVALID_BODY", "the body is not valid UTF-8"));
      }
      req.body = body.toString("utf8");
      next();
    };
    const onData = (chunk: Buffer) => {
      if (size + chunk.length > options.limit) {
        return finish(new HttpProblem(413, "BODY_TOO_LARGE", `the request body may be at most ${options.limit} bytes`));
      }
      try {
        options.budget.take(res, chunk.length);
      } catch (e) {
        return finish(e);
      }
      chunks.push(chunk);
      size += chunk.length;
    };
    source.on("data", onData);
    source.once("end", () => finish());
    // A decoder's error (a body that is not what its Content-Encoding says) is the client's: 400.
    decoder?.once("error", finish);
    // A connection gone mid-body (or cut at its deadline) is the client's doing, not an internal
    // error, and leaves no one to answer (Node says "aborted" as an error, then closes).
    const aborted = () => finish(new Error("Request aborted"));
    req.once("error", aborted);
    req.once("close", () => {
      if (!req.readableEnded) aborted();
    });
  };
}

const DECODERS: Record<string, () => Transform> = {
  gzip: () => zlib.createGunzip(),
  deflate: () => zlib.createInflate(),
  br: () => zlib.createBrotliDecompress(),
  ...("createZstdDecompress" in zlib ? { zstd: () => zlib.createZstdDecompress() } : {}),
};
