// The database goes away under a serving app: its connections are killed, or the server stops outright.
// A PostgreSQL of the test's own (test/support/cluster.ts), so it can be stopped and started.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { sql } from "drizzle-orm";
import postgres from "postgres";
import { loadConfig } from "../src/config";
import { type Database, type Db, openDatabase } from "../src/db/client";
import { buildApp, newUser, SECRET, type TestApp, timedCall, tokenFor } from "./support/app";
import { clusterAvailable, type TempCluster } from "./support/cluster";
import { startClusterApp, stopClusterApp } from "./support/cluster-app";
import { expectNoLeaks } from "./support/hygiene";
import { lockRow, waitingOnLocks } from "./support/locks";
import { CLUSTER, missing } from "./support/requires";

let cluster: TempCluster;
let database: Database;
let api: TestApp;
const answers: string[] = [];
const tokens: string[] = [];

const call = (user: string, method: string, path: string, body?: unknown) =>
  timedCall(api, { tokens, answers }, user, method, path, body);

/** Polls a read until it answers 200; returns how long that took. */
async function timeUntilServing(user: string, limitMs: number) {
  const started = performance.now();
  while (performance.now() - started < limitMs) {
    if ((await call(user, "GET", "/api/tasks")).status === 200) return performance.now() - started;
    await Bun.sleep(25);
  }
  return Infinity;
}

describe.skipIf(missing(clusterAvailable, CLUSTER))("database outages while serving", () => {
  beforeAll(async () => {
    ({ cluster, database, api } = await startClusterApp());
  }, 60_000);

  afterAll(async () => {
    await stopClusterApp({ cluster, database });
    expectNoLeaks({
      answers,
      logs: api?.logs.map((l) => JSON.stringify(l)) ?? [],
      secrets: [...tokens, cluster?.password],
    });
  }, 30_000);

  test("with PostgreSQL stopped outright every route answers 503 with Retry-After within seconds, readiness says 503, and once it is back the service serves again within 5 s without a restart", async () => {
    const user = newUser();
    const kept = await call(user, "POST", "/api/tasks", { title: "written before the outage" });
    expect(kept.status).toBe(201);
    const logsBefore = api.logs.length;

    cluster.stop("immediate");
    const during = [
      await call(user, "GET", "/api/tasks"),
      await call(user, "GET", `/api/tasks/${kept.body.id}`),
      await call(user, "POST", "/api/tasks", { title: "during the outage" }),
      await call(user, "PUT", `/api/tasks/${kept.body.id}`, { status: "completed" }),
      await call(user, "PATCH", `/api/tasks/${kept.body.id}`, { status: "completed" }),
      await call(user, "DELETE", `/api/tasks/${kept.body.id}`),
    ];
    for (const res of during) {
      expect(res.status).toBe(503);
      expect(res.body).toEqual({ detail: "Database unavailable" });
      expect(res.headers.get("retry-after")).toMatch(/^\d+$/);
      expect(res.ms).toBeLessThan(5000);
    }
    const readyStarted = performance.now();
    const ready = await api.request("GET", "/health/ready");
    const readyMs = performance.now() - readyStarted;
    expect(ready.status).toBe(503);
    expect(await ready.json()).toEqual({ status: "unavailable", database: "unreachable" });
    expect((await api.request("GET", "/health")).status).toBe(200);

    // Logged at error, one line per failed request, without a stack.
    await api.settled();
    const errors = api.logs.slice(logsBefore).filter((l) => l.level === "error");
    expect(errors.length).toBeGreaterThanOrEqual(during.length);
    expect(errors.length).toBeLessThanOrEqual(during.length + 1);
    expect(errors.filter((l) => "stack" in l)).toEqual([]);

    const backStarted = performance.now();
    cluster.start();
    const startMs = performance.now() - backStarted;
    const recoveryMs = await timeUntilServing(user, 10_000);
    console.log(
      `full outage: time to 503 ${Math.max(...during.map((r) => r.ms)).toFixed(0)} ms at most (readiness ${readyMs.toFixed(0)} ms); ` +
        `PostgreSQL restart ${startMs.toFixed(0)} ms; serving again ${recoveryMs.toFixed(0)} ms after it accepted connections`,
    );
    expect(recoveryMs).toBeLessThan(5000);

    // Readiness answers from a check at most 1 s old: it turns 200 within about a second.
    let readyAgain = 0;
    for (const until = performance.now() + 2500; readyAgain !== 200 && performance.now() < until; await Bun.sleep(50)) {
      readyAgain = (await api.request("GET", "/health/ready")).status;
    }
    expect(readyAgain).toBe(200);
    const listed = await call(user, "GET", "/api/tasks");
    expect(listed.body.map((t: any) => t.title)).toEqual(["written before the outage"]);
    expect((await call(user, "POST", "/api/tasks", { title: "after the outage" })).status).toBe(201);
  }, 60_000);

  test("a read whose connection is killed under it is run once more on a fresh connection; a write is run only once", async () => {
    const attempts = { read: 0, write: 0 };
    const killOwnConnectionOnce = (counter: "read" | "write") => async (db: Db) => {
      attempts[counter]++;
      if (attempts[counter] === 1) await db.execute(sql`select pg_terminate_backend(pg_backend_pid())`);
      return db.execute(sql`select 1 as ok`);
    };
    // The retry gets a fresh connection (before the postgres.js patch it could meet the old backend's
    // 57P01 or a reconnect that hung until the connect timeout).
    const read = (await database.read(killOwnConnectionOnce("read"))) as unknown as Iterable<unknown>;
    expect([...read]).toEqual([{ ok: 1 }]);
    expect(attempts.read).toBe(2);
    const write = await database.write(killOwnConnectionOnce("write")).then(
      () => "done",
      (e: unknown) => e,
    );
    expect(write).not.toBe("done");
    expect(attempts.write).toBe(1);
  }, 30_000);

  test("a PostgreSQL backend frozen under a request (SIGSTOP): 503 once the deadline passes, the pool is replaced, and the service serves again", async () => {
    const config = loadConfig({
      BETTER_AUTH_SECRET: SECRET,
      DATABASE_URL: cluster.url,
      DB_POOL_MAX: "1",
      DB_STATEMENT_TIMEOUT_MS: "500",
      DB_CONNECT_TIMEOUT_MS: "500",
    });
    const frozenDb = await openDatabase(config.database, config.databaseLimits);
    const frozenApi = await buildApp({ database: frozenDb });
    const admin = postgres(cluster.url, { max: 1, onnotice: () => {} });
    const user = newUser();
    const token = await tokenFor(user);
    tokens.push(token);
    const get = async () => {
      const started = performance.now();
      const res = await frozenApi.request("GET", "/api/tasks", { token });
      const text = await res.text();
      answers.push(text);
      return { status: res.status, body: JSON.parse(text), ms: performance.now() - started };
    };
    let pid: number | undefined;
    try {
      expect((await get()).status).toBe(200);
      const rows: any = await frozenDb.read((db) => db.execute(sql`select pg_backend_pid() as pid`));
      pid = Number((Array.isArray(rows) ? rows : rows.rows)[0].pid);
      process.kill(pid, "SIGSTOP");
      const frozen = await get();
      expect(frozen.status).toBe(503);
      expect(frozen.body).toEqual({ detail: "Database unavailable" });
      expect(frozen.ms).toBeLessThan(10_000);
      const started = performance.now();
      let after = await get();
      while (after.status !== 200 && performance.now() - started < 10_000) after = await get();
      expect(after.status).toBe(200);
      console.log(
        `frozen backend: 503 after ${frozen.ms.toFixed(0)} ms (DB_STATEMENT_TIMEOUT_MS=500, then the cancel), serving again ${(performance.now() - started).toFixed(0)} ms later on a new pool`,
      );
      await frozenApi.settled();
      // One line per request that waited out the deadline (the first, and any that reached the frozen
      // connection before it was closed); never one for a request that was served.
      const stuckLines = frozenApi.logs.filter((l) => l.msg.startsWith("database did not answer in time")).length;
      expect(stuckLines).toBeGreaterThanOrEqual(1);
      expect(stuckLines).toBeLessThanOrEqual(
        frozenApi.logs.filter((l) => l.msg === "request" && l.status === 503).length,
      );
    } finally {
      if (pid) {
        process.kill(pid, "SIGCONT");
        await admin`select pg_terminate_backend(${pid})`;
      }
      await admin.end({ timeout: 1 });
      await frozenDb.close();
    }
  }, 60_000);

  test("a PUT whose connection is killed while it waits answers 503 and is never replayed", async () => {
    const user = newUser();
    expect(await timeUntilServing(user, 10_000)).toBeLessThan(10_000);
    const task = await call(user, "POST", "/api/tasks", { title: "contended" });
    expect(task.status).toBe(201);
    const admin = postgres(cluster.url, { max: 2, onnotice: () => {} });
    try {
      const unlock = await lockRow(admin, task.body.id);
      const put = call(user, "PUT", `/api/tasks/${task.body.id}`, { title: "should never land" });
      const [pid] = await waitingOnLocks(admin, 1);
      await admin`select pg_terminate_backend(${pid!})`;
      const res = await put;
      expect(res.status).toBe(503);
      expect(res.body).toEqual({ detail: "Database unavailable" });
      await unlock();
      await Bun.sleep(200);
      await timeUntilServing(user, 10_000);
      expect((await call(user, "GET", `/api/tasks/${task.body.id}`)).body.title).toBe("contended");
    } finally {
      await admin.end({ timeout: 1 });
    }
  }, 30_000);
});
