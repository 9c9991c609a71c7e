import { ValueErrorType } from "@sinclair/typebox/errors";
import { Value } from "@sinclair/typebox/value";
import type { ValidationError } from "elysia";
import type { Logger } from "./logger";

export interface FieldError {
  loc: (string | number)[];
  msg: string;
  type: string;
}

/** An answer the client is meant to see: status, `detail`, and any extra headers. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly detail: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(detail);
  }
}

export class AuthError extends HttpError {
  /** `reason` is for the log only; the client sees `detail`. */
  constructor(detail: "Not authenticated" | "Token expired" | "Invalid token", readonly reason: string) {
    super(401, detail, {
      "www-authenticate": detail === "Not authenticated"
        ? "Bearer"
        : `Bearer error="invalid_token", error_description="${detail}"`,
    });
  }
}

export const taskNotFound = () => new HttpError(404, "Task not found");
export const taskLimitReached = () => new HttpError(409, "Task limit reached");
export const preconditionFailed = () => new HttpError(412, "Precondition failed");
export const databaseUnavailable = () => new HttpError(503, "Database unavailable", { "retry-after": "5" });

/** Database work that did not settle long after statement_timeout; its connections were replaced. */
export class DatabaseStuckError extends HttpError {
  constructor(readonly waitedMs: number) {
    super(503, "Database unavailable", { "retry-after": "5" });
  }
}

/** No pooled connection came free in time; the request's query never started, so nothing was written. */
export class DatabaseBusyError extends HttpError {
  constructor(readonly waitedMs: number) {
    super(503, "Database unavailable", { "retry-after": "1" });
  }
}

// postgres.js connection error codes, and SQLSTATE classes 08 (connection exception),
// 57P01-57P03 (server shutting down / starting up), 53300 (too many connections) and
// 57014 (statement_timeout: the server cancelled the statement and rolled it back).
const CONNECTION_CODES = new Set(["CONNECTION_CLOSED", "CONNECTION_ENDED", "CONNECTION_DESTROYED", "CONNECT_TIMEOUT", "ECONNREFUSED", "ECONNRESET", "ENOTFOUND", "EAI_AGAIN", "ETIMEDOUT", "EHOSTUNREACH", "ENETUNREACH", "EPIPE"]);
// An established connection that died under a statement (pg_terminate_backend, a restart, a reset).
const LOST_CONNECTION_CODES = new Set(["CONNECTION_CLOSED", "CONNECTION_DESTROYED", "ECONNRESET", "EPIPE", "57P01", "57P02"]);

// Drizzle wraps driver errors (DrizzleQueryError.cause), so walk the chain.
export const codesOf = (error: unknown): string[] => {
  const codes: string[] = [];
  for (let e: any = error, depth = 0; e && depth < 5; e = e.cause, depth++) if (typeof e.code === "string") codes.push(e.code);
  return codes;
};

// Class 53 (insufficient resources: disk full, out of memory, too many connections) and 25006 (the
// server refuses writes: a read-only replica or a full disk's emergency mode) are the database's state,
// not the request's fault.
export function isDatabaseUnavailable(error: unknown): boolean {
  return codesOf(error).some((code) => CONNECTION_CODES.has(code) || code.startsWith("08") || /^57P0[123]$/.test(code) || code.startsWith("53") || code === "25006" || code === "57014");
}

/** The connection a statement ran on died; a read may be retried once on a fresh one. */
export const isConnectionLost = (error: unknown) => codesOf(error).some((code) => LOST_CONNECTION_CODES.has(code));

const TYPE_NAMES: Partial<Record<ValueErrorType, string>> = {
  [ValueErrorType.ObjectAdditionalProperties]: "extra_forbidden",
  [ValueErrorType.ObjectRequiredProperty]: "missing",
  [ValueErrorType.ObjectMinProperties]: "too_short",
  [ValueErrorType.Object]: "dict_type",
  [ValueErrorType.String]: "string_type",
  [ValueErrorType.StringMaxLength]: "string_too_long",
  [ValueErrorType.StringMinLength]: "string_too_short",
  [ValueErrorType.StringPattern]: "string_pattern_mismatch",
  [ValueErrorType.Union]: "value_error",
};

const SOURCE: Record<string, string> = { body: "body", query: "query", params: "path", headers: "header" };

const MAX_FIELD_ERRORS = 64;

/**
 * TypeBox's own errors for the rejected value. Not Elysia's `error.all`: it formats a summary of each
 * error by interpolating the value into a string, which throws for a body like
 * `{"title": {"toString": false}}` (found by the fuzz test) and would turn a 422 into a 500.
 */
function* valueErrors(error: ValidationError): Generator<any> {
  const validator = error.validator as any;
  const errors = typeof validator?.Errors === "function" ? validator.Errors(error.value) : Value.Errors(validator, error.value);
  let count = 0;
  for (const e of errors) {
    if (count++ >= MAX_FIELD_ERRORS) return;
    yield e;
  }
}

/** Elysia/TypeBox validation errors in FastAPI's shape: [{loc, msg, type}]. */
export function fieldErrors(error: ValidationError): FieldError[] {
  const source = SOURCE[error.type] ?? error.type;
  const seen = new Set<string>();
  const out: FieldError[] = [];
  for (const e of valueErrors(error)) {
    const path: (string | number)[] = String(e.path ?? "").split("/").filter(Boolean).map((p) => (/^\d+$/.test(p) ? Number(p) : p));
    // A union reports once per branch; one line per field is what a client can act on.
    const key = path.join("/");
    if (seen.has(key)) continue;
    seen.add(key);
    const custom = e.schema?.error;
    out.push({
      loc: [source, ...path],
      msg: typeof custom === "string" ? custom : e.type === ValueErrorType.ObjectRequiredProperty ? "Field required" : typeof e.message === "string" ? e.message : "Invalid value",
      type: TYPE_NAMES[e.type as ValueErrorType] ?? "value_error",
    });
  }
  return out;
}

const UNAVAILABLE_LOG_INTERVAL_MS = 5000;
const isResourceError = (error: unknown) => codesOf(error).some((code) => code.startsWith("53") || code === "25006");
const unavailableLog = { quietUntil: -Infinity, suppressed: 0 };

/** The one place that turns anything thrown into a response. */
export function errorResponse(code: string | number, error: unknown, log: Logger, requestId: string): { status: number; body: unknown; headers?: Record<string, string> } {
  // Elysia wraps whatever a body parser throws (our 413 included) in its own ParseError.
  if (code === "PARSE" && (error as Error)?.cause instanceof HttpError) error = (error as Error).cause;
  if (error instanceof DatabaseStuckError) log.error("database did not answer in time; its connections were replaced", { request_id: requestId, waited_ms: error.waitedMs });
  if (error instanceof DatabaseBusyError) log.warn("database busy: no connection came free in time", { request_id: requestId, waited_ms: error.waitedMs });
  if (error instanceof HttpError) return { status: error.status, body: { detail: error.detail }, headers: error.headers };
  if (code === "VALIDATION") return { status: 422, body: { detail: fieldErrors(error as ValidationError) } };
  if (code === "PARSE") return { status: 422, body: { detail: [{ loc: ["body"], msg: "Body is not valid JSON", type: "json_invalid" }] } };
  if (code === "NOT_FOUND") return { status: 404, body: { detail: "Not Found" } };
  if (isDatabaseUnavailable(error)) {
    // The driver's error only: Drizzle's wrapper quotes the SQL and its parameters (users' data).
    // Once per burst: an outage fails every request, and thousands of identical lines help nobody.
    // (Resource errors only; a lost connection keeps its line per request, with the request id.)
    const now = performance.now();
    if (!isResourceError(error) || now >= unavailableLog.quietUntil) {
      log.error("database unavailable", { request_id: requestId, error: describe(driverError(error)), ...(unavailableLog.suppressed > 0 ? { suppressed_since_last: unavailableLog.suppressed } : {}) });
      unavailableLog.suppressed = 0;
      unavailableLog.quietUntil = now + UNAVAILABLE_LOG_INTERVAL_MS;
    } else unavailableLog.suppressed++;
    const e = databaseUnavailable();
    return { status: e.status, body: { detail: e.detail }, headers: e.headers };
  }
  const logged = driverError(error); // as above: no SQL parameters in the log
  log.error("unhandled error", { request_id: requestId, error: describe(logged), stack: (logged as Error)?.stack });
  return { status: 500, body: { detail: "Internal server error" } };
}

const driverError = (error: unknown) => (error as any)?.cause ?? error;

function describe(error: unknown): string {
  const cause = (error as any)?.cause;
  const base = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return cause ? `${base} (cause: ${cause?.code ?? ""} ${cause?.message ?? cause})` : base;
}
