// The bench's database ceiling and bare servers run bench/sql.ts, a copy of what the service sends for
// each scenario; their ratios mean something only while the copy is exact. The texts are read off the
// driver's door (postgres.js's unsafe(), where every statement of the service goes) while real requests run.
import { afterAll, describe, expect, test } from "bun:test";
import * as Bench from "../bench/sql";
import { DEFAULT_DATABASE_LIMITS } from "../src/config";
import { type Database, openDatabase } from "../src/db/client";
import { createFreshDatabase } from "./setup";
import { buildApp, newUser } from "./support/app";

let database: Database | undefined;
let drop: (() => Promise<void>) | undefined;
afterAll(async () => {
  await database?.close();
  await drop?.();
});

const normalized = (text: string) => text.replace(/\s+/g, " ").trim();

describe.skipIf(!process.env.TEST_DATABASE_URL)("the bench's SQL", () => {
  test("every statement of bench/sql.ts is, to the white space, one the service sends for that request", async () => {
    const fresh = await createFreshDatabase("tasks_bench_sql");
    drop = fresh.drop;
    database = await openDatabase(
      { kind: "postgres", url: fresh.url, poolMax: 1, prepare: true },
      DEFAULT_DATABASE_LIMITS,
    );
    await database.migrate();
    const sent: string[] = [];
    await database.read(async (db) => {
      const client = (db as unknown as { $client: { unsafe: (...args: unknown[]) => unknown } }).$client;
      const unsafe = client.unsafe;
      client.unsafe = (text: unknown, ...rest: unknown[]) => {
        sent.push(String(text));
        return unsafe(text, ...rest);
      };
    });
    const api = await buildApp({ database });
    const user = newUser("bench-sql");
    // What bench/tasks.lua sends, one request of each scenario.
    const asked = {
      CREATE: () => api.as(user, "POST", "/api/tasks", { title: "t", description: "d", status: "pending" }),
      CREATE_KEYED: () =>
        api.as(user, "POST", "/api/tasks", { title: "t" }, { "idempotency-key": crypto.randomUUID() }),
      GET: (id: number) => api.as(user, "GET", `/api/tasks/${id}`),
      LIST: () => api.as(user, "GET", "/api/tasks?limit=20"),
      UPDATE: (id: number) => api.as(user, "PUT", `/api/tasks/${id}`, { title: "u", status: "completed" }),
      DELETE: (id: number) => api.as(user, "DELETE", `/api/tasks/${id}`),
    };
    const { body: task } = await asked.CREATE();
    for (const [name, request] of Object.entries(asked)) {
      sent.length = 0;
      const answer = await request(task.id);
      expect(answer.status).toBeLessThan(300);
      const text = (Bench as unknown as Record<string, string>)[name]!;
      // The first keyed write of a process also starts the cleanup of expired keys, off the request's path.
      const onPath = sent.filter((s) => !s.includes("skip locked"));
      expect({ name, sent: onPath.map(normalized) }).toEqual({ name, sent: [normalized(text)] });
    }
  });
});
