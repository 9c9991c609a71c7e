// The bare-server ceiling: the bench's routes of the tasks contract on Bun.serve and Bun's own SQL
// client, no framework, no ORM, no schema library. A measuring instrument, not product code. It does
// what the service does for each bench request, by hand: verify the HS256 token with jose (and cache
// it, as the service does), validate the input, run the same SQL (bench/sql.ts), answer the same JSON
// and headers, and write the same one JSON log line per request to stdout. Not covered: If-Match,
// sorts, status filters, offsets and cursors in requests, replays of keyed writes (the bench sends
// fresh keys).
// BARE_DRIVER=postgres runs the same on postgres.js, the service's driver, with timestamps read as
// PostgreSQL's text as the service reads them: the difference to the service is then the framework
// and the service's own work alone, and the difference between the two bare servers the driver's.
// Environment: DATABASE_URL, BETTER_AUTH_SECRET, PORT, DB_POOL_MAX, BARE_DRIVER (bun | postgres).
// As a program it serves; imported (bench/framework.ts), `bareRoutes` gives its routes over any driver.
import { SQL } from "bun";
import { jwtVerify } from "jose";
import postgres from "postgres";
import { encodeCursor } from "../src/tasks/cursor";
import { isoFromTimestamp } from "../src/time";
import * as Q from "./sql";

const env = process.env;
type Param = string | number | boolean | null;
/** What the routes need of a driver: the statement's rows for its text and parameters. */
export interface BareSql {
  unsafe(text: string, params: Param[]): Promise<unknown>;
  close(): Promise<void>;
}
const asText = { to: 1184, from: [1184], serialize: (x: string) => x, parse: (x: string) => x };
/** The bare server's postgres.js client (BARE_DRIVER=postgres); bench/framework.ts --database uses it too. */
export function barePostgres(url: string, max: number): BareSql {
  const client = postgres(url, { max, prepare: true, onnotice: () => {}, types: { timestamptz: asText } });
  // Prepared, as Bun's client and the service prepare them (postgres.js's unsafe() would not).
  return { unsafe: (text, params) => client.unsafe(text, params, { prepare: true }), close: () => client.end() };
}
function openSql(): BareSql {
  const max = Number(env.DB_POOL_MAX ?? 10);
  if (env.BARE_DRIVER === "postgres") return barePostgres(env.DATABASE_URL!, max);
  return new SQL({ url: env.DATABASE_URL!, max, prepare: true, onnotice: () => {} } as ConstructorParameters<
    typeof SQL
  >[0]);
}
const key = new TextEncoder().encode(env.BETTER_AUTH_SECRET!);
const KEY_TTL = 24 * 3600;

class Fail {
  constructor(
    readonly status: number,
    readonly detail: unknown,
  ) {}
}

// Verified tokens until their exp, least recently used out first: what src/auth/cache.ts does.
const tokens = new Map<string, { userId: string; exp: number }>();
async function userOf(request: Request): Promise<string> {
  const header = request.headers.get("authorization");
  const match = header ? /^Bearer +(\S+) *$/i.exec(header) : null;
  if (!match) throw new Fail(401, "Not authenticated");
  const token = match[1]!;
  const hit = tokens.get(token);
  if (hit && hit.exp * 1000 > Date.now()) {
    tokens.delete(token);
    tokens.set(token, hit);
    return hit.userId;
  }
  try {
    const { payload } = await jwtVerify(token, key, {
      algorithms: ["HS256"],
      requiredClaims: ["exp"],
      clockTolerance: 5,
    });
    if (typeof payload.sub !== "string" || payload.sub.length === 0 || payload.sub.length > 255) throw new Error("sub");
    if (tokens.size >= 10_000) tokens.delete(tokens.keys().next().value!);
    tokens.set(token, { userId: payload.sub, exp: payload.exp! });
    return payload.sub;
  } catch {
    throw new Fail(401, "Invalid token");
  }
}

const STATUSES = new Set(["pending", "in_progress", "completed"]);
const invalid = (field: string, msg: string) => new Fail(422, [{ loc: ["body", field], msg, type: "value_error" }]);
const plain = (s: string, max: number) =>
  s.length <= 2 * max && s.isWellFormed() && !s.includes("\u0000") && [...s].length <= max;

interface Input {
  title?: string;
  description?: string | null;
  status?: string;
}
async function bodyOf(request: Request, create: boolean): Promise<Input> {
  let body: unknown;
  try {
    body = await request.json();
  } catch {
    throw new Fail(400, "Malformed JSON body");
  }
  if (typeof body !== "object" || body === null || Array.isArray(body)) throw invalid("", "body must be a JSON object");
  const input = body as Record<string, unknown>;
  let fields = 0;
  for (const name in input) {
    if (name !== "title" && name !== "description" && name !== "status") throw invalid(name, "unknown field");
    fields++;
  }
  if (fields === 0 && !create) throw invalid("", "at least one of title, description, status");
  if (input.title !== undefined || create) {
    const title = typeof input.title === "string" ? input.title.trim() : "";
    if (title.length === 0 || !plain(title, 255))
      throw invalid("title", "title must be 1 to 255 characters after trimming surrounding white space");
    input.title = title;
  }
  if (
    input.description !== undefined &&
    input.description !== null &&
    (typeof input.description !== "string" || !plain(input.description, 10_000))
  ) {
    throw invalid("description", "description must be null or a string of at most 10000 characters");
  }
  if (input.status !== undefined && !STATUSES.has(input.status as string))
    throw invalid("status", "status must be one of pending, in_progress, completed");
  return input as Input;
}

const ID = /^[1-9][0-9]{0,14}$/;
const LIMIT = /^(?:[1-9][0-9]?|[1-4][0-9]{2}|500)$/;
const KEY = /^[\x21-\x7E]{1,255}$/;
const idOf = (raw: string) => {
  if (!ID.test(raw))
    throw new Fail(422, [
      { loc: ["path", "id"], msg: "id must be a positive integer (at most 15 digits)", type: "value_error" },
    ]);
  return Number(raw);
};

interface Row {
  id: string | number;
  title: string;
  description: string | null;
  status: string;
  user_id: string;
  version: number;
  created_at: Date | string;
  updated_at: Date | string;
}
const taskJson = (r: Row) =>
  JSON.stringify({
    id: Number(r.id),
    title: r.title,
    description: r.description,
    status: r.status,
    user_id: r.user_id,
    created_at: isoFromTimestamp(r.created_at),
    updated_at: isoFromTimestamp(r.updated_at),
  });
const etagOf = (r: Row) => `"${r.id}-${r.version}"`;

// Where the log lines go: stdout as a server; bench/framework.ts builds them and drops them, as it does the service's.
let writeLine: (line: string) => void = (line) => process.stdout.write(line);

function answer(
  request: Request,
  start: number,
  requestId: string,
  userId: string | undefined,
  status: number,
  body: string | null,
  headers: Record<string, string> = {},
) {
  const path = new URL(request.url).pathname;
  writeLine(
    JSON.stringify({
      time: new Date().toISOString(),
      level: "info",
      msg: "request",
      request_id: requestId,
      method: request.method,
      path,
      status,
      duration_ms: Math.round((performance.now() - start) * 100) / 100,
      ...(userId ? { user_id: userId } : {}),
    }) + "\n",
  );
  return new Response(body, {
    status,
    headers: {
      "x-request-id": requestId,
      ...(body === null ? {} : { "content-type": "application/json" }),
      ...headers,
    },
  });
}

type Handler = (
  request: Request & { params: Record<string, string> },
  userId: string,
) => Promise<[number, string | null, Record<string, string>?]>;
const route = (handler: Handler) => async (request: Request & { params: Record<string, string> }) => {
  const start = performance.now();
  const requestId = crypto.randomUUID();
  let userId: string | undefined;
  try {
    userId = await userOf(request);
    const [status, body, headers] = await handler(request, userId);
    return answer(request, start, requestId, userId, status, body, headers);
  } catch (error) {
    if (error instanceof Fail)
      return answer(request, start, requestId, userId, error.status, JSON.stringify({ detail: error.detail }));
    process.stderr.write(`bare server: ${(error as Error)?.message ?? error}\n`);
    return answer(request, start, requestId, userId, 500, JSON.stringify({ detail: "Internal server error" }));
  }
};
const notFound = () => new Fail(404, "Task not found");

/** The bare server's routes (Bun.serve's `routes`) over `sql`; log lines to `write`. */
export function bareRoutes(sql: BareSql, write?: (line: string) => void) {
  if (write) writeLine = write;
  return {
    "/health/ready": async () => {
      await sql.unsafe("select 1", []);
      return Response.json({ status: "ready" });
    },
    "/api/tasks": {
      GET: route(async (request, userId) => {
        const raw = new URL(request.url).searchParams.get("limit") ?? "100";
        if (!LIMIT.test(raw))
          throw new Fail(422, [
            { loc: ["query", "limit"], msg: "limit must be an integer from 1 to 500", type: "value_error" },
          ]);
        const limit = Number(raw);
        const rows = (await sql.unsafe(Q.LIST, Q.listParams(userId, limit + 1))) as (Row & {
          total: string | number;
          key: string;
        })[];
        const page = rows.slice(0, limit);
        const headers: Record<string, string> = { "x-total-count": rows.length > 0 ? String(rows[0]!.total) : "0" };
        // A next page (the mix adds tasks): the same Link and cursor as the service's.
        if (rows.length > limit) {
          const last = page[page.length - 1]!;
          headers.link = `</api/tasks?limit=${limit}&sort=-created_at&cursor=${encodeCursor({ sort: "-created_at", status: undefined, key: last.key, id: Number(last.id) })}>; rel="next"`;
        }
        return [200, `[${page.map(taskJson).join(",")}]`, headers];
      }),
      POST: route(async (request, userId) => {
        const idempotencyKey = request.headers.get("idempotency-key");
        if (idempotencyKey !== null && !KEY.test(idempotencyKey))
          throw new Fail(422, [
            {
              loc: ["header", "idempotency-key"],
              msg: "Idempotency-Key must be 1 to 255 visible ASCII characters",
              type: "value_error",
            },
          ]);
        const input = await bodyOf(request, true);
        const values = [input.title!, input.description ?? null, input.status ?? "pending", userId, 0] as const;
        const [row] = (
          idempotencyKey === null
            ? await sql.unsafe(Q.CREATE, Q.createParams(...values))
            : await sql.unsafe(
                Q.CREATE_KEYED,
                Q.createKeyedParams(...values, idempotencyKey, fingerprint(input), KEY_TTL),
              )
        ) as Row[];
        if (!row) throw new Fail(409, "Task limit reached");
        return [201, taskJson(row), { location: `/api/tasks/${row.id}`, etag: etagOf(row) }];
      }),
    },
    "/api/tasks/:id": {
      GET: route(async (request, userId) => {
        const [row] = (await sql.unsafe(Q.GET, [idOf(request.params.id!), userId])) as Row[];
        if (!row) throw notFound();
        return [200, taskJson(row), { etag: etagOf(row) }];
      }),
      PUT: route(async (request, userId) => {
        const id = idOf(request.params.id!);
        const input = await bodyOf(request, false);
        // The bench's PUT sends title and status; that is the one statement shape this server has.
        if (input.title === undefined || input.status === undefined || input.description !== undefined)
          throw new Fail(422, "the bare server updates title and status only");
        const [row] = (await sql.unsafe(Q.UPDATE, Q.updateParams(id, userId, input.title, input.status))) as Row[];
        if (!row) throw notFound();
        return [200, taskJson(row), { etag: etagOf(row) }];
      }),
      DELETE: route(async (request, userId) => {
        const [row] = (await sql.unsafe(Q.DELETE, Q.deleteParams(idOf(request.params.id!), userId))) as Row[];
        if (!row) throw notFound();
        return [204, null];
      }),
    },
  };
}

export const notFound404 = (request: Request) =>
  answer(request, performance.now(), crypto.randomUUID(), undefined, 404, JSON.stringify({ detail: "Not found" }));

// The service's fingerprint: SHA-256 of method, path and the parsed body.
function fingerprint(input: Input) {
  return new Bun.CryptoHasher("sha256").update(`POST /api/tasks\n${JSON.stringify(input)}`).digest("hex");
}

if (import.meta.main) {
  const sql = openSql();
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: Number(env.PORT ?? 8002),
    routes: bareRoutes(sql),
    fetch: notFound404,
  });
  process.on(
    "SIGTERM",
    () =>
      void server
        .stop()
        .then(() => sql.close())
        .then(() => process.exit(0)),
  );
}
