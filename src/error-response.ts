// The one place that turns anything thrown into a response, and logs what the client is not told.
import type { ValidationError } from "elysia";
import { driverError, isDatabaseUnavailable, isResourceError } from "./db/sqlstate";
import { DatabaseBusyError, DatabaseStuckError, databaseUnavailable, HttpError } from "./errors";
import type { Logger } from "./logger";
import { bodyNotJson, fieldErrors } from "./validation";

export interface ErrorResponse {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

const UNAVAILABLE_LOG_INTERVAL_MS = 5000;
const unavailableLog = { quietUntil: -Infinity, suppressed: 0 };

const answer = (error: HttpError): ErrorResponse => ({
  status: error.status,
  body: { detail: error.detail },
  headers: error.headers,
});

/** `code` is Elysia's error code ("VALIDATION", "PARSE", "NOT_FOUND", ...) or a status. */
export function errorResponse(code: string | number, error: unknown, log: Logger, requestId: string): ErrorResponse {
  // Elysia wraps whatever a body parser throws (our 413 included) in its own ParseError.
  if (code === "PARSE" && (error as Error)?.cause instanceof HttpError) error = (error as Error).cause;
  if (error instanceof DatabaseStuckError)
    log.error("database did not answer in time; the statement was cancelled", {
      request_id: requestId,
      waited_ms: error.waitedMs,
    });
  if (error instanceof DatabaseBusyError)
    log.warn("database busy: no connection came free in time", { request_id: requestId, waited_ms: error.waitedMs });
  if (error instanceof HttpError) return answer(error);
  if (code === "VALIDATION") return { status: 422, body: { detail: fieldErrors(error as ValidationError) } };
  if (code === "PARSE") return { status: 422, body: { detail: bodyNotJson } };
  if (code === "NOT_FOUND") return { status: 404, body: { detail: "Not Found" } };
  if (isDatabaseUnavailable(error)) {
    // The driver's error only (no SQL parameters in the log).
    // Once per burst: an outage fails every request, and thousands of identical lines help nobody.
    // (Resource errors only; a lost connection keeps its line per request, with the request id.)
    const now = performance.now();
    if (!isResourceError(error) || now >= unavailableLog.quietUntil) {
      log.error("database unavailable", {
        request_id: requestId,
        error: describe(driverError(error)),
        ...(unavailableLog.suppressed > 0 ? { suppressed_since_last: unavailableLog.suppressed } : {}),
      });
      unavailableLog.suppressed = 0;
      unavailableLog.quietUntil = now + UNAVAILABLE_LOG_INTERVAL_MS;
    } else unavailableLog.suppressed++;
    return answer(databaseUnavailable());
  }
  const logged = driverError(error); // as above: no SQL parameters in the log
  log.error("unhandled error", { request_id: requestId, error: describe(logged), stack: (logged as Error)?.stack });
  return { status: 500, body: { detail: "Internal server error" } };
}

function describe(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } } | undefined)?.cause;
  const base = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return cause ? `${base} (cause: ${cause?.code ?? ""} ${cause?.message ?? cause})` : base;
}
