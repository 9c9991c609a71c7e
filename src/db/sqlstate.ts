// Which database failures are the database's state rather than the request's fault, read from the
// postgres.js error codes and SQLSTATEs of an error and its causes.

// postgres.js connection error codes, and SQLSTATE classes 08 (connection exception),
// 57P01-57P03 (server shutting down / starting up), 53300 (too many connections) and
// 57014 (statement_timeout: the server cancelled the statement and rolled it back).
const CONNECTION_CODES = new Set([
  "CONNECTION_CLOSED",
  "CONNECTION_ENDED",
  "CONNECTION_DESTROYED",
  "CONNECT_TIMEOUT",
  "ECONNREFUSED",
  "ECONNRESET",
  "ENOTFOUND",
  "EAI_AGAIN",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EPIPE",
]);
// An established connection that died under a statement (pg_terminate_backend, a restart, a reset).
const LOST_CONNECTION_CODES = new Set([
  "CONNECTION_CLOSED",
  "CONNECTION_DESTROYED",
  "ECONNRESET",
  "EPIPE",
  "57P01",
  "57P02",
]);

type Chained = { code?: unknown; cause?: unknown } | null | undefined;

// Drizzle wraps driver errors (DrizzleQueryError.cause), so walk the chain.
export const codesOf = (error: unknown): string[] => {
  const codes: string[] = [];
  for (let e = error as Chained, depth = 0; e && depth < 5; e = e.cause as Chained, depth++)
    if (typeof e.code === "string") codes.push(e.code);
  return codes;
};

// Refusals while connecting that waiting does not fix: class 28 (a wrong password; a channel binding
// check failed, as for a man in the middle), a missing database, and the driver's TLS and
// channel-binding refusals. Startup exits on them at once (src/db/startup.ts).
const REFUSAL_CODES = new Set([
  "3D000",
  "CHANNEL_BINDING_REQUIRED",
  "SASL_SIGNATURE_MISMATCH",
  "SASL_NONCE_MISMATCH",
  "SASL_MECHANISM",
  "SSL_NOT_SUPPORTED",
]);
export const isConnectionRefused = (error: unknown) =>
  codesOf(error).some(
    (code) => code.startsWith("28") || REFUSAL_CODES.has(code) || /^ERR_TLS_|CERT|SELF_SIGNED|UNABLE_TO_/.test(code),
  );

// Class 53 (insufficient resources: disk full, out of memory, too many connections) and 25006 (the
// server refuses writes: a read-only replica or a full disk's emergency mode) are the database's state,
// not the request's fault; so is a connection refused after startup (a rotated password).
export function isDatabaseUnavailable(error: unknown): boolean {
  return (
    isConnectionRefused(error) ||
    codesOf(error).some(
      (code) =>
        CONNECTION_CODES.has(code) ||
        code.startsWith("08") ||
        /^57P0[123]$/.test(code) ||
        code.startsWith("53") ||
        code === "25006" ||
        code === "57014",
    )
  );
}

/** The connection a statement ran on died; a read may be retried once on a fresh one. */
export const isConnectionLost = (error: unknown) => codesOf(error).some((code) => LOST_CONNECTION_CODES.has(code));

/** Class 53 or 25006: the server is out of a resource or refuses writes, for every request alike. */
export const isResourceError = (error: unknown) =>
  codesOf(error).some((code) => code.startsWith("53") || code === "25006");

/** The driver's own error: Drizzle's wrapper quotes the SQL and its parameters (users' data). */
export const driverError = (error: unknown) => (error as Chained)?.cause ?? error;
