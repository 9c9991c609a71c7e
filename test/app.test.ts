import { beforeAll, describe, expect, test } from "bun:test";
import { openDatabase } from "../src/db/client";
import { createFreshDatabase } from "./setup";
import { buildApp, newUser, type TestApp, tokenFor } from "./support/app";

let api: TestApp;
// The first file to ask starts the run's database, which takes a few seconds on a cold PGlite.
beforeAll(async () => {
  api = await buildApp();
}, 30_000);

// A real postgres.js pool pointed at a port where nothing listens: every query fails to connect.
const unreachable = () =>
  openDatabase({ kind: "postgres", url: "postgres://postgres:s3cret-pw@127.0.0.1:9/none", poolMax: 1, prepare: true });

describe("health", () => {
  test("GET /health answers 200 ok", async () => {
    const res = await api.request("GET", "/health");
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: "ok" });
  });

  test("GET /health/ready answers 200 when the database answers", async () => {
    const res = await api.request("GET", "/health/ready");
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: "ok", database: "ok" });
  });

  test("GET /health/ready answers 503 when the database is unreachable, while /health stays 200", async () => {
    const down = await buildApp({ database: await unreachable() });
    const res = await down.request("GET", "/health/ready");
    expect(res.status).toBe(503);
    expect(await res.json()).toEqual({ status: "unavailable", database: "unreachable" });
    expect((await down.request("GET", "/health")).status).toBe(200);
  });
});

describe("failures", () => {
  test("an unreachable database answers 503 Database unavailable with Retry-After, logged at error without the password", async () => {
    const down = await buildApp({ database: await unreachable() });
    const res = await down.request("GET", "/api/tasks", { token: await tokenFor(newUser()) });
    expect(res.status).toBe(503);
    expect(await res.json()).toEqual({ detail: "Database unavailable" });
    expect(res.headers.get("retry-after")).toBe("5");
    expect(down.logs.some((l) => l.level === "error" && l.msg === "database unavailable")).toBe(true);
    expect(JSON.stringify(down.logs)).not.toContain("s3cret-pw");
  });

  test("an unexpected failure answers a bare 500 with no stack or SQL, and logs the details", async () => {
    // A real database without the tasks table: the query fails inside PostgreSQL. (A fresh database
    // on the server when there is one: a second PGlite takes seconds to start on a loaded machine.)
    const fresh = process.env.TEST_DATABASE_URL ? await createFreshDatabase("tasks_empty") : undefined;
    const empty = await openDatabase(
      fresh
        ? { kind: "postgres", url: fresh.url, poolMax: 1, prepare: true }
        : { kind: "pglite", dataDir: undefined, poolMax: 1 },
    );
    const broken = await buildApp({ database: empty });
    const res = await broken.request("GET", "/api/tasks", {
      token: await tokenFor(newUser()),
      headers: { "x-request-id": "req-500" },
    });
    expect(res.status).toBe(500);
    const text = await res.text();
    expect(JSON.parse(text)).toEqual({ detail: "Internal server error" });
    expect(text).not.toMatch(/select|tasks|at |\.ts/i);
    const logged = broken.logs.find((l) => l.level === "error" && l.request_id === "req-500");
    expect(logged?.error).toContain("tasks");
    expect(JSON.stringify(logged)).not.toContain("params:"); // Drizzle's message quotes the query's values
    await empty.close();
    await fresh?.drop();
  }, 30_000);

  test("unknown routes answer 404 Not Found in the same error shape", async () => {
    const res = await api.request("GET", "/nope");
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ detail: "Not Found" });
  });

  test("a wrong method on a known path answers 404 or 405", async () => {
    const res = await api.request("DELETE", "/api/tasks", { token: await tokenFor(newUser()) });
    expect([404, 405]).toContain(res.status);
  });
});

describe("request ids and logs", () => {
  test("every response carries a new X-Request-Id, or the caller's when it is sane", async () => {
    const fresh = await api.request("GET", "/health");
    expect(fresh.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
    const echoed = await api.request("GET", "/nope", { headers: { "x-request-id": "abc-123.DEF_9" } });
    expect(echoed.headers.get("x-request-id")).toBe("abc-123.DEF_9");
    const replaced = await api.request("GET", "/health", {
      headers: { "x-request-id": "bad id with spaces <script>" },
    });
    expect(replaced.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
  });

  test("one JSON line per request with time, level, request id, method, path, status, duration and user id", async () => {
    const user = newUser();
    await api.request("POST", "/api/tasks?x=1", {
      token: await tokenFor(user),
      body: { title: "logged" },
      headers: { "x-request-id": "req-log-line" },
    });
    await api.settled();
    const lines = api.logs.filter((l) => l.request_id === "req-log-line" && l.msg === "request");
    expect(lines.length).toBe(1);
    expect(lines[0]).toMatchObject({ level: "info", method: "POST", path: "/api/tasks", status: 201, user_id: user });
    expect(typeof lines[0]!.duration_ms).toBe("number");
    expect(Date.parse(lines[0]!.time)).not.toBeNaN();
  });

  test("health probes are logged at debug, so orchestrators' polling stays out of info logs", async () => {
    await api.request("GET", "/health", { headers: { "x-request-id": "req-health-probe" } });
    await api.settled();
    expect(api.logs.find((l) => l.request_id === "req-health-probe")?.level).toBe("debug");
  });

  test("failed requests are logged with their status too", async () => {
    await api.request("GET", "/api/tasks/abc", {
      token: await tokenFor(newUser()),
      headers: { "x-request-id": "req-log-422" },
    });
    await api.settled();
    expect(api.logs.find((l) => l.request_id === "req-log-422" && l.msg === "request")?.status).toBe(422);
  });

  test("the log line is written by the time the answer is handed over, with no turn of the event loop after it", async () => {
    const user = newUser();
    const token = await tokenFor(user);
    const cases: [string, string, Record<string, unknown> | undefined, number][] = [
      ["POST", "/api/tasks", { title: "at once" }, 201],
      ["GET", "/api/tasks/abc", undefined, 422],
      ["GET", "/nope", undefined, 404],
    ];
    for (const [method, path, body, status] of cases) {
      const id = `req-at-once-${status}`;
      // No settled(): the line must be there when the answer is.
      const res = await api.request(method, path, { token, body, headers: { "x-request-id": id } });
      expect(res.status).toBe(status);
      expect(api.logs.filter((l) => l.request_id === id && l.msg === "request")).toMatchObject([{ status }]);
    }
  });
});

describe("documentation", () => {
  test("GET /docs serves an HTML page", async () => {
    const res = await api.request("GET", "/docs");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("text/html");
  });

  test("GET /openapi.json documents every route, its statuses and the bearer scheme", async () => {
    const doc: any = await (await api.request("GET", "/openapi.json")).json();
    expect(doc.openapi).toMatch(/^3\./);
    expect(doc.components.securitySchemes.bearerAuth).toMatchObject({ type: "http", scheme: "bearer" });
    const ops: Record<string, string[]> = {
      "/api/tasks": ["post", "get"],
      "/api/tasks/{id}": ["get", "put", "patch", "delete"],
    };
    for (const [path, methods] of Object.entries(ops)) {
      const item = doc.paths[path];
      expect(item).toBeDefined();
      for (const method of methods) {
        const op = item[method];
        expect(op.security).toEqual([{ bearerAuth: [] }]);
        for (const status of ["401", "422", "503"]) expect(Object.keys(op.responses)).toContain(status);
      }
    }
    expect(Object.keys(doc.paths["/api/tasks/{id}"].put.responses)).toEqual(
      expect.arrayContaining(["200", "404", "412"]),
    );
    expect(Object.keys(doc.paths["/api/tasks/{id}"].delete.responses)).toContain("204");
    expect(doc.paths["/health"]).toBeDefined();
    expect(doc.paths["/health/ready"].get.responses["503"]).toBeDefined();
  });
});

describe("CORS", () => {
  test("with CORS_ORIGINS set, an allowed origin gets CORS headers exposing the API's headers", async () => {
    const withCors = await buildApp({ corsOrigins: ["https://app.example.com"] });
    const res = await withCors.request("GET", "/health", { headers: { origin: "https://app.example.com" } });
    expect(res.headers.get("access-control-allow-origin")).toBe("https://app.example.com");
    expect(res.headers.get("access-control-expose-headers")?.toLowerCase()).toContain("x-total-count");
    const other = await withCors.request("GET", "/health", { headers: { origin: "https://evil.example.com" } });
    expect(other.headers.get("access-control-allow-origin")).toBeNull();
  });

  test("without CORS_ORIGINS there are no CORS headers", async () => {
    const res = await api.request("GET", "/health", { headers: { origin: "https://app.example.com" } });
    expect(res.headers.get("access-control-allow-origin")).toBeNull();
  });
});
