import type { IncomingMessage, OutgoingHttpHeaders, RequestListener, Server, ServerResponse } from "node:http";
import type { Duplex } from "node:stream";
import type { ErrorRequestHandler, Response } from "express";
import { MulterError } from "multer";
import type { ErrorCode } from "../core/index.ts";
import type { Logger } from "../log.ts";

/**
 * An error answered as `application/problem+json` (RFC 9457) with a stable `code`.
 * https://www.rfc-editor.org/rfc/rfc9457
 */
export class HttpProblem extends Error {
  readonly status: number;
  readonly code: ErrorCode;
  readonly extra: Record<string, unknown>;

  constructor(status: number, code: ErrorCode, detail: string, extra: Record<string, unknown> = {}) {
    super(detail);
    this.name = "HttpProblem";
    this.status = status;
    this.code = code;
    this.extra = extra;
  }
}

const TITLES: Record<number, string> = {
  400: "Bad Request",
  401: "Unauthorized",
  404: "Not Found",
  405: "Method Not Allowed",
  408: "Request Timeout",
  409: "Conflict",
  413: "Content Too Large",
  415: "Unsupported Media Type",
  417: "Expectation Failed",
  429: "Too Many Requests",
  431: "Request Header Fields Too Large",
  500: "Internal Server Error",
  502: "Bad Gateway",
  503: "Service Unavailable",
  507: "Insufficient Storage",
};

/** A problem's RFC 9457 body: `extra` first, so that none of it replaces a standard member or the code. */
function problemBody(problem: HttpProblem): string {
  return JSON.stringify({
    ...problem.extra,
    type: "about:blank",
    title: TITLES[problem.status] ?? "Error",
    status: problem.status,
    code: problem.code,
    detail: problem.message,
  });
}

/**
 * Requests Node's HTTP parser refuses before any handler sees them (headers past its limit,
 * malformed request lines, a request too slow to arrive) are answered as every other error —
 * problem+json with a stable code — instead of Node's bare status line, then the connection
 * is closed.
 */
export function answerClientErrors(server: Server): void {
  server.on("clientError", (error: NodeJS.ErrnoException, socket: Duplex) => {
    // As Node's own answer: none once a response on this connection has begun.
    const started = (socket as { _httpMessage?: { _headerSent?: boolean } })._httpMessage?._headerSent === true;
    if (error.code === "ECONNRESET" || !socket.writable || started) {
      socket.destroy();
      return;
    }
    const problem =
      error.code === "HPE_HEADER_OVERFLOW"
        ? new HttpProblem(431, "HEADERS_TOO_LARGE", "the request's headers are larger than the service reads")
        : error.code === "ERR_HTTP_REQUEST_TIMEOUT"
          ? new HttpProblem(408, "REQUEST_TIMEOUT", "the request did not arrive in time")
          : error.code === "HPE_CHUNK_EXTENSIONS_OVERFLOW"
            ? new HttpProblem(413, "BODY_TOO_LARGE", "the request's chunk extensions are larger than the service reads")
            : new HttpProblem(400, "BAD_REQUEST", "the request is not valid HTTP/1.1");
    endWithProblem(socket, problem);
  });
  // Node's own answers: a bare 417 to an Expect other than 100-continue, and no answer at all
  // to CONNECT (this is no proxy).
  server.on("checkExpectation", (req: IncomingMessage, res: ServerResponse) =>
    writeProblem(
      res,
      new HttpProblem(
        417,
        "EXPECTATION_FAILED",
        `the service meets no expectation but 100-continue, not "${req.headers.expect}"`,
      ),
    ),
  );
  server.on("connect", (_req: IncomingMessage, socket: Duplex) => {
    // The socket is ours alone now: Node's error listener and timers are gone. A client that
    // resets it must not take the process down, nor one that never closes keep it open.
    socket.on("error", () => socket.destroy());
    setTimeout(() => socket.destroy(), 1_000).unref();
    endWithProblem(
      socket,
      new HttpProblem(405, "METHOD_NOT_ALLOWED", "the service is no proxy: CONNECT is not allowed"),
    );
  });
}

/** A problem written straight on a connection that has no response object, which is then closed. */
function endWithProblem(socket: Duplex, problem: HttpProblem): void {
  const body = problemBody(problem);
  socket.end(
    `HTTP/1.1 ${problem.status} ${TITLES[problem.status]}\r\nContent-Type: application/problem+json\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}

/**
 * HTTP/1.1 requires a Host header (RFC 9112 §3.2). Node's own check (off, `requireHostHeader:
 * false`) answers a bare 400; this one answers it as a problem, before any other handler.
 */
export function requireHost(listener: RequestListener): RequestListener {
  return (req, res) => {
    if (req.httpVersion !== "1.1" || req.headers.host !== undefined) {
      listener(req, res);
      return;
    }
    writeProblem(res, new HttpProblem(400, "BAD_REQUEST", "an HTTP/1.1 request must have a Host header"));
  };
}

/** A problem written on a bare response (no Express in front: before the app, or while it starts or stops), closing the connection. */
export function writeProblem(res: ServerResponse, problem: HttpProblem, headers: OutgoingHttpHeaders = {}): void {
  const body = problemBody(problem);
  res
    .writeHead(problem.status, {
      "content-type": "application/problem+json",
      "content-length": Buffer.byteLength(body),
      connection: "close",
      ...headers,
    })
    .end(body);
}

export function sendProblem(res: Response, problem: HttpProblem): void {
  if (res.headersSent) return;
  res.status(problem.status).type("application/problem+json").send(problemBody(problem));
}

const MULTER_PROBLEMS: Record<string, [number, ErrorCode]> = {
  LIMIT_FILE_SIZE: [413, "FILE_TOO_LARGE"],
  LIMIT_FILE_COUNT: [413, "TOO_MANY_FILES"],
  LIMIT_PART_COUNT: [413, "TOO_MANY_PARTS"],
  LIMIT_FIELD_COUNT: [413, "TOO_MANY_FIELDS"],
  LIMIT_FIELD_VALUE: [413, "FIELD_TOO_LARGE"],
  LIMIT_FIELD_KEY: [413, "FIELD_NAME_TOO_LONG"],
  LIMIT_UNEXPECTED_FILE: [400, "UNEXPECTED_FILE_FIELD"],
};

// SQLite's primary result codes (https://sqlite.org/rescode.html).
const SQLITE_BUSY = 5;
const SQLITE_READONLY = 8;
const SQLITE_IOERR = 10;
const SQLITE_FULL = 13;

// PostgreSQL SQLSTATEs (https://www.postgresql.org/docs/current/errcodes-appendix.html).
const PG_DISK_FULL = "53100";
const PG_UNAVAILABLE = /^(08|53|57P)/;

/** Maps what can go wrong in a request to a problem; anything unknown is a 500 without details. */
export function toProblem(err: unknown): HttpProblem {
  if (err instanceof HttpProblem) return err;
  if (err instanceof MulterError) {
    const [status, code] = MULTER_PROBLEMS[err.code] ?? [400, "MALFORMED_MULTIPART"];
    return new HttpProblem(status, code, err.field ? `${err.message} (field "${err.field}")` : err.message);
  }
  const e = err as { type?: string; status?: number; code?: string; errcode?: number; message?: string };
  if (e.type === "entity.too.large") return new HttpProblem(413, "BODY_TOO_LARGE", "the request body is too large");
  if (e.type === "entity.parse.failed")
    return new HttpProblem(400, "INVALID_JSON", "the request body is not valid JSON");
  if (e.type === "encoding.unsupported" || e.type === "charset.unsupported") {
    return new HttpProblem(415, "UNSUPPORTED_ENCODING", e.message ?? "unsupported encoding");
  }
  if (e.code === "ENOSPC" || e.code === "EDQUOT" || e.code === PG_DISK_FULL) {
    return new HttpProblem(
      507,
      "INSUFFICIENT_STORAGE",
      "the service has no room to store the evidence; nothing was recorded",
    );
  }
  if (e.code === "ERR_SQLITE_ERROR" && typeof e.errcode === "number") {
    // The primary result code is the low byte of SQLite's extended code.
    const primary = e.errcode & 0xff;
    if (primary === SQLITE_FULL) {
      return new HttpProblem(
        507,
        "INSUFFICIENT_STORAGE",
        "the service has no room to record evidence; nothing was recorded",
      );
    }
    if (primary === SQLITE_IOERR || primary === SQLITE_READONLY || primary === SQLITE_BUSY) {
      return new HttpProblem(503, "STORAGE_FAILURE", "the service could not record the evidence; nothing was recorded");
    }
  }
  if (typeof e.code === "string" && PG_UNAVAILABLE.test(e.code)) {
    return new HttpProblem(503, "STORAGE_FAILURE", "the service could not record the evidence; nothing was recorded");
  }
  // Out of descriptors (a flood of connections, or too much at once): nothing is wrong with the request.
  if (e.code === "EMFILE" || e.code === "ENFILE") {
    return new HttpProblem(
      503,
      "SERVER_BUSY",
      "the service is too busy to take this now; try again shortly; nothing was recorded",
    );
  }
  if (e.code === "EIO" || e.code === "EROFS" || e.code === "ECONNREFUSED") {
    return new HttpProblem(503, "STORAGE_FAILURE", "the service could not write the evidence; nothing was recorded");
  }
  // The client went away mid-body (or was cut off for trickling): no one reads the answer,
  // and it is the client's doing, not an internal error.
  if (e.message === "Request aborted") {
    return new HttpProblem(400, "BAD_REQUEST", "the request was aborted before its body was read");
  }
  // body-parser's inflation of a Content-Encoding the body does not match: zlib's own words
  // ("incorrect header check", "unexpected end of file") say nothing to the sender. Gzip and
  // deflate (Z_…), brotli (ERR__ERROR_…, and Z_BUF_ERROR when cut short), zstd (ZSTD_error_…).
  if (typeof e.code === "string" && /^(Z_(DATA|BUF)_ERROR$|ERR__ERROR_|ZSTD_error_)/.test(e.code)) {
    return new HttpProblem(400, "BAD_REQUEST", "the body could not be decoded as its Content-Encoding says");
  }
  // busboy's parse errors: the body is not well-formed multipart.
  if (
    typeof e.message === "string" &&
    /^(Malformed|Unexpected end of (form|file)|Multipart: Boundary not found)/.test(e.message)
  ) {
    // A part's headers past 16 KiB (a very long file name) are "Malformed part header" too.
    const hint =
      e.message === "Malformed part header" ? " (or its headers, the file name included, are over 16 KiB)" : "";
    return new HttpProblem(400, "MALFORMED_MULTIPART", `the multipart body is malformed: ${e.message}${hint}`);
  }
  if (typeof e.status === "number" && e.status >= 400 && e.status < 500) {
    return new HttpProblem(e.status, "BAD_REQUEST", e.message ?? "bad request");
  }
  return new HttpProblem(500, "INTERNAL", "an internal error occurred; nothing was recorded for this request");
}

/**
 * The last handler: every error becomes problem+json. A 5xx is logged once, with its
 * stack for an internal error and one line for an expected outage.
 */
export function problemHandler(log: Logger): ErrorRequestHandler {
  return (err, req, res, _next) => {
    const problem = toProblem(err);
    if (problem.status === 500) log.error({ err, method: req.method, path: req.path }, "request failed");
    else if (problem.status >= 500)
      log.warn({ method: req.method, path: req.path, code: problem.code }, (err as Error).message);
    // A client that went away gets no answer; there is no one to read it.
    // (req.destroyed alone says nothing: a fully read body destroys the request stream.)
    if (res.destroyed || req.socket.destroyed) return;
    // Every SERVER_BUSY says when to try again, whichever handler found the service busy.
    if (problem.code === "SERVER_BUSY" && !res.headersSent && res.get("Retry-After") === undefined) {
      res.set("Retry-After", "5");
    }
    sendProblem(res, problem);
  };
}
