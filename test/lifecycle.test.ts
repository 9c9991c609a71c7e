// The process as an orchestrator sees it: it listens at once, honours SIGTERM from its first moment,
// and on SIGTERM first reports not ready for SHUTDOWN_DRAIN_MS while it keeps serving.
import { describe, expect, test } from "bun:test";
import postgres from "postgres";
import { createFreshDatabase } from "./setup";
import { SECRET, tokenFor } from "./support/app";
import { freePort } from "./support/cluster";
import { missing, POSTGRES } from "./support/requires";
import { baseEnv, startServer, waitForLog } from "./support/server";

const unreachableUrl = () => `postgres://tasks:hunter2-secret@127.0.0.1:${freePort()}/tasks`;

describe("while the database is not there yet", () => {
  test("the process listens at once: /health is 200, /health/ready and every /api/* route are 503 with Retry-After", async () => {
    const server = await startServer(
      { ...baseEnv(), BETTER_AUTH_SECRET: SECRET, DATABASE_URL: unreachableUrl(), DB_STARTUP_TIMEOUT_MS: "30000" },
      { until: "listening" },
    );
    try {
      expect(server.readyMs).toBeLessThan(5000);
      const health = await fetch(`${server.url}/health`);
      expect(health.status).toBe(200);
      const ready = await fetch(`${server.url}/health/ready`);
      expect(ready.status).toBe(503);
      expect(await ready.json()).toEqual({ status: "unavailable", database: "unreachable" });
      const token = await tokenFor("early-caller");
      for (const [method, path, auth] of [
        ["GET", "/api/tasks", true],
        ["POST", "/api/tasks", true],
        ["GET", "/api/tasks/1", false],
        ["DELETE", "/api/tasks/1", true],
      ] as const) {
        const res = await fetch(`${server.url}${path}`, {
          method,
          headers: auth ? { authorization: `Bearer ${token}`, "content-type": "application/json" } : {},
          body: method === "POST" ? '{"title": "too early"}' : undefined,
        });
        expect(`${method} ${path} ${res.status}`).toBe(`${method} ${path} 503`);
        expect(res.headers.get("retry-after")).toMatch(/^\d+$/);
        expect(await res.json()).toEqual({ detail: "Database unavailable" });
      }
    } finally {
      server.proc.kill("SIGKILL");
    }
  }, 30_000);

  test("SIGTERM during the database wait exits 0 within 2 s (SIGINT too)", async () => {
    for (const signal of ["SIGTERM", "SIGINT"] as const) {
      const server = await startServer(
        { ...baseEnv(), BETTER_AUTH_SECRET: SECRET, DATABASE_URL: unreachableUrl(), DB_STARTUP_TIMEOUT_MS: "30000" },
        { until: "listening" },
      );
      await waitForLog(server, (l) => l.msg.startsWith("database unreachable at startup"));
      const signalled = performance.now();
      server.proc.kill(signal);
      const code = await server.proc.exited;
      const ms = performance.now() - signalled;
      expect(`${signal} -> ${code}`).toBe(`${signal} -> 0`);
      expect(ms).toBeLessThan(2000);
      expect(server.lines.join("\n")).not.toContain("hunter2-secret");
      console.log(`${signal} while waiting for the database: exit ${code} after ${ms.toFixed(0)} ms`);
    }
  }, 30_000);
});

describe.skipIf(missing(!!process.env.TEST_DATABASE_URL, POSTGRES))("with a real PostgreSQL", () => {
  test("SIGTERM while waiting for another replica's migration lock exits 0 within 2 s, and the lock holder is unaffected", async () => {
    const fresh = await createFreshDatabase("tasks_lifecycle");
    const holder = postgres(fresh.url, { max: 1, onnotice: () => {} });
    try {
      // The same advisory lock a migrating replica holds (src/db/migrate.ts).
      let release!: () => void;
      const held = new Promise<void>((r) => (release = r));
      let locked!: () => void;
      const isLocked = new Promise<void>((r) => (locked = r));
      const tx = holder.begin(async (sql) => {
        await sql`select pg_advisory_xact_lock(72830113)`;
        locked();
        await held;
      });
      await isLocked;
      const server = await startServer(
        { ...baseEnv(), BETTER_AUTH_SECRET: SECRET, DATABASE_URL: fresh.url },
        { until: "listening" },
      );
      const admin = postgres(fresh.url, { max: 1, onnotice: () => {} });
      for (let i = 0; i < 200; i++) {
        const [row] =
          await admin`select count(*)::int as n from pg_stat_activity where application_name = 'tasks-api' and wait_event_type = 'Lock'`;
        if (row!.n > 0) break;
        await Bun.sleep(25);
      }
      const [waiting] =
        await admin`select count(*)::int as n from pg_stat_activity where application_name = 'tasks-api' and wait_event_type = 'Lock'`;
      await admin.end();
      expect(waiting!.n).toBe(1);
      expect((await fetch(`${server.url}/health/ready`)).status).toBe(503);
      const signalled = performance.now();
      server.proc.kill("SIGTERM");
      const code = await server.proc.exited;
      const ms = performance.now() - signalled;
      expect(code).toBe(0);
      expect(ms).toBeLessThan(2000);
      release();
      await tx;
      console.log(`SIGTERM while waiting for the migration lock: exit ${code} after ${ms.toFixed(0)} ms`);
    } finally {
      await holder.end();
      await fresh.drop();
    }
  }, 30_000);

  test("on SIGTERM, /health/ready is 503 for SHUTDOWN_DRAIN_MS while /api keeps answering; then it stops and exits 0", async () => {
    const fresh = await createFreshDatabase("tasks_lifecycle");
    try {
      const server = await startServer({
        ...baseEnv(),
        BETTER_AUTH_SECRET: SECRET,
        DATABASE_URL: fresh.url,
        SHUTDOWN_DRAIN_MS: "3000",
      });
      const token = await tokenFor("drain");
      expect((await fetch(`${server.url}/health/ready`)).status).toBe(200);
      const signalled = performance.now();
      server.proc.kill("SIGTERM");
      await waitForLog(server, (l) => l.msg === "shutting down");
      const ready = await fetch(`${server.url}/health/ready`);
      expect(ready.status).toBe(503);
      expect(await ready.json()).toEqual({ status: "draining", database: "ok" });
      const during = await fetch(`${server.url}/api/tasks`, {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        body: '{"title": "while draining"}',
      });
      expect(during.status).toBe(201);
      // Keep-alive clients are told to reconnect, so they move to another replica before the listener closes.
      expect(during.headers.get("connection")).toBe("close");
      expect(performance.now() - signalled).toBeLessThan(3000);
      const code = await server.proc.exited;
      const ms = performance.now() - signalled;
      expect(code).toBe(0);
      expect(ms).toBeGreaterThanOrEqual(3000);
      expect(ms).toBeLessThan(10_000);
      expect(
        await fetch(`${server.url}/health`).then(
          () => "answered",
          () => "refused",
        ),
      ).toBe("refused");
      console.log(`SIGTERM with SHUTDOWN_DRAIN_MS=3000: exit ${code} after ${ms.toFixed(0)} ms`);
    } finally {
      await fresh.drop();
    }
  }, 30_000);
});
