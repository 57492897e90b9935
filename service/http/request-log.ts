import type { RequestHandler } from "express";
import type { Logger } from "../log.ts";

/**
 * One log line per request once it is answered: method, path, status, time. Neither the
 * query string nor any header is logged (they may carry keys); health checks log at debug.
 */
export function requestLog(log: Logger): RequestHandler {
  return (req, res, next) => {
    const started = process.hrtime.bigint();
    res.once("finish", () => {
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      const line = { method: req.method, path: req.path, status: res.statusCode, ms: Math.round(ms * 10) / 10 };
      if (req.path === "/healthz") log.debug(line, "request");
      else log.info(line, "request");
    });
    next();
  };
}
