import { Writable } from "node:stream";
import { pino, type Logger } from "pino";

export type { Logger };

export type LogFormat = "json" | "text";

/**
 * The service's log: pino, one JSON object per line (`LOG_FORMAT=json`, for collectors),
 * or one readable line each (`text`, the default on a terminal). Levels by `LOG_LEVEL`.
 * Authorization headers and keys are redacted wherever they appear.
 */
export function createLogger(
  options: { level?: string; format?: LogFormat; destination?: NodeJS.WritableStream } = {},
): Logger {
  const destination = options.destination ?? process.stderr;
  const format = options.format ?? ((destination as { isTTY?: boolean }).isTTY ? "text" : "json");
  return pino(
    {
      level: options.level ?? "info",
      base: undefined,
      redact: {
        paths: ["req.headers.authorization", "apiKey", "privateKey", "*.apiKey", "*.privateKey"],
        censor: "[redacted]",
      },
    },
    format === "text" ? textLines(destination) : (destination as Writable),
  );
}

/** A logger that writes nothing: for tests that construct parts in process. */
export function silentLogger(): Logger {
  return pino({ level: "silent" });
}

const LEVELS: Record<number, string> = { 10: "TRACE", 20: "DEBUG", 30: "INFO", 40: "WARN", 50: "ERROR", 60: "FATAL" };

/** pino's JSON lines as `2026-11-25T16:39:00.123Z INFO message key=value`. */
function textLines(out: NodeJS.WritableStream): Writable {
  return new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString("utf8").split("\n")) {
        if (!line) continue;
        try {
          const { time, level, msg, ...rest } = JSON.parse(line) as Record<string, unknown>;
          const extra = Object.entries(rest)
            .map(([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`)
            .join(" ");
          out.write(
            `${new Date(Number(time)).toISOString()} ${LEVELS[Number(level)] ?? level} ${String(msg ?? "")}${extra ? ` ${extra}` : ""}\n`,
          );
        } catch {
          out.write(`${line}\n`);
        }
      }
      callback();
    },
  });
}
