// A small pool held busy by queries waiting on a lock: newcomers wait a bounded time, then 503,
// and a request refused that way never runs its query later.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import postgres from "postgres";
import { loadConfig } from "../src/config";
import { type Database, openDatabase } from "../src/db/client";
import { buildApp, newUser, SECRET, type TestApp, timedCall } from "./support/app";
import { clusterAvailable, startTempCluster, type TempCluster } from "./support/cluster";
import { expectNoLeaks } from "./support/hygiene";
import { lockRow, waitingOnLocks } from "./support/locks";
import { CLUSTER, missing } from "./support/requires";

let cluster: TempCluster;
let admin: postgres.Sql;
const opened: { database: Database; api: TestApp }[] = [];
const answers: string[] = [];
const tokens: string[] = [];

async function appWith(env: Record<string, string>) {
  const config = loadConfig({ BETTER_AUTH_SECRET: SECRET, DATABASE_URL: cluster.url, ...env });
  const database = await openDatabase(config.database, config.databaseLimits);
  await database.migrate();
  const api = await buildApp({ database });
  opened.push({ database, api });
  const call = (user: string, method: string, path: string, body?: unknown) =>
    timedCall(api, { tokens, answers }, user, method, path, body);
  return { api, call };
}

describe.skipIf(missing(clusterAvailable, CLUSTER))("pool exhaustion", () => {
  beforeAll(() => {
    cluster = startTempCluster();
    admin = postgres(cluster.url, { max: 2, onnotice: () => {} });
  }, 60_000);

  afterAll(async () => {
    await Promise.all(opened.map(({ database }) => database.close()));
    await admin?.end({ timeout: 1 });
    cluster?.destroy();
    expectNoLeaks({
      answers,
      logs: opened.flatMap(({ api }) => api.logs.map((l) => JSON.stringify(l))),
      secrets: [...tokens, cluster?.password],
    });
  }, 30_000);

  test("with DB_POOL_MAX=2 held busy, new requests wait at most DB_QUEUE_TIMEOUT_MS then answer 503, never start their query, and the service serves normally once the pool frees", async () => {
    // DB_PIPELINE=1: strict admission, one query per connection, so "held busy" means no more gets in.
    const { api, call } = await appWith({
      DB_POOL_MAX: "2",
      DB_PIPELINE: "1",
      DB_QUEUE_TIMEOUT_MS: "500",
      DB_STATEMENT_TIMEOUT_MS: "30000",
    });
    const user = newUser();
    const task = await call(user, "POST", "/api/tasks", { title: "contended" });
    const unlock = await lockRow(admin, task.body.id);

    // Two updates take both connections and wait on the lock inside PostgreSQL.
    const holders = [1, 2].map((n) => call(user, "PUT", `/api/tasks/${task.body.id}`, { description: `holder ${n}` }));
    await waitingOnLocks(admin, 2);

    const refused = await Promise.all([
      call(user, "POST", "/api/tasks", { title: "refused 1" }),
      call(user, "POST", "/api/tasks", { title: "refused 2" }),
      call(user, "GET", "/api/tasks"),
      call(user, "GET", `/api/tasks/${task.body.id}`),
      call(user, "DELETE", `/api/tasks/${task.body.id}`),
    ]);
    const ready = await api.request("GET", "/health/ready");
    for (const res of refused) {
      expect(res.status).toBe(503);
      expect(res.body).toEqual({ detail: "Database unavailable" });
      expect(res.headers.get("retry-after")).toBe("1");
      expect(res.ms).toBeGreaterThanOrEqual(450);
      expect(res.ms).toBeLessThan(5000);
    }
    expect(ready.status).toBe(503);
    console.log(
      `pool exhaustion: 503 after ${Math.min(...refused.map((r) => r.ms)).toFixed(0)}-${Math.max(...refused.map((r) => r.ms)).toFixed(0)} ms of waiting (DB_QUEUE_TIMEOUT_MS=500)`,
    );

    await unlock();
    for (const holder of await Promise.all(holders)) expect(holder.status).toBe(200);
    // Give a phantom query every chance to land before looking for it.
    await Bun.sleep(300);
    const listed = await call(user, "GET", "/api/tasks");
    expect(listed.status).toBe(200);
    expect(listed.body.map((t: any) => t.title)).toEqual(["contended"]);
    expect((await call(user, "POST", "/api/tasks", { title: "after" })).status).toBe(201);

    await api.settled();
    const busy = api.logs.filter((l) => l.msg.startsWith("database busy"));
    expect(busy.length).toBe(refused.length);
    expect(busy.filter((l) => "stack" in l)).toEqual([]);
  }, 60_000);

  test("a statement that runs longer than DB_STATEMENT_TIMEOUT_MS is cancelled by PostgreSQL: 503, and its write never lands", async () => {
    const { call } = await appWith({ DB_POOL_MAX: "2", DB_STATEMENT_TIMEOUT_MS: "700" });
    const user = newUser();
    const task = await call(user, "POST", "/api/tasks", { title: "before" });
    const unlock = await lockRow(admin, task.body.id);
    try {
      const res = await call(user, "PUT", `/api/tasks/${task.body.id}`, { title: "cancelled" });
      expect(res.status).toBe(503);
      expect(res.body).toEqual({ detail: "Database unavailable" });
      expect(res.ms).toBeLessThan(5000);
      console.log(`statement timeout: 503 after ${res.ms.toFixed(0)} ms (DB_STATEMENT_TIMEOUT_MS=700)`);
    } finally {
      await unlock();
    }
    await Bun.sleep(300);
    expect((await call(user, "GET", `/api/tasks/${task.body.id}`)).body.title).toBe("before");
  }, 60_000);

  test("each piece of work gets its own deadline, counted from when it started, whatever finished before it", async () => {
    const { call } = await appWith({ DB_POOL_MAX: "4", DB_STATEMENT_TIMEOUT_MS: "600" });
    const user = newUser();
    const task = await call(user, "POST", "/api/tasks", { title: "before" });
    const unlock = await lockRow(admin, task.body.id);
    try {
      const started = performance.now();
      // A quick read first, then two writes stuck on the lock, 300 ms apart.
      const quick = call(user, "GET", `/api/tasks/${task.body.id}`);
      const first = call(user, "PUT", `/api/tasks/${task.body.id}`, { title: "first" });
      await Bun.sleep(300);
      const second = call(user, "PUT", `/api/tasks/${task.body.id}`, { title: "second" });
      expect((await quick).status).toBe(200);
      const a = await first;
      const firstAt = performance.now() - started;
      const b = await second;
      const secondAt = performance.now() - started;
      expect([a.status, b.status]).toEqual([503, 503]);
      // Each answered after its own 600 ms (plus the wait for the cancel to take effect), the second
      // about 300 ms after the first: not both at the first's deadline, not one never.
      expect(a.ms).toBeGreaterThanOrEqual(600);
      expect(b.ms).toBeGreaterThanOrEqual(600);
      expect(secondAt - firstAt).toBeGreaterThan(150);
      expect(b.ms).toBeLessThan(3000);
    } finally {
      await unlock();
    }
  }, 60_000);
});
