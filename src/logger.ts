import type { LogLevel } from "./config";
import { isoTime } from "./time";

export type LogFields = Record<string, unknown>;
export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
}

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/**
 * `JSON.stringify({ time, level, msg, ...fields })`, without building the merged object: one line per
 * request is on every request's path. Fields named like the three leading keys take the slow way, so
 * the line never holds a key twice.
 */
function jsonLine(time: string, level: LogLevel, msg: string, fields: LogFields | undefined): string {
  if (fields && ("time" in fields || "level" in fields || "msg" in fields))
    return JSON.stringify({ time, level, msg, ...fields });
  const rest = fields ? JSON.stringify(fields) : "{}";
  return `{"time":"${time}","level":"${level}","msg":${JSON.stringify(msg)}${rest.length > 2 ? `,${rest.slice(1)}` : "}"}`;
}

/** One JSON object per line (or a short human line with format "pretty"); `write` is the sink. */
export function createLogger(
  { level = "info", format = "json" }: { level?: LogLevel; format?: "json" | "pretty" } = {},
  write: (line: string) => void = (line) => process.stdout.write(line + "\n"),
): Logger {
  const min = RANK[level];
  const emit = (lvl: LogLevel, msg: string, fields?: LogFields) => {
    if (RANK[lvl] < min) return;
    const time = isoTime(new Date());
    if (format === "pretty") {
      const rest = fields
        ? " " +
          Object.entries(fields)
            .map(([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`)
            .join(" ")
        : "";
      write(`${time.slice(11, 23)} ${lvl.toUpperCase().padEnd(5)} ${msg}${rest}`);
    } else {
      write(jsonLine(time, lvl, msg, fields));
    }
  };
  return {
    debug: (msg, fields) => emit("debug", msg, fields),
    info: (msg, fields) => emit("info", msg, fields),
    warn: (msg, fields) => emit("warn", msg, fields),
    error: (msg, fields) => emit("error", msg, fields),
  };
}
