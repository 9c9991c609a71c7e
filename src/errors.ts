// The errors a client is meant to see. How anything thrown becomes a response: error-response.ts.

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
  constructor(
    detail: "Not authenticated" | "Token expired" | "Invalid token",
    readonly reason: string,
  ) {
    super(401, detail, {
      "www-authenticate":
        detail === "Not authenticated" ? "Bearer" : `Bearer error="invalid_token", error_description="${detail}"`,
    });
  }
}

export const taskNotFound = () => new HttpError(404, "Task not found");
export const taskLimitReached = () => new HttpError(409, "Task limit reached");
export const preconditionFailed = () => new HttpError(412, "Precondition failed");
export const databaseUnavailable = () => new HttpError(503, "Database unavailable", { "retry-after": "5" });

/** Database work still running at DB_STATEMENT_TIMEOUT_MS: cancelled on the server, answered 503. */
export class DatabaseStuckError extends HttpError {
  /** SQLSTATE query_canceled, so that startup and the process handlers treat it as the database's state. */
  readonly code = "57014";
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
