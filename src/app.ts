import { cors } from "@elysiajs/cors";
import { Elysia } from "elysia";
import type { TokenVerifier } from "./auth/verifier";
import type { Config } from "./config";
import type { Database } from "./db/client";
import { docsRoutes } from "./docs";
import { elysiaConfig } from "./elysia-config";
import { errorResponse } from "./error-response";
import { AuthError, databaseUnavailable } from "./errors";
import { healthRoutes } from "./health/routes";
import { idempotentWrites } from "./idempotency/writes";
import { createLifecycle, type Lifecycle } from "./lifecycle";
import { createLimits } from "./limits/plugin";
import type { LogFields, Logger } from "./logger";
import type { RequestStates } from "./request-state";
import { taskRoutes } from "./tasks/routes";

export interface AppDeps {
  config: Pick<Config, "corsOrigins" | "fairShare"> & Partial<Pick<Config, "idempotencyKeyTtlHours">>;
  database: Database;
  verifier: TokenVerifier;
  logger: Logger;
  /** The process's phase (index.ts); absent, the app serves at once, as in tests and benchmarks. */
  lifecycle?: Lifecycle;
  /** Milliseconds for the rate limiter's buckets; performance.now() unless a test drives time itself. */
  clock?: () => number;
}

const SANE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * `*` is the literal wildcard, which browsers never combine with credentials; a list is matched
 * exactly (a function, because the plugin's own lookup also matches names like "constructor").
 * "null" (sandboxed frames, file://) is never echoed: it is no origin one can list.
 */
function corsFor(origins: string[]) {
  if (origins.length === 0) return new Elysia({ ...elysiaConfig, name: "no-cors" });
  const any = origins.includes("*");
  const listed = new Set(origins.filter((o) => o !== "null"));
  return cors({
    origin: any ? "*" : (request) => listed.has(request.headers.get("origin") ?? ""),
    credentials: !any,
    exposeHeaders: [
      "X-Total-Count",
      "Location",
      "ETag",
      "X-Request-Id",
      "Link",
      "Retry-After",
      "RateLimit",
      "RateLimit-Policy",
      "Idempotent-Replayed",
    ],
    allowedHeaders: ["Authorization", "Content-Type", "If-Match", "X-Request-Id", "Idempotency-Key"],
    maxAge: 600,
  });
}

// The path of a URL as the server received it, without its query (Elysia's `path`).
function pathOf(url: string): string {
  const start = url.indexOf("/", url.indexOf("://") + 3);
  if (start === -1) return "/";
  const query = url.indexOf("?", start);
  return query === -1 ? url.slice(start) : url.slice(start, query);
}

// The headers every answer carries, on an answer that went by neither the transform hook nor onError
// (a CORS preflight), or while draining. A response whose headers are immutable (one made by
// Response.redirect or fetch) is copied first.
function withHeaders(response: Response, id: string, closing: boolean): Response {
  let headers = response.headers;
  try {
    headers.set("x-request-id", id);
  } catch {
    response = new Response(response.body, response);
    headers = response.headers;
    headers.set("x-request-id", id);
  }
  if (closing) headers.set("connection", "close");
  return response;
}

/** Builds the whole HTTP app; opens no port, so tests and benchmarks run exactly what the server runs. */
export function createApp({
  config,
  database,
  verifier,
  logger,
  lifecycle = createLifecycle("serving"),
  clock,
}: AppDeps) {
  const state: RequestStates = new WeakMap();

  // The app itself, for its server in onError: a hook that takes `server` from its context makes Elysia
  // define that getter on the context of every request (Object.defineProperty, ~1% of a list's CPU).
  const app = new Elysia(elysiaConfig);

  // The API stays closed until the database is ready (readiness says 503 meanwhile): the first step of
  // every /api route, the body parser's or the auth plugin's, before the token is looked at.
  const admit = () => {
    if (lifecycle.phase === "starting") throw databaseUnavailable();
  };

  // Once the answer is built: what must run then, its headers, and the request's one log line.
  const finish = (request: Request, built: Response): Response => {
    const s = state.get(request);
    if (!s) return built;
    s.answered?.();
    // Keep-alive clients (a load balancer's pooled connections) reconnect elsewhere before the listener
    // closes. The built Response's headers are only touched when they must be (see the transform hook).
    const closing = lifecycle.phase === "draining";
    const response = s.idInHeaders && !closing ? built : withHeaders(built, s.id, closing);
    const { path } = s;
    // Health probes arrive every few seconds from orchestrators; keep them out of info logs.
    const log = s.authFailure !== undefined ? logger.warn : path.startsWith("/health") ? logger.debug : logger.info;
    // Built field by field, not with spreads of optional objects: this runs on every request.
    const fields: LogFields = {
      request_id: s.id,
      method: request.method,
      path,
      status: response.status,
      duration_ms: Math.round((performance.now() - s.start) * 100) / 100,
    };
    if (s.userId) fields.user_id = s.userId;
    if (s.authFailure !== undefined) {
      fields.auth_failure = s.authFailure;
      fields.client = s.client;
    }
    log("request", fields);
    return response;
  };
  const answered = (request: Request, answer: Response | Promise<Response>) =>
    answer instanceof Promise ? answer.then((response) => finish(request, response)) : finish(request, answer);

  return (
    app
      // Around every route and the not-found handler, errors included (see src/request-state.ts). No
      // onRequest hook: any makes Elysia build a larger context for every request (see
      // docs/benchmarks.md); the checks that need no route run in the body parser (src/body.ts) and
      // the auth plugin instead.
      .wrap((handle, request) => (r: Request) => {
        const given = request.headers.get("x-request-id");
        const id = given && SANE_REQUEST_ID.test(given) ? given : crypto.randomUUID();
        state.set(request, { id, start: performance.now(), path: pathOf(request.url) });
        return answered(request, handle(r) as unknown as Response | Promise<Response>);
      })
      // X-Request-Id into the answer's headers as Elysia builds them (here for every route, in onError
      // for errors), so the built Response's Headers object is not materialised for every answer. Its
      // cost against setting it on the Response was not resolved by `bun run bench` (runs within 10 µs
      // per GET of each other, either way round).
      .onTransform({ as: "global" }, ({ request, set }) => {
        const s = state.get(request);
        if (!s) return;
        set.headers["x-request-id"] = s.id;
        s.idInHeaders = true;
      })
      .onError(({ code, error, request, set }) => {
        const s = state.get(request);
        const id = s?.id ?? "";
        // Elysia wraps what the body parser throws; the authentication there is ours.
        const cause = code === "PARSE" ? (error as Error)?.cause : error;
        // Noted for the request's one log line, not logged apart: a token spray must not double the logs.
        if (cause instanceof AuthError && s)
          Object.assign(s, { authFailure: cause.reason, client: app.server?.requestIP(request)?.address ?? null });
        const { status, body, headers } = errorResponse(code, error, logger, id);
        set.status = status;
        Object.assign(set.headers, headers);
        set.headers["x-request-id"] = id;
        if (s) s.idInHeaders = true;
        return body;
      })
      .use(corsFor(config.corsOrigins))
      .use(docsRoutes())
      .use(healthRoutes({ database, lifecycle, logger }))
      .use(
        taskRoutes({
          database,
          verifier,
          states: state,
          admit,
          limits: createLimits(config.fairShare, clock),
          maxTasksPerUser: config.fairShare.maxTasksPerUser,
          writes: idempotentWrites({ database, ttlHours: config.idempotencyKeyTtlHours ?? 24, logger }),
        }),
      )
  );
}

export type App = ReturnType<typeof createApp>;
