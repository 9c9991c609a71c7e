import { type JWTPayload, SignJWT } from "jose";
import { createApp } from "../../src/app";
import { hs256Verifier, type TokenVerifier } from "../../src/auth/verifier";
import { DEFAULT_FAIR_SHARE, type FairShareConfig } from "../../src/config";
import type { Database } from "../../src/db/client";
import { createLogger, type Logger } from "../../src/logger";
import { testDatabase } from "../setup";

export const SECRET = "test-secret-that-is-long-enough-0123456789";

/** A user id no other test uses, so every test sees only its own rows. */
export const newUser = (name = "user") => `${name}-${crypto.randomUUID()}`;

/** An HS256 token signed with the shared secret, the way a frontend's server code signs one. */
export async function tokenFor(
  sub: string | undefined,
  {
    claims = {},
    header = {},
    secret = SECRET,
    expiresIn = 3600,
  }: { claims?: JWTPayload; header?: Record<string, unknown>; secret?: string; expiresIn?: number | null } = {},
) {
  const now = Math.floor(Date.now() / 1000);
  let jwt = new SignJWT({ ...(sub === undefined ? {} : { sub }), iat: now, ...claims }).setProtectedHeader({
    alg: "HS256",
    typ: "JWT",
    ...header,
  });
  if (expiresIn !== null) jwt = jwt.setExpirationTime(now + expiresIn);
  return jwt.sign(new TextEncoder().encode(secret));
}

export interface TestApp {
  logs: Record<string, any>[];
  /** Resolves once every request made so far has written its log line (after-response hooks run late). */
  settled(): Promise<void>;
  /** A Request of the test's own making, handed to the app as the server would hand it. */
  handle(request: Request): Promise<Response>;
  request(
    method: string,
    path: string,
    options?: { token?: string; body?: unknown; headers?: Record<string, string> },
  ): Promise<Response>;
  /** request() with a fresh token for `user`, returning status, parsed body and headers. */
  as(
    user: string,
    method: string,
    path: string,
    body?: unknown,
    headers?: Record<string, string>,
  ): Promise<{ status: number; body: any; headers: Headers }>;
}

/** The real app on the run's database, its log lines captured as parsed JSON. */
export async function buildApp({
  database,
  verifier,
  corsOrigins = [],
  fairShare = {},
  idempotencyKeyTtlHours,
  clock,
}: {
  database?: Database;
  verifier?: TokenVerifier | ((logger: Logger) => TokenVerifier);
  corsOrigins?: string[];
  fairShare?: Partial<FairShareConfig>;
  idempotencyKeyTtlHours?: number;
  clock?: () => number;
} = {}): Promise<TestApp> {
  const logs: Record<string, any>[] = [];
  // Every handled request ends with one "request" line, written as its answer is handed over;
  // settled() waits until there are as many of those lines as requests.
  let handled = 0;
  let logged = 0;
  let wake: (() => void) | undefined;
  const logger = createLogger({ level: "debug" }, (line) => {
    const entry = JSON.parse(line);
    logs.push(entry);
    if (entry.msg === "request") {
      logged++;
      wake?.();
    }
  });
  async function settled() {
    const until = performance.now() + 5000;
    while (logged < handled && performance.now() < until) {
      await new Promise<void>((resolve) => {
        wake = resolve;
        setTimeout(resolve, 100); // a request whose line never comes must not hang the test
      });
    }
  }
  const app = createApp({
    config: { corsOrigins, fairShare: { ...DEFAULT_FAIR_SHARE, ...fairShare }, idempotencyKeyTtlHours },
    database: database ?? (await testDatabase()),
    verifier: typeof verifier === "function" ? verifier(logger) : (verifier ?? hs256Verifier(SECRET, {})),
    logger,
    clock,
  });
  const request: TestApp["request"] = (method, path, { token, body, headers = {} } = {}) => {
    handled++;
    return app.handle(
      new Request(`http://localhost${path}`, {
        method,
        headers: {
          ...(token ? { authorization: `Bearer ${token}` } : {}),
          ...(body !== undefined ? { "content-type": "application/json" } : {}),
          ...headers,
        },
        body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
      }),
    );
  };
  return {
    logs,
    settled,
    handle(raw) {
      handled++;
      return app.handle(raw);
    },
    request,
    async as(user, method, path, body, headers) {
      const res = await request(method, path, { token: await tokenFor(user), body, headers });
      const text = await res.text();
      return { status: res.status, body: text ? JSON.parse(text) : undefined, headers: res.headers };
    },
  };
}

/** One request with a fresh token for `user`, timed; its token and answer are kept for the leak checks. */
export async function timedCall(
  api: TestApp,
  kept: { tokens: string[]; answers: string[] },
  user: string,
  method: string,
  path: string,
  body?: unknown,
) {
  const token = await tokenFor(user);
  kept.tokens.push(token);
  const started = performance.now();
  const res = await api.request(method, path, { token, body });
  const text = await res.text();
  kept.answers.push(text);
  return {
    status: res.status,
    body: text ? JSON.parse(text) : undefined,
    headers: res.headers,
    ms: performance.now() - started,
  };
}
